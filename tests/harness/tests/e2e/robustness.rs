//! Events a function cannot read: answered, logged, and survived.
//!
//! lambda_http 1.3.2 panics while turning some API Gateway events into a
//! request (`expect`s on the URL it builds from `Host`, `X-Forwarded-Proto`
//! and the raw query string, and on a base64 body). The functions catch that
//! panic and answer 400; a process must never die of a request.

use std::time::Duration;

use rollee_harness::runtime_api::{Bootstrap, Outcome};
use serde_json::{Value, json};

use crate::support::*;

/// (what, event): each one made lambda_http panic before our handler ran.
pub fn unreadable_events() -> Vec<(&'static str, Value)> {
    let base = event("create-user");
    let with_header = |name: &str, value: &str| {
        let mut e = base.clone();
        e["headers"][name] = value.into();
        e
    };
    let with_query = |query: &str| {
        let mut e = base.clone();
        e["rawQueryString"] = query.into();
        e
    };
    let mut base64 = base.clone();
    base64["isBase64Encoded"] = true.into();
    base64["body"] = "%%% not base64 %%%".into();
    vec![
        (
            "X-Forwarded-Proto: 1",
            with_header("x-forwarded-proto", "1"),
        ),
        (
            "X-Forwarded-Proto empty",
            with_header("x-forwarded-proto", ""),
        ),
        (
            "X-Forwarded-Proto: a b",
            with_header("x-forwarded-proto", "a b"),
        ),
        ("Host: a b", with_header("host", "a b")),
        ("Host: h:99999", with_header("host", "h:99999")),
        ("Host: [::1", with_header("host", "[::1")),
        ("query with a quote", with_query("a=\"b\"")),
        ("query with a space", with_query("a=b c")),
        ("body flagged base64 that is not", base64),
    ]
}

fn status_and_type(response: &Value) -> (u64, String) {
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap_or("{}")).unwrap();
    (
        response["statusCode"].as_u64().unwrap(),
        body["type"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Every unreadable event gets a 400 problem, and a good event after each
/// one still gets its 201: the process lived through them.
pub async fn unreadable_events_get_400_and_the_process_keeps_serving(function: &Bootstrap) {
    let timeout = Duration::from_secs(20);
    for (what, bad) in unreadable_events() {
        let answer = function
            .invoke(&bad, timeout)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            status_and_type(&answer),
            (400, "urn:rollee-connect:problem:invalid-request".to_owned()),
            "{what}: {answer}"
        );
        let good = function
            .invoke(&event("create-user"), timeout)
            .await
            .unwrap_or_else(|e| panic!("after {what}: {e}"));
        // 201 the first time (the caller's user is created), 200 after.
        let status = good["statusCode"].as_u64();
        assert!(matches!(status, Some(200 | 201)), "after {what}: {good}");
    }
}

/// The same, with every event in flight at once in one process: a bad one
/// does not take the others down.
pub async fn unreadable_events_in_flight_do_not_fail_the_others(function: &Bootstrap) {
    let timeout = Duration::from_secs(20);
    function.runtime.ready(timeout).await.unwrap();
    let mut tasks = Vec::new();
    for (what, bad) in unreadable_events() {
        for (expected, e) in [(400, bad), (200, event("create-user"))] {
            let runtime = function.runtime.clone();
            tasks.push((
                what,
                expected,
                tokio::spawn(async move { runtime.invoke(e.to_string(), timeout).await }),
            ));
        }
    }
    for (what, expected, task) in tasks {
        let outcome = task
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let Outcome::Response(body) = outcome else {
            panic!("{what}: the invocation failed: {outcome:?}");
        };
        let answer: Value = serde_json::from_slice(&body).unwrap();
        let status = answer["statusCode"].as_u64().unwrap();
        // The caller's first POST /users creates (201), the others find (200).
        let status = if status == 201 { 200 } else { status };
        assert_eq!(status, expected, "{what}: {answer}");
    }
}

async fn started(function: &str, extra: &[(&str, &str)]) -> (Bootstrap, rollee_sandbox::Sandbox) {
    capture_logs();
    let sandbox = rollee_sandbox::Sandbox::start(JWT).await.unwrap();
    let base = sandbox.base_url();
    let table = local_table().await;
    let moto = shared_moto();
    let mut vars = vec![
        ("ROLLEE_TOKEN", JWT),
        ("ROLLEE_API_URL", base.as_str()),
        ("OWNERSHIP_TABLE", table.as_str()),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        // One caller sends dozens of requests here: not what the quota is about.
        ("SESSIONS_PER_CALLER_PER_MINUTE", "1000"),
    ];
    vars.extend_from_slice(extra);
    // ROLLEE_TOKEN is refused in Lambda: run as `cargo lambda watch` does.
    let bootstrap =
        Bootstrap::start_outside_lambda(&crate::startup::binary(function), function, &vars, true)
            .await
            .unwrap();
    (bootstrap, sandbox)
}

#[tokio::test]
async fn a_function_answers_unreadable_events_with_400_and_keeps_serving() {
    let (function, _sandbox) = started("create-user", &[]).await;
    unreadable_events_get_400_and_the_process_keeps_serving(&function).await;
    add_logs(&function.stop());
    assert_no_leaks();
}

#[tokio::test]
async fn with_four_in_flight_an_unreadable_event_fails_no_other() {
    let (function, _sandbox) = started("create-user", &[("AWS_LAMBDA_MAX_CONCURRENCY", "4")]).await;
    unreadable_events_in_flight_do_not_fail_the_others(&function).await;
    add_logs(&function.stop());
    assert_no_leaks();
}

#[tokio::test]
async fn an_event_that_is_no_http_event_is_logged_as_an_error_without_its_payload() {
    let (function, _sandbox) = started("create-user", &[]).await;
    let not_an_event = json!({"version": "2.0", "routeKey": 5, "marker": "payload-7c1e"});
    let outcome = function
        .runtime
        .invoke(not_an_event.to_string(), Duration::from_secs(20))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Error(_)), "{outcome:?}");
    let good = function
        .invoke(&event("create-user"), Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(good["statusCode"], 201, "{good}");
    let logs = function.stop();
    let error = logs
        .lines()
        .find(|l| l.contains("ERROR") && l.contains("deserialization"))
        .unwrap_or_else(|| panic!("no ERROR line for the unreadable event in: {logs}"));
    assert!(
        !logs.contains("payload-7c1e"),
        "the raw event was logged: {error}"
    );
    add_logs(&logs);
    assert_no_leaks();
}
