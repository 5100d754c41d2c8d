//! What each invocation spent in its own calls, paired with its own time:
//! the overhead as a measurement, not a difference of two distributions'
//! percentiles.
//!
//! The function times each of its Rollee and table calls and writes the
//! durations on its metric lines (`RolleeLatency`, `TableLatency`, with the
//! invocation's `requestId`), as it does in AWS. The benchmark times the
//! whole invocation from outside (event queued → answer received). Both
//! clocks are the machine's monotonic clock, and the calls happen one after
//! the other inside the invocation: their sum can only be less than the
//! invocation's time, so each difference is non-negative by construction.
//! One that is not (rounding aside: the lines carry microseconds) means the
//! pairing is wrong, and voids the run.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rollee_harness::emf;
use serde_json::Value;

use crate::measure::Failures;

/// One invocation's calls, from its metric lines; and what it wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calls {
    /// Σ `RolleeLatency`: each Rollee call, retries and re-reads included.
    pub rollee: Duration,
    pub rollee_calls: u32,
    /// Σ `TableLatency`: each ownership table call, the SDK's retries included.
    pub table: Duration,
    pub table_calls: u32,
    /// Bytes of the lines (metric and log) that carry its request id.
    pub bytes: usize,
}

impl Calls {
    pub fn upstream(&self) -> Duration {
        self.rollee + self.table
    }
}

fn duration_ms(ms: f64) -> Duration {
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

/// The request id a line carries: a metric line's `requestId`, a log line's
/// `requestId` anywhere in its JSON (the runtime's span).
fn request_id(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) => map
            .get("requestId")
            .and_then(Value::as_str)
            .or_else(|| map.values().find_map(request_id)),
        Value::Array(items) => items.iter().find_map(request_id),
        _ => None,
    }
}

/// The function's output split by invocation, in the order the invocations
/// ran (the order their request ids first appear: they ran one at a time).
/// Every metric line is held to the EMF rules with `namespace`.
pub fn by_invocation(output: &str, namespace: &str) -> Result<Vec<Calls>, String> {
    let mut order: Vec<String> = Vec::new();
    let mut calls: HashMap<String, Calls> = HashMap::new();
    for line in output.lines() {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let Some(id) = request_id(&value).map(str::to_owned) else {
            continue;
        };
        let entry = calls.entry(id.clone()).or_insert_with(|| {
            order.push(id);
            Calls::default()
        });
        entry.bytes += line.len() + 1;
        if !emf::is_metric_line(line) {
            continue;
        }
        let doc = emf::check(line, namespace).map_err(|e| format!("{e}: {line}"))?;
        if let Some(ms) = doc.value("RolleeLatency") {
            entry.rollee += duration_ms(ms);
            entry.rollee_calls += 1;
        }
        if let Some(ms) = doc.value("TableLatency") {
            entry.table += duration_ms(ms);
            entry.table_calls += 1;
        }
    }
    Ok(order
        .into_iter()
        .map(|id| calls.remove(&id).unwrap_or_default())
        .collect())
}

/// Each invocation's time less its calls' (`calls[i]` with `windows[i]`);
/// `extra[i]`: upstream time the function does not report, measured inside
/// the same window. A negative difference is a failure of the run.
pub fn overheads(
    what: &str,
    windows: &[(Instant, Instant)],
    calls: &[Calls],
    extra: &[Duration],
    failures: &Failures,
) -> Vec<Duration> {
    if calls.len() != windows.len() {
        failures.add(format!(
            "{what}: {} invocations but the metric lines of {}: cannot pair them",
            windows.len(),
            calls.len()
        ));
        return Vec::new();
    }
    let mut out = Vec::with_capacity(windows.len());
    for (i, ((started, ended), c)) in windows.iter().zip(calls).enumerate() {
        let window = ended.duration_since(*started);
        let upstream = c.upstream() + extra.get(i).copied().unwrap_or_default();
        match window.checked_sub(upstream) {
            Some(overhead) => out.push(overhead),
            None => failures.add(format!(
                "{what} invocation #{i}: its calls took {upstream:?}, more than the {window:?} \
                 it took in all: the two timings do not nest, no overhead can be reported"
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn now_ms() -> u128 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    }

    fn metric(id: &str, name: &str, ms: f64) -> String {
        format!(
            r#"{{"_aws":{{"Timestamp":{},"CloudWatchMetrics":[{{"Namespace":"N","Dimensions":[[]],"Metrics":[{{"Name":"{name}","Unit":"Milliseconds"}}]}}]}},"Function":"f","{name}":{ms},"requestId":"{id}"}}"#,
            now_ms()
        )
    }

    #[test]
    fn lines_are_grouped_by_request_id_in_order_and_summed() {
        let output = [
            r#"{"level":"INFO","fields":{"message":"cold start"}}"#.to_owned(),
            metric("b", "TableLatency", 0.5),
            r#"{"level":"INFO","span":{"requestId":"b"},"fields":{"message":"answered"}}"#
                .to_owned(),
            metric("b", "RolleeLatency", 2.25),
            metric("b", "TableLatency", 0.25),
            metric("a", "TableLatency", 1.0),
            "not json".to_owned(),
        ]
        .join("\n");
        let calls = by_invocation(&output, "N").unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].table, Duration::from_micros(750));
        assert_eq!((calls[0].table_calls, calls[0].rollee_calls), (2, 1));
        assert_eq!(calls[0].upstream(), Duration::from_micros(3000));
        assert_eq!(calls[1].table, Duration::from_millis(1));
        assert!(calls[0].bytes > calls[1].bytes);
        assert!(by_invocation(&metric("a", "TableLatency", 1.0), "Other").is_err());
    }

    #[test]
    fn a_difference_that_would_be_negative_voids_the_run() {
        let t = Instant::now();
        let windows = [(t, t + Duration::from_millis(3)); 2];
        let calls = [
            Calls {
                table: Duration::from_millis(1),
                ..Calls::default()
            },
            Calls {
                table: Duration::from_millis(2),
                ..Calls::default()
            },
        ];
        let failures = Failures::default();
        let extra = [Duration::ZERO, Duration::from_millis(2)];
        let out = overheads("f", &windows, &calls, &extra, &failures);
        assert_eq!(out, [Duration::from_millis(2)]);
        assert_eq!(failures.all().len(), 1);
        assert!(overheads("f", &windows, &calls[..1], &[], &failures).is_empty());
        assert_eq!(failures.all().len(), 2);
    }
}
