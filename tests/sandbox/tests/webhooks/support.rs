//! What the webhook tests share: a receiver that records what it gets and
//! answers scripted statuses, a small HTTP client for the sandbox, helpers.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rollee_sandbox::{API_PREFIX, Delivery, Sandbox, WebhookMode};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub const JWT: &str = "webhook-test-jwt";
pub const SECRET: &str = "s3cret-for-hmac";
pub const WAIT: Duration = Duration::from_secs(5);
/// How long to watch for a delivery that must not come.
pub const QUIET: Duration = Duration::from_millis(400);

// ------------------------------------------------------------ the receiver

#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

#[derive(Default)]
pub struct Receiver {
    pub got: Mutex<Vec<Received>>,
    /// Statuses to answer, oldest first; 200 once they are used up.
    pub script: Mutex<VecDeque<u16>>,
}

pub async fn receive(
    receiver: Arc<Receiver>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    receiver.got.lock().unwrap().push(Received {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body,
        at: Instant::now(),
    });
    let status = receiver.script.lock().unwrap().pop_front().unwrap_or(200);
    let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    Ok(response)
}

/// A receiver on a free port; stops when dropped.
pub struct Hook {
    pub receiver: Arc<Receiver>,
    pub url: String,
    pub task: JoinHandle<()>,
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hook {
    pub async fn start(script: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/hooks/rollee?src=test",
            listener.local_addr().unwrap()
        );
        let receiver = Arc::new(Receiver::default());
        receiver.script.lock().unwrap().extend(script);
        let task = rollee_sandbox::spawn_server(listener, receiver.clone(), receive);
        Self {
            receiver,
            url,
            task,
        }
    }

    pub fn got(&self) -> Vec<Received> {
        self.receiver.got.lock().unwrap().clone()
    }
}

// ------------------------------------------------------------ the client

/// One HTTP/1.1 request to the sandbox: status, headers, body.
pub async fn raw(
    sandbox: &Sandbox,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: &[u8],
) -> (StatusCode, HeaderMap, Bytes) {
    let stream = TcpStream::connect(sandbox.addr()).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", sandbox.addr().to_string());
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

/// An API call with the sandbox's JWT; the body parsed (null when empty).
pub async fn api(
    sandbox: &Sandbox,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let (status, _, answer) = raw(
        sandbox,
        method,
        &format!("{API_PREFIX}{path}"),
        Some(JWT),
        body.as_bytes(),
    )
    .await;
    let answer = if answer.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&answer).unwrap()
    };
    (status, answer)
}

pub async fn register(sandbox: &Sandbox, kind: &str, config: Value) -> Value {
    let (status, answer) = api(
        sandbox,
        Method::PUT,
        &format!("/webhooks/{kind}"),
        Some(config),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

pub async fn create_user(sandbox: &Sandbox) -> Value {
    let (status, user) = api(
        sandbox,
        Method::POST,
        "/users",
        Some(json!({"metadata": {"crm_id": "42"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    user
}

pub async fn sandbox_with(mode: WebhookMode) -> Sandbox {
    let sandbox = Sandbox::start(JWT).await.unwrap();
    sandbox.set_webhook_mode(mode);
    sandbox
}

pub fn fast(max_attempts: u32) -> WebhookMode {
    WebhookMode {
        duplicate: false,
        retry_delay: Duration::from_millis(100),
        max_attempts,
    }
}

pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA512, secret.as_bytes());
    hex::encode(aws_lc_rs::hmac::sign(&key, body))
}

pub fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

pub fn summary(deliveries: &[Delivery]) -> Vec<(&'static str, String, u32, Option<u16>)> {
    deliveries
        .iter()
        .map(|d| (d.kind, d.action.clone(), d.attempt, d.status))
        .collect()
}

pub fn header<'a>(received: &'a Received, name: &str) -> Option<&'a str> {
    received.headers.get(name).map(|v| v.to_str().unwrap())
}
