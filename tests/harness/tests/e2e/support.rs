//! What the end-to-end tests share: events, the handlers' state against a
//! sandbox, log capture and the leak check, and moto's Secrets Manager.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use lambda_http::{Body, Request, Response};
use rollee_harness::emf::{self, Document};
use rollee_sandbox::Sandbox;
use rollee_shared::State;
use rollee_shared::config::Config;
use rollee_shared::rollee::ClientOptions;
use serde_json::Value;

/// The JWT the sandbox accepts by default. Watched by the leak check.
pub const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.e2e-test-jwt.c2lnbmF0dXJl";

/// Short limits so that the slow-upstream tests take seconds, not the
/// production 8 s per attempt.
pub fn test_options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(1),
        attempt_timeout: Duration::from_millis(1500),
        budget: Duration::from_secs(6),
        retry_pause: Duration::from_millis(20),
    }
}

// ---------------------------------------------------------------- logs

#[derive(Clone, Copy)]
struct Capture;

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// Strings that must never appear in a log line: JWTs and session tokens.
static WATCHED: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Every response the tests received, for the leak check of responses.
static ANSWERS: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The namespace of the metrics the handlers emit in this process.
pub const NAMESPACE: &str = "RolleeConnect/e2e";

/// Sends every log record of the process, at every level, and every metric
/// line, to a buffer the leak check reads. Idempotent.
pub fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            // The functions' own filter at TRACE: what they would log at their most verbose.
            .with_env_filter(rollee_shared::app::log_filter(
                lambda_http::tracing::subscriber::filter::LevelFilter::TRACE,
            ))
            .with_writer(|| Capture)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("one subscriber per test binary");
        // The metric lines, as a function would write them to stdout.
        let hooked = rollee_shared::metrics::install(rollee_shared::metrics::Emitter::hook(
            NAMESPACE, "e2e", add_logs,
        ));
        assert!(hooked, "one metrics emitter per test binary");
        watch(JWT);
    });
}

pub fn watch(secret: impl Into<String>) {
    WATCHED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(secret.into());
}

/// Adds the output of another process (a function binary) to what the leak check reads.
pub fn add_logs(text: &str) {
    LOGS.lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend_from_slice(text.as_bytes());
}

pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

/// The metric lines captured so far that carry `request_id`, each checked
/// against the embedded metric format's rules. (Lines of other processes,
/// which tests add to the capture under their own namespaces, carry other
/// request ids: they are left out before the namespace is checked.)
pub fn metric_lines_of(request_id: &str) -> Vec<Document> {
    let quoted = format!("\"{request_id}\"");
    logs()
        .lines()
        .filter(|l| emf::is_metric_line(l) && l.contains(&quoted))
        .map(|l| emf::check(l, NAMESPACE).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|d| d.root.get("requestId").and_then(Value::as_str) == Some(request_id))
        .collect()
}

/// No watched secret in any captured log line; no JWT in any response.
pub fn assert_no_leaks() {
    let logs = logs();
    let answers = ANSWERS.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for secret in WATCHED.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        if let Some(line) = logs.lines().find(|l| l.contains(secret.as_str())) {
            let at = line.find(secret.as_str()).unwrap_or(0);
            // Show where, not the secret itself.
            panic!(
                "a secret ({}…) appears in the logs: {}",
                &secret[..6],
                &line[..at.min(300)]
            );
        }
        if secret.starts_with("eyJ") || secret.starts_with("jwt") {
            for answer in &answers {
                assert!(
                    !answer.contains(secret.as_str()),
                    "a JWT appears in a response: {answer}"
                );
            }
        }
    }
    assert!(
        !logs.is_empty(),
        "no log captured: the leak check would prove nothing"
    );
}

// ---------------------------------------------------------------- events

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn events_dir() -> PathBuf {
    root().join("events")
}

pub fn event(name: &str) -> Value {
    rollee_harness::event(name).unwrap()
}

/// An event with its user id (path and `pathParameters`) replaced.
pub fn with_user(mut e: Value, user: &str) -> Value {
    e["rawPath"] = format!("/users/{user}/sessions").into();
    e["requestContext"]["http"]["path"] = e["rawPath"].clone();
    e["pathParameters"]["user_id"] = user.into();
    e
}

pub fn with_sub(mut e: Value, sub: &str) -> Value {
    e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = sub.into();
    e
}

/// An event with a request id of its own, to find its metric lines by.
pub fn with_request_id(mut e: Value) -> (Value, String) {
    let id = uuid::Uuid::new_v4().to_string();
    e["requestContext"]["requestId"] = id.clone().into();
    (e, id)
}

pub fn with_body(mut e: Value, body: &str) -> Value {
    e["body"] = body.into();
    e
}

pub fn request(e: &Value) -> Request {
    lambda_http::request::from_str(&e.to_string()).expect("a valid API Gateway v2 event")
}

// ---------------------------------------------------------------- state

pub async fn sandbox() -> Sandbox {
    capture_logs();
    Sandbox::start(JWT).await.expect("sandbox starts")
}

/// The handlers' state as `cargo lambda watch` builds it: the JWT from
/// ROLLEE_TOKEN, the sandbox as ROLLEE_API_URL.
pub async fn dev_state(sandbox: &Sandbox) -> State {
    state_with(sandbox, &[("ROLLEE_TOKEN", JWT)]).await
}

pub async fn state_with(sandbox: &Sandbox, vars: &[(&str, &str)]) -> State {
    state_with_options(sandbox, vars, test_options()).await
}

pub async fn state_with_options(
    sandbox: &Sandbox,
    vars: &[(&str, &str)],
    options: ClientOptions,
) -> State {
    state_on(shared_moto(), sandbox, vars, options).await
}

/// The state of a function whose AWS (the ownership table, and the secret
/// when `vars` name one) is `moto`, with a new, empty table of its own.
pub async fn state_on(
    moto: &Moto,
    sandbox: &Sandbox,
    vars: &[(&str, &str)],
    options: ClientOptions,
) -> State {
    let table = format!("ownership-{}", uuid::Uuid::new_v4().simple());
    moto.create_table(&table)
        .await
        .expect("the table is created");
    state_on_table(moto, sandbox, vars, options, &table).await
}

/// The same on an existing table.
pub async fn state_on_table(
    moto: &Moto,
    sandbox: &Sandbox,
    vars: &[(&str, &str)],
    options: ClientOptions,
    table: &str,
) -> State {
    let base = sandbox.base_url();
    let config = Config::from_lookup(|name| match name {
        "ROLLEE_API_URL" => Some(base.clone()),
        "OWNERSHIP_TABLE" => Some(table.to_owned()),
        _ => vars
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned()),
    })
    .expect("valid test configuration");
    State::build(&config, options, |http| moto.sdk_config_over(http.clone()))
        .await
        .expect("state builds")
}

/// The state of a function that publishes (erase-user): a new table and a
/// new bus of its own on [`shared_moto`], the JWT from ROLLEE_TOKEN.
pub async fn bus_state(sandbox: &Sandbox) -> State {
    bus_state_on(sandbox, &local_table().await, true).await.0
}

/// The same on an existing table; the bus created only when `bus_exists`.
/// Returns the bus too.
pub async fn bus_state_on(
    sandbox: &Sandbox,
    table: &str,
    bus_exists: bool,
) -> (State, Option<rollee_harness::bus::Bus>) {
    let name = format!("bus-{}", uuid::Uuid::new_v4().simple());
    let bus = if bus_exists {
        Some(crate::webhooks::create_bus(&name).await)
    } else {
        None
    };
    let state = state_on_table(
        shared_moto(),
        sandbox,
        &[("ROLLEE_TOKEN", JWT), ("EVENT_BUS_NAME", &name)],
        test_options(),
        table,
    )
    .await;
    (state, bus)
}

/// A new, empty ownership table on [`shared_moto`]; its name.
pub async fn local_table() -> String {
    let table = format!("ownership-{}", uuid::Uuid::new_v4().simple());
    shared_moto()
        .create_table(&table)
        .await
        .expect("the table is created");
    table
}

/// One moto server for the whole test process (each state gets its own
/// table in it); it stops when the process exits.
pub fn shared_moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| Moto::start().expect("moto's server starts"))
}

// ---------------------------------------------------------------- answers

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn str(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no string {field} in {}", self.body))
            .to_owned()
    }

    /// Asserts an RFC 9457 problem of this status, and returns it.
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.headers["content-type"], "application/problem+json");
        let b = &self.body;
        assert_eq!(b["status"], status, "{b}");
        assert!(
            b["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:rollee-connect:problem:"),
            "{b}"
        );
        for field in ["title", "detail", "request_id"] {
            assert!(
                !b[field].as_str().unwrap_or_default().is_empty(),
                "{field} missing in {b}"
            );
        }
        b
    }
}

pub fn answer(response: Response<Body>) -> Answer {
    let (parts, body) = response.into_parts();
    let text = match body {
        Body::Text(t) => t,
        Body::Empty => String::new(),
        Body::Binary(b) => String::from_utf8(b).unwrap(),
        _ => panic!("unexpected body kind"),
    };
    ANSWERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(text.clone());
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

pub async fn create_user(state: &State, e: &Value) -> Answer {
    answer(rollee_shared::app::respond(state, &request(e), create_user::handle).await)
}

pub async fn new_session(state: &State, e: &Value) -> Answer {
    answer(rollee_shared::app::respond(state, &request(e), new_session::handle).await)
}

pub async fn refresh_url(state: &State, e: &Value) -> Answer {
    answer(rollee_shared::app::respond(state, &request(e), refresh_url::handle).await)
}

pub async fn list_accounts(state: &State, e: &Value) -> Answer {
    answer(rollee_shared::app::respond(state, &request(e), list_accounts::handle).await)
}

pub async fn reconnect_account(state: &State, e: &Value) -> Answer {
    answer(rollee_shared::app::respond(state, &request(e), reconnect_account::handle).await)
}

pub async fn erase_user(state: &State, e: &Value) -> Answer {
    answer(rollee_shared::app::respond(state, &request(e), erase_user::handle).await)
}

/// An event with its account id (path and `pathParameters`) replaced.
pub fn with_account(mut e: Value, account: &str) -> Value {
    e["rawPath"] = format!("/accounts/{account}/reconnect").into();
    e["requestContext"]["http"]["path"] = e["rawPath"].clone();
    e["pathParameters"]["account_id"] = account.into();
    e
}

/// An event of a `/users/{user_id}…` route with its user id replaced,
/// keeping the rest of its path.
pub fn for_user(mut e: Value, user: &str) -> Value {
    let old = e["pathParameters"]["user_id"].as_str().unwrap().to_owned();
    let path = e["rawPath"].as_str().unwrap().replacen(&old, user, 1);
    e["rawPath"] = path.clone().into();
    e["requestContext"]["http"]["path"] = path.into();
    e["pathParameters"]["user_id"] = user.into();
    e
}

/// Records the session token of a successful answer, so that the leak check watches it.
pub fn watch_session(a: &Answer) {
    let url = a.str("connect_url");
    let token = url.rsplit('/').next().unwrap().to_owned();
    watch(token);
}

// ---------------------------------------------------------------- moto

pub use rollee_harness::moto::Moto;
