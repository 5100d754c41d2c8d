//! One EMF line, written into one buffer (no intermediate JSON value):
//! `{"_aws":{"Timestamp":…,"CloudWatchMetrics":[directive…]}, "Function":…,
//! dimensions…, values…, "requestId":…, "xrayTraceId":…}` and a newline. The
//! layout is ours; every string and number in it is serde_json's.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::{Emitter, Group, Invocation};

/// Room for the longest line (a Rollee call: three directives, seven values).
const CAPACITY: usize = 1024;

pub(super) fn build(
    emitter: &Emitter,
    groups: &[&Group],
    dimensions: &[(&str, &str)],
    values: &[(&str, f64)],
    invocation: Option<&Invocation>,
) -> String {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut out = Vec::with_capacity(CAPACITY);
    out.extend_from_slice(b"{\"_aws\":{\"Timestamp\":");
    json(&mut out, &timestamp);
    out.extend_from_slice(b",\"CloudWatchMetrics\":[");
    for (i, group) in groups.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"Namespace\":");
        json(&mut out, &*emitter.namespace);
        out.extend_from_slice(b",\"Dimensions\":");
        json(&mut out, group.dimension_sets);
        out.extend_from_slice(b",\"Metrics\":[");
        for (j, metric) in group.metrics.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"Name\":");
            json(&mut out, metric.name);
            out.extend_from_slice(b",\"Unit\":");
            json(&mut out, metric.unit.name());
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"]},");
    member(&mut out, super::catalogue::FUNCTION);
    json(&mut out, &*emitter.function);
    for (name, value) in dimensions {
        out.push(b',');
        member(&mut out, name);
        json(&mut out, value);
    }
    for (name, value) in values {
        out.push(b',');
        member(&mut out, name);
        number(&mut out, *value);
    }
    if let Some(invocation) = invocation {
        out.push(b',');
        member(&mut out, "requestId");
        json(&mut out, &invocation.request_id);
        if let Some(trace) = &invocation.xray_trace_id {
            out.push(b',');
            member(&mut out, "xrayTraceId");
            json(&mut out, trace);
        }
    }
    out.extend_from_slice(b"}\n");
    // Never the lossy branch: every byte above is ASCII or serde_json's
    // writing of a `str`, which is UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `value` as JSON, by serde_json. Writing a string, a number or a list of
/// them into a `Vec` cannot fail.
fn json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(out, value);
}

fn member(out: &mut Vec<u8>, name: &str) {
    json(out, name);
    out.push(b':');
}

/// A JSON number: whole numbers without a fraction, others to the
/// microsecond (three decimals of a millisecond); never NaN or infinity,
/// which JSON cannot carry (0 instead: no measurement here produces them).
fn number(out: &mut Vec<u8>, value: f64) {
    let value = if !value.is_finite() {
        0.0
    } else if value.abs() < 1e15 {
        (value * 1000.0).round() / 1000.0
    } else {
        value
    };
    if value.fract() == 0.0 && value.abs() < 1e15 {
        json(out, &(value as i64));
    } else {
        json(out, &value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::catalogue::{PROBLEMS, ROLLEE_CALLS};

    fn parsed(line: &str) -> serde_json::Value {
        assert!(line.ends_with("}\n"), "{line}");
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn a_line_is_one_json_object_with_its_directives_members_and_ids() {
        let emitter = Emitter::stdout("Ns/\"quoted\"", "create-user");
        let invocation = Invocation {
            request_id: "req\n1".into(),
            xray_trace_id: Some("Root=1-abc".into()),
        };
        let line = build(
            &emitter,
            &[&PROBLEMS, &ROLLEE_CALLS],
            &[("Problem", "upstream-credentials"), ("Outcome", "ok")],
            &[("Problems", 1.0), ("RolleeCalls", 1.0)],
            Some(&invocation),
        );
        assert_eq!(line.matches('\n').count(), 1, "one line: {line}");
        let v = parsed(&line);
        let aws = &v["_aws"];
        assert!(aws["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 2);
        assert_eq!(directives[0]["Namespace"], "Ns/\"quoted\"");
        assert_eq!(
            directives[0]["Dimensions"],
            serde_json::json!([["Problem"]])
        );
        assert_eq!(
            directives[1]["Dimensions"],
            serde_json::json!([["Outcome"], []])
        );
        assert_eq!(
            directives[1]["Metrics"],
            serde_json::json!([{"Name": "RolleeCalls", "Unit": "Count"}])
        );
        assert_eq!(v["Function"], "create-user");
        assert_eq!(v["Problem"], "upstream-credentials");
        assert_eq!(v["Problems"], 1);
        assert_eq!(v["requestId"], "req\n1");
        assert_eq!(v["xrayTraceId"], "Root=1-abc");
    }

    #[test]
    fn outside_an_invocation_there_are_no_ids() {
        let emitter = Emitter::stdout("Ns", "rotate-token");
        let v = parsed(&build(&emitter, &[&PROBLEMS], &[], &[], None));
        assert!(v.get("requestId").is_none() && v.get("xrayTraceId").is_none());
    }

    #[test]
    fn numbers_are_json_numbers() {
        let render = |value: f64| {
            let mut out = Vec::new();
            number(&mut out, value);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(render(1.0), "1");
        assert_eq!(render(-3.0), "-3");
        assert_eq!(render(12.345_678), "12.346");
        assert_eq!(render(0.000_4), "0");
        assert_eq!(render(f64::NAN), "0");
        assert_eq!(render(f64::INFINITY), "0");
        for value in [1.0, 0.25, 123_456.789, 1e20] {
            let parsed: f64 = serde_json::from_str(&render(value)).unwrap();
            assert!((parsed - value).abs() <= value * 1e-6, "{value}");
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = Vec::new();
        json(&mut out, "a\"b\\c\u{1}d\té");
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out, r#""a\"b\\c\u0001d\té""#);
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, "a\"b\\c\u{1}d\té");
    }
}
