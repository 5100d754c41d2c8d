//! The secret in Secrets Manager: its versions and their stages, a version's
//! value (redacted in Debug), and the shape a new value is stored in.

use crate::secret::ReadError;
use std::collections::HashMap;
use std::fmt;

use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
use serde_json::{Map, Value};

use super::{AWSCURRENT, RotationError, Rotator};
use crate::token::Jwt;

/// A secret's value as read: it holds a JWT, so its Debug is redacted.
pub(super) struct Raw(pub(super) String);

impl fmt::Debug for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Raw(<redacted>)")
    }
}

impl Rotator {
    /// Whether rotation is enabled, and the versions with their stages.
    pub(super) async fn describe(
        &self,
        secret_id: &str,
    ) -> Result<(bool, HashMap<String, Vec<String>>), RotationError> {
        let out = self
            .secrets
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(secrets_error)?;
        Ok((
            out.rotation_enabled().unwrap_or(false),
            out.version_ids_to_stages().cloned().unwrap_or_default(),
        ))
    }

    /// The value of the version staged `stage` (and with id `version`, when
    /// given); `None` when there is no such value: an empty version, as
    /// Secrets Manager stages before createSecret, or no version at all.
    pub(super) async fn value(
        &self,
        secret_id: &str,
        stage: &str,
        version: Option<&str>,
    ) -> Result<Option<Raw>, RotationError> {
        match crate::secret::read_version(&self.secrets, secret_id, stage, version).await {
            Ok(read) => Ok(read.string.map(Raw)),
            Err(ReadError::NotFound(_)) => Ok(None),
            Err(ReadError::Failed(reason)) => Err(RotationError::SecretsManager(reason)),
        }
    }
}

/// The SDK's error, by its service error code and message (never a value).
pub(super) fn secrets_error<E, R>(e: SdkError<E, R>) -> RotationError
where
    E: std::error::Error + 'static,
    R: fmt::Debug,
{
    RotationError::SecretsManager(DisplayErrorContext(&e).to_string())
}

/// The value to store for `fresh`, in the shape of the current value: the
/// bare JWT, or the same JSON object with `token` replaced and every other
/// field kept.
pub(super) fn with_jwt(current_raw: &str, fresh: &Jwt) -> Result<String, RotationError> {
    let current_raw = current_raw.trim();
    if !current_raw.starts_with('{') {
        return Ok(fresh.expose().to_owned());
    }
    let mut object: Map<String, Value> =
        serde_json::from_str(current_raw).map_err(|_| RotationError::Unusable(AWSCURRENT))?;
    object.insert("token".to_owned(), Value::String(fresh.expose().to_owned()));
    serde_json::to_string(&object).map_err(|_| RotationError::Unusable(AWSCURRENT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::parse_secret;

    #[test]
    fn the_new_value_keeps_the_current_values_shape() {
        let fresh = Jwt::new("eyJnew.b.c");
        assert_eq!(with_jwt("eyJold.b.c\n", &fresh).unwrap(), "eyJnew.b.c");
        let json = with_jwt(
            r#" {"token": "eyJold.b.c", "account": "acme", "n": 3} "#,
            &fresh,
        )
        .unwrap();
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"token": "eyJnew.b.c", "account": "acme", "n": 3})
        );
        assert_eq!(parse_secret(&json).unwrap(), fresh);
        assert!(matches!(
            with_jwt("{broken", &fresh),
            Err(RotationError::Unusable(AWSCURRENT))
        ));
    }
}
