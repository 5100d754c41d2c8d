//! Configuration from the environment, checked once at start.
//!
//! A missing or contradictory setting stops the function at init with one line
//! naming the variable, never at the first request.

use std::time::Duration;

use url::Url;

use crate::token::{Jwt, Origin, TokenPolicy};

mod rotation;
pub use rotation::{ROTATION_REQUIRED_IN_AWS, ROTATION_VARIABLES, RotationConfig};

/// Rollee's published sandbox base.
pub const SANDBOX_API_URL: &str = "https://api.sand.getrollee.com/api/v0.5";

pub const VAR_API_URL: &str = "ROLLEE_API_URL";
pub const VAR_SECRET_ID: &str = "ROLLEE_SECRET_ID";
pub const VAR_TOKEN: &str = "ROLLEE_TOKEN";
pub const VAR_DEV_CALLER_SUB: &str = "DEV_CALLER_SUB";
pub const VAR_TABLE: &str = "OWNERSHIP_TABLE";
pub const VAR_SESSIONS_PER_MINUTE: &str = "SESSIONS_PER_CALLER_PER_MINUTE";
pub const VAR_JWT_MAX_AGE: &str = "ROLLEE_JWT_MAX_AGE_SECONDS";
pub const VAR_JWT_WARN_DAYS: &str = "ROLLEE_JWT_WARN_DAYS";
/// Every function's: the CloudWatch namespace of its metrics; unset, no metrics.
pub const VAR_METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";
/// `on` (default), `table` or `off`: the connections a cold start opens for
/// its first request ([`ConnectAtInit`], [`crate::app::connect`]).
pub const VAR_CONNECT_AT_INIT: &str = "CONNECT_AT_INIT";
/// The rotation function's: the path of Rollee's token refresh on the API's host.
pub const VAR_TOKEN_REFRESH_PATH: &str = "ROLLEE_TOKEN_REFRESH_PATH";
/// The webhook function's: the generated secret Rollee's deliveries are checked with.
pub const VAR_WEBHOOK_SECRET_ID: &str = "WEBHOOK_SECRET_ID";
/// The same secret in plain text, for local development only.
pub const VAR_WEBHOOK_SECRET: &str = "WEBHOOK_SECRET";
/// The header that carries the webhook secret's derived value.
pub const VAR_WEBHOOK_HEADER: &str = "WEBHOOK_HEADER";
/// `off`, `hex` or `base64`: whether `X-Signature` is required, and how it is written.
pub const VAR_WEBHOOK_SIGNATURE: &str = "WEBHOOK_SIGNATURE";
/// The EventBridge bus events are published to (webhooks, erasures).
pub const VAR_EVENT_BUS: &str = "EVENT_BUS_NAME";
/// Seconds a function keeps its JWT before re-reading the secret, when not configured.
pub const DEFAULT_JWT_MAX_AGE_SECONDS: u64 = TokenPolicy::DEFAULT.max_age.as_secs();
/// At most an hour: the maximum age is how soon every process moves to a
/// rotated JWT, which must come well before the old one can die.
pub const JWT_MAX_AGE_RANGE: std::ops::RangeInclusive<u64> = 1..=3600;
/// Days left under which a JWT is logged at WARN, when not configured.
pub const DEFAULT_JWT_WARN_DAYS: u32 = TokenPolicy::DEFAULT.warn_days;
/// Connect sessions one caller may mint per minute, when not configured.
pub const DEFAULT_SESSIONS_PER_MINUTE: u32 = 10;
/// Set by Lambda in every execution environment, and not by `cargo lambda
/// watch` (which sets `AWS_LAMBDA_FUNCTION_NAME`): how the code knows it runs in AWS.
pub const VAR_EXECUTION_ENV: &str = "AWS_EXECUTION_ENV";

/// Whether the settings `lookup` reads are a real Lambda's ([`VAR_EXECUTION_ENV`] set).
pub fn in_lambda(lookup: impl Fn(&str) -> Option<String>) -> bool {
    lookup(VAR_EXECUTION_ENV).is_some_and(|v| !v.is_empty())
}

/// Every variable of ours that [`Config`] reads (Lambda's own are not listed).
pub const VARIABLES: [&str; 11] = [
    VAR_API_URL,
    VAR_SECRET_ID,
    VAR_TOKEN,
    VAR_DEV_CALLER_SUB,
    VAR_TABLE,
    VAR_SESSIONS_PER_MINUTE,
    VAR_JWT_MAX_AGE,
    VAR_JWT_WARN_DAYS,
    VAR_METRICS_NAMESPACE,
    VAR_EVENT_BUS,
    VAR_CONNECT_AT_INIT,
];
/// What a deployed function needs (ROLLEE_API_URL has a default, but the
/// template sets it so that the operator sees which Rollee is used; without
/// METRICS_NAMESPACE a function works but no alarm hears from it).
pub const REQUIRED_IN_AWS: [&str; 5] = [
    VAR_API_URL,
    VAR_SECRET_ID,
    VAR_TABLE,
    VAR_SESSIONS_PER_MINUTE,
    VAR_METRICS_NAMESPACE,
];
/// Local development only: refused at start inside a real Lambda.
pub const NEVER_IN_AWS: [&str; 2] = [VAR_TOKEN, VAR_DEV_CALLER_SUB];

#[derive(Debug, Clone)]
pub struct Config {
    /// Rollee API base, e.g. `https://api.getrollee.com/api/v0.5`, without a trailing slash.
    pub api_url: Url,
    pub token: Origin,
    /// Local development only: the caller assumed when a request has no authorizer claims.
    pub dev_caller_sub: Option<String>,
    /// The ownership table's name.
    pub table: String,
    /// Connect sessions one caller may mint per minute.
    pub sessions_per_minute: u32,
    /// The JWT's maximum age, the pace of re-reads after a 401, the warning threshold.
    pub token_policy: TokenPolicy,
    /// Where metrics go (see [`crate::metrics`]); `None`: no metrics.
    pub metrics_namespace: Option<String>,
    /// The EventBridge bus of the functions that publish (`DELETE
    /// /users/{user_id}`: `user.erased`); the others leave it unset.
    pub event_bus: Option<String>,
    /// Which connections init opens beside the secret's read
    /// (`CONNECT_AT_INIT`: `on`, the default, `table` or `off`).
    pub connect_at_init: ConnectAtInit,
}

/// The connections a cold start opens for its first request
/// ([`crate::app::connect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectAtInit {
    /// `on`: the table's and Rollee's.
    All,
    /// `table`: the table's only; nothing is sent to Rollee at init.
    Table,
    /// `off`: none; the first request opens both.
    Off,
}

impl ConnectAtInit {
    pub fn table(self) -> bool {
        self != Self::Off
    }

    pub fn rollee(self) -> bool {
        self == Self::All
    }
}

/// A setting that stops the function at start. Its Display is the one line logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "neither {VAR_SECRET_ID} nor {VAR_TOKEN} is set: set {VAR_SECRET_ID} to the Secrets Manager secret holding the Rollee JWT (or {VAR_TOKEN} for local development)"
    )]
    NoTokenSource,
    #[error(
        "both {VAR_SECRET_ID} and {VAR_TOKEN} are set: set {VAR_SECRET_ID} when deployed, {VAR_TOKEN} only for local development, not both"
    )]
    TwoTokenSources,
    #[error("{0} is set but empty")]
    Empty(&'static str),
    // The value is not echoed: a mistyped URL may carry credentials.
    #[error(
        "{VAR_API_URL} must be an http(s) URL with a host and no credentials, query or fragment"
    )]
    BadApiUrl,
    #[error("{VAR_TABLE} is not set: set it to the name of the ownership table (DynamoDB)")]
    NoTable,
    #[error("{VAR_SESSIONS_PER_MINUTE} must be a whole number from 1 to 10000")]
    BadQuota,
    #[error("{VAR_JWT_MAX_AGE} must be a whole number of seconds from 1 to 3600")]
    BadMaxAge,
    #[error("{VAR_JWT_WARN_DAYS} must be a whole number of days from 0 to 365")]
    BadWarnDays,
    #[error(
        "{VAR_METRICS_NAMESPACE} must be 1 to 255 of A-Z a-z 0-9 . - _ / # : and not start with AWS/"
    )]
    BadMetricsNamespace,
    // The value is not echoed, as for the API URL.
    #[error(
        "{VAR_TOKEN_REFRESH_PATH} must be an absolute path on the API's host, e.g. /api/v0.5/token/refresh: letters, digits and . _ ~ - / only, no empty or .. segment"
    )]
    BadRefreshPath,
    #[error(
        "neither {VAR_WEBHOOK_SECRET_ID} nor {VAR_WEBHOOK_SECRET} is set: set {VAR_WEBHOOK_SECRET_ID} to the Secrets Manager secret the template generates (or {VAR_WEBHOOK_SECRET} for local development)"
    )]
    NoWebhookSecret,
    #[error(
        "both {VAR_WEBHOOK_SECRET_ID} and {VAR_WEBHOOK_SECRET} are set: set {VAR_WEBHOOK_SECRET_ID} when deployed, {VAR_WEBHOOK_SECRET} only for local development, not both"
    )]
    TwoWebhookSecrets,
    #[error("{VAR_CONNECT_AT_INIT} must be on, table or off")]
    BadConnectAtInit,
    #[error("{VAR_WEBHOOK_SECRET} must be at least 32 characters")]
    ShortWebhookSecret,
    #[error(
        "{VAR_WEBHOOK_HEADER} must be a header name (letters, digits and '-'), not a standard header nor x-signature"
    )]
    BadWebhookHeader,
    #[error("{VAR_WEBHOOK_SIGNATURE} must be off, hex or base64")]
    BadWebhookSignature,
    #[error(
        "{VAR_EVENT_BUS} is not set: set it to the name of the EventBridge bus this function publishes events to"
    )]
    NoEventBus,
    #[error(
        "{0} is set, but this process runs in AWS Lambda ({VAR_EXECUTION_ENV} is set): {0} is for local development only; remove it from the function's configuration"
    )]
    DevOnly(&'static str),
}

/// `CONNECT_AT_INIT` through `lookup` (the Connect functions' and the webhook's).
pub(crate) fn connect_at_init(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<ConnectAtInit, ConfigError> {
    match setting(lookup, VAR_CONNECT_AT_INIT)?.as_deref() {
        None | Some("on") => Ok(ConnectAtInit::All),
        Some("table") => Ok(ConnectAtInit::Table),
        Some("off") => Ok(ConnectAtInit::Off),
        Some(_) => Err(ConfigError::BadConnectAtInit),
    }
}

/// Reads one variable through `lookup`: unset is `None`; set to blanks is an
/// error (a mistake, not "unset"); otherwise trimmed.
pub(crate) fn setting(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<String>, ConfigError> {
    match lookup(name) {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Err(ConfigError::Empty(name)),
        Some(v) => Ok(Some(v.trim().to_owned())),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| setting(&lookup, name);

        // Local-development settings inside a real Lambda would let events
        // without claims act as a fixed caller, and put the JWT in plain text
        // in the function's configuration.
        if in_lambda(&lookup) {
            for var in NEVER_IN_AWS {
                if lookup(var).is_some() {
                    return Err(ConfigError::DevOnly(var));
                }
            }
        }

        let api_url = get(VAR_API_URL)?.unwrap_or_else(|| SANDBOX_API_URL.to_owned());
        let api_url = parse_api_url(&api_url)?;

        let token = match (get(VAR_SECRET_ID)?, get(VAR_TOKEN)?) {
            (Some(secret_id), None) => Origin::SecretsManager { secret_id },
            (None, Some(token)) => Origin::Fixed(Jwt::new(token)),
            (Some(_), Some(_)) => return Err(ConfigError::TwoTokenSources),
            (None, None) => return Err(ConfigError::NoTokenSource),
        };

        let table = get(VAR_TABLE)?.ok_or(ConfigError::NoTable)?;
        let sessions_per_minute = match get(VAR_SESSIONS_PER_MINUTE)? {
            None => DEFAULT_SESSIONS_PER_MINUTE,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or(ConfigError::BadQuota)?,
        };

        let max_age = match get(VAR_JWT_MAX_AGE)? {
            None => DEFAULT_JWT_MAX_AGE_SECONDS,
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|n| JWT_MAX_AGE_RANGE.contains(n))
                .ok_or(ConfigError::BadMaxAge)?,
        };
        let token_policy = TokenPolicy {
            max_age: Duration::from_secs(max_age),
            warn_days: warn_days(&get)?,
            ..TokenPolicy::default()
        };

        Ok(Self {
            api_url,
            token,
            dev_caller_sub: get(VAR_DEV_CALLER_SUB)?,
            table,
            sessions_per_minute,
            token_policy,
            metrics_namespace: metrics_namespace(&lookup)?,
            event_bus: get(VAR_EVENT_BUS)?,
            connect_at_init: connect_at_init(&lookup)?,
        })
    }
}

/// `METRICS_NAMESPACE` through `lookup` (for the process environment,
/// `|name| std::env::var(name).ok()`), checked as every setting is: unset,
/// no metrics; empty or not a namespace CloudWatch takes, an error naming it
/// (see [`crate::metrics::valid_namespace`]).
pub fn metrics_namespace(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, ConfigError> {
    match lookup(VAR_METRICS_NAMESPACE) {
        None => Ok(None),
        Some(ns) if ns.trim().is_empty() => Err(ConfigError::Empty(VAR_METRICS_NAMESPACE)),
        Some(ns) if !crate::metrics::valid_namespace(ns.trim()) => {
            Err(ConfigError::BadMetricsNamespace)
        }
        Some(ns) => Ok(Some(ns.trim().to_owned())),
    }
}

fn warn_days(
    get: &impl Fn(&'static str) -> Result<Option<String>, ConfigError>,
) -> Result<u32, ConfigError> {
    match get(VAR_JWT_WARN_DAYS)? {
        None => Ok(DEFAULT_JWT_WARN_DAYS),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= 365)
            .ok_or(ConfigError::BadWarnDays),
    }
}

fn parse_api_url(raw: &str) -> Result<Url, ConfigError> {
    let bad = || ConfigError::BadApiUrl;
    let mut url = Url::parse(raw).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad());
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad());
    }
    // Normalise: no trailing slash, so that `base + "/users"` is always right.
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

#[cfg(test)]
mod tests;
