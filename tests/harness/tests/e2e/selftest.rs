//! Every function's self-test (`{"rollee_connect_self_test": true}`), the
//! real binaries under the local Runtime API as Lambda runs them, against
//! the sandbox and moto: each dependency up, then each one down, and the
//! check that names it.

use std::time::Duration;

use rollee_harness::runtime_api::Bootstrap;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;
use crate::webhooks::{DEV_SECRET, create_bus};

pub const CONNECT: [&str; 3] = ["create-user", "new-session", "refresh-url"];
const TIMEOUT: Duration = Duration::from_secs(30);

pub fn payload() -> Value {
    json!({ "rollee_connect_self_test": true })
}

/// A JWT with an `exp` 40 days ahead, so that days left is a number.
fn jwt() -> String {
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 40 * 86_400 + 600;
    let payload = format!(r#"{{"exp":{exp},"n":"{}"}}"#, Uuid::new_v4().simple());
    let encoded = base64url(&payload);
    format!("eyJhbGciOiJIUzI1NiJ9.{encoded}.c2lnbmF0dXJl")
}

fn base64url(s: &str) -> String {
    use std::fmt::Write;
    // Unpadded base64url, enough for a test JWT's payload.
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &c)| n | (u32::from(c) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            let _ = out.write_char(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The report's checks by name: (ok, detail).
fn checks(report: &Value) -> Vec<(String, bool, String)> {
    report["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks in {report}"))
        .iter()
        .map(|c| {
            assert!(c["ms"].is_u64(), "each check is timed: {c}");
            (
                c["name"].as_str().unwrap().to_owned(),
                c["ok"].as_bool().unwrap(),
                c["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn failed(report: &Value) -> Vec<String> {
    checks(report)
        .into_iter()
        .filter(|(_, ok, _)| !ok)
        .map(|(name, _, _)| name)
        .collect()
}

fn detail<'a>(report: &'a Value, name: &str) -> &'a str {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["detail"].as_str())
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

async fn self_test(function: &Bootstrap) -> Value {
    let report = function.invoke(&payload(), TIMEOUT).await.unwrap();
    assert!(report["ok"].is_boolean(), "{report}");
    assert!(report["ms"].is_u64(), "{report}");
    report
}

async fn delete_secret(id: &str) {
    shared_moto()
        .client()
        .await
        .unwrap()
        .delete_secret()
        .secret_id(id)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
}

fn aws(moto_endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", moto_endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
    ]
}

async fn start(name: &str, vars: &[(&'static str, String)]) -> Bootstrap {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Bootstrap::start(&crate::startup::binary(name), name, &vars, true)
        .await
        .unwrap()
}

#[tokio::test]
async fn each_connect_function_reports_its_dependencies_up_and_names_each_one_down() {
    capture_logs();
    let moto = shared_moto();
    let good = jwt();
    watch(good.clone());
    let sandbox = rollee_sandbox::Sandbox::start(&good).await.unwrap();
    let table = local_table().await;
    for name in CONNECT {
        let secret = format!("selftest-{}", Uuid::new_v4().simple());
        moto.put_secret(&secret, &good).await.unwrap();
        let mut vars = aws(&moto.endpoint);
        vars.extend([
            ("ROLLEE_SECRET_ID", secret.clone()),
            ("ROLLEE_API_URL", sandbox.base_url()),
            ("OWNERSHIP_TABLE", table.clone()),
        ]);

        // Everything up; then the HTTP path still answers, and a payload with
        // any other field is not the self-test.
        let function = start(name, &vars).await;
        let report = self_test(&function).await;
        assert_eq!(report["self_test"], name, "{report}");
        assert_eq!(report["ok"], true, "{name}: {report}");
        eprintln!("{report}");
        let names: Vec<String> = checks(&report).into_iter().map(|c| c.0).collect();
        assert_eq!(names, ["secret", "jwt_days_left", "rollee", "table"]);
        assert_eq!(detail(&report, "jwt_days_left"), "40 days left");
        if name == "create-user" {
            let answer = function
                .invoke(&event("create-user"), TIMEOUT)
                .await
                .unwrap();
            assert_eq!(answer["statusCode"], 201, "{answer}");
            watch_url(&answer);
        }
        let mut other = payload();
        other["version"] = "2.0".into();
        assert!(
            function.invoke(&other, TIMEOUT).await.is_err(),
            "{name}: a payload with another field is an (unreadable) event, not the self-test"
        );

        // The secret deleted after start: the held JWT still serves, the check says.
        delete_secret(&secret).await;
        let report = self_test(&function).await;
        assert_eq!(
            failed(&report),
            ["secret", "jwt_days_left"],
            "{name}: {report}"
        );
        assert!(detail(&report, "secret").contains(&secret), "{report}");
        add_logs(&function.stop());

        // A JWT Rollee rejects, and a table that does not exist.
        let rejected = jwt();
        watch(rejected.clone());
        moto.put_secret(&secret, &rejected).await.unwrap();
        let mut down = vars.clone();
        down.retain(|(k, _)| *k != "OWNERSHIP_TABLE");
        down.push(("OWNERSHIP_TABLE", "no-such-table".to_owned()));
        let function = start(name, &down).await;
        let report = self_test(&function).await;
        assert_eq!(report["ok"], false);
        assert_eq!(failed(&report), ["rollee", "table"], "{name}: {report}");
        assert!(
            detail(&report, "rollee").contains("rejected the JWT"),
            "{report}"
        );
        add_logs(&function.stop());
        assert!(!report.to_string().contains(&rejected));
    }
    assert_no_leaks();
}

fn watch_url(answer: &Value) {
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    if let Some(session) = body["session_id"].as_str() {
        watch(session.to_owned());
    }
}

#[tokio::test]
async fn the_webhook_function_reports_its_secret_table_and_bus_and_names_each_one_down() {
    capture_logs();
    let moto = shared_moto();
    let secret = format!("selftest-webhook-{}", Uuid::new_v4().simple());
    moto.put_secret(&secret, DEV_SECRET).await.unwrap();
    watch(DEV_SECRET);
    let bus = format!("selftest-bus-{}", Uuid::new_v4().simple());
    create_bus(&bus).await;
    let table = local_table().await;
    let mut vars = aws(&moto.endpoint);
    vars.extend([
        ("WEBHOOK_SECRET_ID", secret.clone()),
        ("EVENT_BUS_NAME", bus.clone()),
        ("OWNERSHIP_TABLE", table.clone()),
    ]);
    let function = start("webhook", &vars).await;
    let report = self_test(&function).await;
    assert_eq!(report["self_test"], "webhook");
    assert_eq!(report["ok"], true, "{report}");
    let names: Vec<String> = checks(&report).into_iter().map(|c| c.0).collect();
    assert_eq!(names, ["webhook_secret", "table", "bus"]);
    delete_secret(&secret).await;
    let report = self_test(&function).await;
    assert_eq!(failed(&report), ["webhook_secret"], "{report}");
    add_logs(&function.stop());

    moto.put_secret(&secret, DEV_SECRET).await.unwrap();
    let mut down = vars.clone();
    down.retain(|(k, _)| *k != "OWNERSHIP_TABLE" && *k != "EVENT_BUS_NAME");
    down.push(("OWNERSHIP_TABLE", "no-such-table".to_owned()));
    down.push(("EVENT_BUS_NAME", "no-such-bus".to_owned()));
    let function = start("webhook", &down).await;
    let report = self_test(&function).await;
    assert_eq!(failed(&report), ["table", "bus"], "{report}");
    assert!(detail(&report, "bus").contains("no-such-bus"), "{report}");
    add_logs(&function.stop());
    assert_no_leaks();
}

#[tokio::test]
async fn the_rotation_function_reports_its_secret_and_rollee_and_names_each_one_down() {
    capture_logs();
    let moto = shared_moto();
    let good = jwt();
    watch(good.clone());
    let sandbox = rollee_sandbox::Sandbox::start(&good).await.unwrap();
    let secret = format!("selftest-rotation-{}", Uuid::new_v4().simple());
    moto.put_secret(&secret, &good).await.unwrap();
    let mut vars = aws(&moto.endpoint);
    vars.push(("ROLLEE_API_URL", sandbox.base_url()));
    vars.push((
        "ROLLEE_TOKEN_REFRESH_PATH",
        "/api/v0.5/token/refresh".into(),
    ));
    vars.push(("METRICS_NAMESPACE", NAMESPACE.to_owned()));

    // Without ROLLEE_SECRET_ID the self-test cannot know the secret, and says so.
    let function = start("rotate-token", &vars).await;
    let report = self_test(&function).await;
    assert_eq!(
        failed(&report),
        ["secret", "jwt_days_left", "rollee"],
        "{report}"
    );
    assert!(
        detail(&report, "secret").contains("ROLLEE_SECRET_ID"),
        "{report}"
    );
    add_logs(&function.stop());

    vars.push(("ROLLEE_SECRET_ID", secret.clone()));
    let function = start("rotate-token", &vars).await;
    let report = self_test(&function).await;
    assert_eq!(report["self_test"], "rotate-token");
    assert_eq!(report["ok"], true, "{report}");
    let rejected = jwt();
    watch(rejected.clone());
    moto.put_secret(&secret, &rejected).await.unwrap();
    let report = self_test(&function).await;
    assert_eq!(failed(&report), ["rollee"], "{report}");
    delete_secret(&secret).await;
    let report = self_test(&function).await;
    assert_eq!(
        failed(&report),
        ["secret", "jwt_days_left", "rollee"],
        "{report}"
    );
    add_logs(&function.stop());
    assert_no_leaks();
}
