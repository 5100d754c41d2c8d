//! What to do after one attempt: the client's whole retry policy, as a pure
//! function (the HTTP mechanics live in the client).

use serde_json::Value;

use super::RolleeError;
use super::parse::RolleeClock;

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt {
    /// A 2xx with a JSON body, and Rollee's clock when it said.
    Json(Value, Option<RolleeClock>),
    /// 401: the JWT was rejected.
    Unauthorized,
    /// 429, with its `Retry-After` in seconds when given.
    RateLimited(Option<u64>),
    /// Any other non-2xx status.
    Status(u16),
    /// No answer within the attempt's time.
    Timeout,
    /// The connection could not be made: the request never left.
    NotSent(String),
    /// The connection failed after the request may have been sent.
    Lost(String),
    /// A 2xx whose body is not JSON, or is over the size limit.
    Malformed(&'static str),
}

/// How far the request has gone.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub retried: bool,
    pub reauthenticated: bool,
    /// The request's deadline still holds a pause and a connection.
    pub time_for_a_retry: bool,
}

#[derive(Debug)]
pub enum Decision {
    /// The attempt's JSON is the answer.
    Accept,
    /// Pause, then try once more.
    Retry,
    /// Re-read the JWT (it may have been rotated), then try again with it.
    Reauthenticate,
    Fail(RolleeError),
}

/// The policy:
/// - a 401 re-reads the JWT once; a second 401 is final;
/// - one retry at most, and only while the deadline leaves time for it;
/// - a connection that could not be made is retried for every endpoint (the
///   request never reached Rollee); a 5xx or a connection lost after sending
///   only where repeating is harmless (`idempotent`): a duplicate user is
///   worse than an honest error;
/// - a timeout is not retried: a slow Rollee is not made faster by asking again;
/// - 429, other statuses and unreadable answers are final.
pub fn decide(attempt: &Attempt, idempotent: bool, progress: Progress) -> Decision {
    let may_retry = !progress.retried && progress.time_for_a_retry;
    match attempt {
        Attempt::Json(..) => Decision::Accept,
        Attempt::Unauthorized if progress.reauthenticated => {
            Decision::Fail(RolleeError::Unauthorized)
        }
        Attempt::Unauthorized => Decision::Reauthenticate,
        Attempt::Status(status) if (500..600).contains(status) && idempotent && may_retry => {
            Decision::Retry
        }
        Attempt::NotSent(_) if may_retry => Decision::Retry,
        Attempt::Lost(_) if idempotent && may_retry => Decision::Retry,
        Attempt::Status(404) => Decision::Fail(RolleeError::NotFound),
        Attempt::Status(status) => Decision::Fail(RolleeError::Status { status: *status }),
        Attempt::RateLimited(retry_after) => Decision::Fail(RolleeError::RateLimited {
            retry_after: *retry_after,
        }),
        Attempt::Timeout => Decision::Fail(RolleeError::Timeout),
        Attempt::NotSent(reason) | Attempt::Lost(reason) => {
            Decision::Fail(RolleeError::Unreachable(reason.clone()))
        }
        Attempt::Malformed(why) => Decision::Fail(RolleeError::Malformed(why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decision as a short word, for the table.
    fn word(d: &Decision) -> &'static str {
        match d {
            Decision::Accept => "accept",
            Decision::Retry => "retry",
            Decision::Reauthenticate => "reauth",
            Decision::Fail(RolleeError::NotFound) => "404",
            Decision::Fail(RolleeError::RateLimited { .. }) => "429",
            Decision::Fail(RolleeError::Status { .. }) => "status",
            Decision::Fail(RolleeError::Malformed(_)) => "malformed",
            Decision::Fail(RolleeError::Unauthorized) => "401",
            Decision::Fail(RolleeError::Token(_)) => "token",
            Decision::Fail(RolleeError::Timeout) => "timeout",
            Decision::Fail(RolleeError::Unreachable(_)) => "unreachable",
        }
    }

    const FRESH: Progress = Progress {
        retried: false,
        reauthenticated: false,
        time_for_a_retry: true,
    };
    const RETRIED: Progress = Progress {
        retried: true,
        ..FRESH
    };
    const NO_TIME: Progress = Progress {
        time_for_a_retry: false,
        ..FRESH
    };
    const REAUTHENTICATED: Progress = Progress {
        reauthenticated: true,
        ..FRESH
    };

    #[test]
    fn the_retry_policy_as_a_table() {
        use Attempt::*;
        let lost = || Lost("reset".into());
        let not_sent = || NotSent("refused".into());
        // (attempt, idempotent, progress, decision)
        let table: Vec<(Attempt, bool, Progress, &str)> = vec![
            (Json(Value::Null, None), true, FRESH, "accept"),
            (Json(Value::Null, None), false, RETRIED, "accept"),
            (Unauthorized, true, FRESH, "reauth"),
            (Unauthorized, false, RETRIED, "reauth"),
            (Unauthorized, true, REAUTHENTICATED, "401"),
            (Status(500), true, FRESH, "retry"),
            (Status(503), true, FRESH, "retry"),
            (Status(500), false, FRESH, "status"),
            (Status(500), true, RETRIED, "status"),
            (Status(500), true, NO_TIME, "status"),
            (Status(404), true, FRESH, "404"),
            (Status(400), true, FRESH, "status"),
            (Status(418), false, FRESH, "status"),
            (RateLimited(Some(5)), true, FRESH, "429"),
            (RateLimited(None), false, FRESH, "429"),
            (Timeout, true, FRESH, "timeout"),
            (Timeout, false, FRESH, "timeout"),
            (not_sent(), true, FRESH, "retry"),
            (not_sent(), false, FRESH, "retry"),
            (not_sent(), false, RETRIED, "unreachable"),
            (not_sent(), true, NO_TIME, "unreachable"),
            (lost(), true, FRESH, "retry"),
            (lost(), false, FRESH, "unreachable"),
            (lost(), true, RETRIED, "unreachable"),
            (Malformed("x"), true, FRESH, "malformed"),
        ];
        for (attempt, idempotent, progress, expected) in table {
            let decision = decide(&attempt, idempotent, progress);
            assert_eq!(
                word(&decision),
                expected,
                "{attempt:?}, idempotent {idempotent}, {progress:?}"
            );
        }
    }

    #[test]
    fn a_rate_limit_keeps_its_retry_after() {
        let d = decide(&Attempt::RateLimited(Some(7)), true, FRESH);
        assert!(matches!(
            d,
            Decision::Fail(RolleeError::RateLimited {
                retry_after: Some(7)
            })
        ));
    }
}
