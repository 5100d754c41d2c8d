//! A function's cold start: logging (and how a panic is logged), then its
//! state built from the environment, and what happens when that fails.

use super::{StartupError, State};
use crate::config::{Config, ConfigError};
use crate::http;
use crate::metrics;
use crate::rollee::ClientOptions;

/// Cold start of a Connect function: logging, configuration from the
/// environment, metrics (before the JWT, whose days left are one), the JWT,
/// the HTTP client; see [`start`] for a failure.
pub async fn init_from_env(function: &'static str) -> Result<State, String> {
    init(function, false).await
}

/// [`init_from_env`] of a function that publishes events: without
/// `EVENT_BUS_NAME` it does not start.
pub async fn init_publishing_from_env(function: &'static str) -> Result<State, String> {
    init(function, true).await
}

async fn init(function: &'static str, publishes: bool) -> Result<State, String> {
    start(async {
        let config = Config::from_env()?;
        if publishes && config.event_bus.is_none() {
            return Err(StartupError::from(ConfigError::NoEventBus));
        }
        metrics::init(config.metrics_namespace.as_deref(), function);
        State::build(&config, ClientOptions::default(), |http| {
            crate::aws::loader(http).load()
        })
        .await
        .map(|state| state.named(function))
    })
    .await
}

/// Cold start of a deployed (or `cargo lambda watch`ed) function: logging,
/// then `build`.
///
/// On failure it logs one line naming the cause, then:
/// - in Lambda (`AWS_EXECUTION_ENV` set), reports the cause to the Runtime
///   API's `POST /2018-06-01/runtime/init/error` (so that Lambda records it as
///   the init error of the invocation that started it) and exits: Lambda
///   answers that invocation at once and starts a fresh process for the next;
/// - under a Runtime API outside Lambda (`cargo lambda watch`), returns the
///   cause, which [`super::serve_with`] then answers every invocation with (a 500
///   problem naming it) instead of leaving the caller waiting;
/// - with no Runtime API at all, exits.
///
/// lambda_runtime itself reports init errors only for SnapStart hooks: the
/// state is built before it runs, so this is done here.
pub async fn start<S, E: std::fmt::Display>(
    build: impl Future<Output = Result<S, E>>,
) -> Result<S, String> {
    init_logging();
    let reason = match build.await {
        Ok(state) => return Ok(state),
        Err(e) => e.to_string(),
    };
    tracing::error!("startup failed: {reason}");
    let runtime_api = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let in_lambda = crate::config::in_lambda(|name| std::env::var(name).ok());
    match runtime_api {
        Some(_) if !in_lambda => Err(reason),
        Some(api) => {
            report_init_error(&api, &reason).await;
            std::process::exit(1)
        }
        None => std::process::exit(1),
    }
}

/// `POST /2018-06-01/runtime/init/error`, as the Runtime API defines it: the
/// error type in a header, `{"errorMessage", "errorType"}` as the body. A
/// failure to report is logged; the process exits anyway.
async fn report_init_error(runtime_api: &str, reason: &str) {
    // The Runtime API is plain HTTP: no AWS_CA_BUNDLE, whose bad file may
    // be the very failure to report.
    let timeouts = http::Timeouts {
        connect: std::time::Duration::from_secs(1),
        attempt: std::time::Duration::from_secs(2),
    };
    let client = match http::client_with_roots(timeouts, &[]) {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!("could not report the init error to the Runtime API: {e}");
            return;
        }
    };
    let body = serde_json::json!({
        "errorMessage": format!("startup failed: {reason}"),
        "errorType": INIT_ERROR_TYPE,
    });
    let sent = client
        .post(format!(
            "http://{runtime_api}/2018-06-01/runtime/init/error"
        ))
        .header("Lambda-Runtime-Function-Error-Type", INIT_ERROR_TYPE)
        .json(&body)
        .send()
        .await;
    if let Err(e) = sent {
        tracing::warn!("could not report the init error to the Runtime API: {e}");
    }
}

/// The error type of an init failure, as Lambda shows it.
pub const INIT_ERROR_TYPE: &str = "Runtime.InitError";

/// Lambda's logging, as `lambda_http::tracing::init_default_subscriber` sets it
/// up (JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`, the level from
/// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO), through [`log_filter`];
/// and panics logged as one line of that format ([`log_panics`]).
pub fn init_logging() {
    use lambda_http::tracing::subscriber::filter::LevelFilter;

    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let builder = lambda_http::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(log_filter(level));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // `try_init`: a second initialisation (never in a function) is not worth a panic.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    log_panics();
}

/// A panic (lambda_http's conversion of some events, caught in `invoke`;
/// any other, which fails its invocation) is told in one ERROR line of the
/// log's format: inside an invocation it carries the request id and the
/// trace id like every other line, instead of the default hook's free text
/// on stderr. Where it happened, not its message: a message may quote what
/// the request sent.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(at, "panicked");
    }));
}

/// What every function logs: `level`, less two TRACE outputs that carry
/// secrets, whatever the level:
/// - lambda_runtime logs every raw event, and an event carries the app user's
///   `Authorization` header and, for a refresh, a Connect URL (its warnings
///   and errors, such as an event it cannot read, stay);
/// - the AWS SDK logs whole requests and responses, and the ownership table's
///   items hold callers' `sub`s and session ids.
pub fn log_filter(
    level: lambda_http::tracing::subscriber::filter::LevelFilter,
) -> lambda_http::tracing::subscriber::EnvFilter {
    use lambda_http::tracing::subscriber::EnvFilter;
    use lambda_http::tracing::subscriber::filter::Directive;

    use lambda_http::tracing::subscriber::filter::LevelFilter;

    let mut filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    // Each target's level is capped, never raised above `level`.
    for (target, cap) in [
        ("lambda_runtime::layers::api_response", LevelFilter::WARN),
        (
            "aws_smithy_runtime::client::orchestrator",
            LevelFilter::DEBUG,
        ),
    ] {
        let quiet = format!("{target}={}", level.min(cap));
        #[expect(
            clippy::expect_used,
            reason = "directives built from constants; were one to fail silently, secrets would be logged at TRACE"
        )]
        let directive = quiet.parse::<Directive>().expect("a valid directive");
        filter = filter.add_directive(directive);
    }
    filter
}
