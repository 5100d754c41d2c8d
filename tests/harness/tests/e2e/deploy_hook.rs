//! The pre-traffic hook (`deploy-check`), the real binary under the local
//! Runtime API: it invokes the self-test of the five real function binaries
//! (each under its own Runtime API, against the sandbox and moto) through a
//! local stand-in for Lambda's Invoke, and reports to a stand-in for
//! CodeDeploy's `PutLifecycleEventHookExecutionStatus`.

use std::sync::Arc;
use std::time::Duration;

use rollee_harness::aws_standin::{AwsStandIn, HookStatus};
use rollee_harness::runtime_api::Bootstrap;
use serde_json::json;
use uuid::Uuid;

use crate::support::*;
use crate::webhooks::{DEV_SECRET, create_bus};

const TIMEOUT: Duration = Duration::from_secs(60);
const REGION: &str = "eu-west-1";

fn arn(function: &str, version: u32) -> String {
    format!("arn:aws:lambda:{REGION}:123456789012:function:stack-{function}:{version}")
}

async fn start(name: &str, vars: &[(&str, String)]) -> Bootstrap {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Bootstrap::start(&crate::startup::binary(name), name, &vars, true)
        .await
        .unwrap()
}

async fn hook_event(hook: &Bootstrap, deployment: &str) -> Result<serde_json::Value, String> {
    hook.invoke(
        &json!({"DeploymentId": deployment, "LifecycleEventHookExecutionId": format!("exec-{deployment}")}),
        TIMEOUT,
    )
    .await
}

#[tokio::test]
async fn the_hook_reports_succeeded_when_every_self_test_passes_and_failed_naming_the_one_that_does_not()
 {
    capture_logs();
    let moto = shared_moto();
    let jwt = format!("eyJhbGciOiJIUzI1NiJ9.e30.{}", Uuid::new_v4().simple());
    watch(jwt.clone());
    watch(DEV_SECRET);
    let sandbox = rollee_sandbox::Sandbox::start(&jwt).await.unwrap();
    let secret = format!("hook-{}", Uuid::new_v4().simple());
    moto.put_secret(&secret, &jwt).await.unwrap();
    let webhook_secret = format!("hook-webhook-{}", Uuid::new_v4().simple());
    moto.put_secret(&webhook_secret, DEV_SECRET).await.unwrap();
    let bus = format!("hook-bus-{}", Uuid::new_v4().simple());
    create_bus(&bus).await;
    let table = local_table().await;
    let aws = |extra: &[(&'static str, String)]| {
        let mut vars = vec![
            ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ];
        vars.extend_from_slice(extra);
        vars
    };
    let connect = aws(&[
        ("ROLLEE_SECRET_ID", secret.clone()),
        ("ROLLEE_API_URL", sandbox.base_url()),
        ("OWNERSHIP_TABLE", table.clone()),
    ]);
    let standin = AwsStandIn::start(REGION).await.unwrap();
    let mut functions = Vec::new();
    for name in crate::selftest::CONNECT {
        functions.push((name, start(name, &connect).await));
    }
    functions.push((
        "rotate-token",
        start(
            "rotate-token",
            &aws(&[
                ("ROLLEE_SECRET_ID", secret.clone()),
                ("ROLLEE_API_URL", sandbox.base_url()),
            ]),
        )
        .await,
    ));
    functions.push((
        "webhook",
        start(
            "webhook",
            &aws(&[
                ("WEBHOOK_SECRET_ID", webhook_secret.clone()),
                ("EVENT_BUS_NAME", bus.clone()),
                ("OWNERSHIP_TABLE", table.clone()),
            ]),
        )
        .await,
    ));
    let mut targets = Vec::new();
    for (name, function) in &functions {
        standin.register(&arn(name, 2), Arc::clone(&function.runtime));
        targets.push(arn(name, 2));
    }
    let hook_vars = [
        ("AWS_ENDPOINT_URL", standin.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("SELF_TEST_TARGETS", targets.join(",")),
    ];
    let hook = start("deploy-check", &hook_vars).await;

    // All five up: Succeeded, after one self-test of each.
    let started = std::time::Instant::now();
    hook_event(&hook, "d-up").await.unwrap();
    let took = started.elapsed();
    assert_eq!(
        standin.statuses(),
        [HookStatus {
            deployment_id: "d-up".into(),
            execution_id: "exec-d-up".into(),
            status: "Succeeded".into()
        }]
    );
    let mut expected: Vec<String> = targets.clone();
    expected.push("CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus".into());
    assert_eq!(standin.calls(), expected);
    eprintln!("the hook: five self-tests and the report in {took:?}");

    // The bus deleted: the webhook's self-test fails, and with it the deployment.
    let events = aws_sdk_eventbridge::Client::new(&moto.sdk_config().await.unwrap());
    // (Its rule and target go first: a bus with rules cannot be deleted.)
    let rules = events
        .list_rules()
        .event_bus_name(&bus)
        .send()
        .await
        .unwrap();
    for rule in rules.rules() {
        let name = rule.name().unwrap();
        let targets = events
            .list_targets_by_rule()
            .rule(name)
            .event_bus_name(&bus)
            .send()
            .await
            .unwrap();
        let ids: Vec<String> = targets
            .targets()
            .iter()
            .map(|t| t.id().to_owned())
            .collect();
        if !ids.is_empty() {
            events
                .remove_targets()
                .rule(name)
                .event_bus_name(&bus)
                .set_ids(Some(ids))
                .send()
                .await
                .unwrap();
        }
        events
            .delete_rule()
            .name(name)
            .event_bus_name(&bus)
            .send()
            .await
            .unwrap();
    }
    events.delete_event_bus().name(&bus).send().await.unwrap();
    hook_event(&hook, "d-bus").await.unwrap();
    assert_eq!(standin.statuses()[1].status, "Failed");

    // A version that does not exist, and one whose init failed.
    let broken = start(
        "create-user",
        &aws(&[
            ("ROLLEE_SECRET_ID", "no-such-secret".to_owned()),
            ("ROLLEE_API_URL", sandbox.base_url()),
            ("OWNERSHIP_TABLE", table.clone()),
        ]),
    )
    .await;
    for _ in 0..100 {
        if broken.runtime.init_error().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(broken.runtime.init_error().is_some());
    standin.register(&arn("create-user", 3), Arc::clone(&broken.runtime));
    let hook2 = start(
        "deploy-check",
        &[
            ("AWS_ENDPOINT_URL", standin.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            (
                "SELF_TEST_TARGETS",
                format!("{},{}", arn("create-user", 3), arn("new-session", 9)),
            ),
        ],
    )
    .await;
    hook_event(&hook2, "d-broken").await.unwrap();
    assert_eq!(standin.statuses()[2].status, "Failed");

    let logs = format!("{}{}", hook.stop(), hook2.stop());
    let failed: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("self-test failed"))
        .collect();
    assert_eq!(failed.len(), 3, "{logs}");
    assert!(
        failed[0].contains("stack-webhook") && failed[0].contains("bus: event bus"),
        "{}",
        failed[0]
    );
    assert!(
        failed[1].contains("could not read secret no-such-secret"),
        "{}",
        failed[1]
    );
    assert!(failed[2].contains("Function not found"), "{}", failed[2]);
    add_logs(&logs);
    add_logs(&broken.stop());
    for (_, function) in functions {
        add_logs(&function.stop());
    }
    assert_no_leaks();
}

#[tokio::test]
async fn without_targets_or_credentials_the_hook_fails_the_deployment_or_reports_nothing() {
    capture_logs();
    let standin = AwsStandIn::start(REGION).await.unwrap();
    // No targets: nothing proves the new versions, so Failed.
    let hook = start(
        "deploy-check",
        &[
            ("AWS_ENDPOINT_URL", standin.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ],
    )
    .await;
    hook_event(&hook, "d-none").await.unwrap();
    assert_eq!(standin.statuses()[0].status, "Failed");
    add_logs(&hook.stop());
    // CodeDeploy refusing the report: the invocation fails, saying why.
    let hook = start(
        "deploy-check",
        &[
            ("AWS_ENDPOINT_URL", standin.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("SELF_TEST_TARGETS", arn("create-user", 1)),
        ],
    )
    .await;
    let error = hook_event(&hook, "").await.unwrap_err();
    assert!(error.contains("CodeDeploy answered HTTP 400"), "{error}");
    add_logs(&hook.stop());
}
