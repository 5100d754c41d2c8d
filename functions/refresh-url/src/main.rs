use rollee_shared::lambda_http::{Error, run_concurrent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = rollee_shared::app::init_from_env().await;
    run_concurrent(service_fn(move |request| {
        let state = state.clone();
        async move { Ok::<_, Error>(refresh_url::handle(&state, request).await) }
    }))
    .await
}
