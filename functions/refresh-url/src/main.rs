fn main() -> Result<(), rollee_shared::lambda_http::Error> {
    rollee_shared::app::serve(
        |state, request| async move { refresh_url::handle(&state, request).await },
    )
}
