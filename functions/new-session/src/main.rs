fn main() -> Result<(), rollee_shared::lambda_http::Error> {
    rollee_shared::app::serve(new_session::handle)
}
