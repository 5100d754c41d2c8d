//! What the functions' unit tests share (feature `testkit`, for their
//! dev-dependencies only): a handler's state over the in-memory table and a
//! Rollee at a given URL (the in-process sandbox), the sample events of
//! `events/`, and answers read back. No DynamoDB, no moto, no Python.

use std::time::Duration;

use lambda_http::{Body, Request, Response};
use serde_json::Value;
use url::Url;

use crate::State;
use crate::rollee::{ClientOptions, RolleeClient};
use crate::store::MemoryTable;
use crate::token::{Jwt, TokenSource};

/// Short limits: a failing upstream costs a test seconds, not minutes.
pub fn options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(1),
        attempt_timeout: Duration::from_millis(1500),
        budget: Duration::from_secs(4),
        retry_pause: Duration::from_millis(10),
    }
}

/// A handler's state: Rollee at `api_url` with `jwt`, an empty in-memory
/// table allowing `sessions_per_minute` sessions a minute per caller, no
/// assumed caller (each event names its own).
pub fn state(api_url: &str, jwt: &str, sessions_per_minute: u32) -> State<MemoryTable> {
    #[expect(clippy::expect_used, reason = "a test's fixed URL")]
    let base = Url::parse(api_url).expect("a valid API URL");
    #[expect(clippy::expect_used, reason = "a test's fixed settings")]
    let client = RolleeClient::new(base, TokenSource::fixed(Jwt::new(jwt)), options())
        .expect("an HTTP client");
    State::new(client, MemoryTable::new(sessions_per_minute), None)
}

/// The sample event `events/<name>.json`, as JSON to change before use.
pub fn event(name: &str) -> Value {
    let path = format!("{}/../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    #[expect(clippy::expect_used, reason = "the repository's own sample events")]
    let text = std::fs::read_to_string(&path).expect("the event file exists");
    #[expect(clippy::expect_used, reason = "the repository's own sample events")]
    serde_json::from_str(&text).expect("the event is JSON")
}

/// `event` with its caller (`sub` claim) replaced.
pub fn as_caller(mut event: Value, sub: &str) -> Value {
    event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = sub.into();
    event
}

/// `event` with path parameter `name` replaced by `value`, in the path too.
pub fn with_param(mut event: Value, name: &str, value: &str) -> Value {
    let old = event["pathParameters"][name]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let path = event["rawPath"]
        .as_str()
        .unwrap_or_default()
        .replacen(&old, value, 1);
    event["rawPath"] = path.clone().into();
    event["requestContext"]["http"]["path"] = path.into();
    event["pathParameters"][name] = value.into();
    event
}

/// `event` with this body.
pub fn with_body(mut event: Value, body: &str) -> Value {
    event["body"] = body.into();
    event
}

/// The request API Gateway hands a function for `event`.
pub fn request(event: &Value) -> Request {
    #[expect(clippy::expect_used, reason = "the events are API Gateway v2 events")]
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway v2 event")
}

/// `handler`'s answer to `event`, as [`crate::app::respond`] gives it:
/// status and JSON body. (Boxed: a test awaiting several handlers keeps
/// each one's large future off its own.)
pub async fn call<S, H>(state: &S, event: &Value, handler: H) -> (u16, Value)
where
    S: 'static,
    H: for<'a> crate::app::Handler<'a, S>,
{
    let request = request(event);
    answer(Box::pin(crate::app::respond(state, &request, handler)).await)
}

/// An answer's status and JSON body (`null` when empty).
pub fn answer(response: Response<Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = match response.into_body() {
        Body::Text(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
        Body::Binary(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, body)
}
