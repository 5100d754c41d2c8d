//! What the app sends, checked before anything is called: caller metadata
//! and Connect URLs.

use serde_json::{Map, Value};
use url::Url;
use uuid::Uuid;

use crate::link::session_of_link;
use crate::problem::ApiError;

/// The metadata key under which `create-user` records the caller's `sub`.
/// Keys starting with [`RESERVED_PREFIX`] are refused from callers, so this
/// one can be neither set nor overwritten by them.
pub const OWNER_KEY: &str = "__connect_owner";
pub const RESERVED_PREFIX: &str = "__";

/// Our own limits on caller metadata. Rollee publishes none ([?]: unpublished,
/// in docs/rollee.md's legend); these keep
/// Rollee's stored metadata small and plain.
pub const MAX_METADATA_KEYS: usize = 20;
pub const MAX_KEY_CHARS: usize = 64;
pub const MAX_VALUE_CHARS: usize = 512;
pub const MAX_CONNECT_URL_BYTES: usize = 2048;

/// Checks caller metadata: at most [`MAX_METADATA_KEYS`] keys of 1 to
/// [`MAX_KEY_CHARS`] characters from `[A-Za-z0-9_.-]`, none reserved, each
/// value a string of at most [`MAX_VALUE_CHARS`] characters.
pub fn check_metadata(metadata: &Map<String, Value>) -> Result<(), ApiError> {
    if metadata.len() > MAX_METADATA_KEYS {
        return Err(ApiError::bad_request(format!(
            "metadata has {} keys; at most {MAX_METADATA_KEYS} are allowed.",
            metadata.len()
        )));
    }
    for (key, value) in metadata {
        let key_ok = (1..=MAX_KEY_CHARS).contains(&key.chars().count())
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !key_ok {
            return Err(ApiError::bad_request(format!(
                "metadata keys must be 1 to {MAX_KEY_CHARS} characters from A-Z, a-z, 0-9, '_', '.', '-'."
            )));
        }
        if key.starts_with(RESERVED_PREFIX) {
            return Err(ApiError::bad_request(format!(
                "metadata keys starting with '{RESERVED_PREFIX}' are reserved for this server."
            )));
        }
        match value {
            Value::String(s) if s.chars().count() <= MAX_VALUE_CHARS => {}
            Value::String(_) => {
                return Err(ApiError::bad_request(format!(
                    "metadata value of '{key}' is longer than {MAX_VALUE_CHARS} characters."
                )));
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "metadata value of '{key}' must be a string."
                )));
            }
        }
    }
    Ok(())
}

/// The session UUID of a Connect URL sent by the app: an http(s) URL whose
/// path ends in `/session/<UUID>`. The host is not checked: Rollee publishes
/// neither its sandbox nor its production Connect host; Rollee itself decides
/// whether the session exists.
pub fn session_of_connect_url(raw: &str) -> Result<Uuid, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "connect_url is not a Rollee Connect session URL (https://…/session/<UUID>).",
        )
    };
    if raw.len() > MAX_CONNECT_URL_BYTES {
        return Err(invalid());
    }
    let url = Url::parse(raw).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid());
    }
    session_of_link(&url).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn metadata_within_limits_passes() {
        check_metadata(&map(
            json!({"crm_id": "42", "plan.tier-2": "gold", "k": ""}),
        ))
        .unwrap();
        let full: Map<String, Value> = (0..MAX_METADATA_KEYS)
            .map(|i| (format!("k{i}"), json!("v")))
            .collect();
        check_metadata(&full).unwrap();
        check_metadata(&map(
            json!({ "k".repeat(MAX_KEY_CHARS): "v".repeat(MAX_VALUE_CHARS) }),
        ))
        .unwrap();
    }

    #[test]
    fn metadata_over_its_limits_is_400() {
        let too_many: Map<String, Value> = (0..=MAX_METADATA_KEYS)
            .map(|i| (format!("k{i}"), json!("v")))
            .collect();
        let cases = [
            too_many,
            map(json!({ "k".repeat(MAX_KEY_CHARS + 1): "v" })),
            map(json!({ "": "v" })),
            map(json!({ "a b": "v" })),
            map(json!({ "k": "v".repeat(MAX_VALUE_CHARS + 1) })),
            map(json!({ "k": 1 })),
            map(json!({ "k": {"nested": "x"} })),
            map(json!({ OWNER_KEY: "mallory" })),
            map(json!({ "__anything": "x" })),
        ];
        for m in cases {
            assert_eq!(check_metadata(&m).unwrap_err().status(), 400, "{m:?}");
        }
    }

    #[test]
    fn connect_urls_yield_their_session() {
        let id = "5f0b1a2e-0c53-4d8e-9f7e-0f2a9a0f5b11";
        for url in [
            format!("https://connectv2.stage.getrollee.com/v0.4/session/{id}"),
            format!("http://127.0.0.1:9000/v0.4/session/{id}/"),
            format!("https://c.example/v0.4/session/{id}?lang=fr"),
        ] {
            assert_eq!(
                session_of_connect_url(&url).unwrap().to_string(),
                id,
                "{url}"
            );
        }
        for bad in [
            "".to_owned(),
            "not a url".to_owned(),
            format!("ftp://c.example/v0.4/session/{id}"),
            "https://c.example/v0.4/session/not-a-uuid".to_owned(),
            format!("https://c.example/v0.4/users/{id}"),
            format!("https://c.example/v0.4/session/{id}/extra"),
            format!("https://c.example/v0.4/session/urn:uuid:{id}"),
            format!("https://c.example/v0.4/session/{}", id.replace('-', "")),
            format!(
                "https://c.example/{}/session/{id}",
                "x".repeat(MAX_CONNECT_URL_BYTES)
            ),
        ] {
            assert_eq!(
                session_of_connect_url(&bad).unwrap_err().status(),
                400,
                "{bad}"
            );
        }
    }
}
