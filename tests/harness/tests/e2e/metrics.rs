//! The metrics the real handlers emit (captured in-process through the
//! emitter's hook, where the leak check reads them too): every line keeps
//! the embedded metric format's rules and carries its request id, each
//! request counts what it did, and a JWT Rollee rejects produces exactly
//! the metric the template's alarm watches.

use std::collections::BTreeSet;

use rollee_harness::emf::Document;
use rollee_sandbox::Fault;
use serde_json::{Value, json};
use serde_norway::Value as Yaml;

use crate::cfn::short_form;
use crate::consistency::template;
use crate::support::*;

/// What alarm `id` watches when it names one metric: its name, its
/// dimensions (name, value) and its threshold.
pub(crate) fn alarm_metric(id: &str) -> (String, Vec<(String, String)>, f64) {
    let t = template();
    let p = &t["Resources"][id]["Properties"];
    assert_eq!(short_form(&p["Namespace"]), "!Ref MetricsNamespace", "{id}");
    // The namespace every function is given.
    assert_eq!(
        short_form(&t["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"]),
        "!Ref MetricsNamespace"
    );
    let dimensions = p["Dimensions"]
        .as_sequence()
        .map(|dims| {
            dims.iter()
                .map(|d| {
                    let (name, value) = (d["Name"].as_str(), d["Value"].as_str());
                    (name.unwrap().to_owned(), value.unwrap().to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    let threshold = match &p["Threshold"] {
        Yaml::Number(n) => n.as_f64().unwrap(),
        other => panic!("{id}: a literal threshold, not {other:?}"),
    };
    (
        p["MetricName"].as_str().unwrap().to_owned(),
        dimensions,
        threshold,
    )
}

fn pairs(dimensions: &[(String, String)]) -> Vec<(&str, &str)> {
    dimensions
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

/// The one line of `lines` that publishes `metric`.
fn the<'a>(lines: &'a [Document], metric: &str) -> &'a Document {
    let found: Vec<&Document> = lines.iter().filter(|d| d.value(metric).is_some()).collect();
    assert_eq!(found.len(), 1, "{metric} in {lines:#?}");
    found[0]
}

fn strings(lines: &[Document], member: &str) -> BTreeSet<String> {
    lines
        .iter()
        .filter_map(|d| d.root.get(member).and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_jwt_rollee_rejects_produces_the_metric_the_jwt_rejected_alarm_watches() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    sandbox.fail(Fault::Unauthorized, None);
    let (e, id) = with_request_id(event("create-user"));
    let answer = create_user(&state, &e).await;
    assert_eq!(
        answer.problem(503)["type"],
        "urn:rollee-connect:problem:upstream-credentials"
    );

    let (metric, dimensions, threshold) = alarm_metric("JwtRejectedAlarm");
    let lines = metric_lines_of(&id);
    let line = the(&lines, &metric);
    assert!(line.publishes(&metric, &pairs(&dimensions)), "{line:#?}");
    assert!(line.value(&metric).unwrap() >= threshold);
    assert_eq!(line.root["StatusClass"], "5xx");
    // The call behind it: one attempt, answered 401; ROLLEE_TOKEN is never re-read.
    let call = the(&lines, "RolleeCalls");
    assert!(call.publishes("RolleeCalls", &[("Outcome", "unauthorized")]));
    assert_eq!(call.value("Rollee401s"), Some(1.0));
    assert_eq!(call.value("SecretRereads"), Some(0.0));
    assert_no_leaks();
}

/// A request's id, status class, Rollee endpoints, table operations and table calls.
type Expected<'a> = (&'a str, &'a str, &'a [&'a str], &'a [&'a str], usize);

#[tokio::test]
async fn each_request_counts_its_answer_its_rollee_calls_its_table_calls_and_its_quota() {
    let sandbox = sandbox().await;
    let token = ("ROLLEE_TOKEN", JWT);
    let state = state_with(&sandbox, &[token, ("SESSIONS_PER_CALLER_PER_MINUTE", "6")]).await;
    let hints = state.store.hints();

    let (e, created_id) = with_request_id(event("create-user"));
    let sub = e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = create_user(&state, &e).await;
    assert_eq!(created.status, 201, "{}", created.body);
    watch_session(&created);
    let user = created.str("user_id");
    let (e, found_id) = with_request_id(event("create-user"));
    let found = create_user(&state, &e).await;
    assert_eq!(found.status, 200, "{}", found.body);
    watch_session(&found);
    let (e, session_id) = with_request_id(with_user(event("new-session"), &user));
    let session = new_session(&state, &e).await;
    assert_eq!(session.status, 201, "{}", session.body);
    watch_session(&session);
    let body = json!({ "connect_url": session.str("connect_url") }).to_string();
    let (e, refresh_id) = with_request_id(with_body(event("refresh-url"), &body));
    let refreshed = refresh_url(&state, &e).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    watch_session(&refreshed);

    // The same two requests in a process that has not seen this caller or
    // session (another instance of the function): no hint, one more read.
    hints.forget_owner(&sub);
    let (e, found_cold_id) = with_request_id(event("create-user"));
    let found_cold = create_user(&state, &e).await;
    assert_eq!(found_cold.status, 200, "{}", found_cold.body);
    watch_session(&found_cold);
    assert_eq!(found_cold.str("user_id"), user);
    let refreshed_session: uuid::Uuid = refreshed.str("session_id").parse().unwrap();
    hints.forget_session(refreshed_session);
    let body = json!({ "connect_url": refreshed.str("connect_url") }).to_string();
    let (e, refresh_cold_id) = with_request_id(with_body(event("refresh-url"), &body));
    let refreshed_cold = refresh_url(&state, &e).await;
    assert_eq!(refreshed_cold.status, 200, "{}", refreshed_cold.body);
    watch_session(&refreshed_cold);
    let (e, over_id) = with_request_id(event("create-user"));
    create_user(&state, &e).await.problem(429);

    // The table calls of each request, counted: a first POST /users reads
    // the caller, counts the quota, claims the caller, completes (4). A new session
    // for a known user counts and checks the owner in one transaction, then
    // records the session (2); so do a found user's POST /users and a
    // refresh when this process holds the caller's user or the session's
    // as a hint (2). Without one, a found user's POST /users reads the
    // caller, then counts and checks its user in one transaction, records
    // (3); a refresh counts, reads the session, records (3).
    let hinted: &[&str] = &["PutItem", "TransactWriteItems"];
    let read_then_checked: &[&str] = &["GetItem", "PutItem", "TransactWriteItems"];
    let read: &[&str] = &["GetItem", "PutItem", "UpdateItem"];
    let expected: [Expected; 7] = [
        (
            &created_id,
            "2xx",
            &["POST /users"],
            &["GetItem", "PutItem", "TransactWriteItems", "UpdateItem"],
            4,
        ),
        (
            &found_id,
            "2xx",
            &["POST /users/{id}/sessions/new"],
            hinted,
            2,
        ),
        (
            &session_id,
            "2xx",
            &["POST /users/{id}/sessions/new"],
            hinted,
            2,
        ),
        (
            &refresh_id,
            "2xx",
            &["POST /sessions/{id}/refresh"],
            hinted,
            2,
        ),
        (
            &found_cold_id,
            "2xx",
            &["POST /users/{id}/sessions/new"],
            read_then_checked,
            3,
        ),
        (
            &refresh_cold_id,
            "2xx",
            &["POST /sessions/{id}/refresh"],
            read,
            3,
        ),
        // Over the quota: the transaction's refused condition, and nothing else.
        (&over_id, "4xx", &[], &["TransactWriteItems"], 1),
    ];
    for (id, class, endpoints, operations, table_calls) in expected {
        let lines = metric_lines_of(id);
        let answer = the(&lines, "Requests");
        assert!(answer.publishes("Requests", &[("Function", "e2e"), ("StatusClass", class)]));
        assert!(answer.value("Latency").unwrap() > 0.0);
        assert_eq!(
            strings(&lines, "Endpoint"),
            endpoints.iter().map(|e| e.to_string()).collect()
        );
        assert_eq!(
            strings(&lines, "Operation"),
            operations.iter().map(|o| o.to_string()).collect()
        );
        assert_eq!(
            lines
                .iter()
                .filter(|d| d.value("TableCalls").is_some())
                .count(),
            table_calls,
            "{class} {operations:?}"
        );
        for table in lines.iter().filter(|d| d.value("TableCalls").is_some()) {
            // A refused condition (the quota) is an answer, not a failure.
            assert_eq!(table.value("TableErrors"), Some(0.0), "{table:#?}");
        }
        for call in lines.iter().filter(|d| d.value("RolleeCalls").is_some()) {
            assert!(
                call.publishes("RolleeCalls", &[("Outcome", "ok")]),
                "{call:#?}"
            );
            assert_eq!(call.value("RolleeAttempts"), Some(1.0));
        }
    }
    let over = metric_lines_of(&over_id);
    assert_eq!(
        the(&over, "QuotaRejections").value("QuotaRejections"),
        Some(1.0)
    );
    assert!(the(&over, "Problems").publishes("Problems", &[("Problem", "rate-limited")]));
    assert_no_leaks();
}

#[tokio::test]
async fn rollees_5xx_and_429_answers_are_counted_per_attempt() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let user = crate::errors::a_user(&state).await;

    // Both attempts of an idempotent call answered 500: one call, two 5xx.
    sandbox.fail(Fault::ServerError, Some(2));
    let (e, id) = with_request_id(with_user(event("new-session"), &user));
    new_session(&state, &e).await.problem(502);
    let lines = metric_lines_of(&id);
    let call = the(&lines, "RolleeCalls");
    assert!(call.publishes("RolleeCalls", &[("Outcome", "server-error")]));
    assert!(call.publishes(
        "RolleeLatency",
        &[("Endpoint", "POST /users/{id}/sessions/new")]
    ));
    assert_eq!(
        (call.value("RolleeAttempts"), call.value("Rollee5xxs")),
        (Some(2.0), Some(2.0))
    );
    assert!(the(&lines, "Problems").publishes("Problems", &[("Problem", "upstream-error")]));

    sandbox.fail(Fault::RateLimited(Some(7)), Some(1));
    let (e, id) = with_request_id(with_user(event("new-session"), &user));
    new_session(&state, &e).await.problem(429);
    let call = the(&metric_lines_of(&id), "RolleeCalls").clone();
    assert!(call.publishes("RolleeCalls", &[("Outcome", "rate-limited")]));
    assert_eq!(
        (call.value("Rollee429s"), call.value("Rollee5xxs")),
        (Some(1.0), Some(0.0))
    );
    assert_no_leaks();
}
