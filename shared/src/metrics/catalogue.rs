//! Every metric the functions emit: its name, unit and dimension sets, in
//! groups that share dimension sets (one directive of an EMF line each), and
//! the values each bounded dimension takes.
//!
//! Every dimension set is a metric of its own in CloudWatch (and a line on
//! the bill): the empty set `[]` is the whole stack's total, what the alarms
//! watch; a set with a dimension breaks it down for the dashboard.

/// A CloudWatch unit, as EMF names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    None,
}

impl Unit {
    pub const fn name(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::None => "None",
        }
    }
}

#[derive(Debug)]
pub struct Metric {
    pub name: &'static str,
    pub unit: Unit,
}

/// Metrics published under the same dimension sets.
#[derive(Debug)]
pub struct Group {
    pub dimension_sets: &'static [&'static [&'static str]],
    pub metrics: &'static [Metric],
}

impl Group {
    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }
}

const fn count(name: &'static str) -> Metric {
    Metric {
        name,
        unit: Unit::Count,
    }
}

const fn ms(name: &'static str) -> Metric {
    Metric {
        name,
        unit: Unit::Milliseconds,
    }
}

// ---------------------------------------------------------------- dimensions

/// The function's binary: `create-user`, `new-session`, `refresh-url`,
/// `rotate-token` (and `webhook`).
pub const FUNCTION: &str = "Function";
/// `2xx`, `4xx` or `5xx`: [`STATUS_CLASSES`].
pub const STATUS_CLASS: &str = "StatusClass";
/// The last part of a problem's `type` (`upstream-credentials`…), as the API answers it.
pub const PROBLEM: &str = "Problem";
/// A Rollee endpoint, as `METHOD /path/{id}` (the template, never a real id).
pub const ENDPOINT: &str = "Endpoint";
/// How something ended; each metric has its own list.
pub const OUTCOME: &str = "Outcome";
/// An ownership table operation: [`TABLE_OPERATIONS`].
pub const OPERATION: &str = "Operation";
/// A screen of Rollee Connect: [`crate::webhook::kind::SCREENS`].
pub const SCREEN: &str = "Screen";
/// How a step through Rollee Connect went: [`crate::webhook::kind::CONNECTION_STATUSES`].
pub const CONNECTION_STATUS: &str = "ConnectionStatus";
/// A rotation step: [`ROTATION_STEPS`].
pub const STEP: &str = "Step";

pub const STATUS_CLASSES: [&str; 3] = ["2xx", "4xx", "5xx"];

/// How a Rollee call ended (the whole call, after its retry and re-read).
pub const ROLLEE_OUTCOMES: [&str; 10] = [
    "ok",
    "not-found",
    "rate-limited",
    "unauthorized",
    "client-error",
    "server-error",
    "timeout",
    "unreachable",
    "malformed",
    "secret-unreadable",
];

/// The DynamoDB operations the ownership table uses.
pub const TABLE_OPERATIONS: [&str; 7] = [
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
    "Query",
];

/// Secrets Manager's four steps, and what an unknown step is counted as.
pub const ROTATION_STEPS: [&str; 5] = [
    "createSecret",
    "setSecret",
    "testSecret",
    "finishSecret",
    "unknown",
];
pub const ROTATION_OUTCOMES: [&str; 2] = ["done", "failed"];

/// A webhook delivery: `accepted` (new, published), `duplicate` (seen
/// before, acknowledged), `rejected` (refused: bad signature or body),
/// `failed` (ours: could not be handled, Rollee should retry).
pub const WEBHOOK_OUTCOMES: [&str; 4] = {
    let all = super::record::WebhookOutcome::ALL;
    [
        all[0].as_str(),
        all[1].as_str(),
        all[2].as_str(),
        all[3].as_str(),
    ]
};

// ---------------------------------------------------------------- groups

/// Per answered request: `Requests` (1) by function and status class.
pub static REQUESTS: Group = Group {
    dimension_sets: &[&[FUNCTION, STATUS_CLASS]],
    metrics: &[count("Requests")],
};
/// Per answered request: `Latency`, from the event to the answer, by function.
pub static REQUEST_LATENCY: Group = Group {
    dimension_sets: &[&[FUNCTION]],
    metrics: &[ms("Latency")],
};
/// Per problem answered: `Problems` (1) by problem type, all functions
/// together. `Problem=upstream-credentials` is Rollee refusing the JWT (or
/// the secret unreadable): everything is down.
pub static PROBLEMS: Group = Group {
    dimension_sets: &[&[PROBLEM]],
    metrics: &[count("Problems")],
};

/// Per Rollee call: `RolleeCalls` (1), by outcome and in all.
pub static ROLLEE_CALLS: Group = Group {
    dimension_sets: &[&[OUTCOME], &[]],
    metrics: &[count("RolleeCalls")],
};
/// Per Rollee call, in all: attempts made, and of them the ones answered
/// 401, 429 or 5xx; the JWT re-reads a 401 led to.
pub static ROLLEE_ATTEMPTS: Group = Group {
    dimension_sets: &[&[]],
    metrics: &[
        count("RolleeAttempts"),
        count("Rollee401s"),
        count("Rollee429s"),
        count("Rollee5xxs"),
        count("SecretRereads"),
    ],
};
/// Per Rollee call: its whole duration (retry and re-read included), by
/// endpoint and in all.
pub static ROLLEE_LATENCY: Group = Group {
    dimension_sets: &[&[ENDPOINT], &[]],
    metrics: &[ms("RolleeLatency")],
};

/// Per ownership table call, in all: the call (1), and whether it failed (0
/// or 1; throttled or not). A refused condition is an answer, not a failure.
pub static TABLE_CALLS: Group = Group {
    dimension_sets: &[&[]],
    metrics: &[
        count("TableCalls"),
        count("TableErrors"),
        count("TableThrottles"),
    ],
};
/// Per ownership table call: its duration (the SDK's retries included), by
/// operation and in all.
pub static TABLE_LATENCY: Group = Group {
    dimension_sets: &[&[OPERATION], &[]],
    metrics: &[ms("TableLatency")],
};

/// Per request refused for the caller's quota of sessions (before any Rollee call).
pub static QUOTA: Group = Group {
    dimension_sets: &[&[]],
    metrics: &[count("QuotaRejections")],
};

/// The current JWT's whole days left, from its `exp`: at each cold start and
/// whenever a function or the rotation moves to a new JWT.
pub static JWT: Group = Group {
    dimension_sets: &[&[]],
    metrics: &[Metric {
        name: "JwtDaysLeft",
        unit: Unit::None,
    }],
};

/// Per rotation step: `RotationSteps` (1), by step and outcome, and by outcome.
pub static ROTATION: Group = Group {
    dimension_sets: &[&[STEP, OUTCOME], &[OUTCOME]],
    metrics: &[count("RotationSteps")],
};

/// Per webhook delivery: `WebhookDeliveries` (1) by outcome.
pub static WEBHOOK: Group = Group {
    dimension_sets: &[&[OUTCOME]],
    metrics: &[count("WebhookDeliveries")],
};

/// Per Connect-page event Rollee delivers: `ConnectEvents` (1) by screen
/// and connection status, and by screen: the funnel of where users stop.
/// No user, account or session is a dimension.
pub static CONNECT_EVENTS: Group = Group {
    dimension_sets: &[&[SCREEN, CONNECTION_STATUS], &[SCREEN]],
    metrics: &[count("ConnectEvents")],
};

/// Everything, for the checks of the template's alarms and dashboard.
pub static ALL: [&Group; 13] = [
    &REQUESTS,
    &REQUEST_LATENCY,
    &PROBLEMS,
    &ROLLEE_CALLS,
    &ROLLEE_ATTEMPTS,
    &ROLLEE_LATENCY,
    &TABLE_CALLS,
    &TABLE_LATENCY,
    &QUOTA,
    &JWT,
    &ROTATION,
    &WEBHOOK,
    &CONNECT_EVENTS,
];

/// The group that declares metric `name`.
pub fn group_of(name: &str) -> Option<&'static Group> {
    ALL.iter().copied().find(|g| g.metric(name).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_name_is_declared_once_and_sets_are_small() {
        let mut names = std::collections::BTreeSet::new();
        for group in &ALL {
            assert!(!group.dimension_sets.is_empty() && group.metrics.len() <= 100);
            for set in group.dimension_sets {
                assert!(set.len() <= 30);
            }
            for metric in group.metrics {
                assert!(names.insert(metric.name), "{} twice", metric.name);
            }
        }
        assert_eq!(names.len(), 19);
        assert!(std::ptr::eq(
            group_of("Rollee429s").unwrap(),
            &ROLLEE_ATTEMPTS
        ));
        assert!(group_of("Nope").is_none());
    }
}
