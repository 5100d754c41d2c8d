//! The artifacts `sam build` produced, run the way Lambda runs them: each
//! `bootstrap` against a local Runtime API, its JWT read from moto's Secrets
//! Manager, its Rollee the local sandbox.
//!
//! Needs `sam build` first, so it is ignored by a plain `cargo test`;
//! `make test` builds with SAM and runs it with `--ignored`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::support::*;
use rollee_harness::runtime_api::{Bootstrap, RuntimeApi, lambda_environment};
use serde_json::Value;

const FUNCTIONS: [(&str, &str); 5] = [
    ("CreateUserFunction", "create-user"),
    ("NewSessionFunction", "new-session"),
    ("RefreshUrlFunction", "refresh-url"),
    ("RotateTokenFunction", "rotate-token"),
    ("WebhookFunction", "webhook"),
];
const SECRET: &str = "rollee/connect/jwt";
/// The built functions' metrics namespace (the template's METRICS_NAMESPACE).
const METRICS: &str = "RolleeConnect/artifact";

fn build_dir() -> PathBuf {
    std::env::var_os("SAM_BUILD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".aws-sam/build"))
}

fn bootstrap(logical_id: &str) -> PathBuf {
    let path = build_dir().join(logical_id).join("bootstrap");
    assert!(
        path.is_file(),
        "{} is missing: run `sam build` first",
        path.display()
    );
    path
}

/// Starts `logical_id`'s built bootstrap as Lambda would, with `vars` on top.
async fn start(logical_id: &str, vars: &[(&str, String)]) -> Bootstrap {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Bootstrap::start(&bootstrap(logical_id), logical_id, &vars, true)
        .await
        .unwrap()
}

async fn invoke(function: &Bootstrap, event: &Value) -> Value {
    function
        .invoke(event, Duration::from_secs(20))
        .await
        .unwrap()
}

fn api_answer(response: &Value) -> (u16, Value) {
    let status = response["statusCode"].as_u64().unwrap() as u16;
    let body = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    (status, body)
}

#[test]
#[ignore = "needs `sam build`; run by `make test`"]
fn sam_built_the_five_bootstraps() {
    use std::os::unix::fs::PermissionsExt;
    for (id, _) in FUNCTIONS {
        let path = bootstrap(id);
        let meta = std::fs::metadata(&path).unwrap();
        println!("{id}/bootstrap: {} bytes", meta.len());
        assert!(
            meta.permissions().mode() & 0o111 != 0,
            "{id}: not executable"
        );
        // An x86-64 ELF executable (make deploy-checks builds x86_64: these tests run the binaries here).
        let head = std::fs::read(&path).unwrap();
        assert_eq!(&head[..4], b"\x7fELF", "{id}: not an ELF file");
        assert_eq!(
            u16::from_le_bytes([head[18], head[19]]),
            62,
            "{id}: not x86-64"
        );
    }
}

#[tokio::test]
#[ignore = "needs `sam build`; run by `make test`"]
async fn the_built_functions_answer_the_flow_with_the_secret_from_secrets_manager() {
    capture_logs();
    let moto = Moto::start().unwrap();
    let jwt = "eyJ0eXAiOiJKV1QifQ.artifact-test.c2ln";
    watch(jwt);
    moto.put_secret(SECRET, jwt).await.unwrap();
    moto.create_table("ownership").await.unwrap();
    let sandbox = rollee_sandbox::Sandbox::start(jwt).await.unwrap();
    let vars = [
        ("ROLLEE_SECRET_ID", SECRET.to_owned()),
        ("ROLLEE_API_URL", sandbox.base_url()),
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("OWNERSHIP_TABLE", "ownership".to_owned()),
        ("AWS_SESSION_TOKEN", "testing".to_owned()),
        ("METRICS_NAMESPACE", METRICS.to_owned()),
    ];

    let create = start("CreateUserFunction", &vars).await;
    let (status, created) = api_answer(&invoke(&create, &event("create-user")).await);
    assert_eq!(status, 201, "{created}");
    let user = created["user_id"].as_str().unwrap().to_owned();
    watch(
        created["connect_url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap(),
    );

    let session = start("NewSessionFunction", &vars).await;
    let (status, fresh) =
        api_answer(&invoke(&session, &with_user(event("new-session"), &user)).await);
    assert_eq!(status, 201, "{fresh}");
    let url = fresh["connect_url"].as_str().unwrap().to_owned();
    watch(url.rsplit('/').next().unwrap());

    let refresh = start("RefreshUrlFunction", &vars).await;
    let body = serde_json::json!({ "connect_url": url }).to_string();
    let (status, refreshed) =
        api_answer(&invoke(&refresh, &with_body(event("refresh-url"), &body)).await);
    assert_eq!(status, 200, "{refreshed}");
    watch(
        refreshed["connect_url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap(),
    );

    // A caller without claims never gets a default identity in AWS.
    let (status, _) = api_answer(&invoke(&refresh, &event("refresh-url-no-claims")).await);
    assert_eq!(status, 401);

    // Rollee rejects the JWT; the secret holds no other: 503, and the metric
    // the JWT-rejected alarm watches, from the built binary.
    sandbox.fail(rollee_sandbox::Fault::Unauthorized, Some(1));
    let (status, rejected) =
        api_answer(&invoke(&session, &with_user(event("new-session"), &user)).await);
    assert_eq!(status, 503, "{rejected}");

    let (alarm_metric, alarm_dimensions, _) = crate::metrics::alarm_metric("JwtRejectedAlarm");
    let alarm_dimensions: Vec<(&str, &str)> = alarm_dimensions
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for (name, function) in [
        ("create-user", create),
        ("new-session", session),
        ("refresh-url", refresh),
    ] {
        let logs = function.stop();
        assert!(
            logs.contains("read the Rollee JWT from Secrets Manager"),
            "{logs}"
        );
        // JSON lines, each with its request and trace ids after init; the
        // metric lines by the embedded metric format's rules.
        let metrics = crate::logs::check_output(&logs, METRICS, &mut seen);
        let answers: Vec<_> = metrics
            .iter()
            .filter(|d| d.value("Requests").is_some())
            .collect();
        assert!(!answers.is_empty(), "{name}: no Requests line in {logs}");
        for answer in answers {
            assert_eq!(answer.root["Function"], name);
        }
        if name == "new-session" {
            assert!(
                metrics
                    .iter()
                    .any(|d| d.publishes(&alarm_metric, &alarm_dimensions)),
                "no {alarm_metric} {alarm_dimensions:?} in {logs}"
            );
        }
        // The leak check reads these logs too.
        add_logs(&logs);
    }
    assert_no_leaks();
}

#[tokio::test]
#[ignore = "needs `sam build`; run by `make test`"]
async fn the_built_webhook_function_reads_its_generated_secret_and_publishes_to_the_bus() {
    capture_logs();
    let moto = Moto::start().unwrap();
    // The template generates this secret; the sample event carries the header make dev's derives.
    let secret_id = "rollee/connect/webhook";
    moto.put_secret(secret_id, crate::webhooks::DEV_SECRET)
        .await
        .unwrap();
    watch(crate::webhooks::DEV_SECRET);
    moto.create_table("ownership").await.unwrap();
    let bus =
        rollee_harness::bus::create(&moto.sdk_config().await.unwrap(), &moto.endpoint, "rollee")
            .await
            .unwrap();
    let vars = [
        ("WEBHOOK_SECRET_ID", secret_id.to_owned()),
        ("WEBHOOK_HEADER", "x-rollee-webhook-token".to_owned()),
        ("WEBHOOK_SIGNATURE", "off".to_owned()),
        ("EVENT_BUS_NAME", "rollee".to_owned()),
        ("OWNERSHIP_TABLE", "ownership".to_owned()),
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_SESSION_TOKEN", "testing".to_owned()),
    ];
    let webhook = start("WebhookFunction", &vars).await;
    let (status, body) = api_answer(&invoke(&webhook, &event("webhook")).await);
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("published")),
        "{body}"
    );
    let (status, body) = api_answer(&invoke(&webhook, &event("webhook")).await);
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("duplicate")),
        "{body}"
    );
    let (status, _) = api_answer(&invoke(&webhook, &event("webhook-no-header")).await);
    assert_eq!(status, 401);
    let events = bus.wait_for(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail-type"], "connect_account");
    let logs = webhook.stop();
    assert!(
        logs.contains("read the webhook secret from Secrets Manager"),
        "{logs}"
    );
    assert!(
        logs.lines().all(|l| l.starts_with('{')),
        "JSON logs only: {logs}"
    );
    add_logs(&logs);
    assert_no_leaks();
}

#[tokio::test]
#[ignore = "needs `sam build`; run by `make test`"]
async fn a_built_function_without_its_secret_variable_stops_at_init_naming_it() {
    let runtime = RuntimeApi::start("CreateUserFunction").await.unwrap();
    let path = bootstrap("CreateUserFunction");
    let env = lambda_environment("CreateUserFunction", &runtime.address(), 128);
    // Off the test's own thread: the Runtime API that takes the init error
    // runs on it.
    let output =
        tokio::task::spawn_blocking(move || Command::new(path).env_clear().envs(env).output())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(text.lines().count(), 1, "{text}");
    let line: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(line["level"], "ERROR");
    assert!(
        line["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("ROLLEE_SECRET_ID"),
        "{line}"
    );
    // It reported the reason to the Runtime API's init/error, and never asked for an event.
    let error = runtime.ready(Duration::from_millis(100)).await.unwrap_err();
    assert!(
        error.starts_with("init error: ") && error.contains("ROLLEE_SECRET_ID"),
        "{error}"
    );
}

/// The release build (`panic = "unwind"`): what lambda_http cannot read is a
/// 400, and the process serves on, alone and with four invocations in flight.
#[tokio::test]
#[ignore = "needs `sam build`; run by `make test`"]
async fn the_built_function_answers_unreadable_events_with_400_and_keeps_serving() {
    capture_logs();
    let moto = Moto::start().unwrap();
    let jwt = "eyJ0eXAiOiJKV1QifQ.artifact-robustness.c2ln";
    watch(jwt);
    moto.put_secret(SECRET, jwt).await.unwrap();
    moto.create_table("ownership").await.unwrap();
    let sandbox = rollee_sandbox::Sandbox::start(jwt).await.unwrap();
    let vars = [
        ("ROLLEE_SECRET_ID", SECRET.to_owned()),
        ("ROLLEE_API_URL", sandbox.base_url()),
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("OWNERSHIP_TABLE", "ownership".to_owned()),
        // One caller sends dozens of requests here: not what the quota is about.
        ("SESSIONS_PER_CALLER_PER_MINUTE", "1000".to_owned()),
        ("METRICS_NAMESPACE", METRICS.to_owned()),
    ];
    let one_at_a_time = start("CreateUserFunction", &vars).await;
    crate::robustness::unreadable_events_get_400_and_the_process_keeps_serving(&one_at_a_time)
        .await;
    let logs = one_at_a_time.stop();
    // An unreadable event is answered and counted like any other request.
    let metrics = crate::logs::check_output(&logs, METRICS, &mut Default::default());
    assert!(
        metrics
            .iter()
            .any(|d| d.publishes("Problems", &[("Problem", "invalid-request")])),
        "{logs}"
    );
    add_logs(&logs);

    let mut concurrent_vars = vars.to_vec();
    concurrent_vars.push(("AWS_LAMBDA_MAX_CONCURRENCY", "4".to_owned()));
    let four_at_a_time = start("CreateUserFunction", &concurrent_vars).await;
    crate::robustness::unreadable_events_in_flight_do_not_fail_the_others(&four_at_a_time).await;
    add_logs(&four_at_a_time.stop());
    assert_no_leaks();
}
