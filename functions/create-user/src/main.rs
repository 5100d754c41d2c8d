use rollee_shared::lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = rollee_shared::app::init_from_env().await;
    let state = &state;
    run(service_fn(move |request| async move {
        Ok::<_, Error>(create_user::handle(state, request).await)
    }))
    .await
}
