//! The answer bodies of the Connect routes: a session, the user it is for,
//! and JSON that no cache may keep.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::problem::ApiError;
use crate::rollee::Session;

/// The answer of a route that gives a Connect session: the user it is for,
/// and the session.
#[derive(Debug, Serialize)]
pub struct UserSessionBody {
    pub user_id: String,
    #[serde(flatten)]
    pub session: SessionBody,
}

impl UserSessionBody {
    pub fn new(user_id: uuid::Uuid, session: &Session) -> Self {
        Self {
            user_id: user_id.to_string(),
            session: session.into(),
        }
    }
}

/// The session part of every success body.
#[derive(Debug, Serialize)]
pub struct SessionBody {
    /// What Rollee's app SDKs call the session token.
    pub session_id: String,
    pub connect_url: String,
    /// RFC 3339 UTC, or `null` when Rollee gave no expiry.
    pub expires_at: Option<String>,
    /// Whole seconds from this answer to `expires_at` (0 once past), or
    /// `null` with it ([`Session::seconds_left`]). Apps count down from the
    /// moment they receive the answer on a monotonic clock, so a device whose
    /// wall clock is wrong still shows the right time left.
    pub expires_in: Option<i64>,
}

impl From<&Session> for SessionBody {
    fn from(session: &Session) -> Self {
        Self::at(session, OffsetDateTime::now_utc())
    }
}

impl SessionBody {
    /// The body as answered at `now`.
    pub fn at(session: &Session, now: OffsetDateTime) -> Self {
        Self {
            session_id: session.id.to_string(),
            connect_url: session.link.to_string(),
            expires_at: rfc3339(session.expires_at),
            expires_in: session.seconds_left(now),
        }
    }
}

/// A JSON response. It may carry a Connect URL, a bearer credential for
/// Connect: no cache may keep it. Serialising the plain response structs
/// cannot fail; were it to, the app gets a 500 problem, not a panic.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Result<Response<Body>, ApiError> {
    let text = serde_json::to_string(body).map_err(ApiError::internal)?;
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `expires_at` as RFC 3339 (the parser keeps it in UTC), or `None`.
pub fn rfc3339(at: Option<OffsetDateTime>) -> Option<String> {
    at.and_then(|at| at.format(&Rfc3339).ok())
}
