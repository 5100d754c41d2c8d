fn main() -> Result<(), rollee_shared::lambda_http::Error> {
    rollee_shared::app::serve(
        |state, request| async move { create_user::handle(&state, request).await },
    )
}
