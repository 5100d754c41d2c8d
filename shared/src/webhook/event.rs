//! A webhook's body: what is checked, whose user it is about, and what goes
//! on the event bus.
//!
//! Rollee publishes user events as `{"action": "create_user" | "update_user"
//! | "delete_user", "data": <User>}` [C]; account events carry `account_id`,
//! `user_id`, `datasource_id`, `connected`, `created_at` [I], and whether
//! those sit under `data` is not published [?]: the user id is looked for
//! under `data.user_id`, then (user events) `data.id`, then `user_id`.
//! Actions not listed here are forwarded unchanged: Rollee adds event types.

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

pub use super::redact::{MAX_REDACTED_PATH_LEN, MAX_REDACTED_PATHS, Redacted};
use crate::flow::OWNER_KEY;
use crate::link::parse_uuid;

/// Bodies larger than this get 413: an EventBridge entry holds 256 KiB, and
/// Rollee's events (a User or an account) are a few KiB.
pub const MAX_WEBHOOK_BODY: usize = 128 * 1024;
/// An action longer than this, or with other characters than letters,
/// digits, `_`, `-` and `.`, is no event type: 400.
pub const MAX_ACTION_LEN: usize = 64;

/// The actions Rollee documents (user events [C], account and data-ready
/// events [I]), and the one this server gives Connect-page events.
pub const KNOWN_ACTIONS: [&str; 11] = [
    "create_user",
    "update_user",
    "delete_user",
    "create_account",
    "connect_account",
    "disconnect_account",
    "update_account",
    "delete_account",
    "update_endpoint",
    "update_multi_endpoint",
    super::kind::CONNECT_PAGE_ACTION,
];

/// The User fields that hold its Connect session: the session UUID and the
/// Connect URL that ends with it [C].
pub const SESSION_FIELDS: [&str; 2] = ["session", "link"];

/// A delivery's body, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub action: String,
    /// The Rollee user it is about, when the body names one.
    pub user_id: Option<Uuid>,
    pub body: Map<String, Value>,
}

impl Event {
    /// Whether Rollee documents this action.
    pub fn is_known(&self) -> bool {
        KNOWN_ACTIONS.contains(&self.action.as_str())
    }

    /// Removes what gives access to a user's Connect session, wherever it
    /// sits in the body (a User carries its session UUID in `session` and in
    /// `link`, the Connect URL [C]; where else Rollee may nest a User is not
    /// published): the event bus's consumers, and any log group a rule sends
    /// events to, must never hold a session token. Returns where they were:
    /// the first [`MAX_REDACTED_PATHS`] paths, each cut to
    /// [`MAX_REDACTED_PATH_LEN`] bytes, and how many fields were removed.
    ///
    /// The work is one pass over the body, and what it allocates is bounded
    /// whatever the body's shape: a path is written only for a field that is
    /// listed, from the keys on the way down (never copied per level).
    pub fn redact(&mut self) -> Redacted {
        super::redact::redact(&mut self.body)
    }

    /// When the event happened, where the body says: a `timestamp` at the
    /// top or under `data`, as Rollee's Connect-page events carry it [I]
    /// (RFC 3339, or a Unix time in seconds or, above 10^11, milliseconds:
    /// its format is not published [?]). `created_at` is not read: in user
    /// and account events it dates the user or the account [C]/[I], not the
    /// delivery. Anything unreadable is no date.
    pub fn dated_at(&self) -> Option<OffsetDateTime> {
        let at = self
            .body
            .get("timestamp")
            .or_else(|| self.body.get("data")?.get("timestamp"))?;
        match at {
            Value::String(text) => OffsetDateTime::parse(text, &Rfc3339).ok(),
            Value::Number(number) => {
                let n = number.as_f64()?;
                let seconds = if n.abs() >= 1e11 { n / 1000.0 } else { n };
                if !seconds.is_finite() || seconds.abs() > 1e12 {
                    return None;
                }
                OffsetDateTime::from_unix_timestamp(seconds as i64).ok()
            }
            _ => None,
        }
    }

    /// The owner this server wrote into a user's metadata when it created it
    /// ([`OWNER_KEY`]), as `create_user` carries it: Rollee sends that event
    /// as it creates the user, often before this server has recorded the
    /// owner in its table, and only this server creates users with that key.
    /// Any later event takes the owner from the table alone (metadata can be
    /// changed by whoever holds the company's Rollee access).
    pub fn owner_in_metadata(&self) -> Option<&str> {
        if self.action != "create_user" {
            return None;
        }
        self.body
            .get("data")?
            .get("metadata")?
            .get(OWNER_KEY)?
            .as_str()
            .filter(|sub| !sub.is_empty() && sub.len() <= 256 && !sub.chars().any(char::is_control))
    }
}

/// Why a body is refused (400). Names no value from the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadEvent {
    #[error("The body must be a JSON object.")]
    NotAnObject,
    #[error("The body has no \"action\" (or \"event\") string and is no Connect-page event.")]
    NoAction,
    #[error("\"action\" must be 1 to 64 letters, digits, '_', '-' or '.'.")]
    BadAction,
}

/// Checks a body: a JSON object with an `action` string.
pub fn parse(body: &[u8]) -> Result<Event, BadEvent> {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return Err(BadEvent::NotAnObject);
    };
    // `action` [C], or `event` in the other user shape [I]; a Connect-page
    // event names none (see [`super::kind`]).
    let action = match body
        .get("action")
        .or_else(|| body.get("event"))
        .and_then(Value::as_str)
    {
        Some(action) => action.to_owned(),
        None if super::kind::is_connect_page(&body) => super::kind::CONNECT_PAGE_ACTION.to_owned(),
        None => return Err(BadEvent::NoAction),
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if action.is_empty() || action.len() > MAX_ACTION_LEN || !action.chars().all(plain) {
        return Err(BadEvent::BadAction);
    }
    let uuid_at = |value: Option<&Value>| value.and_then(Value::as_str).and_then(parse_uuid);
    let data = body.get("data");
    let user_id = uuid_at(data.and_then(|d| d.get("user_id")))
        .or_else(|| {
            action
                .ends_with("_user")
                .then(|| uuid_at(data.and_then(|d| d.get("id"))))
                .flatten()
        })
        .or_else(|| uuid_at(body.get("user_id")));
    Ok(Event {
        action,
        user_id,
        body,
    })
}

/// Whether the event's user is known to this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    /// Created or adopted here: `sub` says by whom.
    Known,
    /// A user id this server has no owner for (made elsewhere, or forgotten).
    Unknown,
    /// The event names no user.
    NoUser,
}

/// The `detail` of the event on the bus.
#[derive(Debug, Serialize)]
pub struct Detail<'a> {
    /// The webhook's `action`, also the event's `detail-type`.
    pub action: &'a str,
    /// What it is about: `user`, `account`, `data_ready` (fetch the new
    /// data), `connect_page` (a step through Rollee Connect), `other`.
    pub category: super::kind::Category,
    pub user_id: Option<Uuid>,
    /// The app user (the login token's `sub`) who owns `user_id`; absent unless `owner` is `known`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<&'a str>,
    pub owner: Owner,
    /// Whether Rollee documents `action`; unknown actions are forwarded as they came.
    pub known_action: bool,
    /// The SHA-256 of the body: the same for every repeat of one delivery.
    pub delivery_id: &'a str,
    /// The webhook's body, unchanged but for [`SESSION_FIELDS`], wherever they were.
    pub webhook: &'a Map<String, Value>,
    /// Where [`SESSION_FIELDS`] were removed from `webhook` (e.g. `data.session`):
    /// the first [`MAX_REDACTED_PATHS`].
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub redacted: &'a [String],
    /// How many were removed, when that is more than `redacted` lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redacted_count: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "6a4b8a46-8d5e-4f0e-9a5c-2f1d3c4b5a69";

    #[test]
    fn the_user_id_is_found_where_each_kind_of_event_has_it() {
        let user =
            parse(format!(r#"{{"action":"update_user","data":{{"id":"{USER}"}}}}"#).as_bytes())
                .unwrap();
        assert_eq!(user.user_id, Some(Uuid::parse_str(USER).unwrap()));
        assert!(user.is_known());
        let account = parse(
            format!(r#"{{"action":"connect_account","data":{{"id":"x","account_id":"y","user_id":"{USER}"}}}}"#)
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(account.user_id, user.user_id);
        let flat =
            parse(format!(r#"{{"action":"connect_account","user_id":"{USER}"}}"#).as_bytes())
                .unwrap();
        assert_eq!(flat.user_id, user.user_id);
        // `data.id` of an account event is the account's, not a user's.
        let not_user =
            parse(format!(r#"{{"action":"connect_account","data":{{"id":"{USER}"}}}}"#).as_bytes())
                .unwrap();
        assert_eq!(not_user.user_id, None);
    }

    #[test]
    fn a_user_events_metadata_names_the_owner_this_server_wrote_there() {
        let with = |action: &str, owner: &str| {
            parse(
                format!(r#"{{"action":"{action}","data":{{"id":"{USER}","metadata":{{"{OWNER_KEY}":"{owner}"}}}}}}"#)
                    .as_bytes(),
            )
            .unwrap()
        };
        assert_eq!(
            with("create_user", "alice").owner_in_metadata(),
            Some("alice")
        );
        assert_eq!(with("create_user", "").owner_in_metadata(), None);
        assert_eq!(with("update_user", "alice").owner_in_metadata(), None);
        assert_eq!(with("connect_account", "alice").owner_in_metadata(), None);
        assert_eq!(
            parse(br#"{"action":"create_user","data":{}}"#)
                .unwrap()
                .owner_in_metadata(),
            None
        );
    }

    #[test]
    fn the_session_and_the_connect_link_of_a_user_are_removed_and_named() {
        let mut e = parse(
            format!(r#"{{"action":"update_user","data":{{"id":"{USER}","session":"s","link":"https://c/v0.4/session/s","plan":1}}}}"#)
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(e.redact().paths, ["data.session", "data.link"]);
        assert_eq!(e.body["data"], serde_json::json!({"id": USER, "plan": 1}));
        assert_eq!(e.redact(), Redacted::default());
        let mut flat = parse(br#"{"action":"x","data":"not an object"}"#).unwrap();
        assert_eq!(flat.redact().count, 0);
        // Anywhere: at the top, nested, in arrays.
        let mut deep = parse(
            br#"{"action":"x","session":"s","data":{"user":{"link":"l","id":1},"users":[{"session":"s"}]}}"#,
        )
        .unwrap();
        let mut removed = deep.redact().paths;
        removed.sort();
        assert_eq!(
            removed,
            ["data.user.link", "data.users.0.session", "session"]
        );
        assert!(!serde_json::to_string(&deep.body).unwrap().contains("\"s\""));
    }

    #[test]
    fn what_redaction_lists_is_bounded_whatever_the_body() {
        // Thousands of removed fields: all removed, the first few listed.
        let items = vec![r#"{"session":1,"link":2}"#; 3000].join(",");
        let mut many = parse(format!(r#"{{"action":"x","data":[{items}]}}"#).as_bytes()).unwrap();
        let redacted = many.redact();
        assert_eq!(redacted.count, 6000);
        assert_eq!(redacted.paths.len(), MAX_REDACTED_PATHS);
        assert_eq!(
            redacted.paths[..3],
            ["data.0.session", "data.0.link", "data.1.session"]
        );
        assert!(
            !serde_json::to_string(&many.body)
                .unwrap()
                .contains("session")
        );
        // A path under a long key, or deep under many, is cut, at a
        // character boundary, and says so.
        let key = "é".repeat(1000);
        let mut long =
            parse(format!(r#"{{"action":"x","{key}":{{"{key}":{{"session":1}}}}}}"#).as_bytes())
                .unwrap();
        let redacted = long.redact();
        assert_eq!(redacted.count, 1);
        let path = &redacted.paths[0];
        assert!(
            path.len() <= MAX_REDACTED_PATH_LEN && path.ends_with('…'),
            "{path}"
        );
        assert!(path.starts_with("éé"));
        let mut deep = String::from(r#"{"action":"x""#);
        for _ in 0..100 {
            deep.push_str(r#","abc":{"session":1"#);
        }
        deep.push_str(&"}".repeat(101));
        let mut deep = parse(deep.as_bytes()).unwrap();
        let redacted = deep.redact();
        assert_eq!(redacted.count, 100);
        assert_eq!(redacted.paths[0], "abc.session");
        assert_eq!(redacted.paths[1], "abc.abc.session");
        assert!(
            redacted
                .paths
                .iter()
                .all(|p| p.len() <= MAX_REDACTED_PATH_LEN)
        );
    }

    #[test]
    fn an_events_date_is_its_timestamp_in_any_of_the_forms_it_may_take() {
        let at = |body: &str| {
            parse(body.as_bytes())
                .unwrap()
                .dated_at()
                .map(|t| t.unix_timestamp())
        };
        let t = 1_780_000_000;
        assert_eq!(
            at(r#"{"action":"x","timestamp":"2026-05-28T20:26:40Z"}"#),
            Some(t)
        );
        assert_eq!(
            at(r#"{"action":"x","timestamp":"2026-05-28T20:26:40.123456789Z"}"#),
            Some(t)
        );
        assert_eq!(at(r#"{"action":"x","timestamp":1780000000}"#), Some(t));
        assert_eq!(at(r#"{"action":"x","timestamp":1780000000.5}"#), Some(t));
        assert_eq!(at(r#"{"action":"x","timestamp":1780000000123}"#), Some(t));
        assert_eq!(
            at(r#"{"action":"x","data":{"timestamp":"2026-05-28T20:26:40Z"}}"#),
            Some(t)
        );
        for none in [
            r#"{"action":"x"}"#,
            r#"{"action":"x","timestamp":"yesterday"}"#,
            r#"{"action":"x","timestamp":null}"#,
            r#"{"action":"x","timestamp":1e300}"#,
            r#"{"action":"x","timestamp":-1e300}"#,
            r#"{"action":"x","data":"2026-05-28T20:26:40Z"}"#,
            r#"{"action":"x","data":{"created_at":"2026-05-28T20:26:40Z"}}"#,
        ] {
            assert_eq!(at(none), None, "{none}");
        }
    }

    #[test]
    fn unknown_actions_pass_unchanged_and_bad_bodies_are_named() {
        let e = parse(br#"{"action":"refresh_account","data":{"n":1},"extra":true}"#).unwrap();
        assert!(!e.is_known());
        assert_eq!(e.body["extra"], true);
        assert_eq!(e.user_id, None);
        for (body, why) in [
            (&b"[]"[..], BadEvent::NotAnObject),
            (b"not json", BadEvent::NotAnObject),
            (b"", BadEvent::NotAnObject),
            (br#"{"data":{}}"#, BadEvent::NoAction),
            (br#"{"action":3}"#, BadEvent::NoAction),
            (br#"{"action":""}"#, BadEvent::BadAction),
            (br#"{"action":"a b"}"#, BadEvent::BadAction),
            (br#"{"action":"create_user\n"}"#, BadEvent::BadAction),
        ] {
            assert_eq!(parse(body), Err(why), "{}", String::from_utf8_lossy(body));
        }
        let long = format!(r#"{{"action":"{}"}}"#, "a".repeat(MAX_ACTION_LEN + 1));
        assert_eq!(parse(long.as_bytes()), Err(BadEvent::BadAction));
    }
}
