//! One function per event, each emitting one line through the process's
//! emitter (nothing when metrics are off). The `Emitter` methods of the same
//! names do the work, so that tests can use an emitter of their own.

use std::time::Duration;

use super::catalogue::{
    CONNECT_EVENTS, CONNECTION_STATUS, ENDPOINT, JWT, OPERATION, OUTCOME, PROBLEM, PROBLEMS, QUOTA,
    REQUEST_LATENCY, REQUESTS, ROLLEE_ATTEMPTS, ROLLEE_CALLS, ROLLEE_LATENCY, ROTATION, SCREEN,
    STATUS_CLASS, STEP, TABLE_CALLS, TABLE_LATENCY, WEBHOOK,
};
use super::{Emitter, emitter};

/// How an ownership table call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableOutcome {
    /// An answer (a refused condition included).
    Ok,
    /// DynamoDB throttled it, past the SDK's retries.
    Throttled,
    /// Any other failure: unreachable, refused, timed out.
    Failed,
}

/// What one Rollee call (an operation, with its retry and re-read) came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolleeCall {
    /// The endpoint as `METHOD /path/{id}`.
    pub endpoint: &'static str,
    /// One of [`super::catalogue::ROLLEE_OUTCOMES`].
    pub outcome: &'static str,
    pub attempts: u32,
    pub unauthorized: u32,
    pub rate_limited: u32,
    pub server_errors: u32,
    pub rereads: u32,
    pub latency: Duration,
}

/// How a webhook delivery ended (see [`super::catalogue::WEBHOOK_OUTCOMES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    Accepted,
    Duplicate,
    Rejected,
    Failed,
}

impl WebhookOutcome {
    pub const ALL: [WebhookOutcome; 4] = [
        WebhookOutcome::Accepted,
        WebhookOutcome::Duplicate,
        WebhookOutcome::Rejected,
        WebhookOutcome::Failed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            WebhookOutcome::Accepted => "accepted",
            WebhookOutcome::Duplicate => "duplicate",
            WebhookOutcome::Rejected => "rejected",
            WebhookOutcome::Failed => "failed",
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn flag(on: bool) -> f64 {
    if on { 1.0 } else { 0.0 }
}

impl Emitter {
    /// An answered request: its status, its problem type when it is a
    /// problem, the time from the event to the answer.
    pub fn request(&self, status: u16, problem: Option<&str>, latency: Duration) {
        let class = match status {
            200..=399 => "2xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let values = [("Requests", 1.0), ("Latency", ms(latency))];
        match problem {
            Some(problem) => self.emit(
                &[&REQUESTS, &REQUEST_LATENCY, &PROBLEMS],
                &[(STATUS_CLASS, class), (PROBLEM, problem)],
                &[values[0], values[1], ("Problems", 1.0)],
            ),
            None => self.emit(
                &[&REQUESTS, &REQUEST_LATENCY],
                &[(STATUS_CLASS, class)],
                &values,
            ),
        }
    }

    pub fn rollee_call(&self, call: &RolleeCall) {
        self.emit(
            &[&ROLLEE_CALLS, &ROLLEE_ATTEMPTS, &ROLLEE_LATENCY],
            &[(OUTCOME, call.outcome), (ENDPOINT, call.endpoint)],
            &[
                ("RolleeCalls", 1.0),
                ("RolleeAttempts", f64::from(call.attempts)),
                ("Rollee401s", f64::from(call.unauthorized)),
                ("Rollee429s", f64::from(call.rate_limited)),
                ("Rollee5xxs", f64::from(call.server_errors)),
                ("SecretRereads", f64::from(call.rereads)),
                ("RolleeLatency", ms(call.latency)),
            ],
        );
    }

    /// `operation`: one of [`super::catalogue::TABLE_OPERATIONS`].
    pub fn table_call(&self, operation: &'static str, outcome: TableOutcome, latency: Duration) {
        self.emit(
            &[&TABLE_CALLS, &TABLE_LATENCY],
            &[(OPERATION, operation)],
            &[
                ("TableCalls", 1.0),
                ("TableErrors", flag(outcome != TableOutcome::Ok)),
                ("TableThrottles", flag(outcome == TableOutcome::Throttled)),
                ("TableLatency", ms(latency)),
            ],
        );
    }

    pub fn quota_rejected(&self) {
        self.emit(&[&QUOTA], &[], &[("QuotaRejections", 1.0)]);
    }

    pub fn jwt_days_left(&self, days: i64) {
        self.emit(&[&JWT], &[], &[("JwtDaysLeft", days as f64)]);
    }

    /// `step`: one of [`super::catalogue::ROTATION_STEPS`].
    pub fn rotation_step(&self, step: &'static str, done: bool) {
        let outcome = if done { "done" } else { "failed" };
        self.emit(
            &[&ROTATION],
            &[(STEP, step), (OUTCOME, outcome)],
            &[("RotationSteps", 1.0)],
        );
    }

    /// `screen` and `status`: one of the funnel's known words
    /// ([`crate::webhook::kind::funnel_step`]).
    pub fn connect_event(&self, screen: &'static str, status: &'static str) {
        self.emit(
            &[&CONNECT_EVENTS],
            &[(SCREEN, screen), (CONNECTION_STATUS, status)],
            &[("ConnectEvents", 1.0)],
        );
    }

    pub fn webhook_delivery(&self, outcome: WebhookOutcome) {
        self.emit(
            &[&WEBHOOK],
            &[(OUTCOME, outcome.as_str())],
            &[("WebhookDeliveries", 1.0)],
        );
    }
}

/// See [`Emitter::request`].
pub fn request(status: u16, problem: Option<&str>, latency: Duration) {
    emitter().request(status, problem, latency);
}

/// See [`Emitter::rollee_call`].
pub fn rollee_call(call: &RolleeCall) {
    emitter().rollee_call(call);
}

/// See [`Emitter::table_call`].
pub fn table_call(operation: &'static str, outcome: TableOutcome, latency: Duration) {
    emitter().table_call(operation, outcome, latency);
}

/// See [`Emitter::quota_rejected`].
pub fn quota_rejected() {
    emitter().quota_rejected();
}

/// See [`Emitter::jwt_days_left`].
pub fn jwt_days_left(days: i64) {
    emitter().jwt_days_left(days);
}

/// See [`Emitter::rotation_step`].
pub fn rotation_step(step: &'static str, done: bool) {
    emitter().rotation_step(step, done);
}

/// A webhook delivery, as the webhook function handled it: one
/// `WebhookDeliveries` line by outcome (the template's webhook alarm watches
/// `rejected` and `failed`). Call it once per delivery, in the invocation
/// (inside [`super::within`], as `app::respond` does) so that it carries the
/// request id.
pub fn webhook_delivery(outcome: WebhookOutcome) {
    emitter().webhook_delivery(outcome);
}

/// See [`Emitter::connect_event`].
pub fn connect_event(screen: &'static str, status: &'static str) {
    emitter().connect_event(screen, status);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::catalogue::{self, Group};
    use crate::metrics::{Invocation, testing::captured, within};
    use serde_json::Value;

    /// The EMF rules every line must keep, and the catalogue's declarations.
    fn check(line: &Value) {
        let directives = line["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert!(line["_aws"]["Timestamp"].is_u64());
        for d in directives {
            assert_eq!(d["Namespace"], "Test/Namespace");
            let metrics = d["Metrics"].as_array().unwrap();
            let name = metrics[0]["Name"].as_str().unwrap();
            let group: &Group = catalogue::group_of(name).unwrap();
            assert_eq!(metrics.len(), group.metrics.len(), "{line}");
            for m in metrics {
                let declared = group.metric(m["Name"].as_str().unwrap()).unwrap();
                assert_eq!(m["Unit"], declared.unit.name());
                assert!(line[declared.name].is_number(), "{line}");
            }
            let sets: Vec<Vec<&str>> = d["Dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    s.as_array()
                        .unwrap()
                        .iter()
                        .map(|n| n.as_str().unwrap())
                        .collect()
                })
                .collect();
            assert_eq!(sets, group.dimension_sets, "{line}");
            for name in sets.iter().flatten() {
                assert!(!line[*name].as_str().unwrap().is_empty(), "{line}");
            }
        }
    }

    #[tokio::test]
    async fn every_event_makes_one_valid_line_with_its_ids() {
        let (emitter, lines) = captured();
        let invocation = Invocation {
            request_id: "8c5e1f1e-0000-4000-8000-000000000001".into(),
            xray_trace_id: Some("Root=1-5f84c7a1-abc".into()),
        };
        within(invocation, async {
            emitter.request(201, None, Duration::from_micros(1500));
            emitter.request(503, Some("upstream-credentials"), Duration::from_millis(40));
            emitter.rollee_call(&RolleeCall {
                endpoint: "POST /users",
                outcome: "unauthorized",
                attempts: 2,
                unauthorized: 2,
                rate_limited: 0,
                server_errors: 0,
                rereads: 1,
                latency: Duration::from_millis(30),
            });
            emitter.table_call(
                "UpdateItem",
                TableOutcome::Throttled,
                Duration::from_millis(3),
            );
            emitter.quota_rejected();
            emitter.webhook_delivery(WebhookOutcome::Duplicate);
        })
        .await;
        emitter.jwt_days_left(12);
        emitter.rotation_step("testSecret", false);

        let lines = lines.lock().unwrap().clone();
        assert_eq!(lines.len(), 8);
        for line in &lines {
            check(line);
            assert_eq!(line["Function"], "create-user");
        }
        for line in &lines[..6] {
            assert_eq!(line["requestId"], "8c5e1f1e-0000-4000-8000-000000000001");
            assert_eq!(line["xrayTraceId"], "Root=1-5f84c7a1-abc");
        }
        assert!(lines[6].get("requestId").is_none(), "outside an invocation");

        let (ok, problem) = (&lines[0], &lines[1]);
        assert_eq!(
            (&ok["StatusClass"], &ok["Latency"]),
            (&"2xx".into(), &1.5.into())
        );
        assert!(ok.get("Problem").is_none() && ok.get("Problems").is_none());
        assert_eq!(problem["StatusClass"], "5xx");
        assert_eq!(problem["Problem"], "upstream-credentials");
        assert_eq!(problem["Problems"], 1);
        let call = &lines[2];
        assert_eq!(call["Outcome"], "unauthorized");
        assert_eq!(call["Endpoint"], "POST /users");
        assert_eq!(
            (&call["RolleeAttempts"], &call["Rollee401s"]),
            (&2.into(), &2.into())
        );
        assert_eq!(call["SecretRereads"], 1);
        let table = &lines[3];
        assert_eq!(table["Operation"], "UpdateItem");
        assert_eq!(
            (&table["TableErrors"], &table["TableThrottles"]),
            (&1.into(), &1.into())
        );
        assert_eq!(lines[4]["QuotaRejections"], 1);
        assert_eq!(lines[5]["Outcome"], "duplicate");
        assert_eq!(lines[6]["JwtDaysLeft"], 12);
        assert_eq!(
            (&lines[7]["Step"], &lines[7]["Outcome"]),
            (&"testSecret".into(), &"failed".into())
        );
    }

    #[test]
    fn status_classes_and_table_outcomes() {
        let (emitter, lines) = captured();
        for status in [200, 302, 400, 429, 500, 504] {
            emitter.request(status, None, Duration::ZERO);
        }
        emitter.table_call("GetItem", TableOutcome::Ok, Duration::ZERO);
        emitter.table_call("PutItem", TableOutcome::Failed, Duration::ZERO);
        let lines = lines.lock().unwrap();
        let classes: Vec<&str> = lines[..6]
            .iter()
            .map(|l| l["StatusClass"].as_str().unwrap())
            .collect();
        assert_eq!(classes, ["2xx", "2xx", "4xx", "4xx", "5xx", "5xx"]);
        assert_eq!(
            (&lines[6]["TableErrors"], &lines[6]["TableThrottles"]),
            (&0.into(), &0.into())
        );
        assert_eq!(
            (&lines[7]["TableErrors"], &lines[7]["TableThrottles"]),
            (&1.into(), &0.into())
        );
    }

    #[test]
    fn without_an_emitter_nothing_happens() {
        // No emitter is installed in this crate's tests: the process's
        // writes nothing, and these are no-ops, not panics.
        assert_eq!(crate::metrics::emitter().namespace(), "");
        request(200, None, Duration::ZERO);
        quota_rejected();
        webhook_delivery(WebhookOutcome::Failed);
    }
}
