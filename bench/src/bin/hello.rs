//! The floor: a hello-world `lambda_http` function, built and run exactly like
//! the real ones (same runtime, same features, same logging set-up).

use lambda_http::{Body, Error, Request, Response, run_concurrent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    run_concurrent(service_fn(|_request: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
