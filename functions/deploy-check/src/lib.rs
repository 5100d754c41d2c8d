//! CodeDeploy's pre-traffic hook. Before a new version of a function takes
//! any traffic, CodeDeploy invokes this with `{DeploymentId,
//! LifecycleEventHookExecutionId}`; it invokes the self-test
//! (`{"rollee_connect_self_test": true}`) of every function's new version
//! named in `SELF_TEST_TARGETS` (the template sets their version ARNs), and
//! reports `Succeeded` only when every report says `ok`, else `Failed`, to
//! CodeDeploy's `PutLifecycleEventHookExecutionStatus`. `Failed` stops the
//! deployment: the alias keeps pointing at the old version.
//!
//! Its two AWS calls are signed here with the SDK's own SigV4 signer (no
//! Lambda or CodeDeploy SDK crate for two calls). `AWS_ENDPOINT_URL`, as for
//! the SDK, points both at a local stand-in in tests.

mod aws;

use std::time::{Duration, Instant};

use rollee_shared::app::init_logging;
use rollee_shared::lambda_http::lambda_runtime::{self, Diagnostic, LambdaEvent, service_fn};
use rollee_shared::lambda_http::tracing;
use serde::Deserialize;
use serde_json::Value;

pub use aws::Aws;

/// The function versions to self-test, comma-separated (qualified ARNs).
pub const TARGETS_VAR: &str = "SELF_TEST_TARGETS";
/// How long one self-test may take (a cold start included).
const INVOKE_TIMEOUT: Duration = Duration::from_secs(40);
/// How much of a failure's reason is kept.
const MAX_DETAIL: usize = 400;

/// What CodeDeploy sends a lifecycle hook.
#[derive(Debug, Deserialize)]
pub struct HookEvent {
    #[serde(rename = "DeploymentId")]
    pub deployment_id: String,
    #[serde(rename = "LifecycleEventHookExecutionId")]
    pub execution_id: String,
}

/// One target's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub target: String,
    pub ok: bool,
    /// The failed checks (`name: why`), or the invocation's error.
    pub detail: String,
    pub ms: u64,
}

pub struct Hook {
    aws: Aws,
    targets: Vec<String>,
}

impl Hook {
    pub fn new(aws: Aws, targets: Vec<String>) -> Self {
        Self { aws, targets }
    }

    /// Every target's self-test, one after the other (a handful, each a
    /// few hundred milliseconds warm).
    pub async fn verdicts(&self) -> Vec<Verdict> {
        let mut out = Vec::with_capacity(self.targets.len());
        for target in &self.targets {
            let started = Instant::now();
            let (ok, detail) = match self.aws.invoke(target, INVOKE_TIMEOUT).await {
                Ok(invoked) => judge(invoked.function_error.as_deref(), &invoked.body),
                Err(e) => (false, e),
            };
            let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            if ok {
                tracing::info!(function = %target, ms, "self-test passed");
            } else {
                tracing::warn!(function = %target, ms, %detail, "self-test failed");
            }
            out.push(Verdict {
                target: target.clone(),
                ok,
                detail,
                ms,
            });
        }
        out
    }

    /// One lifecycle event: the verdicts, then the status reported. An
    /// error is the report itself failing (CodeDeploy then fails the
    /// deployment when the hook's time is up).
    pub async fn handle(&self, event: &HookEvent) -> Result<&'static str, String> {
        let verdicts = if self.targets.is_empty() {
            tracing::warn!("{TARGETS_VAR} names no function: nothing proves the new versions");
            Vec::new()
        } else {
            self.verdicts().await
        };
        let passed = !verdicts.is_empty() && verdicts.iter().all(|v| v.ok);
        let status = if passed { "Succeeded" } else { "Failed" };
        self.aws
            .put_hook_status(&event.deployment_id, &event.execution_id, status)
            .await?;
        tracing::info!(
            deployment_id = %event.deployment_id,
            status,
            functions = verdicts.len(),
            failed = verdicts.iter().filter(|v| !v.ok).count(),
            "reported to CodeDeploy"
        );
        Ok(status)
    }
}

/// Whether a self-test's answer passes, and why not: a function error (it
/// could not start, or the invocation failed), an answer that is no report,
/// or the report's failed checks.
pub fn judge(function_error: Option<&str>, body: &[u8]) -> (bool, String) {
    let answer: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(kind) = function_error {
        let message = answer
            .as_ref()
            .and_then(|a| a.get("errorMessage"))
            .and_then(Value::as_str)
            .unwrap_or("no message");
        return (false, clip(format!("function error ({kind}): {message}")));
    }
    let Some(report) = answer.filter(|a| a.get("self_test").is_some()) else {
        return (
            false,
            "the answer is not a self-test report (an older version without the self-test?)"
                .to_owned(),
        );
    };
    if report.get("ok").and_then(Value::as_bool) == Some(true) {
        return (true, "ok".to_owned());
    }
    let failed: Vec<String> = report
        .get("checks")
        .and_then(Value::as_array)
        .map(|checks| {
            checks
                .iter()
                .filter(|c| c.get("ok").and_then(Value::as_bool) != Some(true))
                .map(|c| {
                    let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
                    let why = c.get("detail").and_then(Value::as_str).unwrap_or("");
                    format!("{name}: {why}")
                })
                .collect()
        })
        .unwrap_or_default();
    let detail = if failed.is_empty() {
        "the report is not ok".to_owned()
    } else {
        failed.join("; ")
    };
    (false, clip(detail))
}

fn clip(mut text: String) -> String {
    if text.len() > MAX_DETAIL {
        let mut end = MAX_DETAIL;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// The targets from `SELF_TEST_TARGETS`.
pub fn targets(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The function: logging, the AWS settings, then one lifecycle event per invocation.
pub fn run() -> Result<(), lambda_runtime::Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            init_logging();
            let hook = match Aws::from_env().await {
                Ok(aws) => Hook::new(
                    aws,
                    targets(&std::env::var(TARGETS_VAR).unwrap_or_default()),
                ),
                Err(e) => {
                    tracing::error!("startup failed: {e}");
                    std::process::exit(1);
                }
            };
            lambda_runtime::run(service_fn(|event: LambdaEvent<HookEvent>| {
                let hook = &hook;
                async move {
                    hook.handle(&event.payload).await.map_err(|e| Diagnostic {
                        error_type: "HookStatusNotReported".to_owned(),
                        error_message: e,
                    })
                }
            }))
            .await
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_report_passes_only_when_ok_and_a_failure_names_its_checks() {
        let ok = json!({"self_test": "webhook", "ok": true, "checks": []});
        assert_eq!(judge(None, ok.to_string().as_bytes()), (true, "ok".into()));
        let bad = json!({"self_test": "create-user", "ok": false, "checks": [
            {"name": "secret", "ok": true, "detail": "read"},
            {"name": "table", "ok": false, "detail": "no such table"},
        ]});
        assert_eq!(
            judge(None, bad.to_string().as_bytes()),
            (false, "table: no such table".into())
        );
        let (ok, why) = judge(
            Some("Unhandled"),
            br#"{"errorMessage":"startup failed: x"}"#,
        );
        assert!(!ok && why.contains("startup failed: x"), "{why}");
        let http = json!({"statusCode": 400, "body": "{}"});
        assert!(!judge(None, http.to_string().as_bytes()).0);
        assert!(!judge(None, b"not json").0);
        let long = "x".repeat(2000);
        assert!(clip(long).len() <= MAX_DETAIL + '…'.len_utf8());
    }

    #[test]
    fn targets_are_a_comma_separated_list() {
        assert_eq!(targets(" a:1, ,b:2,"), ["a:1", "b:2"]);
        assert!(targets("").is_empty());
    }
}
