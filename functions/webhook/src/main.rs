fn main() -> Result<(), rollee_shared::lambda_http::Error> {
    rollee_shared::app::serve_with(
        rollee_shared::webhook::init_from_env,
        rollee_shared::webhook::handle,
    )
}
