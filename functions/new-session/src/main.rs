fn main() -> Result<(), rollee_shared::lambda_http::Error> {
    rollee_shared::app::serve(
        |state, request| async move { new_session::handle(&state, request).await },
    )
}
