//! What is not Rollee's API: the Connect page a link opens, and the
//! `/_sandbox/` control endpoints.

use std::time::Duration;

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Fault;
use crate::response::{HttpResponse, error, json_reply, reply, rfc3339};
use crate::world::Shared;

/// The page a Connect link opens: the sandbox's stand-in for Rollee Connect,
/// saying whether the session would let the user in.
pub(crate) fn connect_page(shared: &Shared, raw: &str) -> HttpResponse {
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
