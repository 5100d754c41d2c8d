//! The real function binaries at cold start, configured only through the
//! environment as in AWS: what they read, and how they stop when they cannot.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::*;

/// The three binaries, built (a no-op when `cargo test` already did) next to this test.
pub fn binary(name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", name, "--bin", name])
        .current_dir(root())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {name} failed");
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/e2e-… → target/debug/<name>
    exe.parent().unwrap().parent().unwrap().join(name)
}

/// Runs a function binary outside Lambda (no Runtime API): init runs, then it stops.
fn cold_start<V: AsRef<std::ffi::OsStr>>(name: &str, vars: &[(&str, V)]) -> (Output, String) {
    let mut command = Command::new(binary(name));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in vars {
        command.env(k, v);
    }
    let output = command.output().expect("the function binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

#[test]
fn without_a_token_source_each_function_stops_with_one_line_naming_it() {
    for name in ["create-user", "new-session", "refresh-url"] {
        let (output, text) = cold_start::<&str>(name, &[]);
        assert_eq!(output.status.code(), Some(1), "{name}: {text}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{name}: {text}");
        assert!(
            lines[0].contains("startup failed: neither ROLLEE_SECRET_ID nor ROLLEE_TOKEN is set"),
            "{text}"
        );
    }
}

#[test]
fn contradictory_settings_stop_the_start() {
    let (output, text) = cold_start(
        "create-user",
        &[("ROLLEE_SECRET_ID", "s"), ("ROLLEE_TOKEN", "eyJx")],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text.contains("both ROLLEE_SECRET_ID and ROLLEE_TOKEN are set"),
        "{text}"
    );
    assert!(!text.contains("eyJx"));
    let (output, text) = cold_start(
        "new-session",
        &[("ROLLEE_TOKEN", "eyJx"), ("ROLLEE_API_URL", "ftp://h")],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text.contains("ROLLEE_API_URL must be an http(s) URL"),
        "{text}"
    );
}

#[tokio::test]
async fn in_aws_the_secret_is_read_through_the_standard_sdk_environment() {
    capture_logs();
    let moto = Moto::start().unwrap();
    let aws = |secret: &str| {
        [
            ("ROLLEE_SECRET_ID", secret.to_owned()),
            ("ROLLEE_API_URL", "http://127.0.0.1:9/api/v0.5".to_owned()),
            ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
            ("AWS_REGION", "eu-west-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("OWNERSHIP_TABLE", "ownership".to_owned()),
        ]
    };

    // No such secret: one line naming it, exit 1.
    let (output, text) = cold_start("refresh-url", &aws("rollee/missing"));
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("could not read secret rollee/missing"),
        "{text}"
    );

    // The secret exists: read at init, then the runtime stops for want of a
    // Lambda Runtime API, which only Lambda (or cargo lambda) provides.
    let jwt = "eyJ0eXAiOiJKV1QifQ.startup-test.c2ln";
    watch(jwt);
    moto.put_secret("rollee/jwt", jwt).await.unwrap();
    let (_, text) = cold_start("create-user", &aws("rollee/jwt"));
    assert!(
        text.contains("read the Rollee JWT from Secrets Manager"),
        "{text}"
    );
    assert!(!text.contains(jwt), "the JWT is never logged");
    assert!(!text.contains("startup failed"), "{text}");
}

/// At TRACE, every library logs what it sees. Nothing it logs may carry the
/// Rollee JWT, the app user's login token or a Connect session.
#[tokio::test]
async fn at_trace_level_no_log_line_carries_a_token() {
    use rollee_harness::runtime_api::Bootstrap;
    use std::time::Duration;

    capture_logs();
    let moto = Moto::start().unwrap();
    let jwt = "eyJ0eXAiOiJKV1QifQ.trace-test.c2ln";
    let app_token = "eyJhcHAiOiJsb2dpbiJ9.app-user-login.c2ln";
    watch(jwt);
    watch(app_token);
    moto.put_secret("rollee/jwt", jwt).await.unwrap();
    let sandbox = rollee_sandbox::Sandbox::start(jwt).await.unwrap();
    let base = sandbox.base_url();
    let vars = [
        ("ROLLEE_SECRET_ID", "rollee/jwt"),
        ("ROLLEE_API_URL", base.as_str()),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ("OWNERSHIP_TABLE", "ownership"),
    ];
    moto.create_table("ownership").await.unwrap();
    let with_login = |mut e: serde_json::Value| {
        e["headers"]["authorization"] = format!("Bearer {app_token}").into();
        e
    };

    let create = Bootstrap::start(&binary("create-user"), "create-user", &vars, true)
        .await
        .unwrap();
    let created = create
        .invoke(&with_login(event("create-user")), Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(created["statusCode"], 201, "{created}");
    let body: serde_json::Value = serde_json::from_str(created["body"].as_str().unwrap()).unwrap();
    let url = body["connect_url"].as_str().unwrap().to_owned();
    watch(url.rsplit('/').next().unwrap());

    let refresh = Bootstrap::start(&binary("refresh-url"), "refresh-url", &vars, true)
        .await
        .unwrap();
    let e = with_body(
        event("refresh-url"),
        &serde_json::json!({ "connect_url": url }).to_string(),
    );
    let refreshed = refresh
        .invoke(&with_login(e), Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(refreshed["statusCode"], 200, "{refreshed}");
    let body: serde_json::Value =
        serde_json::from_str(refreshed["body"].as_str().unwrap()).unwrap();
    watch(
        body["connect_url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap(),
    );

    for function in [create, refresh] {
        let logs = function.stop();
        assert!(
            logs.contains(r#""level":"TRACE""#),
            "TRACE was not on: {logs}"
        );
        add_logs(&logs);
    }
    assert_no_leaks();
}

/// In Lambda, a function that cannot start says why to the Runtime API's
/// `init/error` (Lambda then fails the invocation at once with that reason)
/// and exits; it never asks for an event.
#[tokio::test]
async fn in_lambda_a_start_failure_is_reported_to_init_error_and_the_process_exits() {
    use rollee_harness::runtime_api::{RuntimeApi, lambda_environment};
    use std::time::Duration;

    let runtime = RuntimeApi::start("new-session").await.unwrap();
    let mut child = Command::new(binary("new-session"))
        .env_clear()
        .envs(lambda_environment("new-session", &runtime.address(), 128))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let reported = runtime.ready(Duration::from_secs(20)).await;
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let error = reported.expect_err("it never asks for an event");
    assert!(error.starts_with("init error: "), "{error}");
    let body: serde_json::Value =
        serde_json::from_str(error.trim_start_matches("init error: ")).unwrap();
    assert_eq!(body["errorType"], "Runtime.InitError");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("neither ROLLEE_SECRET_ID nor ROLLEE_TOKEN is set"),
        "{body}"
    );
}

/// Outside Lambda (`cargo lambda watch`, which never restarts a function
/// that exited), a function that cannot start answers every call at once
/// with a 500 problem naming the reason, instead of leaving it waiting.
#[tokio::test]
async fn outside_lambda_a_start_failure_answers_every_call_at_once_with_the_reason() {
    use rollee_harness::runtime_api::Bootstrap;
    use std::time::{Duration, Instant};

    let function = Bootstrap::start_outside_lambda(
        &binary("create-user"),
        "create-user",
        &[("ROLLEE_TOKEN", "eyJx"), ("ROLLEE_API_URL", "ftp://h")],
        true,
    )
    .await
    .unwrap();
    for _ in 0..2 {
        let started = Instant::now();
        let answer = function
            .invoke(&event("create-user"), Duration::from_secs(20))
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(answer["statusCode"], 500, "{answer}");
        assert_eq!(
            answer["headers"]["content-type"],
            "application/problem+json"
        );
        let body: serde_json::Value =
            serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["type"], "urn:rollee-connect:problem:internal");
        assert_eq!(body["request_id"].as_str().map(str::is_empty), Some(false));
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(
                "This function could not start: ROLLEE_API_URL must be an http(s) URL"
            ),
            "{detail}"
        );
    }
    let logs = function.stop();
    assert!(logs.contains("startup failed"), "{logs}");
    assert!(!logs.contains("eyJx"), "the JWT is never logged");
}
