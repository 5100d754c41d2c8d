//! The Rollee API endpoints under [`API_PREFIX`]: users (which emit the user
//! webhook events), sessions, session refresh and token refresh; and `handle`,
//! which every request to the sandbox goes through (it sends Connect pages to
//! [`crate::connect`], `/_sandbox/` calls to [`crate::control`], accounts to
//! [`crate::accounts`] and `/webhooks` to [`crate::webhook_config`]).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::accounts;
use crate::connect::connect;
use crate::control::control;
use crate::response::{HttpResponse, error, json_reply, reply, rfc3339};
use crate::webhook_config::{delete_webhook, list_webhooks, put_webhook};
use crate::webhooks::emit;
use crate::world::{SessionRecord, Shared, UserRecord, World};
use crate::{API_PREFIX, CONNECT_PREFIX, Fault, Recorded, SESSION_LIFETIME};

/// Returned by the service to make hyper close the connection without an answer.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for DropConnection {}

pub(crate) async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<HttpResponse, DropConnection> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();

    if let Some(session) = path.strip_prefix(CONNECT_PREFIX) {
        return Ok(connect(&shared, &parts.method, session));
    }
    if let Some(rest) = path.strip_prefix("/_sandbox/") {
        return Ok(control(&shared, &parts.method, rest, &body));
    }
    // Rollee's page shows the token refresh of its sandbox under v0.3 [C]
    // (and production's under v0.5): both paths lead to it here.
    let api_path = if path == "/api/v0.3/token/refresh" {
        "/token/refresh"
    } else if let Some(api_path) = path.strip_prefix(API_PREFIX) {
        api_path
    } else {
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
            // The v0.3 token refresh keeps its whole path: a test can tell which was called.
            path: if path.starts_with(API_PREFIX) {
                api_path.to_owned()
            } else {
                path.clone()
            },
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
    let mut answer = match (&parts.method, segments.as_slice()) {
        (&Method::POST, ["users"]) => create_user(&shared, &body),
        (&Method::GET, ["users", id]) => with_uuid(id, |id| get_user(&shared, id)),
        (&Method::PUT, ["users", id]) => with_uuid(id, |id| put_user(&shared, id, &body)),
        (&Method::DELETE, ["users", id]) => with_uuid(id, |id| delete_user(&shared, id)),
        (&Method::POST, ["users", id, "sessions", "new"]) => {
            with_uuid(id, |id| new_session(&shared, id))
        }
        (&Method::POST, ["sessions", id, "refresh"]) => with_uuid(id, |id| refresh(&shared, id)),
        (&Method::GET, ["users", id, "accounts"]) => {
            with_uuid(id, |id| accounts::list(&shared, id))
        }
        (&Method::GET, ["accounts", id]) => with_uuid(id, |id| accounts::get(&shared, id)),
        (&Method::DELETE, ["accounts", id]) => with_uuid(id, |id| accounts::delete(&shared, id)),
        (&Method::POST, ["accounts", id, "reconnect"]) => {
            with_uuid(id, |id| accounts::reconnect(&shared, id))
        }
        (&Method::POST, ["accounts", id, "disconnect"]) => {
            with_uuid(id, |id| accounts::disconnect(&shared, id))
        }
        (&Method::GET, ["token", "refresh"]) => refresh_token(&shared, bearer.unwrap_or_default()),
        (&Method::GET, ["webhooks"]) => list_webhooks(&shared),
        (&Method::PUT, ["webhooks", kind]) => put_webhook(&shared, kind, &body),
        (&Method::DELETE, ["webhooks", kind]) => delete_webhook(&shared, kind),
        _ => error(StatusCode::NOT_FOUND, "no such route"),
    };
    // Every HTTP server states its clock (`Date`, RFC 9110); the sandbox's is
    // its world's, moved by `POST /_sandbox/clock`, so that the session
    // lifetimes it states hold on its own clock, as Rollee's would.
    let now = shared.world().now();
    if let Some(date) = http_date(now) {
        answer.headers_mut().insert(header::DATE, date);
    }
    Ok(answer)
}

/// `now` as an HTTP `Date` (IMF-fixdate).
fn http_date(now: time::OffsetDateTime) -> Option<HeaderValue> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let text = now.to_offset(time::UtcOffset::UTC).format(&format).ok()?;
    HeaderValue::from_str(&text).ok()
}

fn with_uuid(raw: &str, then: impl FnOnce(Uuid) -> HttpResponse) -> HttpResponse {
    match Uuid::try_parse(raw) {
        Ok(id) => then(id),
        // STAND-IN: Rollee's answer to a malformed id is not published.
        Err(_) => error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// The event of a user webhook: `{"action": …, "data": <User>}` [C].
fn user_event(action: &str, user: Value) -> Value {
    json!({ "action": action, "data": user })
}

fn create_user(shared: &Arc<Shared>, body: &[u8]) -> HttpResponse {
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
    let session = open_session(&mut world, id, None);
    world.users.insert(
        id,
        UserRecord {
            created_at: now,
            metadata,
            session,
        },
    );
    let user = user_json(shared, &world, id);
    emit(
        shared,
        &world,
        "users",
        &[user_event("create_user", user.clone())],
    );
    // STAND-IN: Rollee's success status for POST /users is not published (200 or 201).
    json_reply(StatusCode::CREATED, user)
}

fn get_user(shared: &Shared, id: Uuid) -> HttpResponse {
    let world = shared.world();
    if world.users.contains_key(&id) {
        json_reply(StatusCode::OK, user_json(shared, &world, id))
    } else {
        // STAND-IN: Rollee's status for an unknown user is not published; 404 assumed.
        error(StatusCode::NOT_FOUND, "user not found")
    }
}

fn put_user(shared: &Arc<Shared>, id: Uuid, body: &[u8]) -> HttpResponse {
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
    let user = user_json(shared, &world, id);
    emit(
        shared,
        &world,
        "users",
        &[user_event("update_user", user.clone())],
    );
    json_reply(StatusCode::OK, user)
}

fn delete_user(shared: &Arc<Shared>, id: Uuid) -> HttpResponse {
    let mut world = shared.world();
    // The event carries the user as it was before the delete.
    let user = user_json(shared, &world, id);
    if world.users.remove(&id).is_none() {
        return error(StatusCode::NOT_FOUND, "user not found");
    }
    // Deleting a user deletes its accounts [C]. STAND-IN: whether that also
    // emits `delete_account` events is not published; the sandbox emits none.
    world.sessions.retain(|_, s| s.user != id);
    world.accounts.retain(|_, a| a.user != id);
    emit(shared, &world, "users", &[user_event("delete_user", user)]);
    // STAND-IN: the answer to a delete is not published.
    json_reply(StatusCode::OK, json!({}))
}

fn new_session(shared: &Shared, user: Uuid) -> HttpResponse {
    let mut world = shared.world();
    if !world.users.contains_key(&user) {
        return error(StatusCode::NOT_FOUND, "user not found");
    }
    // STAND-IN: Rollee describes `sessions/new` as "intended for users created
    // with the API v0.3" and publishes nothing about how it refuses others;
    // when told to, the sandbox refuses with the given status.
    if let Some(status) = world.new_session_refusal {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        return error(status, "sessions/new is not available for this user");
    }
    let session = open_session(&mut world, user, None);
    if let Some(u) = world.users.get_mut(&user) {
        u.session = session;
    }
    // STAND-IN: the answer of `sessions/new` is not published; this one sends
    // the whole User, one of the two shapes the client must accept.
    json_reply(StatusCode::CREATED, user_json(shared, &world, user))
}

fn refresh(shared: &Shared, session: Uuid) -> HttpResponse {
    let mut world = shared.world();
    // STAND-IN: what a refresh does is not published. Here any known session,
    // expired or not, may be refreshed once: it is replaced by a new session
    // (new UUID, new 30 minutes) and stops working; an unknown or already
    // replaced session gets 404. The refresh of a reconnect session
    // reconnects the same account and, like it, is not the user's `session`.
    let (user, account) = match world.sessions.get_mut(&session) {
        Some(s) if !s.revoked => {
            s.revoked = true;
            (s.user, s.account)
        }
        _ => return error(StatusCode::NOT_FOUND, "session not found"),
    };
    let fresh = open_session(&mut world, user, account);
    if account.is_none()
        && let Some(u) = world.users.get_mut(&user)
    {
        u.session = fresh;
    }
    // STAND-IN: the answer is not published; this one is the four-field shape
    // of Rollee's reconnect session [I], the other shape the client must accept.
    json_reply(StatusCode::OK, session_json(shared, &world, fresh))
}

/// A session in the four-field shape of Rollee's reconnect session [I]:
/// `{"id": <its user>, "link", "session", "session_expires_at"}`.
pub(crate) fn session_json(shared: &Shared, world: &World, session: Uuid) -> Value {
    let record = world.sessions.get(&session);
    json!({
        "id": record.map(|s| s.user),
        "link": link(shared, session),
        "session": session,
        "session_expires_at": record.map(|s| rfc3339(s.expires_at)),
    })
}

fn refresh_token(shared: &Shared, presented: &str) -> HttpResponse {
    // `GET /token/refresh` → `{"token": NEW_JWT}` [C], a JWT the API then
    // accepts. STAND-IN: its lifetime and whether the JWT it was called with
    // keeps working are not published; both are settings here (by default 30
    // days, and the old JWT keeps working).
    let mut world = shared.world();
    let exp = (world.now() + world.token_lifetime).unix_timestamp();
    let token = crate::jwt(exp);
    if world.revoke_on_refresh {
        world.tokens.retain(|t| t != presented);
    }
    world.tokens.push(token.clone());
    world.issued.push(token.clone());
    json_reply(StatusCode::OK, json!({ "token": token }))
}

/// A new session of `user`, for 30 minutes; `account`: the account it reconnects.
pub(crate) fn open_session(world: &mut World, user: Uuid, account: Option<Uuid>) -> Uuid {
    let id = Uuid::new_v4();
    let expires_at = world.now() + SESSION_LIFETIME;
    world.sessions.insert(
        id,
        SessionRecord {
            user,
            expires_at,
            revoked: false,
            account,
            tracking: Uuid::new_v4(),
            opened_at: None,
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
    let accounts = || world.accounts.values().filter(|a| a.user == id);
    json!({
        "id": id,
        "created_at": rfc3339(user.created_at),
        "metadata": user.metadata,
        "link": link(shared, user.session),
        "session": user.session,
        "session_expires_at": session.map(|s| rfc3339(s.expires_at)),
        "session_expired": session.is_none_or(|s| s.revoked || s.expires_at <= now),
        "accounts_number": accounts().count(),
        "connected_accounts_count": accounts().filter(|a| a.connected).count(),
    })
}
