//! The account endpoints of the API [I]: `GET /users/{id}/accounts`,
//! `GET /accounts/{id}`, `DELETE /accounts/{id}`, `POST
//! /accounts/{id}/reconnect` and `POST /accounts/{id}/disconnect`; and the changes to an account that the
//! handle and `POST /_sandbox/accounts/{id}` make.
//!
//! Rollee publishes the paths [I] and, for an account, the fields `id`,
//! `user_id`, `datasource_id`, `connected`, `created_at` [I]. STAND-IN: every
//! answer's shape and status, the fields `status` and `updated_at`, 404 for an
//! unknown user or account.

use std::sync::Arc;

use hyper::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::api::{open_session, session_json};
use crate::events::emit_account;
use crate::response::{HttpResponse, error, json_reply, rfc3339};
use crate::world::{Shared, World};

/// An account as the API shows it: `{"id", "user_id", "datasource_id",
/// "connected", "created_at", "status", "updated_at"}`, `status` left out
/// when a control removed it.
pub(crate) fn account_json(world: &World, id: Uuid) -> Option<Value> {
    let record = world.accounts.get(&id)?;
    let mut account = serde_json::json!({
        "id": id,
        "user_id": record.user,
        "datasource_id": record.datasource,
        "connected": record.connected,
        "created_at": rfc3339(record.created_at),
        "updated_at": rfc3339(record.updated_at),
    });
    if let Some(status) = &record.status {
        account["status"] = Value::String(status.clone());
    }
    Some(account)
}

/// A user's accounts, oldest first (then by id); `None` for an unknown user.
pub(crate) fn accounts_of(world: &World, user: Uuid) -> Option<Vec<Uuid>> {
    if !world.users.contains_key(&user) {
        return None;
    }
    let mut accounts: Vec<_> = world
        .accounts
        .iter()
        .filter(|(_, a)| a.user == user)
        .map(|(id, a)| (a.created_at, *id))
        .collect();
    accounts.sort_unstable();
    Some(accounts.into_iter().map(|(_, id)| id).collect())
}

/// `GET /users/{id}/accounts`: a bare array of accounts (STAND-IN: Rollee
/// may wrap or page it; the project's client must accept a bare array).
pub(crate) fn list(shared: &Shared, user: Uuid) -> HttpResponse {
    let world = shared.world();
    match accounts_of(&world, user) {
        Some(ids) => json_reply(
            StatusCode::OK,
            Value::Array(
                ids.into_iter()
                    .filter_map(|id| account_json(&world, id))
                    .collect(),
            ),
        ),
        None => error(StatusCode::NOT_FOUND, "user not found"),
    }
}

/// `GET /accounts/{id}`.
pub(crate) fn get(shared: &Shared, account: Uuid) -> HttpResponse {
    match account_json(&shared.world(), account) {
        Some(account) => json_reply(StatusCode::OK, account),
        None => error(StatusCode::NOT_FOUND, "account not found"),
    }
}

/// `DELETE /accounts/{id}`: emits `delete_account` (with the account as it
/// was) and answers `{}` (STAND-IN, as for a user); the account's reconnect
/// sessions go with it.
pub(crate) fn delete(shared: &Arc<Shared>, account: Uuid) -> HttpResponse {
    let mut world = shared.world();
    if !world.accounts.contains_key(&account) {
        return error(StatusCode::NOT_FOUND, "account not found");
    }
    emit_account(shared, &world, account, &["delete_account"]);
    world.accounts.remove(&account);
    world.sessions.retain(|_, s| s.account != Some(account));
    json_reply(StatusCode::OK, serde_json::json!({}))
}

/// `POST /accounts/{id}/reconnect`: 201 with the four-field session shape
/// [I] of a new session of the account's user, whose Connect page reconnects
/// this account.
pub(crate) fn reconnect(shared: &Shared, account: Uuid) -> HttpResponse {
    let mut world = shared.world();
    match reconnect_session(&mut world, account) {
        Some(session) => json_reply(StatusCode::CREATED, session_json(shared, &world, session)),
        None => error(StatusCode::NOT_FOUND, "account not found"),
    }
}

/// A new reconnect session for `account`; `None` for an unknown account.
/// STAND-IN: any account may get one, connected or not; it does not replace
/// the user's `session` (that stays the user's own latest session).
pub(crate) fn reconnect_session(world: &mut World, account: Uuid) -> Option<Uuid> {
    let user = world.accounts.get(&account)?.user;
    Some(open_session(world, user, Some(account)))
}

/// `POST /accounts/{id}/disconnect`: 200 with the account, now disconnected.
pub(crate) fn disconnect(shared: &Arc<Shared>, account: Uuid) -> HttpResponse {
    let mut world = shared.world();
    match disconnect_account(shared, &mut world, account) {
        Some(account) => json_reply(StatusCode::OK, account),
        None => error(StatusCode::NOT_FOUND, "account not found"),
    }
}

/// Disconnects `account` (`connected` false, status `"disconnected"`,
/// `updated_at` now) and emits `disconnect_account`; the account as the API
/// shows it, `None` when unknown. STAND-IN: an account already disconnected
/// is disconnected again, with another event.
pub(crate) fn disconnect_account(
    shared: &Arc<Shared>,
    world: &mut World,
    account: Uuid,
) -> Option<Value> {
    let now = world.now();
    let record = world.accounts.get_mut(&account)?;
    record.connected = false;
    record.status = Some("disconnected".to_owned());
    record.updated_at = now;
    emit_account(shared, world, account, &["disconnect_account"]);
    account_json(world, account)
}

/// Sets what is given of `account` (`status`: `Some(None)` removes it),
/// stamps `updated_at` and emits `update_account`; the account as the API
/// shows it, `None` when unknown. A status left unsaid follows `connected`
/// while it is one of the two the sandbox sets itself (`"connected"`,
/// `"disconnected"`).
pub(crate) fn set_account(
    shared: &Arc<Shared>,
    world: &mut World,
    account: Uuid,
    connected: Option<bool>,
    status: Option<Option<String>>,
) -> Option<Value> {
    let now = world.now();
    let record = world.accounts.get_mut(&account)?;
    if let Some(connected) = connected {
        record.connected = connected;
    }
    match status {
        Some(status) => record.status = status,
        None if matches!(record.status.as_deref(), Some("connected" | "disconnected")) => {
            let own = if record.connected {
                "connected"
            } else {
                "disconnected"
            };
            record.status = Some(own.to_owned());
        }
        None => {}
    }
    record.updated_at = now;
    emit_account(shared, world, account, &["update_account"]);
    account_json(world, account)
}
