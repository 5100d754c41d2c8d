//! Where the Rollee JWT comes from ([`Origin`]) and how it is (re-)read: the
//! `AWSCURRENT` version of a Secrets Manager secret, or a fixed JWT never
//! re-read.

use aws_sdk_secretsmanager::Client as SecretsClient;

use super::{Jwt, parse_secret};

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

/// How the JWT is (re-)read: the resolved [`Origin`].
pub(super) enum Reader {
    Fixed,
    SecretsManager {
        client: SecretsClient,
        secret_id: String,
    },
    #[cfg(test)]
    Scripted(script::Script),
}

impl Reader {
    pub(super) fn rereads(&self) -> bool {
        !matches!(self, Reader::Fixed)
    }

    pub(super) fn secret_id(&self) -> &str {
        match self {
            Reader::Fixed => "ROLLEE_TOKEN",
            Reader::SecretsManager { secret_id, .. } => secret_id,
            #[cfg(test)]
            Reader::Scripted(_) => "scripted",
        }
    }

    pub(super) async fn read(&self) -> Result<Jwt, TokenError> {
        match self {
            Reader::SecretsManager { client, secret_id } => {
                fetch(client, secret_id, "AWSCURRENT").await
            }
            #[cfg(test)]
            Reader::Scripted(script) => script.read().await,
            Reader::Fixed => Err(TokenError::Unreadable {
                secret_id: self.secret_id().to_owned(),
                reason: "a fixed JWT is never re-read".into(),
            }),
        }
    }
}

/// The JWT of the version of `secret_id` that carries `stage`.
pub(super) async fn fetch(
    client: &SecretsClient,
    secret_id: &str,
    stage: &str,
) -> Result<Jwt, TokenError> {
    let version = crate::secret::read_version(client, secret_id, stage, None)
        .await
        .map_err(|e| TokenError::Unreadable {
            secret_id: secret_id.to_owned(),
            reason: e.to_string(),
        })?;
    let raw = version
        .string
        .as_deref()
        .ok_or_else(|| TokenError::Malformed {
            secret_id: secret_id.to_owned(),
        })?;
    parse_secret(raw).ok_or_else(|| TokenError::Malformed {
        secret_id: secret_id.to_owned(),
    })
}

/// A secret in memory in place of Secrets Manager, for the tests of
/// [`super::TokenSource`].
#[cfg(test)]
pub(super) mod script {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::{Jwt, Reader, TokenError};
    use crate::token::{TokenPolicy, TokenSource};

    /// A secret in memory that counts its reads.
    pub(in crate::token) struct Script {
        pub(super) value: std::sync::Mutex<Result<Jwt, TokenError>>,
        pub(super) reads: AtomicUsize,
        /// How long a read takes: concurrent requests overlap it.
        pub(super) delay: Duration,
    }

    impl Script {
        pub(super) async fn read(&self) -> Result<Jwt, TokenError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            self.value.lock().unwrap().clone()
        }
    }

    pub(in crate::token) fn scripted(jwt: &str, policy: TokenPolicy) -> TokenSource {
        scripted_with_delay(jwt, policy, Duration::from_millis(5))
    }

    pub(in crate::token) fn scripted_with_delay(
        jwt: &str,
        policy: TokenPolicy,
        delay: Duration,
    ) -> TokenSource {
        let reader = Reader::Scripted(Script {
            value: std::sync::Mutex::new(Ok(Jwt::new(jwt))),
            reads: AtomicUsize::new(0),
            delay,
        });
        TokenSource::new(Jwt::new(jwt), reader, policy)
    }

    fn script(source: &TokenSource) -> &Script {
        match &source.inner.reader {
            Reader::Scripted(s) => s,
            _ => unreachable!(),
        }
    }

    pub(in crate::token) fn reads(source: &TokenSource) -> usize {
        script(source).reads.load(Ordering::SeqCst)
    }

    pub(in crate::token) fn set_secret(source: &TokenSource, value: Result<&str, ()>) {
        *script(source).value.lock().unwrap() =
            value.map(Jwt::new).map_err(|()| TokenError::Unreadable {
                secret_id: "scripted".into(),
                reason: "throttled".into(),
            });
    }
}
