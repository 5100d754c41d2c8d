//! What a warm request costs in AWS, per million: the request units the
//! table stand-in counted on the function's real calls ([`crate::table`]),
//! the events the bus stand-in counted, the bytes of lines the function
//! wrote, priced at AWS's published on-demand prices.
//!
//! Prices: us-east-1, the first tier of each (below), as looked up on
//! [`PRICES_AS_OF`] (BENCHMARKS.md says where, and what was checked on AWS's
//! own pages). Lambda's duration is the only figure not counted: the
//! function's own overhead (measured here, [`crate::paired`]) plus the
//! upstream latencies stated below, which the benchmark's stand-ins do not
//! have.

use std::time::Duration;

use serde_json::{Value, json};

use crate::measure::{FunctionResult, percentile};
use crate::paired::Calls;
use crate::settings::MEMORY_MB;
use crate::table::Units;
use crate::webhook::WebhookResult;
use crate::workload::Kind;

/// When the prices below were looked up.
pub const PRICES_AS_OF: &str = "2026-12-07";
/// API Gateway HTTP API, per million requests (the first 300 million a
/// month; a request is metered per 512 KB, and every request here is smaller).
pub const HTTP_API_PER_MILLION: f64 = 1.00;
/// Lambda, per million requests (both architectures).
pub const LAMBDA_PER_MILLION: f64 = 0.20;
/// Lambda on arm64, per GB-second (the first 7.5 billion a month), billed
/// per millisecond started.
pub const LAMBDA_ARM64_PER_GB_SECOND: f64 = 0.000_013_333_4;
/// DynamoDB on demand, per million write request units (since the price cut
/// of November 2024; $1.25 before).
pub const DYNAMODB_PER_MILLION_WRITE_UNITS: f64 = 0.625;
/// DynamoDB on demand, per million read request units (idem; $0.25 before).
pub const DYNAMODB_PER_MILLION_READ_UNITS: f64 = 0.125;
/// EventBridge, per million custom events published (an event per 64 KB).
pub const EVENTBRIDGE_PER_MILLION_EVENTS: f64 = 1.00;
/// CloudWatch Logs, per GB ingested (standard class; Lambda's logs are tiered
/// from May 2025, and this is their first tier).
pub const LOGS_PER_GB: f64 = 0.50;

/// STATED, not measured: how long Rollee takes to answer a call (it
/// publishes no latency; the benchmark's concurrency figure assumes the same).
pub const ROLLEE_LATENCY: Duration = Duration::from_millis(100);
/// STATED, not measured: one DynamoDB or EventBridge call from Lambda in
/// the same region ("single-digit milliseconds").
pub const AWS_CALL_LATENCY: Duration = Duration::from_millis(5);

/// One route's warm request, as the benchmark ran it.
pub struct Request {
    pub route: &'static str,
    /// What the request did, in words.
    pub what: &'static str,
    pub read_units: f64,
    pub write_units: f64,
    pub events: u64,
    pub rollee_calls: u32,
    /// Table and EventBridge calls.
    pub aws_calls: u32,
    /// The function's own time (its paired overhead, p50).
    pub overhead: Duration,
    /// Bytes of metric and log lines the function wrote for it.
    pub log_bytes: usize,
}

/// The middle value (the upper one of an even count).
fn median<T: PartialOrd + Copy>(values: impl IntoIterator<Item = T>) -> Option<T> {
    let mut values: Vec<T> = values.into_iter().collect();
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values.get(values.len() / 2).copied()
}

/// One request per route, from the warm invocations' medians; none for a
/// route whose units, calls or overhead were not measured (`--table moto`,
/// `--metrics off`).
pub fn requests(results: &[FunctionResult], webhook: Option<&WebhookResult>) -> Vec<Request> {
    let mut out = Vec::new();
    let of = |route,
              what,
              units: &[Units],
              calls: &[Calls],
              overhead: &[Duration],
              events: u64,
              publishes: u32| {
        Some(Request {
            route,
            what,
            read_units: median(units.iter().map(|u| u.read))?,
            write_units: median(units.iter().map(|u| u.write))?,
            events,
            rollee_calls: median(calls.iter().map(|c| c.rollee_calls))?,
            aws_calls: median(calls.iter().map(|c| c.table_calls))? + publishes,
            overhead: (!overhead.is_empty()).then(|| percentile(overhead, 0.5))?,
            log_bytes: median(calls.iter().map(|c| c.bytes))?,
        })
    };
    for r in results {
        let (route, what) = match r.kind {
            Kind::Hello => continue,
            Kind::CreateUser => (
                "POST /users",
                "a new caller's first: creates its Rollee user and first session",
            ),
            Kind::NewSession => (
                "POST /users/{user_id}/sessions",
                "a session for the caller's user",
            ),
            Kind::RefreshUrl => ("POST /sessions/refresh", "refreshes a session minted here"),
        };
        let s = &r.serial;
        out.extend(of(route, what, &s.units, &s.calls, &s.overhead, 0, 0));
    }
    if let Some(w) = webhook {
        let events = median(w.events.iter().copied()).unwrap_or(0);
        let publishes = median(w.publishes.iter().copied()).unwrap_or(0);
        out.extend(of(
            "POST /webhooks/rollee",
            "a new delivery, published on the bus",
            &w.units,
            &w.calls,
            &w.overhead,
            events,
            publishes,
        ));
    }
    out
}

/// Dollars per million requests, by service.
pub struct Bill {
    pub billed_ms: u64,
    pub api: f64,
    pub lambda: f64,
    pub dynamodb: f64,
    pub eventbridge: f64,
    pub logs: f64,
}

impl Bill {
    pub fn total(&self) -> f64 {
        self.api + self.lambda + self.dynamodb + self.eventbridge + self.logs
    }
}

impl Request {
    /// Lambda's billed duration: the overhead and the stated upstream
    /// latencies, rounded up to the millisecond.
    pub fn billed(&self) -> Duration {
        self.overhead + ROLLEE_LATENCY * self.rollee_calls + AWS_CALL_LATENCY * self.aws_calls
    }

    pub fn bill(&self) -> Bill {
        let billed_ms = self.billed().as_micros().div_ceil(1000) as u64;
        let gb_seconds = f64::from(MEMORY_MB) / 1024.0 * billed_ms as f64 / 1000.0;
        let million = 1e6;
        Bill {
            billed_ms,
            api: HTTP_API_PER_MILLION,
            lambda: LAMBDA_PER_MILLION + gb_seconds * LAMBDA_ARM64_PER_GB_SECOND * million,
            dynamodb: self.read_units * DYNAMODB_PER_MILLION_READ_UNITS
                + self.write_units * DYNAMODB_PER_MILLION_WRITE_UNITS,
            eventbridge: self.events as f64 * EVENTBRIDGE_PER_MILLION_EVENTS,
            // A GB taken as 10^9 bytes: an upper bound if it is 2^30.
            logs: self.log_bytes as f64 / 1e9 * LOGS_PER_GB * million,
        }
    }
}

pub fn table(requests: &[Request]) -> String {
    let mut out = format!(
        "What a warm request costs, $ per million (us-east-1 on-demand prices of {PRICES_AS_OF}; \
         Lambda arm64 at {MEMORY_MB} MB billed for the measured overhead p50 + {} ms per Rollee call \
         + {} ms per AWS call, both stated):\n\
         | route | request | table read / write units | events | billed ms | API Gateway | Lambda | DynamoDB | EventBridge | logs (KB) | total |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
        ROLLEE_LATENCY.as_millis(),
        AWS_CALL_LATENCY.as_millis(),
    );
    for r in requests {
        let b = r.bill();
        out.push_str(&format!(
            "| {} | {} | {} / {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} ({:.1}) | **{:.2}** |\n",
            r.route,
            r.what,
            r.read_units,
            r.write_units,
            r.events,
            b.billed_ms,
            b.api,
            b.lambda,
            b.dynamodb,
            b.eventbridge,
            b.logs,
            r.log_bytes as f64 / 1000.0,
            b.total(),
        ));
    }
    out
}

pub fn json(requests: &[Request]) -> Value {
    let routes: Vec<Value> = requests
        .iter()
        .map(|r| {
            let b = r.bill();
            json!({
                "route": r.route,
                "request": r.what,
                "read_units": r.read_units,
                "write_units": r.write_units,
                "events": r.events,
                "rollee_calls": r.rollee_calls,
                "aws_calls": r.aws_calls,
                "log_bytes": r.log_bytes,
                "billed_ms": b.billed_ms,
                "per_million_usd": {
                    "api_gateway": b.api,
                    "lambda": b.lambda,
                    "dynamodb": b.dynamodb,
                    "eventbridge": b.eventbridge,
                    "logs": b.logs,
                    "total": b.total(),
                },
            })
        })
        .collect();
    json!({
        "prices_as_of": PRICES_AS_OF,
        "region": "us-east-1",
        "memory_mb": MEMORY_MB,
        "stated_rollee_latency_ms": ROLLEE_LATENCY.as_millis() as u64,
        "stated_aws_call_latency_ms": AWS_CALL_LATENCY.as_millis() as u64,
        "routes": routes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bill_adds_up_each_services_price() {
        let r = Request {
            route: "POST /x",
            what: "x",
            read_units: 1.0,
            write_units: 9.0,
            events: 0,
            rollee_calls: 1,
            aws_calls: 4,
            overhead: Duration::from_micros(400),
            log_bytes: 2_000,
        };
        let b = r.bill();
        assert_eq!(b.billed_ms, 121);
        assert!((b.dynamodb - (0.125 + 9.0 * 0.625)).abs() < 1e-9);
        // 0.125 GB x 0.121 s x $0.0000133334 x 1e6 + $0.20
        assert!((b.lambda - (0.2 + 0.125 * 0.121 * 13.3334)).abs() < 1e-9);
        assert!((b.logs - 1.0).abs() < 1e-9);
        assert!((b.total() - (1.0 + b.lambda + b.dynamodb + 1.0)).abs() < 1e-9);
    }

    #[test]
    fn the_memory_priced_is_the_templates_default() {
        let template = std::fs::read_to_string(crate::settings::root().join("template.yaml"))
            .expect("template.yaml");
        let parameter = template
            .split("\n  MemorySize:\n")
            .nth(1)
            .expect("the MemorySize parameter");
        let default = parameter
            .lines()
            .find_map(|l| l.trim().strip_prefix("Default: "))
            .expect("its default");
        assert_eq!(default.trim(), MEMORY_MB.to_string());
    }
}
