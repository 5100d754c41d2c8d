//! The Rollee JWT: where it comes from, and a type that cannot leak it by accident.

use std::fmt;
use std::sync::Arc;

use aws_sdk_secretsmanager::Client as SecretsClient;
use tokio::sync::{Mutex, RwLock};

/// The Rollee JWT. Debug and Display are redacted; the only way to the value is
/// [`Jwt::expose`], used where the `Authorization` header is built.
#[derive(Clone, PartialEq, Eq)]
pub struct Jwt(Arc<str>);

impl Jwt {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Arc::from(value.into()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Jwt(<redacted>)")
    }
}

impl fmt::Display for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where the Rollee JWT comes from (see [`crate::config`]).
#[derive(Debug, Clone)]
pub enum Origin {
    /// A Secrets Manager secret (name or ARN): how deployed functions run.
    SecretsManager { secret_id: String },
    /// A fixed JWT, never re-read: `ROLLEE_TOKEN` in local development, and tests.
    Fixed(Jwt),
}

/// Why the JWT could not be had. Messages never carry the secret's value.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error("could not read secret {secret_id} from Secrets Manager: {reason}")]
    Unreadable { secret_id: String, reason: String },
    #[error(
        "secret {secret_id} holds no usable JWT: expected the bare JWT or JSON {{\"token\": \"...\"}}"
    )]
    Malformed { secret_id: String },
}

/// A JWT together with the generation it belongs to, so that concurrent
/// requests that all saw a 401 trigger one re-read, not one each.
#[derive(Debug, Clone)]
pub struct CurrentToken {
    pub jwt: Jwt,
    pub generation: u64,
}

/// Holds the current JWT and re-reads it from its source on demand.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    current: RwLock<CurrentToken>,
    reader: Reader,
    /// Serialises re-reads.
    reload: Mutex<()>,
}

/// How the JWT is (re-)read: the resolved [`Origin`].
enum Reader {
    Fixed,
    SecretsManager {
        client: SecretsClient,
        secret_id: String,
    },
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = match &self.inner.reader {
            Reader::Fixed => "fixed",
            Reader::SecretsManager { .. } => "Secrets Manager",
        };
        f.debug_struct("TokenSource")
            .field("origin", &origin)
            .finish()
    }
}

impl TokenSource {
    /// Builds the source and reads the JWT once (cold start).
    pub async fn load(
        origin: &Origin,
        sdk_config: &aws_config::SdkConfig,
    ) -> Result<Self, TokenError> {
        match origin {
            Origin::Fixed(jwt) => {
                tracing::warn!(
                    "using the Rollee JWT from ROLLEE_TOKEN: for local development only; deployed functions read it from Secrets Manager"
                );
                Ok(Self::fixed(jwt.clone()))
            }
            Origin::SecretsManager { secret_id } => {
                let client = SecretsClient::new(sdk_config);
                let jwt = fetch(&client, secret_id).await?;
                tracing::info!(secret_id = %secret_id, "read the Rollee JWT from Secrets Manager");
                Ok(Self::new(
                    jwt,
                    Reader::SecretsManager {
                        client,
                        secret_id: secret_id.clone(),
                    },
                ))
            }
        }
    }

    /// A JWT that is never re-read.
    pub fn fixed(jwt: Jwt) -> Self {
        Self::new(jwt, Reader::Fixed)
    }

    fn new(jwt: Jwt, reader: Reader) -> Self {
        Self {
            inner: Arc::new(Inner {
                current: RwLock::new(CurrentToken { jwt, generation: 0 }),
                reader,
                reload: Mutex::new(()),
            }),
        }
    }

    pub async fn current(&self) -> CurrentToken {
        self.inner.current.read().await.clone()
    }

    /// Called after Rollee rejected `rejected`: re-reads the secret once and
    /// returns a JWT to retry with, or `None` when there is nothing new to try
    /// (a fixed token, or the secret still holds the rejected JWT).
    pub async fn reload_after(
        &self,
        rejected: &CurrentToken,
    ) -> Result<Option<CurrentToken>, TokenError> {
        let Reader::SecretsManager { client, secret_id } = &self.inner.reader else {
            return Ok(None);
        };
        let _one_at_a_time = self.inner.reload.lock().await;
        {
            let current = self.inner.current.read().await;
            if current.generation != rejected.generation {
                // Another request already re-read the secret after the same 401.
                return Ok((current.jwt != rejected.jwt).then(|| current.clone()));
            }
        }
        let fresh = fetch(client, secret_id).await?;
        let mut current = self.inner.current.write().await;
        current.generation += 1;
        let changed = fresh != rejected.jwt;
        current.jwt = fresh;
        if changed {
            tracing::info!(secret_id = %secret_id, "Rollee rejected the JWT; re-read a new one from Secrets Manager");
            Ok(Some(current.clone()))
        } else {
            tracing::warn!(secret_id = %secret_id, "Rollee rejected the JWT and the secret still holds the same one");
            Ok(None)
        }
    }
}

async fn fetch(client: &SecretsClient, secret_id: &str) -> Result<Jwt, TokenError> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| TokenError::Unreadable {
            secret_id: secret_id.to_owned(),
            // The SDK's error names the service error code (AccessDenied,
            // ResourceNotFound...) and never the secret's value.
            reason: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
        })?;
    let raw = output
        .secret_string()
        .ok_or_else(|| TokenError::Malformed {
            secret_id: secret_id.to_owned(),
        })?;
    parse_secret(raw).ok_or_else(|| TokenError::Malformed {
        secret_id: secret_id.to_owned(),
    })
}

/// The secret holds the bare JWT, or JSON `{"token": "..."}` (the shape of
/// Rollee's own `GET /token/refresh` answer, so a rotation job can store it as is).
pub fn parse_secret(raw: &str) -> Option<Jwt> {
    let raw = raw.trim();
    let token = if raw.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct Wrapped {
            token: String,
        }
        serde_json::from_str::<Wrapped>(raw).ok()?.token
    } else {
        raw.to_owned()
    };
    let token = token.trim();
    // A JWT is printable ASCII without spaces; anything else would also make
    // an invalid Authorization header, found only at the first request.
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_graphic()) {
        return None;
    }
    Some(Jwt::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let jwt = Jwt::new("eyJhbGciOi.secret.sig");
        assert_eq!(format!("{jwt:?}"), "Jwt(<redacted>)");
        assert_eq!(format!("{jwt}"), "<redacted>");
        assert_eq!(jwt.expose(), "eyJhbGciOi.secret.sig");
    }

    #[test]
    fn secret_may_be_bare_or_wrapped() {
        assert_eq!(parse_secret("eyJa.b.c\n").unwrap().expose(), "eyJa.b.c");
        assert_eq!(
            parse_secret(r#" {"token": "eyJa.b.c"} "#).unwrap().expose(),
            "eyJa.b.c"
        );
    }

    #[test]
    fn unusable_secrets_are_refused() {
        for raw in [
            "",
            "  ",
            r#"{"jwt": "x"}"#,
            r#"{"token": ""}"#,
            r#"{"token": 5}"#,
            "a b",
            "{not json",
        ] {
            assert!(parse_secret(raw).is_none(), "{raw:?}");
        }
    }

    #[tokio::test]
    async fn a_fixed_token_is_not_reloaded() {
        let source = TokenSource::fixed(Jwt::new("t"));
        let current = source.current().await;
        assert_eq!(current.jwt.expose(), "t");
        assert!(source.reload_after(&current).await.unwrap().is_none());
    }
}
