//! What every function does the same way: build its state once at cold start,
//! turn each event into a request for its handler, and the handler's result
//! into a response.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, LambdaEvent, Request, RequestExt, Response};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::bus::Bus;
use crate::config::{Config, ConfigError};
use crate::http;
use crate::metrics;
use crate::problem::ApiError;
use crate::request::{self, Caller};
use crate::rollee::{ClientOptions, RolleeClient, Session};
use crate::selftest::{self, Incoming, Report, SelfTest};
use crate::store::Store;
use crate::token::{TokenError, TokenSource};

pub mod connect;
mod start;
pub use start::{
    INIT_ERROR_TYPE, init_from_env, init_logging, init_publishing_from_env, log_filter, start,
};

/// Built once per process and shared by every invocation. `T` is the
/// ownership table: DynamoDB ([`Store`]) when deployed, or in memory
/// ([`crate::store::MemoryTable`]) in unit tests.
#[derive(Debug)]
pub struct State<T = Store> {
    pub client: RolleeClient,
    pub store: T,
    /// The bus, when the function publishes ([`Config::event_bus`]).
    pub bus: Option<Bus>,
    dev_caller: Option<Arc<str>>,
    /// The function's name, in its self-test's report.
    function: &'static str,
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

impl<T> State<T> {
    /// A state over `client` and `store`, with no bus; `dev_caller`: the
    /// caller of requests without claims (local development and tests).
    pub fn new(client: RolleeClient, store: T, dev_caller: Option<&str>) -> Self {
        Self {
            client,
            store,
            bus: None,
            dev_caller: dev_caller.map(Arc::from),
            function: "rollee-connect",
        }
    }

    /// The caller of `request`, or 401.
    pub fn caller(&self, request: &Request) -> Result<Caller, ApiError> {
        request::caller(request, self.dev_caller.as_deref())
    }
}

impl State {
    /// Builds the state from a checked configuration; reads the JWT now,
    /// and meanwhile opens the table's connection ([`connect`]) unless
    /// `connect_at_init` is off. `sdk_config` is loaded over the process's
    /// HTTP client.
    pub async fn build<F, Fut>(
        config: &Config,
        options: ClientOptions,
        sdk_config: F,
    ) -> Result<Self, StartupError>
    where
        F: FnOnce(&reqwest::Client) -> Fut,
        Fut: Future<Output = aws_config::SdkConfig>,
    {
        let http = http::client(options.timeouts()).map_err(StartupError::Client)?;
        let sdk_config = sdk_config(&http).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
        let (tokens, ()) = tokio::join!(
            TokenSource::load(&config.token, config.token_policy, &sdk_config),
            async {
                if config.connect_at_init {
                    connect::table(&dynamodb, &config.table).await;
                }
            },
        );
        let tokens = tokens?;
        let store = Store::new(dynamodb, config.table.clone(), config.sessions_per_minute);
        let bus = config
            .event_bus
            .as_ref()
            .map(|name| Bus::new(&sdk_config, name.clone()));
        let client = RolleeClient::with_http(config.api_url.clone(), tokens, http, options);
        if let Some(sub) = &config.dev_caller_sub {
            tracing::warn!(
                dev_caller_sub = %sub,
                "DEV_CALLER_SUB is set: requests without authorizer claims act as this caller (local development only)"
            );
        }
        Ok(Self {
            client,
            store,
            bus,
            dev_caller: config.dev_caller_sub.as_deref().map(Arc::from),
            function: "rollee-connect",
        })
    }

    /// Names the function in its self-test's report.
    pub fn named(mut self, function: &'static str) -> Self {
        self.function = function;
        self
    }
}

/// A Connect function depends on the Rollee JWT secret, Rollee accepting
/// the JWT, and the ownership table.
impl SelfTest for State {
    async fn self_test(&self) -> Report {
        let started = Instant::now();
        let mut checks = selftest::secret_and_days(self.client.tokens()).await;
        checks.push(selftest::rollee(&self.client).await);
        checks.push(selftest::table(&self.store).await);
        if let Some(bus) = &self.bus {
            checks.push(selftest::check("bus", bus.describe()).await);
        }
        Report::new(self.function, started, checks)
    }
}

/// A function's handler: `async fn(&S, &Request) -> Result<Response<Body>, ApiError>`,
/// `S` being the state built at cold start ([`State`] for the three Connect routes).
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

/// The answer of a route that gives a Connect session: the user it is for,
/// and the session.
#[derive(Debug, Serialize)]
pub struct UserSessionBody {
    pub user_id: String,
    #[serde(flatten)]
    pub session: SessionBody,
}

impl UserSessionBody {
    pub fn new(user_id: uuid::Uuid, session: &Session) -> Self {
        Self {
            user_id: user_id.to_string(),
            session: session.into(),
        }
    }
}

/// The session part of every success body.
#[derive(Debug, Serialize)]
pub struct SessionBody {
    /// What Rollee's app SDKs call the session token.
    pub session_id: String,
    pub connect_url: String,
    /// RFC 3339 UTC, or `null` when Rollee gave no expiry.
    pub expires_at: Option<String>,
    /// Whole seconds from this answer to `expires_at` (0 once past), or
    /// `null` with it ([`Session::seconds_left`]). Apps count down from the
    /// moment they receive the answer on a monotonic clock, so a device whose
    /// wall clock is wrong still shows the right time left.
    pub expires_in: Option<i64>,
}

impl From<&Session> for SessionBody {
    fn from(session: &Session) -> Self {
        Self::at(session, OffsetDateTime::now_utc())
    }
}

impl SessionBody {
    /// The body as answered at `now`.
    pub fn at(session: &Session, now: OffsetDateTime) -> Self {
        Self {
            session_id: session.id.to_string(),
            connect_url: session.link.to_string(),
            expires_at: rfc3339(session.expires_at),
            expires_in: session.seconds_left(now),
        }
    }
}

/// A JSON response. It may carry a Connect URL, a bearer credential for
/// Connect: no cache may keep it. Serialising the plain response structs
/// cannot fail; were it to, the app gets a 500 problem, not a panic.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Result<Response<Body>, ApiError> {
    let text = serde_json::to_string(body).map_err(ApiError::internal)?;
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `expires_at` as RFC 3339 (the parser keeps it in UTC), or `None`.
pub fn rfc3339(at: Option<OffsetDateTime>) -> Option<String> {
    at.and_then(|at| at.format(&Rfc3339).ok())
}
