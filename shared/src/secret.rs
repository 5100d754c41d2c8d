//! What every Secrets Manager secret this server holds has in common: one
//! way to read a version (the Rollee JWT's, the webhook secret's, the
//! rotation's), and one rule for when a held value is read again, a pure
//! function ([`reread_due`]) tested as a table.

use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;

/// One version of a secret, as read.
#[derive(Clone)]
pub struct Version {
    /// Its `SecretString`, when it has one.
    pub string: Option<String>,
    /// When the version was created (Unix seconds), when Secrets Manager says.
    pub created: Option<i64>,
}

impl std::fmt::Debug for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The value is a secret: never printed.
        f.debug_struct("Version")
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// Why a version could not be read. Never carries a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// No such secret, version or stage (the SDK's code and message).
    #[error("{0}")]
    NotFound(String),
    /// Any other failure, as the SDK tells it (its code and message).
    #[error("{0}")]
    Failed(String),
}

/// `GetSecretValue` of `secret_id`'s version staged `stage` (and with id
/// `version_id`, when given).
pub async fn read_version(
    client: &Client,
    secret_id: &str,
    stage: &str,
    version_id: Option<&str>,
) -> Result<Version, ReadError> {
    let answer = client
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage(stage)
        .set_version_id(version_id.map(str::to_owned))
        .send()
        .await;
    match answer {
        Ok(out) => Ok(Version {
            string: out.secret_string().map(str::to_owned),
            created: out.created_date().map(|at| at.secs()),
        }),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Err(ReadError::NotFound(DisplayErrorContext(&e).to_string()))
        }
        Err(e) => Err(ReadError::Failed(DisplayErrorContext(&e).to_string())),
    }
}

/// When a held secret is read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RereadPolicy {
    /// A value read longer ago than this is read again before it is used:
    /// how soon a rotated value reaches every warm process.
    pub max_age: Duration,
    /// After a refusal (Rollee's 401, a delivery's wrong header), at most one
    /// read a refusal asks for per this interval: a flood of refusals is not
    /// a flood of reads.
    pub pace: Duration,
}

/// What asks for a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The held value's age.
    MaxAge,
    /// A refusal that a new value could explain.
    Refusal,
}

/// Whether a read is due `now`, given when the last read started
/// (`last_read`) and when the last read a refusal asked for did
/// (`last_refusal_read`).
pub fn reread_due(
    policy: RereadPolicy,
    reason: Reason,
    last_read: Instant,
    last_refusal_read: Option<Instant>,
    now: Instant,
) -> bool {
    match reason {
        Reason::MaxAge => now.saturating_duration_since(last_read) >= policy.max_age,
        Reason::Refusal => {
            last_refusal_read.is_none_or(|at| now.saturating_duration_since(at) >= policy.pace)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_a_held_secret_is_read_again_as_a_table() {
        let policy = RereadPolicy {
            max_age: Duration::from_secs(300),
            pace: Duration::from_secs(2),
        };
        let now = Instant::now() + Duration::from_secs(3600);
        let ago = |ms: u64| now - Duration::from_millis(ms);
        use Reason::*;
        let cases = [
            // The maximum age: read at or after it, not before.
            (MaxAge, ago(0), None, false),
            (MaxAge, ago(299_999), None, false),
            (MaxAge, ago(300_000), None, true),
            (MaxAge, ago(3_000_000), Some(ago(0)), true),
            // A refusal: no read asked for yet, or the last one a pace ago.
            (Refusal, ago(0), None, true),
            (Refusal, ago(0), Some(ago(0)), false),
            (Refusal, ago(0), Some(ago(1_999)), false),
            (Refusal, ago(0), Some(ago(2_000)), true),
            (Refusal, ago(900_000), Some(ago(30_000)), true),
            // A clock that went backwards is no age at all.
            (MaxAge, now + Duration::from_secs(5), None, false),
            (Refusal, ago(0), Some(now + Duration::from_secs(5)), false),
        ];
        for (reason, last, refusal, due) in cases {
            assert_eq!(
                reread_due(policy, reason, last, refusal, now),
                due,
                "{reason:?} {:?} {:?}",
                now.saturating_duration_since(last),
                refusal.map(|r| now.saturating_duration_since(r))
            );
        }
    }
}
