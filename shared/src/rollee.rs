//! A typed client for the part of Rollee's API that the Connect flow uses.
//!
//! Facts come from ROLLEE_API.md. Where Rollee publishes nothing (the body of
//! `sessions/new` and `sessions/{session}/refresh`, error statuses other than
//! 401, the 429 headers), the parsing is lenient and the code says so.

use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;
use url::Url;
use uuid::Uuid;

use crate::token::{CurrentToken, TokenError, TokenSource};

/// Time limits of every Rollee call. Defaults fit a 25 s function timeout,
/// itself under API Gateway's 30 s: at most two attempts and one secret
/// re-read, all inside `budget`.
#[derive(Debug, Clone, Copy)]
pub struct ClientOptions {
    /// TCP + TLS connection set-up.
    pub connect_timeout: Duration,
    /// One attempt, from sending the request to the end of the response body.
    pub attempt_timeout: Duration,
    /// Everything one request may take, all its Rollee calls, retries and
    /// secret re-reads included (see [`RolleeClient::deadline`]).
    pub budget: Duration,
    /// Base pause before the one retry; a random jitter of up to the same again is added.
    pub retry_pause: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(8),
            budget: Duration::from_secs(20),
            retry_pause: Duration::from_millis(150),
        }
    }
}

/// What went wrong talking to Rollee. Messages never carry the JWT, a Connect
/// link or anything from a response body.
#[derive(Debug, thiserror::Error)]
pub enum RolleeError {
    #[error("Rollee answered 404")]
    NotFound,
    #[error("Rollee's rate limit was reached")]
    RateLimited { retry_after: Option<u64> },
    #[error("Rollee answered HTTP {status}")]
    Status { status: u16 },
    #[error("Rollee's answer could not be understood: {0}")]
    Malformed(&'static str),
    #[error("Rollee rejected the JWT, also after re-reading it")]
    Unauthorized,
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("Rollee did not answer in time")]
    Timeout,
    #[error("could not reach Rollee: {0}")]
    Unreachable(String),
}

/// A Rollee user, as far as the flow needs it.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub metadata: Map<String, Value>,
    /// The user's current session, when the answer carries one (`POST /users` does [C]).
    pub session: Option<Session>,
}

/// A Connect session: the link the app opens, and the UUID it carries.
#[derive(Clone)]
pub struct Session {
    /// The session UUID, read from the link (ROLLEE_API.md: take the returned link as the truth).
    pub id: Uuid,
    pub link: Url,
    /// `None` when Rollee's answer has no (parseable) expiry: never invented.
    pub expires_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The session UUID is a bearer credential for Connect: keep it out of logs.
        f.debug_struct("Session")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Whether an operation may be repeated after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Only if the connection failed, so the request cannot have reached Rollee.
    IfNotSent,
    /// Repeating is harmless: also after a dropped connection or a 5xx.
    Idempotent,
}

#[derive(Clone, Debug)]
pub struct RolleeClient {
    http: reqwest::Client,
    base: Url,
    tokens: TokenSource,
    options: ClientOptions,
}

/// The process's one HTTP client, for Rollee and for the AWS SDK: built once,
/// connections reused across invocations.
///
/// TLS: rustls with aws-lc-rs and Mozilla's root certificates compiled in
/// (webpki-roots), so that a cold start does not read and parse the system's
/// CA directory (measured: ~3 ms, BENCHMARKS.md).
pub fn http_client(options: &ClientOptions) -> Result<reqwest::Client, String> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("could not configure TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(options.connect_timeout)
        .timeout(options.attempt_timeout)
        .pool_idle_timeout(Duration::from_secs(50))
        .user_agent(concat!("rollee-connect-server/", env!("CARGO_PKG_VERSION")))
        // Redirects would carry the Bearer header to wherever they point.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("could not build the HTTP client: {e}"))
}

impl RolleeClient {
    /// A client with an HTTP client of its own.
    pub fn new(base: Url, tokens: TokenSource, options: ClientOptions) -> Result<Self, String> {
        Ok(Self::with_http(
            base,
            tokens,
            http_client(&options)?,
            options,
        ))
    }

    /// A client over `http` (see [`http_client`]), shared with the AWS SDK.
    pub fn with_http(
        base: Url,
        tokens: TokenSource,
        http: reqwest::Client,
        options: ClientOptions,
    ) -> Self {
        Self {
            http,
            base,
            tokens,
            options,
        }
    }

    /// The deadline of a request that starts now: every Rollee call made for
    /// that request, retries and secret re-reads included, ends before it.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.options.budget
    }

    /// `POST /users` [C]. Not repeated once the request may have reached Rollee:
    /// a duplicate user is worse than an honest error.
    pub async fn create_user(
        &self,
        metadata: &Map<String, Value>,
        deadline: Instant,
    ) -> Result<User, RolleeError> {
        let body = serde_json::json!({ "metadata": metadata });
        let value = self
            .call(
                Method::POST,
                "/users",
                "POST /users",
                Some(&body),
                Retry::IfNotSent,
                deadline,
            )
            .await?;
        parse_user(&value)
    }

    /// `GET /users/{id}` [C].
    pub async fn get_user(&self, id: Uuid, deadline: Instant) -> Result<User, RolleeError> {
        let path = format!("/users/{id}");
        let value = self
            .call(
                Method::GET,
                &path,
                "GET /users/{id}",
                None,
                Retry::Idempotent,
                deadline,
            )
            .await?;
        parse_user(&value)
    }

    /// `POST /users/{id}/sessions/new` [C path]. Its request body is not published [?]:
    /// none is sent. Its answer is not published [?]: see [`parse_session`].
    pub async fn new_session(&self, user: Uuid, deadline: Instant) -> Result<Session, RolleeError> {
        let path = format!("/users/{user}/sessions/new");
        let value = self
            .call(
                Method::POST,
                &path,
                "POST /users/{id}/sessions/new",
                None,
                Retry::Idempotent,
                deadline,
            )
            .await?;
        parse_session(&value)
    }

    /// `POST /sessions/{session}/refresh` [C path]; body and answer not published [?].
    pub async fn refresh_session(
        &self,
        session: Uuid,
        deadline: Instant,
    ) -> Result<Session, RolleeError> {
        let path = format!("/sessions/{session}/refresh");
        let value = self
            .call(
                Method::POST,
                &path,
                "POST /sessions/{session}/refresh",
                None,
                Retry::Idempotent,
                deadline,
            )
            .await?;
        parse_session(&value)
    }

    /// One operation: attempts, the 401 re-read, the retry, all before `deadline`.
    /// `endpoint` is the path template, the only form of the path that is logged
    /// (the real path of a refresh holds a session UUID).
    async fn call(
        &self,
        method: Method,
        path: &str,
        endpoint: &'static str,
        body: Option<&Value>,
        retry: Retry,
        deadline: Instant,
    ) -> Result<Value, RolleeError> {
        let url = format!("{}{}", self.base.as_str().trim_end_matches('/'), path);
        let mut token = self.tokens.current().await;
        let mut reauthenticated = false;
        let mut retried = false;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(RolleeError::Timeout);
            }
            let started = Instant::now();
            let outcome = self
                .attempt(
                    method.clone(),
                    &url,
                    body,
                    &token,
                    remaining.min(self.options.attempt_timeout),
                )
                .await;
            let elapsed_ms = started.elapsed().as_millis() as u64;
            // One retry, and only if the budget still holds a pause and a connection.
            let budget_allows_retry = !retried
                && deadline.saturating_duration_since(Instant::now())
                    > self.options.retry_pause * 2 + self.options.connect_timeout;
            let idempotent = retry == Retry::Idempotent;
            match outcome {
                Ok(Answer::Rejected) => {
                    tracing::warn!(endpoint, elapsed_ms, "Rollee answered 401");
                    if reauthenticated {
                        return Err(RolleeError::Unauthorized);
                    }
                    reauthenticated = true;
                    let reload = self.tokens.reload_after(&token);
                    let reloaded = tokio::time::timeout_at(deadline, reload)
                        .await
                        .map_err(|_| RolleeError::Timeout)??;
                    match reloaded {
                        Some(fresh) => token = fresh,
                        None => return Err(RolleeError::Unauthorized),
                    }
                }
                Ok(Answer::Status(status))
                    if status.is_server_error() && idempotent && budget_allows_retry =>
                {
                    tracing::warn!(
                        endpoint,
                        elapsed_ms,
                        status = status.as_u16(),
                        "Rollee failed; retrying once"
                    );
                    retried = true;
                    self.pause().await;
                }
                Ok(Answer::Status(status)) => {
                    tracing::debug!(
                        endpoint,
                        elapsed_ms,
                        status = status.as_u16(),
                        "Rollee answered"
                    );
                    return Err(status_error(status));
                }
                Ok(Answer::RateLimited(retry_after)) => {
                    tracing::warn!(endpoint, elapsed_ms, ?retry_after, "Rollee answered 429");
                    return Err(RolleeError::RateLimited { retry_after });
                }
                Ok(Answer::Json(value)) => {
                    tracing::debug!(endpoint, elapsed_ms, "Rollee answered");
                    return Ok(value);
                }
                Err(Failure::Timeout) => {
                    // A slow Rollee is not made faster by asking again.
                    tracing::warn!(endpoint, elapsed_ms, "Rollee did not answer in time");
                    return Err(RolleeError::Timeout);
                }
                Err(Failure::NotSent(reason)) if budget_allows_retry => {
                    tracing::warn!(endpoint, elapsed_ms, error = %reason, "could not connect to Rollee; retrying once");
                    retried = true;
                    self.pause().await;
                }
                Err(Failure::Lost(reason)) if idempotent && budget_allows_retry => {
                    tracing::warn!(endpoint, elapsed_ms, error = %reason, "connection to Rollee lost; retrying once");
                    retried = true;
                    self.pause().await;
                }
                Err(Failure::NotSent(reason)) | Err(Failure::Lost(reason)) => {
                    tracing::warn!(endpoint, elapsed_ms, error = %reason, "could not reach Rollee");
                    return Err(RolleeError::Unreachable(reason));
                }
                Err(Failure::Malformed) => {
                    tracing::warn!(endpoint, elapsed_ms, "Rollee's answer is not JSON");
                    return Err(RolleeError::Malformed("the body is not JSON"));
                }
            }
        }
    }

    async fn attempt(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        token: &CurrentToken,
        timeout: Duration,
    ) -> Result<Answer, Failure> {
        let mut request = self
            .http
            .request(method, url)
            .timeout(timeout)
            .bearer_auth(token.jwt.expose())
            .header(header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(Failure::from_reqwest)?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            return Ok(Answer::Rejected);
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            return Ok(Answer::RateLimited(retry_after));
        }
        if !status.is_success() {
            return Ok(Answer::Status(status));
        }
        let bytes = response.bytes().await.map_err(Failure::from_reqwest)?;
        serde_json::from_slice(&bytes)
            .map(Answer::Json)
            .map_err(|_| Failure::Malformed)
    }

    async fn pause(&self) {
        let base = self.options.retry_pause;
        let jitter = base.mul_f64(fastrand::f64());
        tokio::time::sleep(base + jitter).await;
    }
}

enum Answer {
    Json(Value),
    Rejected,
    RateLimited(Option<u64>),
    Status(StatusCode),
}

enum Failure {
    Timeout,
    /// The connection could not be made: the request never left.
    NotSent(String),
    /// The connection failed after the request may have been sent.
    Lost(String),
    Malformed,
}

impl Failure {
    fn from_reqwest(e: reqwest::Error) -> Self {
        // A connect timeout is both: it is a connection that was never made,
        // so the request never left and may be retried.
        if e.is_timeout() && !e.is_connect() {
            return Self::Timeout;
        }
        // reqwest's message names the URL, which for a refresh holds a session UUID.
        let e = e.without_url();
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(inner) = source {
            message.push_str(": ");
            message.push_str(&inner.to_string());
            source = inner.source();
        }
        if e.is_connect() {
            Self::NotSent(message)
        } else {
            Self::Lost(message)
        }
    }
}

fn status_error(status: StatusCode) -> RolleeError {
    // Rollee documents no error status but 401 [?]; 404 is read as "no such
    // resource", the common meaning, and anything else is an upstream failure.
    if status == StatusCode::NOT_FOUND {
        RolleeError::NotFound
    } else {
        RolleeError::Status {
            status: status.as_u16(),
        }
    }
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3). Rollee does
/// not document whether it sends one [?].
pub fn parse_retry_after(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    if let Ok(seconds) = raw.parse::<u64>() {
        return Some(seconds);
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(raw, &format)
        .ok()?
        .assume_utc();
    let seconds = (at - OffsetDateTime::now_utc()).whole_seconds();
    Some(seconds.max(0) as u64)
}

/// A User [C]: `id` is required; `metadata` may be absent; the session fields
/// are read when present.
pub fn parse_user(value: &Value) -> Result<User, RolleeError> {
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or(RolleeError::Malformed("the user has no id"))?;
    let metadata = match value.get("metadata") {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    let session = value
        .get("link")
        .is_some()
        .then(|| parse_session(value).ok())
        .flatten();
    Ok(User {
        id,
        metadata,
        session,
    })
}

/// The answer of `sessions/new` and `sessions/{session}/refresh` is not
/// published [?]. Accepted: the four fields `{id, link, session,
/// session_expires_at}` of Rollee's reconnect session [I], or a whole User.
/// Only `link` is required: the session UUID is read from it (the last path
/// segment, ROLLEE_API.md "The Rollee Connect URL" [C]), because whether a
/// refresh keeps the UUID is not published either.
pub fn parse_session(value: &Value) -> Result<Session, RolleeError> {
    let link = value
        .get("link")
        .and_then(Value::as_str)
        .ok_or(RolleeError::Malformed("the answer has no Connect link"))?;
    let link =
        Url::parse(link).map_err(|_| RolleeError::Malformed("the Connect link is not a URL"))?;
    let id = session_of_link(&link).ok_or(RolleeError::Malformed(
        "the Connect link does not end in a session UUID",
    ))?;
    let expires_at = value
        .get("session_expires_at")
        .and_then(Value::as_str)
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok());
    Ok(Session {
        id,
        link,
        expires_at,
    })
}

/// The session UUID of a Connect link: `…/session/<UUID>`, one trailing slash tolerated.
pub fn session_of_link(link: &Url) -> Option<Uuid> {
    let mut segments = link.path_segments()?.rev().skip_while(|s| s.is_empty());
    let id = segments.next()?;
    let parent = segments.next()?;
    if parent != "session" {
        return None;
    }
    crate::request::parse_uuid(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_published_user_example_parses() {
        let user = parse_user(&json!({
            "id": "d8ee0653-1293-47fe-990c-45971109de76",
            "created_at": "2024-04-25T19:32:49.765013012Z",
            "metadata": {"crm_id": "42"},
            "link": "https://connectv2.stage.getrollee.com/v0.4/session/11123432-45d1-4557-5ffe-432199401b23",
            "session": "11123432-45d1-4557-5ffe-432199401b23",
            "session_expires_at": "2024-04-26T19:32:49.790255Z",
            "session_expired": false,
            "accounts_number": 0,
            "connected_accounts_count": 0
        }))
        .unwrap();
        assert_eq!(user.id.to_string(), "d8ee0653-1293-47fe-990c-45971109de76");
        assert_eq!(user.metadata["crm_id"], "42");
        let session = user.session.unwrap();
        assert_eq!(
            session.id.to_string(),
            "11123432-45d1-4557-5ffe-432199401b23"
        );
        assert_eq!(
            session.expires_at.unwrap(),
            time::macros::datetime!(2024-04-26 19:32:49.790255 UTC)
        );
    }

    #[test]
    fn the_four_field_session_shape_parses() {
        let s = parse_session(&json!({
            "id": "d8ee0653-1293-47fe-990c-45971109de76",
            "link": "http://127.0.0.1:1/v0.4/session/5f0b1a2e-0c53-4d8e-9f7e-0f2a9a0f5b11/",
            "session": "00000000-0000-0000-0000-000000000000",
            "session_expires_at": "2024-04-25T19:32:49.765013012Z"
        }))
        .unwrap();
        // The link wins over the `session` field.
        assert_eq!(s.id.to_string(), "5f0b1a2e-0c53-4d8e-9f7e-0f2a9a0f5b11");
        assert!(s.expires_at.is_some());
    }

    #[test]
    fn a_missing_or_odd_expiry_is_none_not_invented() {
        let link = "https://c.example/v0.4/session/5f0b1a2e-0c53-4d8e-9f7e-0f2a9a0f5b11";
        for v in [
            json!({"link": link}),
            json!({"link": link, "session_expires_at": "tomorrow"}),
            json!({"link": link, "session_expires_at": 5}),
        ] {
            assert!(parse_session(&v).unwrap().expires_at.is_none(), "{v}");
        }
    }

    #[test]
    fn answers_without_a_usable_link_are_malformed() {
        for v in [
            json!({}),
            json!({"link": 5}),
            json!({"link": "not a url"}),
            json!({"link": "https://c.example/v0.4/session/not-a-uuid"}),
            json!({"link": "https://c.example/v0.4/other/5f0b1a2e-0c53-4d8e-9f7e-0f2a9a0f5b11"}),
        ] {
            assert!(
                matches!(parse_session(&v), Err(RolleeError::Malformed(_))),
                "{v}"
            );
        }
        assert!(matches!(
            parse_user(&json!({"id": "x"})),
            Err(RolleeError::Malformed(_))
        ));
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("17"), Some(17));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(0));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn session_debug_hides_the_link() {
        let s = parse_session(
            &json!({"link": "https://c.example/v0.4/session/5f0b1a2e-0c53-4d8e-9f7e-0f2a9a0f5b11"}),
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("5f0b1a2e"));
    }
}
