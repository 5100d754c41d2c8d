//! A local stand-in for Rollee's sandbox API, for development and tests:
//! Rollee itself cannot be reached from our machines or CI.
//!
//! Published behaviour is reproduced as documented; everything Rollee does not
//! publish is marked `STAND-IN` where it is decided here, so that nobody
//! mistakes it for Rollee's behaviour. Fault modes let a test make it slow,
//! rude or broken on demand.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The API's path prefix [C].
pub const API_PREFIX: &str = "/api/v0.5";
/// Connect links have the published shape `…/v0.4/session/<UUID>` [C]; here they point back at the sandbox.
pub const CONNECT_PREFIX: &str = "/v0.4/session/";
/// Default session lifetime [C].
pub const SESSION_LIFETIME: time::Duration = time::Duration::minutes(30);

/// A way for the sandbox to misbehave on API calls (not on Connect pages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally, but only after this long.
    Delay(Duration),
    /// Read the request, then close the connection without an answer.
    Drop,
    /// 401, whatever the token.
    Unauthorized,
    /// 429, with `Retry-After: <seconds>` when given. STAND-IN: Rollee's 429 is not published.
    RateLimited(Option<u64>),
    /// 500. STAND-IN: Rollee's 5xx bodies are not published.
    ServerError,
    /// 200 with a body that is not JSON.
    MalformedJson,
}

/// One API request as the sandbox saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, without the API prefix.
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

#[derive(Debug)]
struct UserRecord {
    created_at: OffsetDateTime,
    metadata: Map<String, Value>,
    /// The user's latest session.
    session: Uuid,
}

#[derive(Debug)]
struct SessionRecord {
    user: Uuid,
    expires_at: OffsetDateTime,
    /// Replaced by a refresh.
    revoked: bool,
}

#[derive(Debug, Default)]
struct World {
    tokens: Vec<String>,
    users: HashMap<Uuid, UserRecord>,
    sessions: HashMap<Uuid, SessionRecord>,
    clock_offset: time::Duration,
    /// Added to every API request before it is answered.
    latency: Duration,
    /// Faults to apply, oldest first; `Some(n)`: for the next n API requests.
    faults: VecDeque<(Fault, Option<usize>)>,
    recorded: Vec<Recorded>,
}

impl World {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc().saturating_add(self.clock_offset)
    }

    fn next_fault(&mut self) -> Option<Fault> {
        let (fault, remaining) = self.faults.front_mut()?;
        let fault = fault.clone();
        if let Some(n) = remaining {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.faults.pop_front();
            }
        }
        Some(fault)
    }
}

struct Shared {
    world: Mutex<World>,
    origin: String,
}

impl Shared {
    fn world(&self) -> MutexGuard<'_, World> {
        // A test that panicked while holding the lock must not hide the next failure.
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running sandbox on 127.0.0.1. Stops when dropped.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sandbox {
    /// Starts on a free port, accepting `token` as the Rollee JWT.
    pub async fn start(token: &str) -> std::io::Result<Self> {
        Self::bind("127.0.0.1:0".parse().map_err(std::io::Error::other)?, token).await
    }

    pub async fn bind(addr: SocketAddr, token: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            world: Mutex::new(World {
                tokens: vec![token.to_owned()],
                ..World::default()
            }),
            origin: format!("http://{addr}"),
        });
        let task = spawn_server(listener, shared.clone(), handle);
        Ok(Self { addr, shared, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base to configure as `ROLLEE_API_URL`.
    pub fn base_url(&self) -> String {
        format!("{}{API_PREFIX}", self.shared.origin)
    }

    /// From now on only `token` is accepted: the old JWT gets 401 (a rotation).
    pub fn accept_only(&self, token: &str) {
        self.shared.world().tokens = vec![token.to_owned()];
    }

    /// Misbehave on the next `times` API requests (`None`: until [`Sandbox::clear_faults`]).
    pub fn fail(&self, fault: Fault, times: Option<usize>) {
        let times = times.map(|n| n.max(1));
        self.shared.world().faults.push_back((fault, times));
    }

    /// Every API request from now on waits this long before it is answered
    /// (faults still apply after it).
    pub fn set_latency(&self, latency: Duration) {
        self.shared.world().latency = latency;
    }

    pub fn clear_faults(&self) {
        self.shared.world().faults.clear();
    }

    /// Moves the sandbox's clock forward, to expire sessions without waiting.
    pub fn advance_clock(&self, by: Duration) {
        let by = time::Duration::try_from(by).unwrap_or(time::Duration::MAX);
        let mut world = self.shared.world();
        world.clock_offset = world.clock_offset.saturating_add(by);
    }

    /// Every API request seen so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.world().recorded.clone()
    }

    /// A user's stored metadata, as Rollee would return it.
    pub fn metadata_of(&self, user: Uuid) -> Option<Map<String, Value>> {
        self.shared
            .world()
            .users
            .get(&user)
            .map(|u| u.metadata.clone())
    }

    /// Whether the Connect page of `session` would open now.
    pub fn session_is_valid(&self, session: Uuid) -> bool {
        let world = self.shared.world();
        let now = world.now();
        world
            .sessions
            .get(&session)
            .is_some_and(|s| !s.revoked && s.expires_at > now)
    }

    pub fn user_count(&self) -> usize {
        self.shared.world().users.len()
    }
}

/// Serves HTTP/1.1 on `listener`, each request through `handle` with `shared`,
/// until the returned task is aborted. Shared by the sandbox and the Runtime API.
pub fn spawn_server<S, F, E>(
    listener: TcpListener,
    shared: Arc<S>,
    handle: fn(Arc<S>, Request<Incoming>) -> F,
) -> JoinHandle<()>
where
    S: Send + Sync + 'static,
    F: Future<Output = Result<Response<Full<Bytes>>, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| handle(shared.clone(), request));
                // An error here is a dropped connection, wanted or not: nothing to do.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// Returned by the service to make hyper close the connection without an answer.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for DropConnection {}

type Reply = Response<Full<Bytes>>;

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Reply, DropConnection> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();

    if let Some(session) = path.strip_prefix(CONNECT_PREFIX) {
        return Ok(connect_page(&shared, session));
    }
    if let Some(rest) = path.strip_prefix("/_sandbox/") {
        return Ok(control(&shared, &parts.method, rest, &body));
    }
    let Some(api_path) = path.strip_prefix(API_PREFIX) else {
        return Ok(error(StatusCode::NOT_FOUND, "no such route"));
    };

    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = header(header::AUTHORIZATION);
    let (latency, fault) = {
        let mut world = shared.world();
        world.recorded.push(Recorded {
            method: parts.method.to_string(),
            path: api_path.to_owned(),
            authorization: authorization.clone(),
            content_type: header(header::CONTENT_TYPE),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        (world.latency, world.next_fault())
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault {
        None => {}
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::Drop) => return Err(DropConnection),
        Some(Fault::Unauthorized) => return Ok(error(StatusCode::UNAUTHORIZED, "Unauthorized")),
        Some(Fault::RateLimited(retry_after)) => {
            let mut reply = error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
            if let Some(seconds) = retry_after {
                reply
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            return Ok(reply);
        }
        Some(Fault::ServerError) => {
            return Ok(error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"));
        }
        Some(Fault::MalformedJson) => {
            return Ok(reply(
                StatusCode::OK,
                "application/json",
                Bytes::from_static(b"{\"id\": \"d8ee06"),
            ));
        }
    }

    // `Authorization: Bearer <JWT>` on every call; a wrong one gets 401 [C]
    // (its body is not published: STAND-IN).
    let bearer = authorization
        .as_deref()
        .and_then(|v| v.strip_prefix("Bearer "));
    if !bearer.is_some_and(|t| shared.world().tokens.iter().any(|ok| ok == t)) {
        return Ok(error(StatusCode::UNAUTHORIZED, "Unauthorized"));
    }

    let segments: Vec<&str> = api_path.split('/').filter(|s| !s.is_empty()).collect();
    Ok(match (&parts.method, segments.as_slice()) {
        (&Method::POST, ["users"]) => create_user(&shared, &body),
        (&Method::GET, ["users", id]) => with_uuid(id, |id| get_user(&shared, id)),
        (&Method::PUT, ["users", id]) => with_uuid(id, |id| put_user(&shared, id, &body)),
        (&Method::DELETE, ["users", id]) => with_uuid(id, |id| delete_user(&shared, id)),
        (&Method::POST, ["users", id, "sessions", "new"]) => {
            with_uuid(id, |id| new_session(&shared, id))
        }
        (&Method::POST, ["sessions", id, "refresh"]) => with_uuid(id, |id| refresh(&shared, id)),
        (&Method::GET, ["token", "refresh"]) => refresh_token(&shared),
        _ => error(StatusCode::NOT_FOUND, "no such route"),
    })
}

fn with_uuid(raw: &str, then: impl FnOnce(Uuid) -> Reply) -> Reply {
    match Uuid::try_parse(raw) {
        Ok(id) => then(id),
        // STAND-IN: Rollee's answer to a malformed id is not published.
        Err(_) => error(StatusCode::NOT_FOUND, "not found"),
    }
}

fn create_user(shared: &Shared, body: &[u8]) -> Reply {
    // The body is optional: `{"metadata": {...}}` [C].
    let metadata = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(mut o)) => match o.remove("metadata") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(m)) => m,
                // STAND-IN: Rollee's validation errors are not published.
                Some(_) => return error(StatusCode::BAD_REQUEST, "metadata must be an object"),
            },
            _ => return error(StatusCode::BAD_REQUEST, "body is not a JSON object"),
        }
    };
    let mut world = shared.world();
    let id = Uuid::new_v4();
    let now = world.now();
    let session = open_session(&mut world, id);
    world.users.insert(
        id,
        UserRecord {
            created_at: now,
            metadata,
            session,
        },
    );
    // STAND-IN: Rollee's success status for POST /users is not published (200 or 201).
    json_reply(StatusCode::CREATED, user_json(shared, &world, id))
}

fn get_user(shared: &Shared, id: Uuid) -> Reply {
    let world = shared.world();
    if world.users.contains_key(&id) {
        json_reply(StatusCode::OK, user_json(shared, &world, id))
    } else {
        // STAND-IN: Rollee's status for an unknown user is not published; 404 assumed.
        error(StatusCode::NOT_FOUND, "user not found")
    }
}

fn put_user(shared: &Shared, id: Uuid, body: &[u8]) -> Reply {
    // `{"metadata": {...}}` replaces the previous metadata [C; body shape I].
    let metadata = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut o)) => match o.remove("metadata") {
            Some(Value::Object(m)) => m,
            _ => return error(StatusCode::BAD_REQUEST, "metadata must be an object"),
        },
        _ => return error(StatusCode::BAD_REQUEST, "body is not a JSON object"),
    };
    let mut world = shared.world();
    match world.users.get_mut(&id) {
        Some(user) => user.metadata = metadata,
        None => return error(StatusCode::NOT_FOUND, "user not found"),
    }
    json_reply(StatusCode::OK, user_json(shared, &world, id))
}

fn delete_user(shared: &Shared, id: Uuid) -> Reply {
    let mut world = shared.world();
    if world.users.remove(&id).is_none() {
        return error(StatusCode::NOT_FOUND, "user not found");
    }
    world.sessions.retain(|_, s| s.user != id);
    // STAND-IN: the answer to a delete is not published.
    json_reply(StatusCode::OK, json!({}))
}

fn new_session(shared: &Shared, user: Uuid) -> Reply {
    let mut world = shared.world();
    if !world.users.contains_key(&user) {
        return error(StatusCode::NOT_FOUND, "user not found");
    }
    let session = open_session(&mut world, user);
    if let Some(u) = world.users.get_mut(&user) {
        u.session = session;
    }
    // STAND-IN: the answer of `sessions/new` is not published; this one sends
    // the whole User, one of the two shapes the client must accept.
    json_reply(StatusCode::CREATED, user_json(shared, &world, user))
}

fn refresh(shared: &Shared, session: Uuid) -> Reply {
    let mut world = shared.world();
    // STAND-IN: what a refresh does is not published. Here any known session,
    // expired or not, may be refreshed once: it is replaced by a new session
    // (new UUID, new 30 minutes) and stops working; an unknown or already
    // replaced session gets 404.
    let user = match world.sessions.get_mut(&session) {
        Some(s) if !s.revoked => {
            s.revoked = true;
            s.user
        }
        _ => return error(StatusCode::NOT_FOUND, "session not found"),
    };
    let fresh = open_session(&mut world, user);
    if let Some(u) = world.users.get_mut(&user) {
        u.session = fresh;
    }
    // STAND-IN: the answer is not published; this one is the four-field shape
    // of Rollee's reconnect session [I], the other shape the client must accept.
    let expires_at = world.sessions.get(&fresh).map(|s| s.expires_at);
    json_reply(
        StatusCode::OK,
        json!({
            "id": user,
            "link": link(shared, fresh),
            "session": fresh,
            "session_expires_at": expires_at.map(rfc3339),
        }),
    )
}

fn refresh_token(shared: &Shared) -> Reply {
    // `GET /token/refresh` → `{"token": NEW_JWT}` [C]. STAND-IN: whether the old
    // JWT keeps working until it expires is not published; here it does.
    let token = format!(
        "sandbox.{}.{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    );
    shared.world().tokens.push(token.clone());
    json_reply(StatusCode::OK, json!({ "token": token }))
}

fn open_session(world: &mut World, user: Uuid) -> Uuid {
    let id = Uuid::new_v4();
    let expires_at = world.now() + SESSION_LIFETIME;
    world.sessions.insert(
        id,
        SessionRecord {
            user,
            expires_at,
            revoked: false,
        },
    );
    id
}

fn link(shared: &Shared, session: Uuid) -> String {
    format!("{}{CONNECT_PREFIX}{session}", shared.origin)
}

fn user_json(shared: &Shared, world: &World, id: Uuid) -> Value {
    let Some(user) = world.users.get(&id) else {
        return Value::Null;
    };
    let session = world.sessions.get(&user.session);
    let now = world.now();
    json!({
        "id": id,
        "created_at": rfc3339(user.created_at),
        "metadata": user.metadata,
        "link": link(shared, user.session),
        "session": user.session,
        "session_expires_at": session.map(|s| rfc3339(s.expires_at)),
        "session_expired": session.is_none_or(|s| s.revoked || s.expires_at <= now),
        "accounts_number": 0,
        "connected_accounts_count": 0,
    })
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// The page a Connect link opens: the sandbox's stand-in for Rollee Connect,
/// saying whether the session would let the user in.
fn connect_page(shared: &Shared, raw: &str) -> Reply {
    let world = shared.world();
    let now = world.now();
    let state = Uuid::try_parse(raw.trim_end_matches('/'))
        .ok()
        .and_then(|id| world.sessions.get(&id));
    let (status, message) = match state {
        Some(s) if s.revoked => (
            StatusCode::GONE,
            "This session was replaced by a refresh.".to_owned(),
        ),
        Some(s) if s.expires_at <= now => {
            (StatusCode::GONE, "This session has expired.".to_owned())
        }
        Some(s) => (
            StatusCode::OK,
            format!(
                "Session valid until {}. Any credentials are accepted.",
                rfc3339(s.expires_at)
            ),
        ),
        None => (StatusCode::NOT_FOUND, "Unknown session.".to_owned()),
    };
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Rollee Connect (local sandbox)</title></head>\
         <body><h1>Rollee Connect — local sandbox</h1><p id=\"status\">{message}</p></body></html>"
    );
    reply(status, "text/html; charset=utf-8", Bytes::from(html))
}

/// Control endpoints for a sandbox run on its own (`rollee-sandbox`), where no
/// test holds the [`Sandbox`] handle:
/// `POST /_sandbox/fault` `{"fault": "delay"|"drop"|"unauthorized"|"rate_limited"|"server_error"|"malformed_json", "ms": 3000, "retry_after": 5, "times": 1}`,
/// `DELETE /_sandbox/fault`, `POST /_sandbox/clock` `{"advance_seconds": 1800}`,
/// `POST /_sandbox/token` `{"token": "…"}` (accept only this JWT from now on).
fn control(shared: &Shared, method: &Method, what: &str, body: &[u8]) -> Reply {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut world = shared.world();
    match (method, what) {
        (&Method::POST, "fault") => {
            let fault = match body["fault"].as_str() {
                Some("delay") => {
                    Fault::Delay(Duration::from_millis(body["ms"].as_u64().unwrap_or(1000)))
                }
                Some("drop") => Fault::Drop,
                Some("unauthorized") => Fault::Unauthorized,
                Some("rate_limited") => Fault::RateLimited(body["retry_after"].as_u64()),
                Some("server_error") => Fault::ServerError,
                Some("malformed_json") => Fault::MalformedJson,
                _ => return error(StatusCode::BAD_REQUEST, "unknown fault"),
            };
            let times = match body["times"].as_u64() {
                Some(0) => return error(StatusCode::BAD_REQUEST, "times must be at least 1"),
                Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                None => None,
            };
            world.faults.push_back((fault, times));
            json_reply(StatusCode::OK, json!({"faults": world.faults.len()}))
        }
        (&Method::DELETE, "fault") => {
            world.faults.clear();
            json_reply(StatusCode::OK, json!({"faults": 0}))
        }
        (&Method::POST, "clock") => {
            let seconds = body["advance_seconds"]
                .as_i64()
                .unwrap_or(0)
                .clamp(0, 10 * 365 * 86_400);
            world.clock_offset = world
                .clock_offset
                .saturating_add(time::Duration::seconds(seconds));
            json_reply(StatusCode::OK, json!({"now": rfc3339(world.now())}))
        }
        (&Method::POST, "token") => match body["token"].as_str() {
            Some(token) if !token.is_empty() => {
                world.tokens = vec![token.to_owned()];
                json_reply(StatusCode::OK, json!({}))
            }
            _ => error(StatusCode::BAD_REQUEST, "token missing"),
        },
        _ => error(StatusCode::NOT_FOUND, "no such control"),
    }
}

fn json_reply(status: StatusCode, body: Value) -> Reply {
    reply(status, "application/json", Bytes::from(body.to_string()))
}

/// STAND-IN: Rollee's error bodies are not published.
fn error(status: StatusCode, message: &str) -> Reply {
    json_reply(status, json!({ "error": message }))
}

fn reply(status: StatusCode, content_type: &'static str, body: Bytes) -> Reply {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
