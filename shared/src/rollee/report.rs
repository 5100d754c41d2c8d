//! What is told of each Rollee call: a log line for each attempt that is not
//! a plain success, and one metric for the whole call.

use std::time::Duration;

use super::RolleeError;
use super::endpoint::Endpoint;
use super::retry::{Attempt, Decision};
use crate::metrics;

/// What one call's attempts came to, for its metric.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Tally {
    attempts: u32,
    unauthorized: u32,
    rate_limited: u32,
    server_errors: u32,
    /// JWT re-reads asked for after a 401 (concurrent requests share one
    /// read of the secret, at most one per 2 s per process).
    rereads: u32,
}

impl Tally {
    /// Counts one attempt and what it was answered.
    pub(super) fn attempt(&mut self, attempt: &Attempt) {
        self.attempts += 1;
        match attempt {
            Attempt::Unauthorized => self.unauthorized += 1,
            Attempt::RateLimited(_) => self.rate_limited += 1,
            Attempt::Status(status) if *status >= 500 => self.server_errors += 1,
            _ => {}
        }
    }

    pub(super) fn reread(&mut self) {
        self.rereads += 1;
    }

    /// The call's metric: the endpoint, how it ended, its attempts (and of
    /// them the 401s, 429s and 5xx), the re-reads, its whole duration.
    pub(super) fn emit(
        &self,
        endpoint: &Endpoint,
        result: &Result<impl Sized, RolleeError>,
        latency: Duration,
    ) {
        metrics::rollee_call(&metrics::RolleeCall {
            endpoint: endpoint.label,
            outcome: result.as_ref().map_or_else(RolleeError::outcome, |_| "ok"),
            attempts: self.attempts,
            unauthorized: self.unauthorized,
            rate_limited: self.rate_limited,
            server_errors: self.server_errors,
            rereads: self.rereads,
            latency,
        });
    }
}

/// One line per attempt: the endpoint's template, never the real path.
pub(super) fn log(endpoint: &Endpoint, attempt: &Attempt, decision: &Decision, elapsed_ms: u64) {
    let name = endpoint.path;
    let method = endpoint.method.as_str();
    let next = match decision {
        Decision::Accept => {
            tracing::debug!(method, endpoint = name, elapsed_ms, "Rollee answered");
            return;
        }
        Decision::Retry => "retrying once",
        Decision::Reauthenticate => "re-reading the JWT",
        Decision::Fail(_) => "giving up",
    };
    match attempt {
        Attempt::Status(status) if *status == 404 || *status < 500 => {
            tracing::info!(
                method,
                endpoint = name,
                elapsed_ms,
                status,
                "Rollee answered"
            );
        }
        Attempt::Status(status) => {
            tracing::warn!(
                method,
                endpoint = name,
                elapsed_ms,
                status,
                next,
                "Rollee failed"
            );
        }
        Attempt::Unauthorized => {
            tracing::warn!(
                method,
                endpoint = name,
                elapsed_ms,
                next,
                "Rollee answered 401"
            );
        }
        Attempt::RateLimited(retry_after) => {
            tracing::warn!(
                method,
                endpoint = name,
                elapsed_ms,
                ?retry_after,
                "Rollee answered 429"
            );
        }
        Attempt::Timeout => {
            tracing::warn!(
                method,
                endpoint = name,
                elapsed_ms,
                "Rollee did not answer in time"
            );
        }
        Attempt::NotSent(reason) | Attempt::Lost(reason) => {
            tracing::warn!(method, endpoint = name, elapsed_ms, error = %reason, next, "could not reach Rollee");
        }
        Attempt::Malformed(why) => {
            tracing::warn!(
                method,
                endpoint = name,
                elapsed_ms,
                why,
                "Rollee's answer is unusable"
            );
        }
        Attempt::Json(..) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::catalogue::ROLLEE_OUTCOMES;
    use crate::token::TokenError;

    #[test]
    fn every_error_has_one_of_the_catalogues_outcomes() {
        let errors = [
            RolleeError::NotFound,
            RolleeError::RateLimited { retry_after: None },
            RolleeError::Status { status: 503 },
            RolleeError::Status { status: 418 },
            RolleeError::Malformed("x"),
            RolleeError::Unauthorized,
            RolleeError::Token(TokenError::Malformed {
                secret_id: "s".into(),
            }),
            RolleeError::Timeout,
            RolleeError::Unreachable("refused".into()),
        ];
        let mut outcomes: Vec<&str> = errors.iter().map(RolleeError::outcome).collect();
        outcomes.insert(0, "ok");
        outcomes.sort_unstable();
        let mut all = ROLLEE_OUTCOMES.to_vec();
        all.sort_unstable();
        assert_eq!(outcomes, all);
    }

    #[test]
    fn a_tally_counts_attempts_by_answer() {
        let mut tally = Tally::default();
        for attempt in [
            Attempt::Unauthorized,
            Attempt::Status(502),
            Attempt::Status(404),
            Attempt::RateLimited(Some(3)),
            Attempt::Timeout,
        ] {
            tally.attempt(&attempt);
        }
        tally.reread();
        let expected = Tally {
            attempts: 5,
            unauthorized: 1,
            rate_limited: 1,
            server_errors: 1,
            rereads: 1,
        };
        assert_eq!(tally, expected);
    }
}
