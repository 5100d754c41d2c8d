//! The webhook secret as this process holds it: read at start, read again
//! at its maximum age and (paced, one read at a time) after a refusal a
//! rotation could explain, with the previous value accepted for its grace.
//! When a read is due is [`crate::secret::reread_due`]'s rule, as for the
//! Rollee JWT.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::Request;

use super::Receiver;
use super::auth::{self, Credentials, Keys, PREVIOUS_SECRET_GRACE, Rejection, Verifier};
use super::config::SecretOrigin;
use crate::secret::{Reason, RereadPolicy, reread_due};

/// A delivery with a wrong header or signature makes the process re-read
/// the secret (it may have been rotated), unless a re-read it asked for
/// ended less than this long ago: a caller without the secret can make each
/// warm process read it at most once per pace (two `GetSecretValue` calls
/// during a grace), and Rollee's first delivery with a new value waits at
/// most this long after a refusal.
pub const SECRET_REREAD_PACE: Duration = Duration::from_secs(2);
/// The secret is also re-read when the last read is older than this, so that
/// a rotation reaches every warm process, and a replaced value's grace
/// ([`PREVIOUS_SECRET_GRACE`]) ends in each.
pub const SECRET_MAX_AGE: Duration = Duration::from_secs(300);

/// [`SECRET_MAX_AGE`] and [`SECRET_REREAD_PACE`].
const POLICY: RereadPolicy = RereadPolicy {
    max_age: SECRET_MAX_AGE,
    pace: SECRET_REREAD_PACE,
};

pub(super) struct Reads {
    /// When the last read started (at start: when the function started).
    pub(super) last: Instant,
    /// When the last read a refusal asked for ended.
    pub(super) after_refusal: Option<Instant>,
}

pub(super) enum SecretReader {
    Fixed(Credentials),
    SecretsManager {
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
    },
}

impl SecretReader {
    pub(super) fn new(
        origin: &SecretOrigin,
        sdk_config: &aws_config::SdkConfig,
    ) -> Result<Self, String> {
        Ok(match origin {
            SecretOrigin::Fixed(value) => Self::Fixed(
                Credentials::derive(value)
                    .ok_or_else(|| "WEBHOOK_SECRET is too short".to_owned())?,
            ),
            SecretOrigin::SecretsManager { secret_id } => Self::SecretsManager {
                client: aws_sdk_secretsmanager::Client::new(sdk_config),
                secret_id: secret_id.clone(),
            },
        })
    }

    /// The credentials of the secret's current version and, when that
    /// version is younger than [`PREVIOUS_SECRET_GRACE`], of the previous
    /// one until the grace ends.
    pub(super) async fn read(&self) -> Result<Keys, String> {
        let (client, secret_id) = match self {
            Self::Fixed(credentials) => {
                return Ok(Keys {
                    current: credentials.clone(),
                    previous: None,
                });
            }
            Self::SecretsManager { client, secret_id } => (client, secret_id),
        };
        // Both at once: whether the previous version is needed only the
        // current one's creation date says, and waiting for it before
        // asking made every read two round trips after a rotation. Outside
        // a grace the previous one is read for nothing (one more call, and
        // over HTTP/1.1 one more connection, BENCHMARKS.md).
        let (current, previous) = tokio::join!(
            Self::version(client, secret_id, "AWSCURRENT"),
            Self::version(client, secret_id, "AWSPREVIOUS"),
        );
        let (current, created) = current?;
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs();
        let previous = grace_left(created, now).and_then(|left| {
            previous
                .ok()
                .map(|(credentials, _)| (credentials, Instant::now() + left))
        });
        Ok(Keys { current, previous })
    }

    async fn version(
        client: &aws_sdk_secretsmanager::Client,
        secret_id: &str,
        stage: &str,
    ) -> Result<(Credentials, Option<i64>), String> {
        let version = crate::secret::read_version(client, secret_id, stage, None)
            .await
            .map_err(|e| format!("could not read the webhook secret {secret_id} ({stage}): {e}"))?;
        let credentials = version.string.as_deref().and_then(Credentials::derive);
        let credentials = credentials.ok_or_else(|| {
            format!(
                "the webhook secret {secret_id} is not a string of at least {} characters",
                auth::MIN_SECRET_LEN
            )
        })?;
        Ok((credentials, version.created))
    }
}

/// How much longer the previous value is accepted, given when the current
/// one was created and the time now (Unix seconds); `None` when not at all.
/// A creation date ahead of this function's clock (the clocks disagree)
/// means just created.
fn grace_left(created: Option<i64>, now: i64) -> Option<Duration> {
    let age = u64::try_from(now.saturating_sub(created?).max(0)).ok()?;
    PREVIOUS_SECRET_GRACE
        .checked_sub(Duration::from_secs(age))
        .filter(|left| !left.is_zero())
}

impl Receiver {
    /// Checks the delivery: against the secret as last read, re-read first
    /// when older than [`SECRET_MAX_AGE`], and once more after a refusal a
    /// rotation could explain: at once, unless a read that ended after the
    /// refusal already answers it or the last such re-read ended less than
    /// [`SECRET_REREAD_PACE`] ago.
    pub(super) async fn authenticate(
        &self,
        request: &Request,
        body: &[u8],
    ) -> Result<(), Rejection> {
        if self.due(|reads| {
            reread_due(
                POLICY,
                Reason::MaxAge,
                reads.last,
                reads.after_refusal,
                Instant::now(),
            )
        }) {
            self.reread().await;
        }
        let refused_at = Instant::now();
        let Err(rejection) = self.verifier().verify(request.headers(), body) else {
            return Ok(());
        };
        if !rejection.may_be_rotation() || matches!(self.secret, SecretReader::Fixed(_)) {
            return Err(rejection);
        }
        let _one_at_a_time = self.rereading.lock().await;
        let (read_since, may_reread) = {
            let reads = self.reads.lock().unwrap_or_else(|p| p.into_inner());
            (
                reads.last > refused_at,
                reread_due(
                    POLICY,
                    Reason::Refusal,
                    reads.last,
                    reads.after_refusal,
                    Instant::now(),
                ),
            )
        };
        if !read_since {
            if !may_reread {
                return Err(rejection);
            }
            self.due(|_| true);
            self.reread().await;
            self.reads
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .after_refusal = Some(Instant::now());
        }
        self.verifier().verify(request.headers(), body)
    }

    /// Whether `check` says a read is due (never for a fixed secret); a due
    /// read counts as made.
    fn due(&self, check: impl FnOnce(&mut Reads) -> bool) -> bool {
        if matches!(self.secret, SecretReader::Fixed(_)) {
            return false;
        }
        let mut reads = self.reads.lock().unwrap_or_else(|p| p.into_inner());
        let due = check(&mut reads);
        if due {
            reads.last = Instant::now();
        }
        due
    }

    /// Reads the secret and checks deliveries with what it holds from now
    /// on; a failed read keeps the current check (and is logged).
    async fn reread(&self) {
        let built = match self.secret.read().await {
            Ok(keys) => Verifier::new(self.header.clone(), self.signature, &keys),
            Err(e) => Err(e),
        };
        match built {
            Ok(verifier) => {
                *self.verifier.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(verifier);
            }
            Err(e) => tracing::warn!("kept the webhook secret read before: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_value_is_accepted_for_the_grace_after_the_current_one_was_created() {
        let grace = PREVIOUS_SECRET_GRACE.as_secs() as i64;
        let now = 1_800_000_000;
        for (created, left) in [
            // Just created, a minute ago, a second before the end, at the end, long ago.
            (Some(now), Some(grace)),
            (Some(now - 60), Some(grace - 60)),
            (Some(now - grace + 1), Some(1)),
            (Some(now - grace), None),
            (Some(now - 86_400), None),
            // No creation date: no grace.
            (None, None),
            // Created "in the future": the function's clock is behind
            // Secrets Manager's. That is just created, not never.
            (Some(now + 5), Some(grace)),
            (Some(now + 3_600), Some(grace)),
        ] {
            assert_eq!(
                grace_left(created, now),
                left.map(|s| Duration::from_secs(s as u64)),
                "created {created:?}"
            );
        }
    }
}
