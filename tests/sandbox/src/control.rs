//! The `/_sandbox/` control endpoints: not Rollee's API.

use std::sync::Arc;
use std::time::Duration;

use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Fault;
use crate::accounts::set_account;
use crate::response::{HttpResponse, error, json_reply, rfc3339};
use crate::world::{Shared, World};

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
/// null for a transport error or timeout),
/// `POST /_sandbox/accounts/{id}` `{"connected": false, "status": "error"}`
/// (sets the account, either field may be left out, `"status": null` removes
/// it; a status left out follows `connected` while it is `"connected"` or
/// `"disconnected"`; emits `update_account` and answers the account as
/// `GET /accounts/{id}` does; 404 for an unknown account).
pub(crate) fn control(
    shared: &Arc<Shared>,
    method: &Method,
    what: &str,
    body: &[u8],
) -> HttpResponse {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut world = shared.world();
    if let Some(account) = what.strip_prefix("accounts/") {
        return match *method {
            Method::POST => control_account(shared, &mut world, account, &body),
            _ => error(StatusCode::NOT_FOUND, "no such control"),
        };
    }
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

/// `POST /_sandbox/accounts/{id}`.
fn control_account(
    shared: &Arc<Shared>,
    world: &mut World,
    raw: &str,
    body: &Value,
) -> HttpResponse {
    let Ok(account) = Uuid::try_parse(raw) else {
        return error(StatusCode::NOT_FOUND, "account not found");
    };
    if !(body.is_object() || body.is_null()) {
        return error(StatusCode::BAD_REQUEST, "body is not a JSON object");
    }
    let connected = match body.get("connected") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(connected)) => Some(*connected),
        Some(_) => return error(StatusCode::BAD_REQUEST, "connected must be a boolean"),
    };
    let status = match body.get("status") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(status)) => Some(Some(status.clone())),
        Some(_) => return error(StatusCode::BAD_REQUEST, "status must be a string or null"),
    };
    match set_account(shared, world, account, connected, status) {
        Some(account) => json_reply(StatusCode::OK, account),
        None => error(StatusCode::NOT_FOUND, "account not found"),
    }
}
