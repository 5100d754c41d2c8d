//! Webhook deliveries: an event the sandbox emits is POSTed to the URL
//! registered for its type (`users`, `accounts`, `endpoints`,
//! `multi_endpoints` or `rollee_connect_events`), signed when a secret is
//! set, and retried until a 2xx answer or the last attempt.
//!
//! Published: delivery is at least once, retried for 3 days [C]. Secondary
//! sources: 3 retries 30 s apart, a 2xx expected within 10 s [I]; an
//! `X-Signature` header, HMAC SHA-512 [I]. STAND-IN decisions, where Rollee
//! publishes nothing [?]:
//! - the signature is the lowercase hex of HMAC-SHA512(key = the secret's
//!   bytes, message = the exact body bytes sent);
//! - a retry sends the same bytes, headers and signature as the first attempt;
//! - each event is sent with the configuration and [`WebhookMode`] in force
//!   when it happened (a later `PUT` or `DELETE` does not change a delivery
//!   already under way);
//! - the events of one API call for one webhook type (e.g. `create_account`
//!   then `connect_account`) are sent one after the other, in that order;
//!   those of separate calls, or of other types, concurrently;
//! - only `http://` URLs are delivered to; an `https://` URL may be
//!   registered, but each attempt ends as a transport error.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::world::{Shared, WebhookConfig, World};

/// How long a receiver has to answer an attempt (STAND-IN: 10 s [I]); no
/// answer by then is a failed attempt, recorded with no status.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The name of the signature header [I].
pub(crate) const SIGNATURE_HEADER: &str = "x-signature";

/// One delivery attempt, as it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The webhook type it was sent through: `"users"`, `"accounts"`,
    /// `"endpoints"`, `"multi_endpoints"` or `"rollee_connect_events"`.
    pub kind: &'static str,
    /// The event's `action`; for a flat Connect-page event, which has none,
    /// its `screen` (`"home"`, `"login"`); empty when the body has neither.
    pub action: String,
    /// The exact bytes sent.
    pub body: Vec<u8>,
    /// 1 for the first attempt of a sequence, 2 for its first retry…
    pub attempt: u32,
    /// The receiver's status; `None`: a transport error or no answer within
    /// [`DELIVERY_TIMEOUT`].
    pub status: Option<u16>,
}

/// How deliveries behave: set with [`Sandbox::set_webhook_mode`](crate::Sandbox::set_webhook_mode)
/// or `POST /_sandbox/webhooks`; each event keeps the mode in force when it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookMode {
    /// Deliver each event twice (at least once means sometimes more): once
    /// more, with identical bytes, after its first sequence ended in a 2xx.
    pub duplicate: bool,
    /// The pause before each retry (STAND-IN: 30 s [I]).
    pub retry_delay: Duration,
    /// Attempts in all, the first included (STAND-IN: 4, the first and 3 retries [I]);
    /// 0 counts as 1.
    pub max_attempts: u32,
}

impl Default for WebhookMode {
    fn default() -> Self {
        Self {
            duplicate: false,
            retry_delay: Duration::from_secs(30),
            max_attempts: 4,
        }
    }
}

impl WebhookMode {
    pub(crate) fn to_json(self) -> Value {
        serde_json::json!({
            "duplicate": self.duplicate,
            "retry_delay_ms": u64::try_from(self.retry_delay.as_millis()).unwrap_or(u64::MAX),
            "max_attempts": self.max_attempts,
        })
    }
}

/// The webhook type a path segment or a test names.
pub(crate) fn kind(raw: &str) -> Option<&'static str> {
    match raw {
        "users" => Some("users"),
        "accounts" => Some("accounts"),
        "endpoints" => Some("endpoints"),
        "multi_endpoints" => Some("multi_endpoints"),
        "rollee_connect_events" => Some("rollee_connect_events"),
        _ => None,
    }
}

/// An event as it will be sent.
struct Event {
    action: String,
    body: Bytes,
}

/// Events to send, with what was in force when they happened.
pub(crate) struct Plan {
    kind: &'static str,
    config: WebhookConfig,
    mode: WebhookMode,
    events: Vec<Event>,
}

/// What sending `events` through the `kind` webhook takes, or `None` when
/// that type is not registered or is disabled.
pub(crate) fn plan(world: &World, kind: &'static str, events: &[Value]) -> Option<Plan> {
    let config = world.webhooks.get(kind).filter(|c| c.enabled)?.clone();
    let events = events
        .iter()
        .map(|body| Event {
            action: ["action", "screen"]
                .iter()
                .find_map(|field| body.get(field).and_then(Value::as_str))
                .unwrap_or_default()
                .to_owned(),
            body: Bytes::from(body.to_string()),
        })
        .collect();
    Some(Plan {
        kind,
        config,
        mode: world.webhook_mode,
        events,
    })
}

/// Sends `events` through the `kind` webhook from a background task, in
/// order, if that type is registered and enabled. Called with the world
/// locked, so that the configuration is the one in force for the events.
pub(crate) fn emit(shared: &Arc<Shared>, world: &World, kind: &'static str, events: &[Value]) {
    if let Some(plan) = plan(world, kind, events) {
        // Detached: the task ends on its own, after its last attempt.
        drop(shared.runtime.spawn(send(Arc::clone(shared), plan)));
    }
}

/// Sends a plan's events one after the other, each retried as the mode says.
pub(crate) async fn send(shared: Arc<Shared>, plan: Plan) {
    for event in &plan.events {
        if attempts(&shared, &plan, event).await && plan.mode.duplicate {
            attempts(&shared, &plan, event).await;
        }
    }
}

/// One delivery sequence of one event: whether it ended in a 2xx.
async fn attempts(shared: &Shared, plan: &Plan, event: &Event) -> bool {
    let signature = plan
        .config
        .secret
        .as_deref()
        .map(|secret| signature(secret, &event.body));
    for attempt in 1..=plan.mode.max_attempts.max(1) {
        if attempt > 1 {
            tokio::time::sleep(plan.mode.retry_delay).await;
        }
        let sent = post(&plan.config, signature.as_deref(), event.body.clone());
        let status = match tokio::time::timeout(DELIVERY_TIMEOUT, sent).await {
            Ok(Ok(status)) => Some(status),
            Ok(Err(_)) | Err(_) => None,
        };
        shared.world().deliveries.push(Delivery {
            kind: plan.kind,
            action: event.action.clone(),
            body: event.body.to_vec(),
            attempt,
            status,
        });
        shared.delivered.notify_waiters();
        if status.is_some_and(|s| (200..300).contains(&s)) {
            return true;
        }
    }
    false
}

/// `X-Signature`: the lowercase hex of HMAC-SHA512 of `body` with the secret's
/// bytes as the key (STAND-IN: encoding and signed bytes are unpublished).
pub(crate) fn signature(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA512, secret.as_bytes());
    hex::encode(hmac::sign(&key, body))
}

type SendError = Box<dyn std::error::Error + Send + Sync>;

/// Aborts the connection task when the attempt ends (answered or timed out).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One POST over a fresh HTTP/1.1 connection: the receiver's status.
async fn post(
    config: &WebhookConfig,
    signature: Option<&str>,
    body: Bytes,
) -> Result<u16, SendError> {
    let uri: Uri = config.url.parse()?;
    if uri.scheme_str() != Some("http") {
        return Err("the sandbox delivers to http:// URLs only".into());
    }
    let authority = uri.authority().ok_or("no host")?;
    let host = authority.host();
    let port = authority.port_u16().unwrap_or(80);
    let stream = TcpStream::connect(format!("{host}:{port}")).await?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    let _connection = AbortOnDrop(tokio::spawn(async move {
        // Its error is the request's, reported by `send_request`.
        let _ = connection.await;
    }));
    let host_header = match authority.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(HOST, host_header)
        .header(CONTENT_TYPE, "application/json");
    for (name, value) in &config.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(signature) = signature {
        request = request.header(SIGNATURE_HEADER, signature);
    }
    let response = sender.send_request(request.body(Full::new(body))?).await?;
    Ok(response.status().as_u16())
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_lowercase_hex_hmac_sha512() {
        // RFC 4231, test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
    }
}
