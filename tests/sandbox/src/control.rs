//! What is not Rollee's API: the Connect page a link opens (and the account
//! it connects), and the `/_sandbox/` control endpoints.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::response::{HttpResponse, error, json_reply, reply, rfc3339};
use crate::webhooks::emit;
use crate::world::{AccountRecord, SessionState, Shared};
use crate::{CONNECT_PREFIX, Fault, SANDBOX_DATASOURCE_ID};

/// Under [`CONNECT_PREFIX`]: `<session>` is the page a Connect link opens, the
/// sandbox's stand-in for Rollee Connect, saying whether the session would
/// let the user in and, if so, offering a button (a form POST, no script)
/// to `<session>/connect`, which connects an account for the session's user.
pub(crate) fn connect(shared: &Arc<Shared>, method: &Method, raw: &str) -> HttpResponse {
    let raw = raw.trim_end_matches('/');
    let (session, action) = raw.split_once('/').unwrap_or((raw, ""));
    let session = Uuid::try_parse(session).ok();
    match (action, session) {
        ("", Some(session)) => {
            let state = shared.world().session_state(session);
            match state {
                SessionState::Valid { expires_at, .. } => page(
                    StatusCode::OK,
                    &format!(
                        "Session valid until {}. Any credentials are accepted.",
                        rfc3339(expires_at)
                    ),
                    &format!(
                        "<form method=\"post\" action=\"{CONNECT_PREFIX}{session}/connect\">\
                         <button id=\"connect-account\" type=\"submit\">Connect an account</button></form>"
                    ),
                ),
                refused => refusal(refused),
            }
        }
        ("connect", Some(session)) if method == Method::POST => {
            match connect_account(shared, session) {
                Ok(account) => page(
                    StatusCode::OK,
                    "Account connected.",
                    &format!("<p>Account <code id=\"account-id\">{account}</code></p>"),
                ),
                Err(refused) => refusal(refused),
            }
        }
        ("connect", Some(_)) => {
            let mut answer = page(StatusCode::METHOD_NOT_ALLOWED, "Use the button.", "");
            answer
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            answer
        }
        _ => refusal(SessionState::Unknown),
    }
}

/// The page for a session that does not let its user in.
fn refusal(state: SessionState) -> HttpResponse {
    match state {
        SessionState::Replaced => page(
            StatusCode::GONE,
            "This session was replaced by a refresh.",
            "",
        ),
        SessionState::Expired => page(StatusCode::GONE, "This session has expired.", ""),
        SessionState::Valid { .. } | SessionState::Unknown => {
            page(StatusCode::NOT_FOUND, "Unknown session.", "")
        }
    }
}

/// `message` and `extra` are the sandbox's own text: nothing from a request.
fn page(status: StatusCode, message: &str, extra: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Rollee Connect (local sandbox)</title></head>\
         <body><h1>Rollee Connect — local sandbox</h1><p id=\"status\">{message}</p>{extra}</body></html>"
    );
    reply(status, "text/html; charset=utf-8", Bytes::from(html))
}

/// Connects an account for the user of a valid `session`, and emits
/// `create_account` then `connect_account` [I]. STAND-IN: the events'
/// fields `account_id`, `user_id`, `datasource_id`, `connected`,
/// `created_at` [I] sit under `data`, as in user events (unpublished).
pub(crate) fn connect_account(shared: &Arc<Shared>, session: Uuid) -> Result<Uuid, SessionState> {
    let mut world = shared.world();
    let user = match world.session_state(session) {
        SessionState::Valid { user, .. } if world.users.contains_key(&user) => user,
        SessionState::Valid { .. } => return Err(SessionState::Unknown),
        refused => return Err(refused),
    };
    let account = Uuid::new_v4();
    let record = AccountRecord {
        user,
        datasource: SANDBOX_DATASOURCE_ID,
        connected: true,
        created_at: world.now(),
    };
    let data = json!({
        "account_id": account,
        "user_id": record.user,
        "datasource_id": record.datasource,
        "connected": record.connected,
        "created_at": rfc3339(record.created_at),
    });
    world.accounts.insert(account, record);
    let event = |action: &str| json!({ "action": action, "data": data });
    emit(
        shared,
        &world,
        "accounts",
        &[event("create_account"), event("connect_account")],
    );
    Ok(account)
}

/// Control endpoints for a sandbox run on its own (`rollee-sandbox`), where no
/// test holds the [`Sandbox`](crate::Sandbox) handle:
/// `POST /_sandbox/fault` `{"fault": "delay"|"drop"|"unauthorized"|"rate_limited"|"server_error"|"malformed_json", "ms": 3000, "retry_after": 5, "times": 1}`,
/// `DELETE /_sandbox/fault`, `POST /_sandbox/clock` `{"advance_seconds": 1800}`,
/// `POST /_sandbox/token` `{"token": "…"}` (accept only this JWT from now on),
/// `POST /_sandbox/token-refresh` `{"revoke_old": true, "lifetime_seconds": 86400}`
/// (how `GET /token/refresh` behaves from now on; both STAND-IN, either may be left out),
/// `POST /_sandbox/webhooks` `{"duplicate": false, "retry_delay_ms": 30000, "max_attempts": 4}`
/// (how webhook events are delivered from now on, see [`WebhookMode`](crate::WebhookMode);
/// any field may be left out; answers the mode, as `GET /_sandbox/webhooks` does),
/// `GET /_sandbox/webhooks/deliveries` (every delivery attempt so far, in the
/// order they ended: `[{"kind", "action", "attempt", "status"}]`, `status`
/// null for a transport error or timeout).
pub(crate) fn control(shared: &Shared, method: &Method, what: &str, body: &[u8]) -> HttpResponse {
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
        (&Method::POST, "token-refresh") => {
            if let Some(revoke) = body["revoke_old"].as_bool() {
                world.revoke_on_refresh = revoke;
            }
            if let Some(seconds) = body["lifetime_seconds"].as_i64() {
                world.token_lifetime =
                    time::Duration::seconds(seconds.clamp(-86_400, 10 * 365 * 86_400));
            }
            json_reply(
                StatusCode::OK,
                json!({
                    "revoke_old": world.revoke_on_refresh,
                    "lifetime_seconds": world.token_lifetime.whole_seconds(),
                }),
            )
        }
        (&Method::POST, "webhooks") => {
            let mut mode = world.webhook_mode;
            match &body["duplicate"] {
                Value::Null => {}
                Value::Bool(duplicate) => mode.duplicate = *duplicate,
                _ => return error(StatusCode::BAD_REQUEST, "duplicate must be a boolean"),
            }
            match &body["retry_delay_ms"] {
                Value::Null => {}
                ms => match ms.as_u64() {
                    Some(ms) => mode.retry_delay = Duration::from_millis(ms),
                    None => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "retry_delay_ms must be a whole number",
                        );
                    }
                },
            }
            match &body["max_attempts"] {
                Value::Null => {}
                n => match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
                    Some(n) if n >= 1 => mode.max_attempts = n,
                    _ => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "max_attempts must be a whole number from 1",
                        );
                    }
                },
            }
            world.webhook_mode = mode;
            json_reply(StatusCode::OK, mode.to_json())
        }
        (&Method::GET, "webhooks") => json_reply(StatusCode::OK, world.webhook_mode.to_json()),
        (&Method::GET, "webhooks/deliveries") => {
            let deliveries = world
                .deliveries
                .iter()
                .map(|d| {
                    json!({
                        "kind": d.kind,
                        "action": d.action,
                        "attempt": d.attempt,
                        "status": d.status,
                    })
                })
                .collect();
            json_reply(StatusCode::OK, Value::Array(deliveries))
        }
        _ => error(StatusCode::NOT_FOUND, "no such control"),
    }
}
