//! The real binaries' output as Lambda captures it (JSON log format, the
//! metrics on), through successes and the failures the runbook covers:
//! every line is one JSON object; inside an invocation every line carries
//! the request id and the trace id; every metric line keeps the embedded
//! metric format's rules; no line carries the JWT, a session or the caller;
//! and the runbook's queries name only fields these lines carry.

use std::collections::BTreeSet;
use std::time::Duration;

use rollee_harness::emf;
use rollee_harness::runtime_api::Bootstrap;
use rollee_sandbox::{Fault, Sandbox};
use serde_json::{Value, json};

use crate::startup::binary;
use crate::support::*;

const METRICS: &str = "RolleeConnect/logs-test";
const SUB: &str = "caller-sub-5e2a9c";
const TIMEOUT: Duration = Duration::from_secs(20);

/// Invokes `function` with `event` as `SUB`; the API Gateway answer's status.
async fn call(function: &Bootstrap, event: Value) -> u16 {
    let answer = function
        .invoke(&with_sub(event, SUB), TIMEOUT)
        .await
        .unwrap();
    if let Ok(body) = serde_json::from_str::<Value>(answer["body"].as_str().unwrap_or("{}"))
        && let Some(url) = body["connect_url"].as_str()
    {
        watch(url.rsplit('/').next().unwrap());
    }
    answer["statusCode"].as_u64().unwrap() as u16
}

async fn start(name: &str, vars: &[(&str, &str)]) -> Bootstrap {
    Bootstrap::start(&binary(name), name, vars, true)
        .await
        .unwrap()
}

/// The output of each function started here, in order.
async fn outputs() -> Vec<String> {
    capture_logs();
    let moto = Moto::start().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // 20 days left: an INFO line and a JwtDaysLeft metric at cold start.
    let jwt = rollee_sandbox::jwt(now + 20 * 86_400);
    watch(&jwt);
    moto.put_secret("rollee/jwt", &jwt).await.unwrap();
    moto.create_table("ownership").await.unwrap();
    let sandbox = Sandbox::start(&jwt).await.unwrap();
    let base = sandbox.base_url();
    let vars = |table: &'static str| {
        vec![
            ("ROLLEE_SECRET_ID", "rollee/jwt"),
            ("ROLLEE_API_URL", base.as_str()),
            ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("OWNERSHIP_TABLE", table),
            ("METRICS_NAMESPACE", METRICS),
        ]
    };
    let create = start("create-user", &vars("ownership")).await;
    assert_eq!(call(&create, event("create-user")).await, 201);
    assert_eq!(call(&create, event("create-user")).await, 200);
    for (fault, times, status) in [
        (Fault::RateLimited(Some(3)), 1, 429),
        // sessions/new is retried once: both attempts fail.
        (Fault::ServerError, 2, 502),
        // Rejected, re-read, the secret holds the same JWT: 503.
        (Fault::Unauthorized, 1, 503),
    ] {
        sandbox.fail(fault, Some(times));
        assert_eq!(call(&create, event("create-user")).await, status);
    }
    let no_table = start("create-user", &vars("missing-table")).await;
    assert_eq!(call(&no_table, event("create-user")).await, 503);

    let mut rotation_vars = vars("ownership");
    rotation_vars.retain(|(k, _)| !["ROLLEE_SECRET_ID", "OWNERSHIP_TABLE"].contains(k));
    let rotate = start("rotate-token", &rotation_vars).await;
    rotate.runtime.ready(TIMEOUT).await.unwrap();
    let step =
        json!({"SecretId": "no/such/secret", "ClientRequestToken": "t-1", "Step": "createSecret"});
    let outcome = rotate
        .runtime
        .invoke(step.to_string(), TIMEOUT)
        .await
        .unwrap();
    assert!(
        matches!(outcome, rollee_harness::runtime_api::Outcome::Error(_)),
        "{outcome:?}"
    );

    // The webhook receiver: a delivery, its repeat, and one without the header.
    moto.put_secret("rollee/webhook", crate::webhooks::DEV_SECRET)
        .await
        .unwrap();
    rollee_harness::bus::create(&moto.sdk_config().await.unwrap(), &moto.endpoint, "rollee")
        .await
        .unwrap();
    let webhook_vars = [
        ("WEBHOOK_SECRET_ID", "rollee/webhook"),
        ("EVENT_BUS_NAME", "rollee"),
        ("OWNERSHIP_TABLE", "ownership"),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("METRICS_NAMESPACE", METRICS),
    ];
    let webhook = start("webhook", &webhook_vars).await;
    for (name, status) in [
        ("webhook", 200),
        ("webhook", 200),
        ("webhook-no-header", 401),
    ] {
        assert_eq!(call(&webhook, event(name)).await, status, "{name}");
    }
    // A bus that is not there: the delivery fails (503), for Rollee to retry.
    let mut no_bus_vars = webhook_vars.to_vec();
    no_bus_vars.retain(|(k, _)| *k != "EVENT_BUS_NAME");
    no_bus_vars.push(("EVENT_BUS_NAME", "no-such-bus"));
    let no_bus = start("webhook", &no_bus_vars).await;
    let other = with_body(event("webhook"), r#"{"action": "delete_user", "data": {}}"#);
    assert_eq!(call(&no_bus, other).await, 503);

    [create, no_table, rotate, webhook, no_bus]
        .into_iter()
        .map(Bootstrap::stop)
        .collect()
}

/// Each alarm on the functions' metrics reads a metric that a line here
/// publishes, with the alarm's dimensions exactly: the JWT rejected, the
/// JWT's days left, a failed rotation step, Rollee's 429s, 5xx and latency,
/// the table's errors, the webhook's refused deliveries.
fn every_alarm_on_our_metrics_reads_one_these_binaries_emitted(outputs: &[String]) {
    let documents: Vec<emf::Document> = outputs
        .iter()
        .flat_map(|o| o.lines())
        .filter(|l| emf::is_metric_line(l))
        .map(|l| emf::check(l, METRICS).unwrap())
        .collect();
    let t = crate::consistency::template();
    let mut checked = 0;
    for (id, properties) in crate::oncall::alarms(&t) {
        for read in crate::oncall::alarm_reads(&properties) {
            if read.namespace != "!Ref MetricsNamespace" {
                continue;
            }
            let dimensions: Vec<(&str, &str)> = read
                .dimensions
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            assert!(
                documents
                    .iter()
                    .any(|d| d.publishes(&read.name, &dimensions)),
                "{id} reads {} {dimensions:?}, which no line published",
                read.name
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 10);
}

/// `value`'s keys as Logs Insights names them: nested objects' with dots.
fn flatten(prefix: &str, value: &Value, into: &mut BTreeSet<String>) {
    if let Value::Object(map) = value {
        for (key, inner) in map {
            let name = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            if key != "_aws" {
                flatten(&name, inner, into);
            }
            into.insert(name);
        }
    }
}

/// The field names of the runbook's Logs Insights queries (written in backticks).
fn runbook_fields() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("docs/runbook.md")).unwrap();
    let mut fields = BTreeSet::new();
    let mut queries = 0;
    for block in text.split("```logs-insights\n").skip(1) {
        let query = block.split("```").next().unwrap();
        assert!(
            query.contains("filter"),
            "a query without a filter: {query}"
        );
        queries += 1;
        for (i, part) in query.split('`').enumerate() {
            if i % 2 == 1 {
                fields.insert(part.to_owned());
            }
        }
    }
    assert!(queries >= 11, "{queries} queries");
    fields
}

/// Checks one function's output as Lambda would capture it: every line one
/// JSON object; after its init lines, every line with the request id and the
/// trace id; every metric line by the rules, under `namespace`. Adds each
/// line's field names to `seen`; returns the metric lines.
pub(crate) fn check_output(
    output: &str,
    namespace: &str,
    seen: &mut BTreeSet<String>,
) -> Vec<emf::Document> {
    let mut in_invocations = false;
    let mut with_ids = 0;
    let mut documents = Vec::new();
    for line in output.lines() {
        let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        flatten("", &value, seen);
        let request_id = value["span"]["requestId"]
            .as_str()
            .or(value["requestId"].as_str());
        let trace_id = value["span"]["xrayTraceId"]
            .as_str()
            .or(value["xrayTraceId"].as_str());
        // Init lines come first, without ids; every line after carries both.
        in_invocations |= request_id.is_some();
        if in_invocations {
            assert!(
                request_id.is_some_and(|id| !id.is_empty()),
                "no request id: {line}"
            );
            assert!(
                trace_id.is_some_and(|id| id.starts_with("Root=")),
                "no trace id: {line}"
            );
            with_ids += 1;
        }
        if emf::is_metric_line(line) {
            documents.push(emf::check(line, namespace).unwrap_or_else(|e| panic!("{e}: {line}")));
        }
    }
    assert!(
        with_ids >= 3,
        "{with_ids} lines of invocations in: {output}"
    );
    documents
}

#[tokio::test]
async fn every_line_is_json_with_its_request_id_metrics_keep_the_rules_and_the_runbook_names_real_fields()
 {
    let outputs = outputs().await;
    let mut seen = BTreeSet::new();
    let mut metric_lines = 0;
    for output in &outputs {
        metric_lines += check_output(output, METRICS, &mut seen).len();
        assert!(
            !output.contains(SUB),
            "the caller's sub in a line: {output}"
        );
        add_logs(output);
    }
    assert!(metric_lines >= 20, "{metric_lines} metric lines");
    every_alarm_on_our_metrics_reads_one_these_binaries_emitted(&outputs);

    // What the runbook's queries may name: what the lines carry, the metric
    // names, and Lambda's own lines (`type`, `record.*`), which only AWS writes.
    let catalogue = rollee_shared::metrics::catalogue::ALL
        .iter()
        .flat_map(|g| g.metrics.iter().map(|m| m.name.to_owned()));
    seen.extend(catalogue);
    for field in runbook_fields() {
        let lambdas = field == "type" || field.starts_with("record.");
        assert!(
            lambdas || seen.contains(&field),
            "the runbook queries {field}, which no line carries"
        );
    }
    for expected in [
        "fields.days_left",
        "fields.cause",
        "fields.step",
        "fields.error",
        "fields.reason",
        "WebhookDeliveries",
        "TableErrors",
    ] {
        assert!(
            seen.contains(expected),
            "{expected} not seen: the scenario missed a case"
        );
    }
    assert_no_leaks();
}

/// The text of every Rust file of the functions and the library they share,
/// whitespace collapsed.
fn code_text() -> String {
    fn collect(dir: &std::path::Path, text: &mut String) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    collect(&path, text);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                text.push_str(&std::fs::read_to_string(&path).unwrap());
                text.push('\n');
            }
        }
    }
    let mut text = String::new();
    collect(&root().join("shared/src"), &mut text);
    collect(&root().join("functions"), &mut text);
    collapse(&text)
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What the runbook quotes from log lines: its italic phrases (`*…*`, the
/// runbook's convention for them; `…` stands for what the line fills in)
/// and the values its queries compare `fields.*` with.
fn runbook_log_phrases() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("docs/runbook.md")).unwrap();
    let mut phrases = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let star = |i: usize| chars.get(i) == Some(&'*');
    let mut i = 0;
    while i < chars.len() {
        // A single `*` opens an italic (`**` is bold).
        if star(i) && !star(i + 1) && (i == 0 || !star(i - 1)) {
            if let Some(len) = chars[i + 1..].iter().position(|c| *c == '*')
                && !star(i + 2 + len)
            {
                let phrase: String = chars[i + 1..i + 1 + len].iter().collect();
                phrases.extend(phrase.split('…').map(collapse).filter(|p| !p.is_empty()));
                i += len + 2;
                continue;
            }
        } else if star(i) {
            while star(i) {
                i += 1;
            }
            continue;
        }
        i += 1;
    }
    for query in text.split("```logs-insights\n").skip(1) {
        let query = query.split("```").next().unwrap();
        for part in query.split("`fields.").skip(1) {
            if let Some(value) = part
                .split_once('`')
                .and_then(|(_, rest)| rest.strip_prefix(" = \""))
                .and_then(|rest| rest.split_once('"'))
            {
                phrases.push(value.0.to_owned());
            }
        }
    }
    phrases
}

#[test]
fn every_phrase_the_runbook_quotes_from_a_log_line_is_one_the_code_writes() {
    let code = code_text();
    let phrases = runbook_log_phrases();
    assert!(phrases.len() >= 15, "{phrases:?}");
    let missing: Vec<&String> = phrases.iter().filter(|p| !code.contains(*p)).collect();
    assert!(
        missing.is_empty(),
        "the runbook quotes what no line says: {missing:?}"
    );
}
