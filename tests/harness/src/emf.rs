//! CloudWatch's embedded metric format, checked from the outside: the rules
//! of the specification, written independently of the emitter in
//! `rollee_shared::metrics`, for the tests to hold every metric line to.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// The units CloudWatch accepts (`StandardUnit`).
pub const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// A metric line as CloudWatch reads it.
#[derive(Debug, Clone)]
pub struct Document {
    pub root: Map<String, Value>,
    /// (dimension sets, metric names) of each directive.
    pub directives: Vec<(Vec<Vec<String>>, Vec<String>)>,
}

impl Document {
    /// Whether it publishes `metric` with exactly the dimensions `dimensions`
    /// (names and values, in any order).
    pub fn publishes(&self, metric: &str, dimensions: &[(&str, &str)]) -> bool {
        let mut wanted: Vec<&str> = dimensions.iter().map(|(n, _)| *n).collect();
        wanted.sort_unstable();
        self.directives.iter().any(|(sets, metrics)| {
            metrics.iter().any(|m| m == metric)
                && sets.iter().any(|set| {
                    let mut names: Vec<&str> = set.iter().map(String::as_str).collect();
                    names.sort_unstable();
                    names == wanted
                })
        }) && dimensions
            .iter()
            .all(|(name, value)| self.root.get(*name).and_then(Value::as_str) == Some(*value))
    }

    /// The value of `metric`, when it is a single number.
    pub fn value(&self, metric: &str) -> Option<f64> {
        self.root.get(metric).and_then(Value::as_f64)
    }
}

/// Whether `line` is meant as a metric line (a JSON object with `_aws`).
pub fn is_metric_line(line: &str) -> bool {
    line.trim_start().starts_with("{\"_aws\"")
        || serde_json::from_str::<Value>(line).is_ok_and(|v| v.get("_aws").is_some())
}

/// Checks one line against the specification, with `namespace` expected in
/// every directive. The first broken rule is the error.
pub fn check(line: &str, namespace: &str) -> Result<Document, String> {
    if line.len() > 256 * 1024 {
        return Err("over 256 KB".into());
    }
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(root) = value else {
        return Err("not a JSON object".into());
    };
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws object")?;
    let timestamp = aws
        .get("Timestamp")
        .and_then(Value::as_u64)
        .ok_or("_aws.Timestamp is not a whole number of milliseconds")?;
    check_timestamp(timestamp)?;
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("_aws.CloudWatchMetrics is not an array")?;
    if directives.is_empty() {
        return Err("no directive in _aws.CloudWatchMetrics".into());
    }
    let mut checked = Vec::new();
    for directive in directives {
        checked.push(check_directive(directive, &root, namespace)?);
    }
    Ok(Document {
        root,
        directives: checked,
    })
}

/// CloudWatch takes metrics up to two weeks old and two hours ahead.
fn check_timestamp(ms: u64) -> Result<(), String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis() as u64;
    let (before, after) = (
        Duration::from_secs(14 * 86_400).as_millis() as u64,
        Duration::from_secs(2 * 3600).as_millis() as u64,
    );
    if ms + before < now || ms > now + after {
        return Err(format!("Timestamp {ms} is not around now ({now})"));
    }
    Ok(())
}

type Checked = (Vec<Vec<String>>, Vec<String>);

fn check_directive(
    directive: &Value,
    root: &Map<String, Value>,
    namespace: &str,
) -> Result<Checked, String> {
    let directive = directive
        .as_object()
        .ok_or("a directive is not an object")?;
    let mut keys: Vec<&str> = directive.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["Dimensions", "Metrics", "Namespace"] {
        return Err(format!("directive members {keys:?}"));
    }
    if directive["Namespace"].as_str() != Some(namespace) {
        return Err(format!(
            "Namespace {} is not {namespace}",
            directive["Namespace"]
        ));
    }
    let sets = directive["Dimensions"]
        .as_array()
        .ok_or("Dimensions is not an array")?;
    if sets.is_empty() {
        return Err("Dimensions is empty (it takes [[]] for no dimension)".into());
    }
    let mut dimension_sets = Vec::new();
    for set in sets {
        let set = set.as_array().ok_or("a dimension set is not an array")?;
        if set.len() > 30 {
            return Err(format!(
                "a dimension set of {} names (30 at most)",
                set.len()
            ));
        }
        let mut names = Vec::new();
        for name in set {
            let name = name.as_str().ok_or("a dimension name is not a string")?;
            let value = root.get(name).and_then(Value::as_str).ok_or(format!(
                "dimension {name} is not a string member of the line"
            ))?;
            if value.trim().is_empty() || value.len() > 1024 || !value.is_ascii() {
                return Err(format!("dimension {name}'s value {value:?}"));
            }
            names.push(name.to_owned());
        }
        dimension_sets.push(names);
    }
    let metrics = directive["Metrics"]
        .as_array()
        .ok_or("Metrics is not an array")?;
    if metrics.is_empty() || metrics.len() > 100 {
        return Err(format!(
            "{} metrics in a directive (1 to 100)",
            metrics.len()
        ));
    }
    let mut names = Vec::new();
    for metric in metrics {
        names.push(check_metric(metric, root)?);
    }
    Ok((dimension_sets, names))
}

fn check_metric(metric: &Value, root: &Map<String, Value>) -> Result<String, String> {
    let metric = metric.as_object().ok_or("a metric is not an object")?;
    if metric.keys().any(|k| k != "Name" && k != "Unit") {
        return Err(format!(
            "metric members {:?}",
            metric.keys().collect::<Vec<_>>()
        ));
    }
    let name = metric
        .get("Name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty() && n.len() <= 255)
        .ok_or("a metric without a usable Name")?;
    if let Some(unit) = metric.get("Unit") {
        let unit = unit.as_str().ok_or("a Unit is not a string")?;
        if !UNITS.contains(&unit) {
            return Err(format!("{name}: unit {unit} is not CloudWatch's"));
        }
    }
    match root.get(name) {
        Some(Value::Number(_)) => {}
        Some(Value::Array(values))
            if !values.is_empty() && values.len() <= 100 && values.iter().all(Value::is_number) => {
        }
        other => return Err(format!("metric {name}'s value is {other:?}, not a number")),
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    }

    fn line(directives: &str, members: &str) -> String {
        format!(
            r#"{{"_aws":{{"Timestamp":{},"CloudWatchMetrics":[{directives}]}}{members}}}"#,
            now()
        )
    }

    const D: &str =
        r#"{"Namespace":"N","Dimensions":[["Fn"],[]],"Metrics":[{"Name":"M","Unit":"Count"}]}"#;

    #[test]
    fn a_good_line_passes_and_says_what_it_publishes() {
        let doc = check(&line(D, r#","Fn":"a","M":1,"requestId":"r""#), "N").unwrap();
        assert!(doc.publishes("M", &[("Fn", "a")]));
        assert!(doc.publishes("M", &[]));
        assert!(!doc.publishes("M", &[("Fn", "b")]));
        assert!(!doc.publishes("Other", &[]));
        assert_eq!(doc.value("M"), Some(1.0));
        check(&line(D, r#","Fn":"a","M":[1,2.5]"#), "N").unwrap();
    }

    #[test]
    fn every_rule_is_enforced() {
        let bad = [
            (line(D, r#","Fn":"a","M":1"#), "X", "Namespace"),
            (line(D, r#","M":1"#), "N", "dimension Fn"),
            (line(D, r#","Fn":5,"M":1"#), "N", "dimension Fn"),
            (line(D, r#","Fn":"a","M":"1""#), "N", "not a number"),
            (line(D, r#","Fn":"a""#), "N", "not a number"),
            (line(D, r#","Fn":"a","M":[]"#), "N", "not a number"),
            (
                line(&D.replace("Count", "Days"), r#","Fn":"a","M":1"#),
                "N",
                "unit",
            ),
            (
                line(&D.replace(r#"[["Fn"],[]]"#, "[]"), r#","M":1"#),
                "N",
                "Dimensions is empty",
            ),
            (
                line(
                    &D.replace("\"Metrics\"", "\"Extra\":1,\"Metrics\""),
                    r#","Fn":"a","M":1"#,
                ),
                "N",
                "directive members",
            ),
            (line("", ""), "N", "no directive"),
            ("{\"_aws\":{}}".to_owned(), "N", "Timestamp"),
            (D.to_owned(), "N", "_aws"),
            ("not json".to_owned(), "N", "not JSON"),
        ];
        for (line, namespace, expected) in bad {
            let err = check(&line, namespace).unwrap_err();
            assert!(err.contains(expected), "{line}: {err}");
        }
        let old = line(D, r#","Fn":"a","M":1"#).replace(&now().to_string()[..4], "1000");
        assert!(check(&old, "N").unwrap_err().contains("Timestamp"));
        let many: Vec<String> = (0..31).map(|i| format!("\"d{i}\"")).collect();
        let members: String = (0..31).map(|i| format!(",\"d{i}\":\"v\"")).collect();
        let wide = D.replace(r#"["Fn"]"#, &format!("[{}]", many.join(",")));
        let err = check(&line(&wide, &format!("{members},\"M\":1")), "N").unwrap_err();
        assert!(err.contains("30 at most"), "{err}");
    }

    #[test]
    fn metric_lines_are_told_from_log_lines() {
        assert!(is_metric_line(&line(D, "")));
        assert!(!is_metric_line(
            r#"{"level":"INFO","fields":{"message":"answered"}}"#
        ));
        assert!(!is_metric_line("plain text"));
    }
}
