//! What every function does the same way: build its state once at cold start,
//! and turn a handler's result into a response.

use std::sync::Arc;

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::{Config, ConfigError};
use crate::problem::ApiError;
use crate::request::{self, Caller};
use crate::rollee::{self, ClientOptions, RolleeClient};
use crate::token::{TokenError, TokenSource};

/// Built once per process and shared by every invocation.
#[derive(Clone, Debug)]
pub struct State {
    pub client: RolleeClient,
    dev_caller: Option<Arc<str>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("{0}")]
    Client(String),
}

impl State {
    /// Builds the state from a checked configuration; reads the JWT now.
    /// `sdk_config` is loaded, over the process's HTTP client, only when the JWT
    /// lives in Secrets Manager.
    pub async fn build<F, Fut>(
        config: &Config,
        options: ClientOptions,
        sdk_config: F,
    ) -> Result<Self, StartupError>
    where
        F: FnOnce(&reqwest::Client) -> Fut,
        Fut: Future<Output = aws_config::SdkConfig>,
    {
        let http = rollee::http_client(&options).map_err(StartupError::Client)?;
        let tokens = TokenSource::load(&config.token, || sdk_config(&http)).await?;
        let client = RolleeClient::with_http(config.api_url.clone(), tokens, http, options);
        if let Some(sub) = &config.dev_caller_sub {
            tracing::warn!(
                dev_caller_sub = %sub,
                "DEV_CALLER_SUB is set: requests without authorizer claims act as this caller (local development only)"
            );
        }
        Ok(Self {
            client,
            dev_caller: config.dev_caller_sub.as_deref().map(Arc::from),
        })
    }

    /// The caller of `request`, or 401.
    pub fn caller(&self, request: &Request) -> Result<Caller, ApiError> {
        request::caller(request, self.dev_caller.as_deref())
    }
}

/// Cold start of a deployed (or `cargo lambda watch`ed) function: logging,
/// configuration from the environment, the JWT, the HTTP client. On failure it
/// logs one line naming the cause and exits, so Lambda reports an init error
/// instead of serving requests it cannot answer.
pub async fn init_from_env() -> State {
    init_logging();
    let built = match Config::from_env() {
        Ok(config) => {
            State::build(&config, ClientOptions::default(), |http| {
                crate::aws::loader(http).load()
            })
            .await
        }
        Err(e) => Err(e.into()),
    };
    match built {
        Ok(state) => state,
        Err(e) => {
            tracing::error!("startup failed: {e}");
            std::process::exit(1);
        }
    }
}

/// Lambda's logging, as `lambda_http::tracing::init_default_subscriber` sets it
/// up (JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`, the level from
/// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO), less one thing:
/// lambda_runtime logs every raw event at TRACE, and an event carries the app
/// user's `Authorization` header and, for a refresh, a Connect URL.
pub fn init_logging() {
    use lambda_http::tracing::subscriber::EnvFilter;
    use lambda_http::tracing::subscriber::filter::{Directive, LevelFilter};

    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let mut filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    if let Ok(quiet) = "lambda_runtime::layers::api_response=off".parse::<Directive>() {
        filter = filter.add_directive(quiet);
    }
    let builder = lambda_http::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // `try_init`: a second initialisation (never in a function) is not worth a panic.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Runs a function: a tokio runtime, the state built once (see
/// [`init_from_env`]), then `handler` for every invocation.
///
/// Classic Lambda sends one event at a time to a sandbox with a fraction of a
/// vCPU: a single-threaded runtime starts faster and hands nothing between
/// threads. With `AWS_LAMBDA_MAX_CONCURRENCY` above 1 (Lambda Managed
/// Instances), a worker per core polls that many events at once.
pub fn serve<H, F>(handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(State, Request) -> F + Clone + Send + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
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
        let state = init_from_env().await;
        lambda_http::run_concurrent(lambda_http::service_fn(move |request: Request| {
            let (state, handler) = (state.clone(), handler.clone());
            async move { Ok::<_, lambda_http::Error>(handler(state, request).await) }
        }))
        .await
    })
}

/// The response of a handler: its success, or its failure as a problem.
pub fn finish(request_id: &str, result: Result<Response<Body>, ApiError>) -> Response<Body> {
    match result {
        Ok(response) => {
            tracing::info!(status = response.status().as_u16(), "answered");
            response
        }
        Err(error) => {
            let status = error.status.as_u16();
            match &error.cause {
                // Rollee failures are the operator's concern: say why. Causes never carry secrets.
                Some(cause) => {
                    tracing::warn!(status, problem = error.kind, %cause, "answered with a problem")
                }
                // The app's own mistakes: no detail, which could echo what it sent.
                None => tracing::info!(status, problem = error.kind, "answered with a problem"),
            }
            error.into_response(request_id)
        }
    }
}

/// A JSON response. Serialising the plain response structs cannot fail; were
/// it to, the app gets a 500 problem, not a panic.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Result<Response<Body>, ApiError> {
    let text = serde_json::to_string(body).map_err(|e| ApiError::internal(e.to_string()))?;
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(text))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// `expires_at` as RFC 3339 UTC, or `None` when Rollee gave none.
pub fn rfc3339(at: Option<OffsetDateTime>) -> Option<String> {
    at.and_then(|at| at.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok())
}
