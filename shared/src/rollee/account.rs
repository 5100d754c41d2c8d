//! Rollee's accounts (a user's connection to one data source), read
//! leniently: Rollee lists the routes [I] but publishes no body.
//!
//! Seen in secondary material [I]: `id`, `user_id`, `datasource_id`,
//! `connected` (a boolean), `created_at`. STAND-IN, read when present and
//! never required: `account_id` for the id (the name account events use),
//! `status` (a string), `updated_at`. A listing is a bare array, or an
//! object holding it under `accounts`, `data` or `items` (STAND-IN: the
//! listing's shape is not published).

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::RolleeError;

/// The longest data source id passed on to the app; a longer one is `null`.
pub const MAX_DATASOURCE_ID_LEN: usize = 128;

/// What the app shows of an account's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Data can be fetched.
    Connected,
    /// The user must reconnect it (changed password, expired consent…).
    Disconnected,
    /// Rollee reports a failure of the connection.
    Error,
    /// Connecting or fetching, not finished yet.
    Pending,
    /// Rollee's answer does not say.
    Unknown,
}

impl AccountStatus {
    pub const ALL: [AccountStatus; 5] = [
        Self::Connected,
        Self::Disconnected,
        Self::Error,
        Self::Pending,
        Self::Unknown,
    ];

    /// The normalised status of an account: its STAND-IN `status` string
    /// when it is one of the words below (any case, `-` or space for `_`),
    /// otherwise its `connected` boolean [I] (`true` connected, `false`
    /// disconnected), otherwise unknown.
    ///
    /// | `status` | normalised |
    /// |---|---|
    /// | `connected`, `active`, `success`, `synced` | connected |
    /// | `disconnected`, `expired`, `revoked`, `reconnect_required`, `login_required` | disconnected |
    /// | `error`, `failed`, `failure` | error |
    /// | `pending`, `connecting`, `syncing`, `fetching`, `in_progress` | pending |
    pub fn of(status: Option<&str>, connected: Option<bool>) -> Self {
        let word = status.map(|s| s.trim().to_ascii_lowercase().replace(['-', ' '], "_"));
        match word.as_deref() {
            Some("connected" | "active" | "success" | "synced") => Self::Connected,
            Some(
                "disconnected" | "expired" | "revoked" | "reconnect_required" | "login_required",
            ) => Self::Disconnected,
            Some("error" | "failed" | "failure") => Self::Error,
            Some("pending" | "connecting" | "syncing" | "fetching" | "in_progress") => {
                Self::Pending
            }
            _ => match connected {
                Some(true) => Self::Connected,
                Some(false) => Self::Disconnected,
                None => Self::Unknown,
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Disconnected => "disconnected",
            Self::Error => "error",
            Self::Pending => "pending",
            Self::Unknown => "unknown",
        }
    }
}

/// One account, as far as the app is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: Uuid,
    /// The Rollee user it belongs to, when the answer says.
    pub user_id: Option<Uuid>,
    pub datasource_id: Option<String>,
    pub connected: Option<bool>,
    pub status: AccountStatus,
    /// In UTC; `None` when absent or unreadable: never invented.
    pub created_at: Option<OffsetDateTime>,
    pub updated_at: Option<OffsetDateTime>,
}

fn uuid_at(value: &Value, field: &str) -> Option<Uuid> {
    value
        .get(field)
        .and_then(Value::as_str)
        .and_then(|s| Uuid::try_parse(s.trim()).ok())
}

fn time_at(value: &Value, field: &str) -> Option<OffsetDateTime> {
    value
        .get(field)
        .and_then(Value::as_str)
        .and_then(|s| OffsetDateTime::parse(s.trim(), &Rfc3339).ok())
        .map(|at| at.to_offset(time::UtcOffset::UTC))
}

/// One account object (or one under `data`); `None` without a usable id.
pub fn parse_account_item(value: &Value) -> Option<Account> {
    let value = match value.get("data") {
        Some(inner @ Value::Object(_)) if value.get("id").is_none() => inner,
        _ => value,
    };
    let id = uuid_at(value, "id").or_else(|| uuid_at(value, "account_id"))?;
    let connected = value.get("connected").and_then(Value::as_bool);
    let status = AccountStatus::of(value.get("status").and_then(Value::as_str), connected);
    let datasource_id = match value.get("datasource_id") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
    .filter(|s| {
        !s.is_empty() && s.len() <= MAX_DATASOURCE_ID_LEN && !s.chars().any(char::is_control)
    });
    Some(Account {
        id,
        user_id: uuid_at(value, "user_id"),
        datasource_id,
        connected,
        status,
        created_at: time_at(value, "created_at"),
        updated_at: time_at(value, "updated_at"),
    })
}

/// `GET /accounts/{id}`'s answer.
pub fn parse_account(value: &Value) -> Result<Account, RolleeError> {
    parse_account_item(value).ok_or(RolleeError::Malformed("the account has no id"))
}

/// `GET /users/{id}/accounts`'s answer: the accounts with a usable id, and
/// how many items had none (skipped, and logged by the caller).
pub fn parse_accounts(value: &Value) -> Result<(Vec<Account>, usize), RolleeError> {
    let items = match value {
        Value::Array(items) => items,
        Value::Object(object) => ["accounts", "data", "items"]
            .iter()
            .find_map(|key| object.get(*key).and_then(Value::as_array))
            .ok_or(RolleeError::Malformed("the accounts listing holds no list"))?,
        _ => return Err(RolleeError::Malformed("the accounts listing is no list")),
    };
    let accounts: Vec<Account> = items.iter().filter_map(parse_account_item).collect();
    let skipped = items.len() - accounts.len();
    Ok((accounts, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_status_word_wins_over_the_connected_flag_and_unknown_words_fall_back_to_it() {
        use AccountStatus::*;
        let cases = [
            (Some("connected"), None, Connected),
            (Some("Reconnect-Required"), Some(true), Disconnected),
            (Some("ERROR"), Some(true), Error),
            (Some("in progress"), None, Pending),
            (Some("syncing"), Some(false), Pending),
            (Some("something new"), Some(true), Connected),
            (Some("something new"), Some(false), Disconnected),
            (Some(""), None, Unknown),
            (None, Some(false), Disconnected),
            (None, None, Unknown),
        ];
        for (status, connected, expected) in cases {
            assert_eq!(
                AccountStatus::of(status, connected),
                expected,
                "{status:?} {connected:?}"
            );
        }
    }

    #[test]
    fn an_account_is_read_from_either_id_field_and_never_gets_invented_timestamps() {
        let id = Uuid::new_v4();
        let a = parse_account(&json!({"account_id": id, "connected": false})).unwrap();
        assert_eq!(a.id, id);
        assert_eq!(a.status, AccountStatus::Disconnected);
        assert_eq!((a.created_at, a.updated_at, a.user_id), (None, None, None));
        let b = parse_account(&json!({"data": {"id": id, "created_at": "2024-04-25T19:32:49.765013012Z", "updated_at": "yesterday"}})).unwrap();
        assert!(b.created_at.is_some());
        assert_eq!(b.updated_at, None);
        assert!(parse_account(&json!({"id": "not-a-uuid"})).is_err());
        assert!(parse_account(&json!([])).is_err());
    }

    #[test]
    fn a_listing_is_a_bare_array_or_one_under_a_known_key_and_bad_items_are_skipped() {
        let id = Uuid::new_v4();
        let good = json!({"id": id, "datasource_id": "x".repeat(MAX_DATASOURCE_ID_LEN + 1)});
        let (list, skipped) = parse_accounts(&json!([good, {"id": 3}, "text"])).unwrap();
        assert_eq!((list.len(), skipped), (1, 2));
        assert_eq!(
            list[0].datasource_id, None,
            "an over-long data source id is dropped"
        );
        for key in ["accounts", "data", "items"] {
            let (list, _) = parse_accounts(&json!({ key: [{"id": id}] })).unwrap();
            assert_eq!(list.len(), 1, "{key}");
        }
        assert!(parse_accounts(&json!({"other": []})).is_err());
        assert!(parse_accounts(&json!("no")).is_err());
        assert_eq!(parse_accounts(&json!([])).unwrap().0, vec![]);
    }
}
