//! The template's on-call part, read against the code: every alarm and
//! every dashboard widget reads a metric the functions emit (name,
//! namespace, dimension names and values) or one AWS publishes for this
//! stack's own resources; the alarms' switch, topic and missing-data
//! choices; the dashboard body is JSON once substituted; every function
//! logs JSON at the chosen level and sends its metrics.

use std::collections::{BTreeMap, BTreeSet};

use rollee_shared::metrics::catalogue::{self, group_of};
use serde_json::Value;
use serde_norway::Value as Yaml;

use crate::cfn::{condition, parameters, resources_of_type, short_form, yaml};
use crate::consistency::{binary_of, functions, template};

/// A metric as an alarm or a widget names it: namespace (`!Ref
/// MetricsNamespace` for ours), name, dimensions (name, value as written).
#[derive(Debug)]
pub(crate) struct Read {
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<(String, String)>,
}

/// The values a dimension of one of our metrics can take; `None`: not bounded here.
fn domain(metric: &str, dimension: &str, t: &Yaml) -> Vec<String> {
    let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
    match (dimension, metric) {
        ("Function", _) => functions(t).iter().map(|(_, _, m)| binary_of(m)).collect(),
        ("StatusClass", _) => owned(&catalogue::STATUS_CLASSES),
        ("Problem", _) => rollee_shared::problem::Problem::ALL
            .iter()
            .map(|p| p.slug().to_owned())
            .collect(),
        ("Endpoint", _) => owned(&rollee_shared::rollee::ENDPOINTS),
        ("Operation", _) => owned(&catalogue::TABLE_OPERATIONS),
        ("Step", _) => owned(&catalogue::ROTATION_STEPS),
        ("Outcome", "RolleeCalls") => owned(&catalogue::ROLLEE_OUTCOMES),
        ("Outcome", "RotationSteps") => owned(&catalogue::ROTATION_OUTCOMES),
        ("Outcome", "WebhookDeliveries") => owned(&catalogue::WEBHOOK_OUTCOMES),
        ("Screen", _) => owned(&rollee_shared::webhook::kind::SCREENS),
        ("ConnectionStatus", _) => owned(&rollee_shared::webhook::kind::CONNECTION_STATUSES),
        other => panic!("no known values for {other:?}"),
    }
}

/// `read` is a metric the code emits, or an AWS metric of this stack.
fn check(read: &Read, t: &Yaml, context: &str) {
    let names: BTreeSet<&str> = read.dimensions.iter().map(|(n, _)| n.as_str()).collect();
    match read.namespace.as_str() {
        "!Ref MetricsNamespace" => {
            let group = group_of(&read.name)
                .unwrap_or_else(|| panic!("{context}: the code emits no {}", read.name));
            assert!(
                group
                    .dimension_sets
                    .iter()
                    .any(|set| set.iter().copied().collect::<BTreeSet<_>>() == names),
                "{context}: {} is not published with dimensions {names:?}",
                read.name
            );
            for (name, value) in &read.dimensions {
                assert!(
                    domain(&read.name, name, t).contains(value),
                    "{context}: {} {name}={value} is never emitted",
                    read.name
                );
            }
        }
        "AWS/ApiGateway" => {
            assert!(
                ["Count", "4xx", "5xx", "Latency", "IntegrationLatency"].contains(&&*read.name)
            );
            assert_eq!(
                read.dimensions,
                [("ApiId".into(), "!Ref HttpApi".into())],
                "{context}"
            );
        }
        "AWS/Lambda" => {
            let lambda = ["Errors", "Throttles", "Duration", "ConcurrentExecutions"];
            assert!(lambda.contains(&&*read.name), "{context}: {}", read.name);
            let [(name, value)] = read.dimensions.as_slice() else {
                panic!("{context}: {:?}", read.dimensions)
            };
            let function = value.strip_prefix("!Ref ").unwrap_or_default();
            assert_eq!(name, "FunctionName", "{context}");
            assert_eq!(
                t["Resources"][function]["Type"].as_str(),
                Some("AWS::Serverless::Function"),
                "{context}: {value}"
            );
        }
        other => panic!("{context}: namespace {other}"),
    }
}

pub(crate) fn alarms(t: &Yaml) -> Vec<(String, Yaml)> {
    resources_of_type(t, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|id| {
            (
                id.clone(),
                t["Resources"][id.as_str()]["Properties"].clone(),
            )
        })
        .collect()
}

fn dimensions(list: &Yaml) -> Vec<(String, String)> {
    let list = list.as_sequence().cloned().unwrap_or_default();
    list.iter()
        .map(|d| {
            (
                d["Name"].as_str().unwrap().to_owned(),
                short_form(&d["Value"]),
            )
        })
        .collect()
}

/// The metrics an alarm reads: its one metric, or those of its metric math.
pub(crate) fn alarm_reads(p: &Yaml) -> Vec<Read> {
    match p.get("Metrics").and_then(Yaml::as_sequence) {
        None => vec![Read {
            namespace: short_form(&p["Namespace"]),
            name: p["MetricName"].as_str().unwrap().to_owned(),
            dimensions: dimensions(&p["Dimensions"]),
        }],
        Some(queries) => queries
            .iter()
            .filter_map(|q| q.get("MetricStat"))
            .map(|stat| Read {
                namespace: short_form(&stat["Metric"]["Namespace"]),
                name: stat["Metric"]["MetricName"].as_str().unwrap().to_owned(),
                dimensions: dimensions(&stat["Metric"]["Dimensions"]),
            })
            .collect(),
    }
}

#[test]
fn every_alarm_watches_a_metric_the_code_emits_or_aws_publishes_for_this_stack() {
    let t = template();
    let all = alarms(&t);
    assert_eq!(
        all.len(),
        11,
        "{:?}",
        all.iter().map(|(id, _)| id).collect::<Vec<_>>()
    );
    for (id, p) in &all {
        let reads = alarm_reads(p);
        assert!(!reads.is_empty(), "{id}");
        for read in &reads {
            check(read, &t, id);
        }
        if let Some(queries) = p.get("Metrics").and_then(Yaml::as_sequence) {
            // One expression returns the figure; it names only this alarm's metrics.
            let returned: Vec<&Yaml> = queries
                .iter()
                .filter(|q| q["ReturnData"].as_bool() != Some(false))
                .collect();
            assert_eq!(returned.len(), 1, "{id}");
            let expression = returned[0]["Expression"].as_str().unwrap();
            for q in queries.iter().filter(|q| q.get("MetricStat").is_some()) {
                assert!(
                    expression.contains(q["Id"].as_str().unwrap()),
                    "{id}: {expression}"
                );
            }
        }
    }
}

#[test]
fn every_alarm_is_switched_by_alarms_enabled_notifies_the_topic_and_says_why_for_missing_data() {
    let t = template();
    let actions = yaml("[!If [HasAlarmTopicArn, !Ref AlarmTopicArn, !Ref AlarmTopic]]");
    let runbook = std::fs::read_to_string(crate::support::root().join("docs/runbook.md")).unwrap();
    for (id, p) in alarms(&t) {
        let resource = &t["Resources"][id.as_str()];
        assert_eq!(resource["Condition"].as_str(), Some("AlarmsOn"), "{id}");
        assert_eq!(p["AlarmActions"], actions, "{id}");
        assert_eq!(p["OKActions"], actions, "{id}");
        let missing = p["TreatMissingData"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}"));
        assert!(
            ["notBreaching", "ignore"].contains(&missing),
            "{id}: {missing}"
        );
        match &p["Threshold"] {
            Yaml::Number(_) => {}
            threshold => {
                let param = short_form(threshold)
                    .strip_prefix("!Ref ")
                    .unwrap()
                    .to_owned();
                assert!(
                    t["Parameters"][param.as_str()]["Default"].is_number(),
                    "{id}: {param}"
                );
            }
        }
        // Named after its runbook section, which exists.
        let name = short_form(&p["AlarmName"]);
        let anchor = name.strip_prefix("!Sub ${AWS::StackName}-").unwrap();
        let description = p["AlarmDescription"].as_str().unwrap();
        assert!(
            description.ends_with(&format!("Runbook: docs/runbook.md#{anchor}")),
            "{id}"
        );
        assert!(
            runbook.contains(&format!("\n## {anchor}\n")),
            "no section {anchor} in the runbook"
        );
    }
    // Each TreatMissingData comes with a comment saying why.
    let text = std::fs::read_to_string(crate::support::root().join("template.yaml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("TreatMissingData:") {
            assert!(
                lines[i - 1].trim_start().starts_with('#'),
                "line {}: no reason",
                i + 1
            );
        }
    }
}

#[test]
fn one_parameter_switches_every_alarm_and_the_topic_takes_an_arn_or_an_email() {
    let t = template();
    let holds =
        |name: &str, overrides: &[(&str, &str)]| condition(&t, name, &parameters(&t, overrides));
    let arn = ("AlarmTopicArn", "arn:aws:sns:eu-west-1:123456789012:pager");
    let email = ("AlarmEmail", "oncall@example.com");
    let off = ("AlarmsEnabled", "false");
    assert!(holds("AlarmsOn", &[]) && holds("CreateAlarmTopic", &[]));
    assert!(!holds("SubscribeAlarmEmail", &[]));
    assert!(holds("SubscribeAlarmEmail", &[email]) && holds("CreateAlarmTopic", &[email]));
    assert!(!holds("CreateAlarmTopic", &[arn]) && holds("SubscribeAlarmEmail", &[arn, email]));
    for case in [&[off][..], &[off, arn, email]] {
        assert!(!holds("AlarmsOn", case) && !holds("CreateAlarmTopic", case));
        assert!(!holds("SubscribeAlarmEmail", case));
    }
    let r = &t["Resources"];
    assert_eq!(
        r["AlarmTopic"]["Condition"].as_str(),
        Some("CreateAlarmTopic")
    );
    assert_eq!(
        r["AlarmEmailSubscription"]["Condition"].as_str(),
        Some("SubscribeAlarmEmail")
    );
    assert_eq!(
        r["AlarmEmailSubscription"]["Properties"]["TopicArn"],
        yaml("!If [HasAlarmTopicArn, !Ref AlarmTopicArn, !Ref AlarmTopic]")
    );
}

/// The dashboard body with every `${…}` replaced: parameters by their
/// default, resources by a stand-in naming them, pseudo parameters by
/// examples. An unknown name fails, as it would fail the deploy.
fn dashboard(t: &Yaml) -> Value {
    let body = &t["Resources"]["OnCallDashboard"]["Properties"]["DashboardBody"];
    let Yaml::Tagged(sub) = body else {
        panic!("DashboardBody is not !Sub")
    };
    assert_eq!(sub.tag, "Sub");
    let mut text = sub.value.as_str().unwrap().to_owned();
    let defaults = parameters(t, &[]);
    while let Some(start) = text.find("${") {
        let end = start + text[start..].find('}').unwrap();
        let name = text[start + 2..end].to_owned();
        let value = match name.as_str() {
            "AWS::Region" => "eu-west-1".to_owned(),
            "MetricsNamespace" => "!Ref MetricsNamespace".to_owned(),
            n if defaults.contains_key(n) => defaults[n].clone(),
            n if t["Resources"].get(n).is_some() => format!("!Ref {n}"),
            n => panic!("the dashboard names ${{{n}}}, which the template does not define"),
        };
        text.replace_range(start..=end, &value);
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the dashboard body is not JSON: {e}"))
}

#[test]
fn the_dashboard_is_json_and_shows_only_metrics_the_code_emits_or_aws_publishes_for_this_stack() {
    let t = template();
    let body = dashboard(&t);
    let widgets = body["widgets"].as_array().unwrap();
    let mut shown = BTreeSet::new();
    for w in widgets {
        let p = &w["properties"];
        let title = p["title"].as_str().unwrap();
        assert_eq!(p["region"], "eu-west-1", "{title}");
        assert!(
            w["x"].as_u64().unwrap() + w["width"].as_u64().unwrap() <= 24,
            "{title}"
        );
        if w["type"] == "log" {
            continue;
        }
        assert_eq!(w["type"], "metric", "{title}");
        for entry in p["metrics"].as_array().unwrap() {
            let parts: Vec<&str> = entry
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert!(
                parts.len().is_multiple_of(2) && parts[0] != ".",
                "{title}: {entry}"
            );
            let read = Read {
                namespace: parts[0].to_owned(),
                name: parts[1].to_owned(),
                dimensions: parts[2..]
                    .chunks(2)
                    .map(|c| (c[0].to_owned(), c[1].to_owned()))
                    .collect(),
            };
            check(&read, &t, title);
            shown.insert((read.namespace, read.name));
        }
    }
    // Every alarm's figures are on the page.
    for (id, p) in alarms(&t) {
        for read in alarm_reads(&p) {
            assert!(
                shown.contains(&(read.namespace, read.name.clone())),
                "{id}: {}",
                read.name
            );
        }
    }
}

#[test]
fn every_function_logs_json_at_the_chosen_level_sends_metrics_and_is_watched() {
    let t = template();
    let level = &t["Parameters"]["ApplicationLogLevel"];
    // Not WARN or above: Lambda would drop the metric lines (they carry no level).
    assert_eq!(level["AllowedValues"], yaml("[TRACE, DEBUG, INFO]"));
    let globals = &t["Globals"]["Function"];
    assert!(
        globals.get("Tracing").is_none(),
        "X-Ray stays off (see the template's comment)"
    );
    assert_eq!(
        short_form(&globals["Environment"]["Variables"]["METRICS_NAMESPACE"]),
        "!Ref MetricsNamespace"
    );
    let namespace = &t["Parameters"]["MetricsNamespace"];
    assert_eq!(
        namespace["AllowedPattern"].as_str(),
        Some("^(?!AWS/)[0-9A-Za-z._/#:-]{1,255}$")
    );
    assert!(rollee_shared::metrics::valid_namespace(
        namespace["Default"].as_str().unwrap()
    ));

    let by_id: BTreeMap<String, Yaml> = alarms(&t).into_iter().collect();
    let body = dashboard(&t).to_string();
    for (id, properties, _) in functions(&t) {
        assert!(properties.get("Tracing").is_none(), "{id}");
        let logging = &properties["LoggingConfig"];
        let group = short_form(&logging["LogGroup"]);
        let expected = format!(
            "{{LogFormat: JSON, ApplicationLogLevel: !Ref ApplicationLogLevel, SystemLogLevel: INFO, LogGroup: {group}}}"
        );
        assert_eq!(logging, &yaml(&expected), "{id}");
        // The pre-traffic hook serves no one: a failure of it fails a
        // deployment, which CodeDeploy and `sam deploy` report.
        if id == "DeployCheckFunction" {
            continue;
        }
        // Its errors and throttles are alarmed on, and on the dashboard with its logs.
        for alarm in ["FunctionErrorsAlarm", "FunctionThrottlesAlarm"] {
            let reads = alarm_reads(&by_id[alarm]);
            assert!(
                reads
                    .iter()
                    .any(|r| r.dimensions == [("FunctionName".into(), format!("!Ref {id}"))]),
                "{alarm} does not watch {id}"
            );
        }
        assert!(
            body.contains(&format!("\"!Ref {id}\"")),
            "the dashboard does not show {id}"
        );
        let logs = group.strip_prefix("!Ref ").unwrap();
        assert!(
            body.contains(&format!("SOURCE '!Ref {logs}'")),
            "the dashboard's log query misses {logs}"
        );
    }
}
