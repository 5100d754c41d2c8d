//! What every function does the same way, in two halves:
//!
//! - the Lambda runtime layer (this file, and [`start`]): build a state once
//!   at cold start, turn each event into a request for its handler and the
//!   handler's result into a response, log and count it;
//! - the Connect routes' own (`state.rs`, `body.rs`): their [`State`] (the
//!   Rollee client, the ownership table, the bus) and their answer bodies
//!   ([`UserSessionBody`]).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, LambdaEvent, Request, RequestExt, Response};
use serde::Serialize;

use crate::metrics;
use crate::problem::ApiError;
use crate::request;
use crate::selftest::{Incoming, Report, SelfTest};

mod body;
pub mod connect;
mod start;
mod state;
pub use body::{SessionBody, UserSessionBody, json, rfc3339};
pub use start::{
    INIT_ERROR_TYPE, init_from_env, init_logging, init_publishing_from_env, log_filter, start,
};
pub use state::{StartupError, State};

/// A function's handler: `async fn(&S, &Request) -> Result<Response<Body>, ApiError>`,
/// `S` being the state built at cold start ([`State`] for the Connect routes).
/// (A trait, so that the future may borrow both arguments.)
pub trait Handler<'a, S: 'a>: Fn(&'a S, &'a Request) -> Self::Future {
    type Future: Future<Output = Result<Response<Body>, ApiError>> + Send + 'a;
}

impl<'a, S: 'a, H, F> Handler<'a, S> for H
where
    H: Fn(&'a S, &'a Request) -> F,
    F: Future<Output = Result<Response<Body>, ApiError>> + Send + 'a,
{
    type Future = F;
}

/// One invocation: the handler's answer, or its failure as a problem, logged
/// and counted (status class, problem type, latency; see [`metrics::request`]).
/// Every metric the handler emits carries the invocation's request id and
/// trace id.
pub async fn respond<'a, S: 'a, H: Handler<'a, S>>(
    state: &'a S,
    request: &'a Request,
    handler: H,
) -> Response<Body> {
    let started = Instant::now();
    let request_id = request::request_id(request);
    let invocation = metrics::Invocation {
        request_id: request_id.clone(),
        xray_trace_id: request
            .lambda_context_ref()
            .and_then(|context| context.xray_trace_id.clone()),
    };
    metrics::within(invocation, async {
        match handler(state, request).await {
            Ok(response) => {
                let status = response.status().as_u16();
                tracing::info!(status, "answered");
                metrics::request(status, None, started.elapsed());
                response
            }
            Err(error) => {
                let status = error.status().as_u16();
                let problem = error.problem.slug();
                match &error.cause {
                    // Rollee failures are the operator's concern: say why. Causes never carry secrets.
                    Some(cause) => {
                        tracing::warn!(status, problem, %cause, "answered with a problem")
                    }
                    // The app's own mistakes: no detail, which could echo what it sent.
                    None => tracing::info!(status, problem, "answered with a problem"),
                }
                metrics::request(status, Some(problem), started.elapsed());
                error.into_response(&request_id)
            }
        }
    })
    .await
}

/// Runs one of the Connect functions, `function` being its binary's name
/// (its metrics' `Function`): [`serve_with`] the [`State`] built by
/// [`init_from_env`].
pub fn serve<H>(function: &'static str, handler: H) -> Result<(), lambda_http::Error>
where
    H: for<'a> Handler<'a, State> + Copy + Send + Sync + 'static,
{
    serve_with(move || init_from_env(function), handler)
}

/// Runs a function: a tokio runtime, the state built once by `init` (which
/// reports its own failure, see [`start`]), then `handler` for every invocation.
///
/// Classic Lambda sends one event at a time to a sandbox with a fraction of a
/// vCPU: a single-threaded runtime starts faster and hands nothing between
/// threads. With `AWS_LAMBDA_MAX_CONCURRENCY` above 1 (Lambda Managed
/// Instances), a worker per core polls that many events at once.
pub fn serve_with<S, I, Fut, H>(init: I, handler: H) -> Result<(), lambda_http::Error>
where
    S: SelfTest + Send + Sync + 'static,
    I: FnOnce() -> Fut,
    Fut: Future<Output = Result<S, String>>,
    H: for<'a> Handler<'a, S> + Copy + Send + Sync + 'static,
{
    let concurrent = std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .is_some_and(|n| n > 1);
    let mut builder = if concurrent {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build()?.block_on(async move {
        let state = match init().await {
            Ok(state) => Arc::new(state),
            Err(reason) => return serve_startup_failure(reason).await,
        };
        lambda_http::lambda_runtime::run_concurrent(lambda_http::service_fn(
            move |event: LambdaEvent<Incoming<LambdaRequest>>| {
                let state = state.clone();
                async move {
                    let LambdaEvent { payload, context } = event;
                    Ok::<_, lambda_http::Error>(match payload {
                        Incoming::Event(request) => Answer::Http(api_gateway_response(
                            invoke(&*state, LambdaEvent::new(request, context), handler).await,
                        )),
                        // Its Rollee call's metrics carry the invocation's ids, as a request's do.
                        Incoming::SelfTest => Answer::SelfTest(
                            metrics::within(
                                metrics::Invocation {
                                    request_id: context.request_id.clone(),
                                    xray_trace_id: context.xray_trace_id.clone(),
                                },
                                state.self_test(),
                            )
                            .await,
                        ),
                    })
                }
            },
        ))
        .await
    })
}

/// What an invocation answers: API Gateway's response, or the self-test's report.
/// (Built once per invocation and serialised at once: its size does not matter.)
#[derive(Serialize)]
#[serde(untagged)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per invocation, serialised at once; a Box would cost the HTTP path an allocation"
)]
enum Answer {
    Http(ApiGatewayV2httpResponse),
    SelfTest(Report),
}

/// Outside Lambda (`cargo lambda watch`), a function that could not start
/// answers every invocation with a 500 problem saying why, at once.
///
/// `cargo lambda watch` starts a function on the first request to it and
/// never restarts one that exited: were the process to exit, that request and
/// every later one would wait forever. (It does handle the Runtime API's
/// `init/error`, but only by handing the error's body to one waiting request
/// as if it were the function's answer; the later requests still wait.)
async fn serve_startup_failure(reason: String) -> Result<(), lambda_http::Error> {
    let reason: Arc<str> = Arc::from(reason);
    lambda_http::lambda_runtime::run_concurrent(lambda_http::service_fn(
        move |event: LambdaEvent<serde_json::Value>| {
            let reason = reason.clone();
            async move {
                tracing::info!(
                    status = 500,
                    "answered with a problem: the function could not start"
                );
                Ok::<_, lambda_http::Error>(api_gateway_response(
                    ApiError::startup_failed(&reason).into_response(&event.context.request_id),
                ))
            }
        },
    ))
    .await
}

/// What `lambda_http`'s own adapter does, with one difference: its conversion
/// of the event into a request panics on some inputs (a `Host` or
/// `X-Forwarded-Proto` that makes no URL, a raw query string with a quote or a
/// space, a body flagged base64 that is not); that panic is caught here and
/// answered with a 400 problem instead of failing the invocation.
async fn invoke<S, H>(state: &S, event: LambdaEvent<LambdaRequest>, handler: H) -> Response<Body>
where
    H: for<'a> Handler<'a, S>,
{
    let started = Instant::now();
    let LambdaEvent { payload, context } = event;
    let request_id = context.request_id.clone();
    match std::panic::catch_unwind(AssertUnwindSafe(|| Request::from(payload))) {
        Ok(request) => {
            let request = request.with_lambda_context(context);
            respond(state, &request, handler).await
        }
        Err(_) => {
            tracing::info!(
                status = 400,
                "answered with a problem: the event could not be read as an HTTP request"
            );
            let error = ApiError::bad_request(
                "The request could not be read: a header, the query string or the body is malformed.",
            );
            let invocation = metrics::Invocation {
                request_id: request_id.clone(),
                xray_trace_id: context.xray_trace_id.clone(),
            };
            let (status, problem) = (error.status().as_u16(), error.problem.slug());
            metrics::within(invocation, async {
                metrics::request(status, Some(problem), started.elapsed());
            })
            .await;
            error.into_response(&request_id)
        }
    }
}

/// The answer API Gateway's HTTP API (payload format 2.0) expects.
fn api_gateway_response(response: Response<Body>) -> ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.headers = parts.headers;
    out.body = match body {
        Body::Empty => None,
        body => Some(body),
    };
    out.is_base64_encoded = matches!(out.body, Some(Body::Binary(_)));
    out
}
