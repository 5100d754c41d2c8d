//! What `register-webhooks` needs of the webhook's settings: the
//! credentials Rollee is given, and the body of its registration.

use lambda_http::http::header::HeaderName;

use super::auth::{self, Credentials};
use super::config::SecretOrigin;
use super::secret::SecretReader;

/// The credentials Rollee is given, from the secret's current version.
pub async fn read_credentials(
    origin: &SecretOrigin,
    sdk_config: &aws_config::SdkConfig,
) -> Result<Credentials, String> {
    Ok(SecretReader::new(origin, sdk_config)?.read().await?.current)
}

/// The body of Rollee's `PUT /webhooks/{type}` (each of the five types): the documented
/// `url`, `method` and `headers` [C], `enabled` [I], and `secret` [I] for
/// the HMAC when signatures are on. Rollee replaces the whole configuration
/// with it [I], so all of it is sent every time.
pub fn registration(
    url: &str,
    header: &HeaderName,
    credentials: &Credentials,
    signature: Option<auth::SignatureEncoding>,
) -> serde_json::Value {
    let mut body = serde_json::json!({
        "url": url,
        "method": "POST",
        "headers": { header.as_str(): credentials.header_value() },
        "enabled": true,
    });
    if signature.is_some() {
        body["secret"] = serde_json::Value::from(credentials.signing_key());
    }
    body
}
