//! RFC 9457 problem responses: every failure the app can see, in one place.
//!
//! [`Problem`] is the error table: one variant per row, and one `match` each
//! for its status, its `type` and its title. `detail` is written for the app's
//! developer; nothing from Rollee's answers is copied into it. A failure of
//! Rollee or of the table becomes its row here too.

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::rollee::RolleeError;
use crate::store::StoreError;

pub const PROBLEM_TYPE_PREFIX: &str = "urn:rollee-connect:problem:";
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The kinds of failure the app can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    InvalidRequest,
    Unauthenticated,
    NotFound,
    /// The caller's first `POST /users` is still creating its user.
    InProgress,
    PayloadTooLarge,
    RateLimited,
    UpstreamError,
    UpstreamCredentials,
    UpstreamTimeout,
    /// The ownership table is unreachable, throttled or failing.
    StoreUnavailable,
    /// The event bus refused or did not take a webhook's event (Rollee retries).
    EventBusUnavailable,
    /// A bug of ours, not a row of the error table.
    Internal,
}

impl Problem {
    pub const ALL: [Problem; 12] = [
        Problem::InvalidRequest,
        Problem::Unauthenticated,
        Problem::NotFound,
        Problem::InProgress,
        Problem::PayloadTooLarge,
        Problem::RateLimited,
        Problem::UpstreamError,
        Problem::UpstreamCredentials,
        Problem::UpstreamTimeout,
        Problem::StoreUnavailable,
        Problem::EventBusUnavailable,
        Problem::Internal,
    ];

    /// The status, the last part of the `type` URI, and the title.
    const fn row(self) -> (StatusCode, &'static str, &'static str) {
        use Problem::*;
        match self {
            InvalidRequest => (
                StatusCode::BAD_REQUEST,
                "invalid-request",
                "Invalid request",
            ),
            Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            InProgress => (StatusCode::CONFLICT, "in-progress", "Still in progress"),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            UpstreamError => (StatusCode::BAD_GATEWAY, "upstream-error", "Rollee failed"),
            UpstreamCredentials => (
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream-credentials",
                "Service unavailable",
            ),
            UpstreamTimeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "upstream-timeout",
                "Rollee did not answer in time",
            ),
            StoreUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "store-unavailable",
                "Service unavailable",
            ),
            EventBusUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "event-bus-unavailable",
                "Service unavailable",
            ),
            Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }

    pub const fn status(self) -> StatusCode {
        self.row().0
    }

    /// The last part of the problem `type` URI.
    pub const fn slug(self) -> &'static str {
        self.row().1
    }

    pub const fn title(self) -> &'static str {
        self.row().2
    }
}

/// A failure that becomes a problem response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub problem: Problem,
    pub detail: String,
    /// Seconds, for 429s, when known.
    pub retry_after: Option<u64>,
    /// Why, for the operator's log only: never sent to the app.
    pub cause: Option<String>,
}

/// The body of a problem response.
#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: &'a str,
    request_id: &'a str,
}

impl ApiError {
    pub fn new(problem: Problem, detail: impl Into<String>) -> Self {
        Self {
            problem,
            detail: detail.into(),
            retry_after: None,
            cause: None,
        }
    }

    pub fn with_cause(mut self, cause: impl ToString) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    /// The seconds the client should wait before retrying (`Retry-After`).
    pub fn with_retry_after(mut self, seconds: Option<u64>) -> Self {
        self.retry_after = seconds;
        self
    }

    pub fn status(&self) -> StatusCode {
        self.problem.status()
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(Problem::InvalidRequest, detail)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            Problem::Unauthenticated,
            "The request carries no authenticated caller: send the app user's login token in the Authorization header.",
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(Problem::NotFound, detail)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            Problem::PayloadTooLarge,
            format!("The request body is larger than {limit} bytes."),
        )
    }

    /// Outside Lambda only (`cargo lambda watch`): the function could not
    /// start, and says why. The reason names a variable or a secret, never a value.
    pub fn startup_failed(reason: &str) -> Self {
        Self::new(
            Problem::Internal,
            format!("This function could not start: {reason}. Fix the setting and restart it."),
        )
    }

    /// A bug of ours; logged with its cause.
    pub fn internal(cause: impl ToString) -> Self {
        Self::new(
            Problem::Internal,
            "The server failed to build its answer; report the request_id.",
        )
        .with_cause(cause)
    }

    /// The problem response, `request_id` included.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let body = ProblemBody {
            kind: format!("{PROBLEM_TYPE_PREFIX}{}", self.problem.slug()),
            title: self.problem.title(),
            status: self.problem.status().as_u16(),
            detail: &self.detail,
            request_id,
        };
        // Serialising strings and a number cannot fail.
        let text = serde_json::to_string(&body).unwrap_or_default();
        let mut response = Response::new(Body::Text(text));
        *response.status_mut() = self.problem.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

// ------------------------------------------- failures of Rollee and the table

/// A failure of a Rollee call, as the app sees it. `NotFound` is for the
/// operation to word, since what was not found depends on the call; reaching
/// this mapping, it is a 502.
impl From<RolleeError> for ApiError {
    fn from(error: RolleeError) -> Self {
        let (problem, detail) = match &error {
            RolleeError::RateLimited { .. } => (
                Problem::RateLimited,
                "Rollee's rate limit was reached; retry later (see Retry-After when present).",
            ),
            RolleeError::Status { .. } | RolleeError::NotFound => (
                Problem::UpstreamError,
                "Rollee answered with an error; retry later.",
            ),
            RolleeError::Malformed(_) => (
                Problem::UpstreamError,
                "Rollee's answer could not be understood; retry later.",
            ),
            RolleeError::Unreachable(_) => (
                Problem::UpstreamError,
                "Rollee could not be reached; retry later.",
            ),
            RolleeError::Unauthorized => (
                Problem::UpstreamCredentials,
                "Rollee rejected this server's credentials; the operator must update the Rollee JWT secret.",
            ),
            RolleeError::Token(_) => (
                Problem::UpstreamCredentials,
                "This server could not read its Rollee credentials; the operator must check the secret.",
            ),
            RolleeError::Timeout => (
                Problem::UpstreamTimeout,
                "Rollee did not answer within this server's time budget; retry later.",
            ),
        };
        let retry_after = match error {
            RolleeError::RateLimited { retry_after } => retry_after,
            _ => None,
        };
        ApiError::new(problem, detail)
            .with_retry_after(retry_after)
            .with_cause(error)
    }
}

/// The table failing is its own problem: the app retries later.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::new(
            Problem::StoreUnavailable,
            "This server's ownership table is unavailable; retry later.",
        )
        .with_cause(error)
    }
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
    fn every_problem_type_has_its_own_slug_an_error_status_and_a_title() {
        let mut slugs = std::collections::BTreeSet::new();
        for p in Problem::ALL {
            assert!(p.status().is_client_error() || p.status().is_server_error());
            assert!(!p.title().is_empty());
            assert!(slugs.insert(p.slug()), "{p:?}: slug used twice");
            let r = ApiError::new(p, "d").into_response("r");
            let b = body_of(&r);
            assert_eq!(b["status"], p.status().as_u16());
            assert_eq!(b["type"], format!("{PROBLEM_TYPE_PREFIX}{}", p.slug()));
            assert_eq!(b["title"], p.title());
        }
    }

    #[test]
    fn retry_after_is_sent_only_when_known() {
        let e = ApiError::new(Problem::RateLimited, "d");
        assert!(
            e.clone()
                .into_response("r")
                .headers()
                .get(header::RETRY_AFTER)
                .is_none()
        );
        let e = e.with_retry_after(Some(7));
        assert_eq!(e.into_response("r").headers()[header::RETRY_AFTER], "7");
    }

    #[test]
    fn every_rollee_failure_maps_to_its_row_of_the_error_table() {
        use crate::token::TokenError;
        let cases = [
            (RolleeError::NotFound, 502),
            (
                RolleeError::RateLimited {
                    retry_after: Some(7),
                },
                429,
            ),
            (RolleeError::Status { status: 500 }, 502),
            (RolleeError::Malformed("x"), 502),
            (RolleeError::Unauthorized, 503),
            (
                RolleeError::Token(TokenError::Malformed {
                    secret_id: "s".into(),
                }),
                503,
            ),
            (RolleeError::Timeout, 504),
            (RolleeError::Unreachable("refused".into()), 502),
        ];
        for (error, status) in cases {
            let shown = error.to_string();
            let e = ApiError::from(error);
            assert_eq!(e.status(), status, "{e:?}");
            assert_eq!(e.cause.as_deref(), Some(shown.as_str()));
        }
        let limited = ApiError::from(RolleeError::RateLimited {
            retry_after: Some(7),
        });
        assert_eq!(limited.retry_after, Some(7));
        assert_eq!(
            ApiError::from(RolleeError::RateLimited { retry_after: None }).retry_after,
            None
        );
    }
}
