//! The Rollee JWT: where it comes from, a type that cannot leak it by accident,
//! and how a process keeps it fresh (a maximum age, a paced re-read after a 401).

mod jwt;
mod origin;

use std::fmt;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client as SecretsClient;

pub use jwt::{Jwt, days_left, log_expiry, parse_secret};
pub use origin::{Origin, TokenError};
use origin::{Reader, fetch};

use crate::secret::{self, Reason, RereadPolicy};

/// How a process keeps its JWT fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPolicy {
    /// A JWT read longer ago than this is re-read before the next request
    /// uses it: after a rotation, every process moves to the new JWT within
    /// this time even while Rollee still accepts the old one.
    pub max_age: Duration,
    /// After a 401, the secret is re-read at most once per this interval per
    /// process: a storm of 401s is not a storm of secret reads.
    pub reread_interval: Duration,
    /// At cold start, fewer days left than this is logged at WARN.
    pub warn_days: u32,
}

impl TokenPolicy {
    /// The policy when nothing is configured (`config` reads its defaults here).
    pub const DEFAULT: TokenPolicy = TokenPolicy {
        max_age: Duration::from_secs(300),
        reread_interval: Duration::from_secs(2),
        warn_days: 14,
    };
}

impl TokenPolicy {
    /// When the held JWT is read again (see [`secret::reread_due`]).
    pub fn reread(&self) -> RereadPolicy {
        RereadPolicy {
            max_age: self.max_age,
            pace: self.reread_interval,
        }
    }
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A read for the maximum age ends within this: the request that makes it
/// waits for it, and the held JWT is still good if it fails.
pub const MAX_AGE_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// A JWT together with the generation (the secret read) it comes from, so
/// that concurrent requests that all saw a 401 share one re-read.
#[derive(Debug, Clone)]
pub struct CurrentToken {
    pub jwt: Jwt,
    pub generation: u64,
}

/// Holds the current JWT and re-reads it from its source when it is older
/// than the policy's maximum age, or after a 401 (paced).
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    reader: Reader,
    policy: TokenPolicy,
    /// Never held across an await.
    held: std::sync::Mutex<Held>,
    /// One secret read at a time; a request that finds one under way shares it.
    reading: tokio::sync::Mutex<()>,
}

struct Held {
    token: CurrentToken,
    /// When the last read started (or failed): the maximum age counts from it.
    last_read: Instant,
    /// The last re-read made after a 401, for the pace.
    last_reread: Option<Instant>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = match &self.inner.reader {
            Reader::Fixed => "fixed",
            Reader::SecretsManager { .. } => "Secrets Manager",
            #[cfg(test)]
            Reader::Scripted(_) => "scripted",
        };
        f.debug_struct("TokenSource")
            .field("origin", &origin)
            .field("policy", &self.inner.policy)
            .finish()
    }
}

impl TokenSource {
    /// Builds the source and reads the JWT once (cold start); logs its days left.
    pub async fn load(
        origin: &Origin,
        policy: TokenPolicy,
        sdk_config: &aws_config::SdkConfig,
    ) -> Result<Self, TokenError> {
        match origin {
            Origin::Fixed(jwt) => {
                tracing::warn!(
                    "using the Rollee JWT from ROLLEE_TOKEN: for local development only; deployed functions read it from Secrets Manager"
                );
                log_expiry(jwt, policy.warn_days, "current");
                Ok(Self::new(jwt.clone(), Reader::Fixed, policy))
            }
            Origin::SecretsManager { secret_id } => {
                let client = SecretsClient::new(sdk_config);
                let jwt = fetch(&client, secret_id, "AWSCURRENT").await?;
                tracing::info!(secret_id = %secret_id, "read the Rollee JWT from Secrets Manager");
                log_expiry(&jwt, policy.warn_days, "current");
                let reader = Reader::SecretsManager {
                    client,
                    secret_id: secret_id.clone(),
                };
                Ok(Self::new(jwt, reader, policy))
            }
        }
    }

    /// A JWT that is never re-read.
    pub fn fixed(jwt: Jwt) -> Self {
        Self::new(jwt, Reader::Fixed, TokenPolicy::default())
    }

    fn new(jwt: Jwt, reader: Reader, policy: TokenPolicy) -> Self {
        Self {
            inner: Arc::new(Inner {
                reader,
                policy,
                held: std::sync::Mutex::new(Held {
                    token: CurrentToken { jwt, generation: 0 },
                    last_read: Instant::now(),
                    last_reread: None,
                }),
                reading: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The JWT as its source holds it now, read afresh (a fixed one: itself),
    /// without replacing the one held: the self-test's "the secret is
    /// readable and parses".
    pub async fn read_now(&self) -> Result<Jwt, TokenError> {
        if self.inner.reader.rereads() {
            self.inner.reader.read().await
        } else {
            Ok(self.held().token.jwt.clone())
        }
    }

    /// Whether a 401 can lead to another JWT: not for a fixed one.
    pub fn rereads(&self) -> bool {
        self.inner.reader.rereads()
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        // Nothing panics while holding it; were it poisoned, the JWT is still good.
        self.inner
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The JWT to send. When it is older than the maximum age, this request
    /// re-reads the secret first, unless another request is already reading
    /// (then the held JWT is used). If the read fails, the held JWT is kept and
    /// a warning logged; the next try is one maximum age later.
    pub async fn current(&self) -> CurrentToken {
        let due = |held: &Held| {
            secret::reread_due(
                self.inner.policy.reread(),
                Reason::MaxAge,
                held.last_read,
                held.last_reread,
                Instant::now(),
            )
        };
        let token = {
            let held = self.held();
            if !due(&held) || !self.inner.reader.rereads() {
                return held.token.clone();
            }
            held.token.clone()
        };
        let Ok(_reading) = self.inner.reading.try_lock() else {
            return token;
        };
        {
            // A read may have finished between the check and the lock.
            let held = self.held();
            if held.token.generation != token.generation || !due(&held) {
                return held.token.clone();
            }
        }
        let read = tokio::time::timeout(MAX_AGE_READ_TIMEOUT, self.inner.reader.read()).await;
        let secret_id = self.inner.reader.secret_id();
        match read {
            Ok(Ok(fresh)) => {
                let (token, changed) = self.store(fresh);
                if changed {
                    tracing::info!(secret_id = %secret_id, "the Rollee JWT reached its maximum age; re-read a new one from Secrets Manager");
                    log_expiry(&token.jwt, self.inner.policy.warn_days, "current");
                }
                token
            }
            failed => {
                let reason = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no answer within {MAX_AGE_READ_TIMEOUT:?}"),
                };
                tracing::warn!(secret_id = %secret_id, %reason, "the Rollee JWT reached its maximum age but the secret could not be re-read; keeping the one held");
                let mut held = self.held();
                held.last_read = Instant::now();
                held.token.clone()
            }
        }
    }

    /// Called after Rollee rejected `rejected`: returns a JWT to retry with, or
    /// `None` when there is nothing new to try (a fixed token, or the secret
    /// still holds the rejected JWT).
    ///
    /// Concurrent callers share one read; and after a 401 the secret is re-read
    /// at most once per [`TokenPolicy::reread_interval`]: while Rollee keeps
    /// rejecting a JWT the secret still holds, reading it again for every
    /// rejected request would only find the same JWT.
    pub async fn reload_after(
        &self,
        rejected: &CurrentToken,
    ) -> Result<Option<CurrentToken>, TokenError> {
        if !self.inner.reader.rereads() {
            return Ok(None);
        }
        let _reading = self.inner.reading.lock().await;
        {
            let mut held = self.held();
            if held.token.generation != rejected.generation {
                // A read finished since this request took its JWT (another
                // request's 401, or the maximum age): its result is the answer.
                return Ok((held.token.jwt != rejected.jwt).then(|| held.token.clone()));
            }
            let now = Instant::now();
            let policy = self.inner.policy.reread();
            if !secret::reread_due(
                policy,
                Reason::Refusal,
                held.last_read,
                held.last_reread,
                now,
            ) {
                return Ok(None);
            }
            held.last_reread = Some(now);
        }
        let fresh = self.inner.reader.read().await?;
        let secret_id = self.inner.reader.secret_id();
        let (token, changed) = self.store(fresh);
        if changed {
            tracing::info!(secret_id = %secret_id, "Rollee rejected the JWT; re-read a new one from Secrets Manager");
            log_expiry(&token.jwt, self.inner.policy.warn_days, "current");
            Ok(Some(token))
        } else {
            tracing::warn!(secret_id = %secret_id, "Rollee rejected the JWT and the secret still holds the same one");
            Ok(None)
        }
    }

    /// Holds `fresh` as a new generation; whether it differs from the JWT held.
    fn store(&self, fresh: Jwt) -> (CurrentToken, bool) {
        let mut held = self.held();
        let changed = held.token.jwt != fresh;
        held.token = CurrentToken {
            jwt: fresh,
            generation: held.token.generation + 1,
        };
        held.last_read = Instant::now();
        (held.token.clone(), changed)
    }
}

#[cfg(test)]
mod tests;
