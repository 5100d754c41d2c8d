//! RFC 9457 problem responses: every failure the app can see, in one place.
//!
//! Each variant is one row of DESIGN.md's error table. `detail` is written for
//! the app's developer; nothing from Rollee's answers is copied into it.

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Response};

use crate::rollee::RolleeError;

/// A failure that becomes a problem response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// The last part of the problem `type` URI.
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// Seconds, for 429s, when Rollee said.
    pub retry_after: Option<u64>,
    /// Why, for the operator's log only: never sent to the app.
    pub cause: Option<String>,
}

pub const PROBLEM_TYPE_PREFIX: &str = "urn:rollee-connect:problem:";
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            title,
            detail: detail.into(),
            retry_after: None,
            cause: None,
        }
    }

    fn with_cause(mut self, cause: impl ToString) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Invalid request",
            detail,
        )
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            "The request carries no authenticated caller: send the app user's login token in the Authorization header.",
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            "This route accepts POST only.",
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Request body too large",
            format!("The request body is larger than {limit} bytes."),
        )
    }

    /// A bug of ours, not a row of the error table; logged with its cause.
    pub fn internal(cause: impl ToString) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "The server failed to build its answer; report the request_id.",
        )
        .with_cause(cause)
    }

    /// Maps a failure of a Rollee call. `NotFound` is for the caller to word,
    /// since what was not found depends on the call; here it is a 502.
    pub fn upstream(error: RolleeError) -> Self {
        match error {
            RolleeError::RateLimited { retry_after } => {
                let mut e = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Too many requests",
                    "Rollee's rate limit was reached; retry later (see Retry-After when present).",
                );
                e.retry_after = retry_after;
                e.with_cause(error)
            }
            RolleeError::Status { .. } | RolleeError::NotFound => Self::new(
                StatusCode::BAD_GATEWAY,
                "upstream-error",
                "Rollee failed",
                "Rollee answered with an error; retry later.",
            )
            .with_cause(error),
            RolleeError::Malformed(_) => Self::new(
                StatusCode::BAD_GATEWAY,
                "upstream-error",
                "Rollee failed",
                "Rollee's answer could not be understood; retry later.",
            )
            .with_cause(error),
            RolleeError::Unreachable(_) => Self::new(
                StatusCode::BAD_GATEWAY,
                "upstream-error",
                "Rollee failed",
                "Rollee could not be reached; retry later.",
            )
            .with_cause(error),
            RolleeError::Unauthorized => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream-credentials",
                "Service unavailable",
                "Rollee rejected this server's credentials; the operator must update the Rollee JWT secret.",
            )
            .with_cause(error),
            RolleeError::Token(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream-credentials",
                "Service unavailable",
                "This server could not read its Rollee credentials; the operator must check the secret.",
            )
            .with_cause(error),
            RolleeError::Timeout => Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream-timeout",
                "Rollee did not answer in time",
                "Rollee did not answer within this server's time budget; retry later.",
            )
            .with_cause(error),
        }
    }

    /// The problem response, `request_id` included.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let body = serde_json::json!({
            "type": format!("{PROBLEM_TYPE_PREFIX}{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "request_id": request_id,
        });
        let mut builder = Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE);
        if let Some(seconds) = self.retry_after {
            builder = builder.header(header::RETRY_AFTER, seconds);
        }
        builder
            .body(Body::Text(body.to_string()))
            .unwrap_or_else(|_| fallback())
    }
}

impl From<RolleeError> for ApiError {
    fn from(error: RolleeError) -> Self {
        Self::upstream(error)
    }
}

/// Only reachable if a header value above were invalid, which none is.
fn fallback() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(r: &Response<Body>) -> serde_json::Value {
        match r.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[test]
    fn a_problem_has_every_rfc_9457_member_and_the_request_id() {
        let r = ApiError::bad_request("The body is not JSON.").into_response("req-1");
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()[header::CONTENT_TYPE], PROBLEM_CONTENT_TYPE);
        let b = body_of(&r);
        assert_eq!(b["type"], "urn:rollee-connect:problem:invalid-request");
        assert_eq!(b["title"], "Invalid request");
        assert_eq!(b["status"], 400);
        assert_eq!(b["detail"], "The body is not JSON.");
        assert_eq!(b["request_id"], "req-1");
    }

    #[test]
    fn rollee_failures_map_to_the_error_table() {
        let cases = [
            (
                RolleeError::RateLimited {
                    retry_after: Some(7),
                },
                429,
            ),
            (RolleeError::Status { status: 500 }, 502),
            (RolleeError::Malformed("x"), 502),
            (RolleeError::Unreachable("refused".into()), 502),
            (RolleeError::Unauthorized, 503),
            (RolleeError::Timeout, 504),
        ];
        for (error, status) in cases {
            let e = ApiError::upstream(error);
            assert_eq!(e.status, status, "{e:?}");
        }
        let r = ApiError::upstream(RolleeError::RateLimited {
            retry_after: Some(7),
        })
        .into_response("r");
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
        let r =
            ApiError::upstream(RolleeError::RateLimited { retry_after: None }).into_response("r");
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
    }
}
