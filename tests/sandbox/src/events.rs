//! The bodies of the events the sandbox emits besides the user events, and
//! the webhook type each goes through:
//! - account events (`accounts`): `create_account`, `connect_account`,
//!   `disconnect_account`, `update_account`, `delete_account` [I];
//! - data-ready events after an account connects (`endpoints`,
//!   `multi_endpoints`): `update_endpoint`, `update_multi_endpoint` [I];
//! - Connect-page events (`rollee_connect_events`) as a user moves through the
//!   stand-in Connect page [I].
//!
//! Rollee publishes the field names only [I]; every shape and value below that
//! is not a field name is a STAND-IN, said where it is decided.

use std::sync::Arc;

use serde_json::{Value, json};
use time::Date;
use uuid::Uuid;

use crate::SANDBOX_DATASOURCE_ID;
use crate::response::rfc3339;
use crate::webhooks::emit;
use crate::world::{Shared, World};

/// STAND-IN: the endpoints whose data the sandbox says is ready after an
/// account connects (Rollee fetches more; these two are what the project reads).
pub(crate) const READY_ENDPOINTS: [&str; 2] = ["profile", "income"];

/// STAND-IN: the date range of the data said to be ready: the year up to the
/// sandbox's today (Rollee publishes neither range nor default).
const READY_DAYS: i64 = 365;

/// Emits the account events `actions` for `account`, in order, through the
/// `accounts` webhook: `{"action", "data": {"account_id", "user_id",
/// "datasource_id", "connected", "created_at"}}`. The fields are [I];
/// STAND-IN: that they sit under `data`, as in user events [C] (unpublished).
pub(crate) fn emit_account(shared: &Arc<Shared>, world: &World, account: Uuid, actions: &[&str]) {
    let Some(record) = world.accounts.get(&account) else {
        return;
    };
    let data = json!({
        "account_id": account,
        "user_id": record.user,
        "datasource_id": record.datasource,
        "connected": record.connected,
        "created_at": rfc3339(record.created_at),
    });
    let events: Vec<Value> = actions
        .iter()
        .map(|action| json!({ "action": action, "data": data }))
        .collect();
    emit(shared, world, "accounts", &events);
}

/// The data-ready events of an account that has just connected: one
/// `update_endpoint` per endpoint of [`READY_ENDPOINTS`] through `endpoints`,
/// and one `update_multi_endpoint` naming them all through `multi_endpoints`.
///
/// `{"action": "update_endpoint", "data": {"account_id", "user_id",
/// "endpoint", "date_start", "date_end", "request_id", "data_available"}}`:
/// the fields are [I]; STAND-IN: the `{action, data}` wrapper (as for account
/// events), dates as `YYYY-MM-DD`, one `request_id` for the whole fetch
/// (shared by the three events of one connection), and, in the multi event,
/// `"endpoints": [...]` in place of `"endpoint"`.
pub(crate) fn emit_data_ready(shared: &Arc<Shared>, world: &World, account: Uuid) {
    let Some(record) = world.accounts.get(&account) else {
        return;
    };
    let today = world.now().date();
    let start = today
        .checked_sub(time::Duration::days(READY_DAYS))
        .unwrap_or(today);
    let mut data = json!({
        "account_id": account,
        "user_id": record.user,
        "date_start": ymd(start),
        "date_end": ymd(today),
        "request_id": Uuid::new_v4(),
        "data_available": true,
    });
    let single: Vec<Value> = READY_ENDPOINTS
        .iter()
        .map(|endpoint| {
            let mut data = data.clone();
            data["endpoint"] = json!(endpoint);
            json!({ "action": "update_endpoint", "data": data })
        })
        .collect();
    emit(shared, world, "endpoints", &single);
    data["endpoints"] = json!(READY_ENDPOINTS);
    let multi = json!({ "action": "update_multi_endpoint", "data": data });
    emit(shared, world, "multi_endpoints", &[multi]);
}

/// A date as `YYYY-MM-DD`.
fn ymd(date: Date) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    date.format(&format).unwrap_or_default()
}

/// Where a user is on the stand-in Connect page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Screen {
    /// The page of a valid session was opened.
    Home,
    /// Its button connected (or reconnected) `account`.
    Connected { account: Uuid, reconnected: bool },
}

/// Emits a Connect-page event for `session` through `rollee_connect_events`
/// [I]. The body is flat (STAND-IN: no `action`, no wrapper):
/// `{"user_id", "screen", "duration", "tracking_id", "device_type",
/// "datasource_id", "account_id", "connection_status", "status_description",
/// "timestamp", "auth_method"}`. STAND-IN values: `screen` `"home"` with
/// `connection_status` `"started"` when the page opens, `"login"` with
/// `"success"` when its button connects; `duration` the whole milliseconds
/// since the session's page was first opened (0 on the home screen or when it
/// never was); `tracking_id` one per session; `device_type` `"desktop"`,
/// `auth_method` `"password"`; `account_id` the account connected, or the one
/// a reconnect session reconnects, else null; `datasource_id` that account's,
/// else [`SANDBOX_DATASOURCE_ID`]; `timestamp` the sandbox's now.
pub(crate) fn emit_connect_page(shared: &Arc<Shared>, world: &World, session: Uuid, at: Screen) {
    let Some(record) = world.sessions.get(&session) else {
        return;
    };
    let now = world.now();
    let (screen, status, description, account) = match at {
        Screen::Home => ("home", "started", "Connect page opened", record.account),
        Screen::Connected {
            account,
            reconnected,
        } => {
            let description = if reconnected {
                "Account reconnected"
            } else {
                "Account connected"
            };
            ("login", "success", description, Some(account))
        }
    };
    let datasource = account
        .and_then(|a| world.accounts.get(&a))
        .map_or(SANDBOX_DATASOURCE_ID, |a| a.datasource);
    let duration = match (at, record.opened_at) {
        (Screen::Connected { .. }, Some(opened)) => millis(now - opened),
        _ => 0,
    };
    let event = json!({
        "user_id": record.user,
        "screen": screen,
        "duration": duration,
        "tracking_id": record.tracking,
        "device_type": "desktop",
        "datasource_id": datasource,
        "account_id": account,
        "connection_status": status,
        "status_description": description,
        "timestamp": rfc3339(now),
        "auth_method": "password",
    });
    emit(shared, world, "rollee_connect_events", &[event]);
}

/// Whole milliseconds, never negative.
fn millis(elapsed: time::Duration) -> i64 {
    i64::try_from(elapsed.whole_milliseconds().max(0)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_year_month_day() {
        let date = time::macros::date!(2024 - 04 - 05);
        assert_eq!(super::ymd(date), "2024-04-05");
    }
}
