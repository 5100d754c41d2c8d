//! Building the sandbox's HTTP responses.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What the sandbox's request handlers return.
pub(crate) type HttpResponse = Response<Full<Bytes>>;

pub(crate) fn json_reply(status: StatusCode, body: Value) -> HttpResponse {
    reply(status, "application/json", Bytes::from(body.to_string()))
}

/// STAND-IN: Rollee's error bodies are not published.
pub(crate) fn error(status: StatusCode, message: &str) -> HttpResponse {
    json_reply(status, json!({ "error": message }))
}

pub(crate) fn reply(status: StatusCode, content_type: &'static str, body: Bytes) -> HttpResponse {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A response without a body (and so without a `Content-Type`), e.g. 204.
pub(crate) fn empty(status: StatusCode) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}
