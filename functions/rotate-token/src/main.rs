fn main() -> Result<(), rollee_shared::lambda_http::Error> {
    rotate_token::run()
}
