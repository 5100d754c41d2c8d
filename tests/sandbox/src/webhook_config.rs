//! The webhook endpoints of the API: `PUT /webhooks/{type}`, `GET /webhooks`
//! and `DELETE /webhooks/{type}`, for the five types [C] `users`, `accounts`,
//! `endpoints`, `multi_endpoints` and `rollee_connect_events`.
//!
//! Published: the body `{"url", "method": "POST", "headers": {…}}`, custom
//! headers to identify and secure deliveries [C]; a PUT replaces the whole
//! configuration of its type, GET lists them, DELETE removes one [I];
//! `enabled` and an optional `secret` [I]. STAND-IN: the answers (the stored
//! configuration without its secret, with `"signed": true|false`; 204 for a
//! delete, 404 when there is nothing to delete), the validation errors, and
//! the refusal of headers the sandbox sets itself.

use hyper::StatusCode;
use hyper::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value, json};

use crate::response::{HttpResponse, empty, error, json_reply};
use crate::webhooks::{SIGNATURE_HEADER, kind};
use crate::world::{Shared, WebhookConfig, World};

/// Headers a registration may not set: the sandbox sets them on every delivery.
const RESERVED: [&str; 6] = [
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    SIGNATURE_HEADER,
];

/// `PUT /webhooks/{type}`: replaces the configuration of that type.
pub(crate) fn put_webhook(shared: &Shared, raw_kind: &str, body: &[u8]) -> HttpResponse {
    let Some(kind) = kind(raw_kind) else {
        return error(StatusCode::NOT_FOUND, "no such webhook type");
    };
    let config = match parse(body) {
        Ok(config) => config,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let answer = config_json(kind, &config);
    shared.world().webhooks.insert(kind, config);
    json_reply(StatusCode::OK, answer)
}

/// `GET /webhooks`.
pub(crate) fn list_webhooks(shared: &Shared) -> HttpResponse {
    json_reply(StatusCode::OK, webhooks_json(&shared.world()))
}

/// `DELETE /webhooks/{type}`.
pub(crate) fn delete_webhook(shared: &Shared, raw_kind: &str) -> HttpResponse {
    let Some(kind) = kind(raw_kind) else {
        return error(StatusCode::NOT_FOUND, "no such webhook type");
    };
    match shared.world().webhooks.remove(kind) {
        Some(_) => empty(StatusCode::NO_CONTENT),
        None => error(StatusCode::NOT_FOUND, "no webhook of this type"),
    }
}

/// Every registered webhook, as `GET /webhooks` answers.
pub(crate) fn webhooks_json(world: &World) -> Value {
    Value::Array(
        world
            .webhooks
            .iter()
            .map(|(kind, config)| config_json(kind, config))
            .collect(),
    )
}

/// A configuration as the API shows it: never its secret.
fn config_json(kind: &str, config: &WebhookConfig) -> Value {
    let headers: Map<String, Value> = config
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    json!({
        "type": kind,
        "url": config.url,
        "method": "POST",
        "headers": headers,
        "enabled": config.enabled,
        "signed": config.secret.is_some(),
    })
}

fn parse(body: &[u8]) -> Result<WebhookConfig, String> {
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(body) else {
        return Err("body is not a JSON object".to_owned());
    };
    let url = match body.remove("url") {
        Some(Value::String(url)) if is_web_url(&url) => url,
        Some(_) => return Err("url must be an http or https URL".to_owned()),
        None => return Err("url missing".to_owned()),
    };
    match body.remove("method") {
        None | Some(Value::Null) => {}
        Some(Value::String(m)) if m == "POST" => {}
        Some(_) => return Err("method must be POST".to_owned()),
    }
    let headers = match body.remove("headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(headers)) => headers
            .into_iter()
            .map(|(name, value)| header(name, value))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("headers must be an object of strings".to_owned()),
    };
    let secret = match body.remove("secret") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(_) => return Err("secret must be a non-empty string".to_owned()),
    };
    let enabled = match body.remove("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(enabled)) => enabled,
        Some(_) => return Err("enabled must be a boolean".to_owned()),
    };
    Ok(WebhookConfig {
        url,
        headers,
        secret,
        enabled,
    })
}

/// One registered header: a valid HTTP header, not one the sandbox sets.
fn header(name: String, value: Value) -> Result<(String, String), String> {
    let Value::String(value) = value else {
        return Err("headers must be an object of strings".to_owned());
    };
    let Ok(parsed) = HeaderName::from_bytes(name.as_bytes()) else {
        return Err("a header name is not a valid HTTP header name".to_owned());
    };
    if RESERVED.contains(&parsed.as_str()) {
        return Err(format!("header {parsed} is set by the sandbox"));
    }
    if HeaderValue::from_str(&value).is_err() {
        return Err(format!(
            "the value of header {parsed} is not a valid header value"
        ));
    }
    Ok((name, value))
}

/// An absolute `http://` or `https://` URL with a host.
fn is_web_url(raw: &str) -> bool {
    raw.parse::<hyper::Uri>().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.host().is_some_and(|host| !host.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::{is_web_url, parse};

    #[test]
    fn urls() {
        for ok in [
            "http://127.0.0.1:8080/hook",
            "https://example.com",
            "http://[::1]:9/x?y=1",
            "http://localhost",
        ] {
            assert!(is_web_url(ok), "{ok}");
        }
        for bad in [
            "",
            "example.com/hook",
            "/hook",
            "ftp://example.com/",
            "http://",
            "http:///path",
            "http://exa mple.com/",
            "mailto:a@b.c",
        ] {
            assert!(!is_web_url(bad), "{bad}");
        }
    }

    #[test]
    fn bodies() {
        let config = parse(br#"{"url": "http://h/x"}"#).unwrap();
        assert!(config.enabled && config.secret.is_none() && config.headers.is_empty());
        let config =
            parse(br#"{"url": "http://h/x", "method": "POST", "headers": {"X-A": "1"}, "secret": "s", "enabled": false}"#)
                .unwrap();
        assert_eq!(config.headers, [("X-A".to_owned(), "1".to_owned())]);
        assert_eq!(config.secret.as_deref(), Some("s"));
        assert!(!config.enabled);
        for bad in [
            &br#""#[..],
            br#"[]"#,
            br#"{}"#,
            br#"{"url": 1}"#,
            br#"{"url": "http://h", "method": "GET"}"#,
            br#"{"url": "http://h", "method": "post"}"#,
            br#"{"url": "http://h", "headers": []}"#,
            br#"{"url": "http://h", "headers": {"X-A": 1}}"#,
            br#"{"url": "http://h", "headers": {"bad name": "1"}}"#,
            br#"{"url": "http://h", "headers": {"X-A": "a\nb"}}"#,
            br#"{"url": "http://h", "headers": {"Content-Type": "text/plain"}}"#,
            br#"{"url": "http://h", "headers": {"X-Signature": "forged"}}"#,
            br#"{"url": "http://h", "secret": ""}"#,
            br#"{"url": "http://h", "secret": 5}"#,
            br#"{"url": "http://h", "enabled": "yes"}"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
