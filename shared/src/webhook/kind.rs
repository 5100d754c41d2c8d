//! What kind of event a delivery is, and what this server does with it
//! besides publishing it: account events keep the table's `account#` items
//! current, Connect-page events become funnel metrics.
//!
//! Rollee's five webhook types [C]: `users`, `accounts`, `endpoints`,
//! `multi_endpoints`, `rollee_connect_events`. Their bodies, as far as
//! public material shows them:
//! - user events: `{"action": "create_user" | …, "data": <User>}` [C], or
//!   `{"event": …, "user_id", "metadata", "created_at", "account_count"}` [I];
//! - account events: `create_account`, `connect_account`,
//!   `disconnect_account`, `update_account`, `delete_account` with
//!   `account_id`, `user_id`, `datasource_id`, `connected`, `created_at` [I];
//! - data-ready events: `update_endpoint` / `update_multi_endpoint` with
//!   `account_id`, `user_id`, `endpoint`, `date_start`, `date_end`,
//!   `request_id`, `data_available` [I];
//! - Connect-page events: `user_id`, `screen`, `duration`, `tracking_id`,
//!   `device_type`, `datasource_id`, `account_id`, `connection_status`,
//!   `status_description`, `timestamp`, `auth_method` [I], with no action
//!   named anywhere [?]: such a body is given the action
//!   [`CONNECT_PAGE_ACTION`] (STAND-IN, this server's name).
//!
//! Whether the fields sit at the top or under `data` is not published [?]:
//! both are read.

use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::link::parse_uuid;

/// The action given to a Connect-page event (STAND-IN: Rollee names none).
pub const CONNECT_PAGE_ACTION: &str = "rollee_connect_event";

/// The screens of Rollee Connect a funnel metric names, after the app SDK's
/// callbacks `onHomeStarted`, `onTermsStarted`, `onSearchStarted`,
/// `onLoginStarted`, `onFetchStarted` [C]; the values `screen` takes in a
/// delivery are not published [?]: any other is counted as `other`.
pub const SCREENS: [&str; 6] = ["home", "terms", "search", "login", "fetch", "other"];
/// The connection statuses a funnel metric names (STAND-IN: the values are
/// not published [?]); any other is `other`, none at all `none`.
pub const CONNECTION_STATUSES: [&str; 6] =
    ["started", "success", "error", "pending", "other", "none"];

/// What a delivery is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    User,
    Account,
    /// New data can be fetched (`update_endpoint`, `update_multi_endpoint`).
    DataReady,
    /// A step of a user through Rollee Connect.
    ConnectPage,
    /// An action this server does not know: forwarded as it came.
    Other,
}

impl Category {
    pub fn of(action: &str) -> Self {
        match action {
            "update_endpoint" | "update_multi_endpoint" => Self::DataReady,
            CONNECT_PAGE_ACTION => Self::ConnectPage,
            a if a.ends_with("_user") => Self::User,
            a if a.ends_with("_account") => Self::Account,
            _ => Self::Other,
        }
    }
}

/// A field at the top of the body or under `data`.
fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name)
        .or_else(|| body.get("data").and_then(|d| d.get(name)))
}

/// Whether a body without an action is a Connect-page event.
pub fn is_connect_page(body: &Map<String, Value>) -> bool {
    field(body, "screen").is_some() || field(body, "connection_status").is_some()
}

/// The account an event names (`account_id`, at the top or under `data`).
pub fn account_of(body: &Map<String, Value>) -> Option<Uuid> {
    field(body, "account_id")
        .and_then(Value::as_str)
        .and_then(parse_uuid)
}

/// A Connect-page event's step as its metric names it: (screen, status),
/// each one of [`SCREENS`] / [`CONNECTION_STATUSES`], so that no value a
/// delivery sends becomes a dimension of its own.
pub fn funnel_step(body: &Map<String, Value>) -> (&'static str, &'static str) {
    let word = |name: &str| {
        field(body, name)
            .and_then(Value::as_str)
            .map(|s| s.trim().to_ascii_lowercase())
    };
    let pick =
        |value: Option<String>, known: &'static [&'static str], none: &'static str| match value {
            None => none,
            Some(v) => known.iter().copied().find(|k| *k == v).unwrap_or("other"),
        };
    (
        pick(word("screen"), &SCREENS, "other"),
        pick(word("connection_status"), &CONNECTION_STATUSES, "none"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn each_action_has_its_category() {
        for (action, category) in [
            ("create_user", Category::User),
            ("delete_user", Category::User),
            ("connect_account", Category::Account),
            ("update_endpoint", Category::DataReady),
            ("update_multi_endpoint", Category::DataReady),
            (CONNECT_PAGE_ACTION, Category::ConnectPage),
            ("something_new", Category::Other),
        ] {
            assert_eq!(Category::of(action), category, "{action}");
        }
    }

    #[test]
    fn a_funnel_step_is_always_a_known_word_whatever_the_delivery_sends() {
        for (b, step) in [
            (
                json!({"screen": "Login", "connection_status": "SUCCESS"}),
                ("login", "success"),
            ),
            (json!({"data": {"screen": "home"}}), ("home", "none")),
            (
                json!({"screen": "x".repeat(300), "connection_status": "weird"}),
                ("other", "other"),
            ),
            (
                json!({"screen": 3, "connection_status": null}),
                ("other", "none"),
            ),
        ] {
            assert_eq!(funnel_step(&body(b.clone())), step, "{b}");
        }
    }

    #[test]
    fn the_account_is_read_at_the_top_or_under_data() {
        let id = Uuid::new_v4();
        assert_eq!(account_of(&body(json!({"account_id": id}))), Some(id));
        assert_eq!(
            account_of(&body(json!({"data": {"account_id": id}}))),
            Some(id)
        );
        assert_eq!(account_of(&body(json!({"account_id": "nope"}))), None);
        assert!(is_connect_page(&body(
            json!({"data": {"connection_status": "started"}})
        )));
        assert!(!is_connect_page(&body(json!({"user_id": id}))));
    }
}
