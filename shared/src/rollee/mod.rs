//! A typed client for the part of Rollee's API that the Connect flow uses.
//!
//! Where Rollee publishes nothing (the body of `sessions/new` and
//! `sessions/{session}/refresh`, error statuses other than 401, the 429
//! headers), the parsing is lenient and the code says so. The policy of when
//! to retry is [`retry::decide`]; this module is the mechanics.

pub mod account;
mod call;
mod endpoint;
mod parse;
mod report;
pub mod retry;

use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;
use url::Url;
use uuid::Uuid;

pub use account::{Account, AccountStatus};
pub use endpoint::ENDPOINTS;
use endpoint::{
    CREATE_USER, DELETE_ACCOUNT_WEBHOOKS, DELETE_CONNECT_EVENT_WEBHOOKS, DELETE_ENDPOINT_WEBHOOKS,
    DELETE_MULTI_ENDPOINT_WEBHOOKS, DELETE_USER, DELETE_USER_WEBHOOKS, Endpoint, GET_ACCOUNT,
    GET_USER, LIST_ACCOUNTS, NEW_SESSION, PUT_ACCOUNT_WEBHOOKS, PUT_CONNECT_EVENT_WEBHOOKS,
    PUT_ENDPOINT_WEBHOOKS, PUT_MULTI_ENDPOINT_WEBHOOKS, PUT_USER_WEBHOOKS, RECONNECT_ACCOUNT,
    REFRESH_SESSION, TOKEN_REFRESH,
};
pub use parse::{
    RETRY_AFTER_RANGE, RolleeClock, Session, User, parse_http_date, parse_retry_after,
    parse_session, parse_user,
};

use crate::http;
use crate::token::{Jwt, TokenError, TokenSource};

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

impl ClientOptions {
    pub fn timeouts(&self) -> http::Timeouts {
        http::Timeouts {
            connect: self.connect_timeout,
            attempt: self.attempt_timeout,
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
    #[error("Rollee rejected the JWT (after re-reading it, where it can be re-read)")]
    Unauthorized,
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("Rollee did not answer in time")]
    Timeout,
    #[error("could not reach Rollee: {0}")]
    Unreachable(String),
}

impl RolleeError {
    /// How a call that failed so ended, as its metric says (one of
    /// [`metrics::catalogue::ROLLEE_OUTCOMES`]; a success is `ok`).
    pub fn outcome(&self) -> &'static str {
        match self {
            RolleeError::NotFound => "not-found",
            RolleeError::RateLimited { .. } => "rate-limited",
            RolleeError::Status { status } if *status >= 500 => "server-error",
            RolleeError::Status { .. } => "client-error",
            RolleeError::Malformed(_) => "malformed",
            RolleeError::Unauthorized => "unauthorized",
            RolleeError::Token(_) => "secret-unreadable",
            RolleeError::Timeout => "timeout",
            RolleeError::Unreachable(_) => "unreachable",
        }
    }

    /// Whether Rollee may have carried out the request all the same: it timed
    /// out, the connection failed (possibly after sending), or a 2xx answer
    /// could not be read. Any answered error status says it did not.
    pub fn may_have_acted(&self) -> bool {
        matches!(
            self,
            RolleeError::Timeout | RolleeError::Unreachable(_) | RolleeError::Malformed(_)
        )
    }
}

/// The five kinds of webhooks Rollee sends [C].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookKind {
    Users,
    Accounts,
    /// Data-ready events, one endpoint each.
    Endpoints,
    /// Data-ready events, several endpoints each.
    MultiEndpoints,
    /// The steps of users through Rollee Connect.
    ConnectEvents,
}

impl WebhookKind {
    pub const ALL: [WebhookKind; 5] = [
        WebhookKind::Users,
        WebhookKind::Accounts,
        WebhookKind::Endpoints,
        WebhookKind::MultiEndpoints,
        WebhookKind::ConnectEvents,
    ];

    /// The last part of the configuration's path.
    pub fn name(self) -> &'static str {
        self.endpoints().0.path.trim_start_matches("/webhooks/")
    }

    /// Its `PUT` and `DELETE` endpoints.
    fn endpoints(self) -> (&'static Endpoint, &'static Endpoint) {
        match self {
            Self::Users => (&PUT_USER_WEBHOOKS, &DELETE_USER_WEBHOOKS),
            Self::Accounts => (&PUT_ACCOUNT_WEBHOOKS, &DELETE_ACCOUNT_WEBHOOKS),
            Self::Endpoints => (&PUT_ENDPOINT_WEBHOOKS, &DELETE_ENDPOINT_WEBHOOKS),
            Self::MultiEndpoints => (
                &PUT_MULTI_ENDPOINT_WEBHOOKS,
                &DELETE_MULTI_ENDPOINT_WEBHOOKS,
            ),
            Self::ConnectEvents => (&PUT_CONNECT_EVENT_WEBHOOKS, &DELETE_CONNECT_EVENT_WEBHOOKS),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RolleeClient {
    http: reqwest::Client,
    base: Url,
    tokens: TokenSource,
    options: ClientOptions,
}

impl RolleeClient {
    /// A client with an HTTP client of its own.
    pub fn new(base: Url, tokens: TokenSource, options: ClientOptions) -> Result<Self, String> {
        let http = http::client(options.timeouts())?;
        Ok(Self::with_http(base, tokens, http, options))
    }

    /// A client over `http` (see [`http::client`]), shared with the AWS SDK.
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

    /// Where the JWT it sends comes from.
    pub fn tokens(&self) -> &TokenSource {
        &self.tokens
    }

    /// The deadline of a request that starts now: every Rollee call made for
    /// that request, retries and secret re-reads included, ends before it.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.options.budget
    }

    pub async fn create_user(
        &self,
        metadata: &Map<String, Value>,
        deadline: Instant,
    ) -> Result<User, RolleeError> {
        let body = serde_json::json!({ "metadata": metadata });
        let (value, clock) = self.call(&CREATE_USER, None, Some(&body), deadline).await?;
        let mut user = parse_user(&value)?;
        if let Some(session) = &mut user.session {
            session.clock = clock;
            self.check_link(session)?;
        }
        Ok(user)
    }

    pub async fn get_user(&self, id: Uuid, deadline: Instant) -> Result<User, RolleeError> {
        let (value, clock) = self.call(&GET_USER, Some(id), None, deadline).await?;
        let mut user = parse_user(&value)?;
        if let Some(session) = &mut user.session {
            session.clock = clock;
        }
        Ok(user)
    }

    pub async fn new_session(&self, user: Uuid, deadline: Instant) -> Result<Session, RolleeError> {
        let (value, clock) = self.call(&NEW_SESSION, Some(user), None, deadline).await?;
        let mut session = parse_session(&value)?;
        session.clock = clock;
        self.check_link(&session)?;
        Ok(session)
    }

    pub async fn refresh_session(
        &self,
        session: Uuid,
        deadline: Instant,
    ) -> Result<Session, RolleeError> {
        let (value, clock) = self
            .call(&REFRESH_SESSION, Some(session), None, deadline)
            .await?;
        let mut session = parse_session(&value)?;
        session.clock = clock;
        self.check_link(&session)?;
        Ok(session)
    }

    /// The accounts of `user`, and how many listed items had no usable id.
    pub async fn list_accounts(
        &self,
        user: Uuid,
        deadline: Instant,
    ) -> Result<(Vec<Account>, usize), RolleeError> {
        let (value, _) = self
            .call(&LIST_ACCOUNTS, Some(user), None, deadline)
            .await?;
        account::parse_accounts(&value)
    }

    pub async fn get_account(&self, id: Uuid, deadline: Instant) -> Result<Account, RolleeError> {
        let (value, _) = self.call(&GET_ACCOUNT, Some(id), None, deadline).await?;
        account::parse_account(&value)
    }

    /// A Connect session that reconnects `account`. Its answer is not
    /// published: read as `sessions/new`'s is ([`parse_session`]).
    pub async fn reconnect_account(
        &self,
        account: Uuid,
        deadline: Instant,
    ) -> Result<Session, RolleeError> {
        let (value, clock) = self
            .call(&RECONNECT_ACCOUNT, Some(account), None, deadline)
            .await?;
        let mut session = parse_session(&value)?;
        session.clock = clock;
        self.check_link(&session)?;
        Ok(session)
    }

    /// Deletes `user` and its accounts at Rollee. `Ok(false)`: Rollee knows
    /// no such user (404), e.g. a repeat after a lost answer.
    pub async fn delete_user(&self, user: Uuid, deadline: Instant) -> Result<bool, RolleeError> {
        match self.call(&DELETE_USER, Some(user), None, deadline).await {
            Ok(_) => Ok(true),
            Err(RolleeError::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A new JWT from Rollee's token refresh at `url`, called with this
    /// client's JWT (the rotation function's; see [`TOKEN_REFRESH`]).
    pub async fn refresh_token(&self, url: &Url, deadline: Instant) -> Result<Jwt, RolleeError> {
        let (value, _) = self
            .call_at(&TOKEN_REFRESH, url.as_str(), None, deadline)
            .await?;
        value
            .get("token")
            .and_then(Value::as_str)
            .and_then(Jwt::parse)
            .ok_or(RolleeError::Malformed(
                "the token refresh answer has no usable token",
            ))
    }

    /// Replaces the configuration of one kind of webhooks with `config`
    /// (`{"url", "method", "headers", …}`). Rollee's answer is not
    /// published [?]: any 2xx is success, and its body is returned as it came
    /// (`null` when empty).
    pub async fn put_webhook(
        &self,
        kind: WebhookKind,
        config: &Value,
        deadline: Instant,
    ) -> Result<Value, RolleeError> {
        let (put, _) = kind.endpoints();
        Ok(self.call(put, None, Some(config), deadline).await?.0)
    }

    /// `DELETE /webhooks/{type}` [C]: Rollee stops delivering that
    /// kind. `Ok(false)`: none was registered (404).
    pub async fn delete_webhook(
        &self,
        kind: WebhookKind,
        deadline: Instant,
    ) -> Result<bool, RolleeError> {
        let (_, delete) = kind.endpoints();
        match self.call(delete, None, None, deadline).await {
            Ok(_) => Ok(true),
            Err(RolleeError::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A link that goes to the app must be one a web view may open: `https`,
    /// or `http` only when Rollee itself is reached over `http` (a local
    /// stand-in). Anything else (`javascript:`, `file:`, `data:`…) is refused.
    pub fn check_link(&self, session: &Session) -> Result<(), RolleeError> {
        match session.link.scheme() {
            "https" => Ok(()),
            "http" if self.base.scheme() == "http" => Ok(()),
            _ => Err(RolleeError::Malformed(
                "the Connect link is not an https URL",
            )),
        }
    }
}
