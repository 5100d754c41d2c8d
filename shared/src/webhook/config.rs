//! The webhook function's settings, checked once at start.

use std::fmt;

use lambda_http::http::header::HeaderName;

use super::auth::{DEFAULT_HEADER, MIN_SECRET_LEN, SIGNATURE_HEADER, SignatureEncoding};
use crate::config::{
    ConfigError, ConnectAtInit, VAR_CONNECT_AT_INIT, VAR_EVENT_BUS, VAR_METRICS_NAMESPACE,
    VAR_TABLE, VAR_WEBHOOK_HEADER, VAR_WEBHOOK_SECRET, VAR_WEBHOOK_SECRET_ID,
    VAR_WEBHOOK_SIGNATURE, connect_at_init, metrics_namespace, setting,
};

/// Every variable of ours that [`WebhookConfig`] reads.
pub const WEBHOOK_VARIABLES: [&str; 8] = [
    VAR_WEBHOOK_SECRET_ID,
    VAR_WEBHOOK_SECRET,
    VAR_WEBHOOK_HEADER,
    VAR_WEBHOOK_SIGNATURE,
    VAR_EVENT_BUS,
    VAR_TABLE,
    VAR_METRICS_NAMESPACE,
    VAR_CONNECT_AT_INIT,
];
/// What the deployed webhook function needs (the header and the signature
/// have defaults; the template sets them so that the operator sees them).
pub const WEBHOOK_REQUIRED_IN_AWS: [&str; 6] = [
    VAR_WEBHOOK_SECRET_ID,
    VAR_WEBHOOK_HEADER,
    VAR_WEBHOOK_SIGNATURE,
    VAR_EVENT_BUS,
    VAR_TABLE,
    VAR_METRICS_NAMESPACE,
];

/// Where the webhook secret comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretOrigin {
    /// `WEBHOOK_SECRET`, local development only.
    Fixed(String),
    SecretsManager {
        secret_id: String,
    },
}

impl fmt::Debug for SecretOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(_) => f.write_str("Fixed(..)"),
            Self::SecretsManager { secret_id } => f
                .debug_struct("SecretsManager")
                .field("secret_id", secret_id)
                .finish(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub secret: SecretOrigin,
    /// The header whose value is checked.
    pub header: HeaderName,
    /// `None`: no `X-Signature` is asked for.
    pub signature: Option<SignatureEncoding>,
    pub bus: String,
    pub table: String,
    /// CloudWatch namespace of the metric lines; `None`: no metrics.
    pub metrics_namespace: Option<String>,
    /// Whether init opens the table's and the bus's connections (`on` and
    /// `table` alike: the webhook calls no Rollee) or not (`off`).
    pub connect_at_init: ConnectAtInit,
}

impl WebhookConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| setting(&lookup, name);
        if crate::config::in_lambda(&lookup) && lookup(VAR_WEBHOOK_SECRET).is_some() {
            return Err(ConfigError::DevOnly(VAR_WEBHOOK_SECRET));
        }
        let secret = match (get(VAR_WEBHOOK_SECRET_ID)?, get(VAR_WEBHOOK_SECRET)?) {
            (Some(secret_id), None) => SecretOrigin::SecretsManager { secret_id },
            (None, Some(secret)) if secret.len() >= MIN_SECRET_LEN => SecretOrigin::Fixed(secret),
            (None, Some(_)) => return Err(ConfigError::ShortWebhookSecret),
            (None, None) => return Err(ConfigError::NoWebhookSecret),
            (Some(_), Some(_)) => return Err(ConfigError::TwoWebhookSecrets),
        };
        let header = get(VAR_WEBHOOK_HEADER)?.unwrap_or_else(|| DEFAULT_HEADER.to_owned());
        let header = header_name(&header).ok_or(ConfigError::BadWebhookHeader)?;
        let signature = match get(VAR_WEBHOOK_SIGNATURE)? {
            None => None,
            Some(raw) => SignatureEncoding::parse(&raw).ok_or(ConfigError::BadWebhookSignature)?,
        };
        Ok(Self {
            secret,
            header,
            signature,
            bus: get(VAR_EVENT_BUS)?.ok_or(ConfigError::NoEventBus)?,
            table: get(VAR_TABLE)?.ok_or(ConfigError::NoTable)?,
            metrics_namespace: metrics_namespace(&lookup)?,
            connect_at_init: connect_at_init(&lookup)?,
        })
    }
}

/// A custom header name: letters, digits and `-`, and none that HTTP,
/// API Gateway or the signature already give a meaning.
fn header_name(raw: &str) -> Option<HeaderName> {
    let lower = raw.to_ascii_lowercase();
    let plain = !lower.is_empty()
        && lower.len() <= 64
        && lower.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let reserved = [
        "authorization",
        "content-type",
        "content-length",
        "host",
        "cookie",
        "user-agent",
        SIGNATURE_HEADER,
    ]
    .contains(&lower.as_str())
        || lower.starts_with("x-amz")
        || lower.starts_with("x-forwarded");
    if !plain || reserved {
        return None;
    }
    HeaderName::from_bytes(lower.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn config(vars: &[(&str, &str)]) -> Result<WebhookConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        WebhookConfig::from_lookup(|name| map.get(name).cloned())
    }

    const BASE: [(&str, &str); 2] = [(VAR_EVENT_BUS, "bus"), (VAR_TABLE, "table")];

    fn with(extra: &[(&'static str, &'static str)]) -> Result<WebhookConfig, ConfigError> {
        let mut vars = BASE.to_vec();
        vars.extend_from_slice(extra);
        config(&vars)
    }

    #[test]
    fn the_deployed_configuration_and_its_defaults() {
        let c = with(&[(VAR_WEBHOOK_SECRET_ID, "webhook-secret")]).unwrap();
        assert_eq!(
            c.secret,
            SecretOrigin::SecretsManager {
                secret_id: "webhook-secret".into()
            }
        );
        assert_eq!(c.header.as_str(), DEFAULT_HEADER);
        assert_eq!(c.signature, None);
        assert_eq!((c.bus.as_str(), c.table.as_str()), ("bus", "table"));
        let c = with(&[
            (VAR_WEBHOOK_SECRET, SECRET),
            (VAR_WEBHOOK_HEADER, "X-Company-Token"),
            (VAR_WEBHOOK_SIGNATURE, "BASE64"),
        ])
        .unwrap();
        assert_eq!(c.header.as_str(), "x-company-token");
        assert_eq!(c.signature, Some(SignatureEncoding::Base64));
        assert!(!format!("{c:?}").contains(SECRET));
    }

    #[test]
    fn each_wrong_setting_is_named() {
        let sm = (VAR_WEBHOOK_SECRET_ID, "s");
        for (vars, error) in [
            (vec![], ConfigError::NoWebhookSecret),
            (
                vec![sm, (VAR_WEBHOOK_SECRET, SECRET)],
                ConfigError::TwoWebhookSecrets,
            ),
            (
                vec![(VAR_WEBHOOK_SECRET, "short")],
                ConfigError::ShortWebhookSecret,
            ),
            (
                vec![sm, (VAR_WEBHOOK_HEADER, "Authorization")],
                ConfigError::BadWebhookHeader,
            ),
            (
                vec![sm, (VAR_WEBHOOK_HEADER, "x-signature")],
                ConfigError::BadWebhookHeader,
            ),
            (
                vec![sm, (VAR_WEBHOOK_HEADER, "X-Amz-Date")],
                ConfigError::BadWebhookHeader,
            ),
            (
                vec![sm, (VAR_WEBHOOK_HEADER, "bad header")],
                ConfigError::BadWebhookHeader,
            ),
            (
                vec![sm, (VAR_WEBHOOK_SIGNATURE, "sha512")],
                ConfigError::BadWebhookSignature,
            ),
            (
                vec![sm, (VAR_WEBHOOK_SIGNATURE, " ")],
                ConfigError::Empty(VAR_WEBHOOK_SIGNATURE),
            ),
        ] {
            assert_eq!(with(&vars).unwrap_err(), error);
        }
        assert_eq!(
            config(&[sm, (VAR_TABLE, "t")]).unwrap_err(),
            ConfigError::NoEventBus
        );
        assert_eq!(
            config(&[sm, (VAR_EVENT_BUS, "b")]).unwrap_err(),
            ConfigError::NoTable
        );
        assert_eq!(
            with(&[
                (VAR_WEBHOOK_SECRET, SECRET),
                (
                    crate::config::VAR_EXECUTION_ENV,
                    "AWS_Lambda_provided.al2023"
                )
            ])
            .unwrap_err(),
            ConfigError::DevOnly(VAR_WEBHOOK_SECRET)
        );
    }
}
