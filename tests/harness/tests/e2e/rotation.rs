//! The rotation of the Rollee JWT: the real `rotate-token` binary under a
//! local Runtime API, driven step by step as Secrets Manager drives it,
//! against moto's Secrets Manager (versions and staging labels) and the
//! sandbox's token refresh; and the serving functions moving to the new JWT.
//!
//! Each test starts its own moto. moto cannot invoke a rotation function, so
//! the test plays Secrets Manager's part: it starts the rotation
//! (`Moto::start_rotation`: rotation enabled, an empty version staged
//! AWSPENDING) and sends the four events.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rollee_harness::runtime_api::{Bootstrap, Outcome};
use rollee_sandbox::{Fault, Sandbox};
use serde_json::{Value, json};

use crate::support::*;

const SECRET: &str = "rollee/connect/jwt";
const TIMEOUT: Duration = Duration::from_secs(20);
const DAY: i64 = 86_400;

/// A sandbox JWT expiring `days` from now.
fn jwt_in_days(days: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    rollee_sandbox::jwt(now + days * DAY)
}

/// Watches a JWT, and its payload and signature on their own: not even a
/// part of one may reach a log line.
fn watch_jwt(jwt: &str) {
    watch(jwt);
    for part in jwt.split('.').skip(1).filter(|p| p.len() >= 8) {
        watch(part);
    }
}

/// Watches every JWT the sandbox issued.
fn watch_issued(sandbox: &Sandbox) {
    for jwt in sandbox.issued_jwts() {
        watch_jwt(&jwt);
    }
}

struct Rig {
    moto: Moto,
    sandbox: Sandbox,
    /// The secret's ARN: what Secrets Manager puts in the events.
    arn: String,
    function: Bootstrap,
}

/// moto holding `value` as the secret, the sandbox accepting `jwt`, and the
/// rotation function started as Lambda starts it, with `vars` on top.
async fn rig(value: &str, jwt: &str, vars: &[(&str, &str)]) -> Rig {
    capture_logs();
    watch_jwt(jwt);
    let moto = Moto::start().unwrap();
    moto.put_secret(SECRET, value).await.unwrap();
    let arn = moto
        .client()
        .await
        .unwrap()
        .describe_secret()
        .secret_id(SECRET)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let sandbox = Sandbox::start(jwt).await.unwrap();
    let function = start_function(&moto, &sandbox, vars).await;
    Rig {
        moto,
        sandbox,
        arn,
        function,
    }
}

async fn start_function(moto: &Moto, sandbox: &Sandbox, extra: &[(&str, &str)]) -> Bootstrap {
    let base = sandbox.base_url();
    let mut vars = vec![
        ("ROLLEE_API_URL", base.as_str()),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    vars.extend_from_slice(extra);
    Bootstrap::start(
        &crate::startup::binary("rotate-token"),
        "rotate-token",
        &vars,
        true,
    )
    .await
    .unwrap()
}

impl Rig {
    /// One step, as Secrets Manager invokes it: Ok, or the error's message.
    async fn step(&self, token: &str, step: &str) -> Result<(), String> {
        let event = json!({"SecretId": self.arn, "ClientRequestToken": token, "Step": step});
        self.function.runtime.ready(TIMEOUT).await.unwrap();
        match self
            .function
            .runtime
            .invoke(event.to_string(), TIMEOUT)
            .await
            .unwrap()
        {
            Outcome::Response(_) => Ok(()),
            Outcome::Error(body) => {
                let error: Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(error["errorType"], "RotationError", "{error}");
                Err(error["errorMessage"].as_str().unwrap().to_owned())
            }
        }
    }

    /// The four steps, each expected to succeed.
    async fn rotate(&self, token: &str) {
        for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
            self.step(token, step)
                .await
                .unwrap_or_else(|e| panic!("{step}: {e}"));
        }
    }

    /// Every version of the secret and its staging labels.
    async fn stages(&self) -> BTreeMap<String, BTreeSet<String>> {
        let described = self
            .moto
            .client()
            .await
            .unwrap()
            .describe_secret()
            .secret_id(&self.arn)
            .send()
            .await
            .unwrap();
        described
            .version_ids_to_stages()
            .unwrap()
            .iter()
            .filter(|(_, stages)| !stages.is_empty())
            .map(|(id, stages)| (id.clone(), stages.iter().cloned().collect()))
            .collect()
    }

    /// The value of the version staged `stage`, if it has one.
    async fn value(&self, stage: &str) -> Option<String> {
        let read = self
            .moto
            .client()
            .await
            .unwrap()
            .get_secret_value()
            .secret_id(&self.arn)
            .version_stage(stage)
            .send()
            .await;
        match read {
            Ok(out) => Some(out.secret_string().unwrap().to_owned()),
            Err(e)
                if e.as_service_error()
                    .unwrap()
                    .is_resource_not_found_exception() =>
            {
                None
            }
            Err(e) => panic!("{e:?}"),
        }
    }

    /// "METHOD path" of each request the sandbox saw, with "old", "new" or
    /// "?" for the JWT it carried.
    fn calls(&self, old: &str) -> Vec<String> {
        let issued = self.sandbox.issued_jwts();
        self.sandbox
            .requests()
            .iter()
            .map(|r| {
                let jwt = r
                    .authorization
                    .as_deref()
                    .unwrap_or_default()
                    .trim_start_matches("Bearer ");
                let which = if jwt == old {
                    "old".to_owned()
                } else if let Some(i) = issued.iter().position(|j| j == jwt) {
                    format!("new{}", i + 1)
                } else {
                    "?".to_owned()
                };
                let path = if r.path.starts_with("/users/") && r.path.len() == 43 {
                    "/users/{id}"
                } else {
                    r.path.as_str()
                };
                format!("{} {path} {which}", r.method)
            })
            .collect()
    }

    /// Stops the function, feeds its logs to the leak check, returns them.
    fn finish(self) -> (String, Sandbox) {
        watch_issued(&self.sandbox);
        let logs = self.function.stop();
        add_logs(&logs);
        (logs, self.sandbox)
    }
}

fn labels(stages: &[&str]) -> BTreeSet<String> {
    stages.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn a_full_rotation_stores_rollees_new_jwt_as_current_and_keeps_the_old_as_previous() {
    let old = jwt_in_days(3);
    let rig = rig(&old, &old, &[]).await;
    let before = rig.stages().await;
    let (old_version, _) = before.iter().next().unwrap();
    let old_version = old_version.clone();
    let token = rig.moto.start_rotation(&rig.arn).await.unwrap();

    rig.step(&token, "createSecret").await.unwrap();
    let issued = rig.sandbox.issued_jwts();
    assert_eq!(issued.len(), 1);
    let new = issued[0].clone();
    watch_jwt(&new);
    assert_eq!(rig.value("AWSPENDING").await.as_deref(), Some(new.as_str()));
    assert_eq!(rig.value("AWSCURRENT").await.as_deref(), Some(old.as_str()));
    // The new JWT expires later: the sandbox's 30 days against the old one's 3.
    let exp = |jwt: &str| rollee_shared::token::Jwt::new(jwt).expires_at().unwrap();
    assert!(exp(&new) > exp(&old));

    let created = rig.stages().await;
    rig.step(&token, "setSecret").await.unwrap();
    assert_eq!(rig.stages().await, created, "setSecret changes nothing");

    rig.step(&token, "testSecret").await.unwrap();
    assert_eq!(rig.value("AWSCURRENT").await.as_deref(), Some(old.as_str()));

    rig.step(&token, "finishSecret").await.unwrap();
    assert_eq!(rig.value("AWSCURRENT").await.as_deref(), Some(new.as_str()));
    assert_eq!(
        rig.value("AWSPREVIOUS").await.as_deref(),
        Some(old.as_str())
    );
    assert_eq!(
        rig.stages().await,
        BTreeMap::from([
            (old_version, labels(&["AWSPREVIOUS"])),
            (token, labels(&["AWSCURRENT"])),
        ]),
        "no AWSPENDING left: the next rotation can start"
    );
    assert_eq!(
        rig.calls(&old),
        [
            // The production path (v0.5) by default, with the current JWT.
            "GET /token/refresh old",
            // testSecret: an unknown user, with the pending JWT (404: accepted).
            "GET /users/{id} new1",
        ]
    );
    let (logs, _) = rig.finish();
    let days = logs
        .lines()
        .find(|l| l.contains(r#""jwt":"new""#) && l.contains("days_left"))
        .unwrap_or_else(|| panic!("no days left for the new JWT in: {logs}"));
    assert!(
        days.contains(r#""days_left":29"#) || days.contains(r#""days_left":30"#),
        "{days}"
    );
    assert!(days.contains(r#""level":"INFO""#), "{days}");
    assert_eq!(
        logs.matches("rotation step done").count(),
        4,
        "one line per step: {logs}"
    );
    assert_no_leaks();
}

#[tokio::test]
async fn every_step_may_be_repeated_a_json_secret_keeps_its_shape_the_refresh_path_is_configurable_and_trace_leaks_nothing()
 {
    let old = jwt_in_days(10);
    let value = json!({"token": old, "account": "acme"}).to_string();
    // At TRACE: whatever the libraries log (the SDK's PutSecretValue carries
    // the new JWT) must not carry a JWT either.
    let rig = rig(
        &value,
        &old,
        &[
            ("ROLLEE_TOKEN_REFRESH_PATH", "/api/v0.3/token/refresh"),
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ],
    )
    .await;
    // Rollee revokes the old JWT when it issues a new one (one of the two
    // possibilities: Rollee does not publish which).
    rig.sandbox.revoke_old_jwt_on_refresh(true);
    let token = rig.moto.start_rotation(&rig.arn).await.unwrap();

    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        rig.step(&token, step).await.unwrap();
        let after_once = rig.stages().await;
        // Secrets Manager retries a step whose answer it did not get.
        rig.step(&token, step).await.unwrap();
        assert_eq!(rig.stages().await, after_once, "{step} repeated");
    }
    let new = rig.sandbox.issued_jwts()[0].clone();
    watch_jwt(&new);
    let current: Value = serde_json::from_str(&rig.value("AWSCURRENT").await.unwrap()).unwrap();
    assert_eq!(current, json!({"token": new, "account": "acme"}));

    // The whole rotation again, after it finished: nothing moves.
    let finished = rig.stages().await;
    rig.rotate(&token).await;
    assert_eq!(rig.stages().await, finished);
    assert_eq!(
        rig.calls(&old),
        [
            "GET /api/v0.3/token/refresh old",
            "GET /users/{id} new1",
            // The repeated testSecret makes its harmless call again.
            "GET /users/{id} new1",
        ]
    );
    let (logs, _) = rig.finish();
    assert!(logs.contains(r#""level":"TRACE""#), "TRACE was not on");
    assert!(
        logs.contains("AlreadyCreated") && logs.contains("AlreadyCurrent"),
        "{logs}"
    );
    assert_no_leaks();
}

#[tokio::test]
async fn rollee_refusing_or_failing_the_refresh_leaves_the_current_jwt_and_the_retry_completes() {
    let old = jwt_in_days(5);
    let rig = rig(&old, &old, &[]).await;
    let token = rig.moto.start_rotation(&rig.arn).await.unwrap();
    let started = rig.stages().await;

    rig.sandbox.fail(Fault::Unauthorized, Some(1));
    let error = rig.step(&token, "createSecret").await.unwrap_err();
    assert!(
        error.contains("rejected the current JWT at the token refresh (401)"),
        "{error}"
    );
    rig.sandbox.fail(Fault::ServerError, Some(1));
    let error = rig.step(&token, "createSecret").await.unwrap_err();
    assert!(error.contains("Rollee answered HTTP 500"), "{error}");

    // AWSCURRENT untouched; the version Secrets Manager staged holds nothing.
    assert_eq!(rig.stages().await, started);
    assert_eq!(rig.value("AWSCURRENT").await.as_deref(), Some(old.as_str()));
    assert_eq!(rig.value("AWSPENDING").await, None);
    // No retry of a refresh that reached Rollee: one call per attempt.
    assert_eq!(
        rig.calls(&old),
        ["GET /token/refresh old", "GET /token/refresh old"]
    );

    // Secrets Manager tries the same rotation again: it completes.
    rig.rotate(&token).await;
    let new = rig.sandbox.issued_jwts()[0].clone();
    assert_eq!(rig.value("AWSCURRENT").await.as_deref(), Some(new.as_str()));
    // And the next rotation, a day later, starts and completes from there.
    rig.sandbox.advance_clock(Duration::from_secs(DAY as u64));
    let next = rig.moto.start_rotation(&rig.arn).await.unwrap();
    rig.rotate(&next).await;
    let newer = rig.sandbox.issued_jwts()[1].clone();
    assert_eq!(
        rig.value("AWSCURRENT").await.as_deref(),
        Some(newer.as_str())
    );
    assert_eq!(
        rig.value("AWSPREVIOUS").await.as_deref(),
        Some(new.as_str())
    );

    let (logs, _) = rig.finish();
    assert_eq!(logs.matches("rotation step failed").count(), 2, "{logs}");
    assert_no_leaks();
}

#[tokio::test]
async fn a_pending_jwt_rollee_does_not_accept_fails_test_secret_and_is_not_promoted() {
    let old = jwt_in_days(5);
    let rig = rig(&old, &old, &[]).await;
    let token = rig.moto.start_rotation(&rig.arn).await.unwrap();
    rig.step(&token, "createSecret").await.unwrap();
    rig.step(&token, "setSecret").await.unwrap();

    // Rollee fails twice (the read is retried once): not tested, not promoted.
    rig.sandbox.fail(Fault::ServerError, Some(2));
    let error = rig.step(&token, "testSecret").await.unwrap_err();
    assert!(error.contains("could not be tested"), "{error}");

    // Rollee rejects the new JWT.
    rig.sandbox.accept_only(&old);
    let error = rig.step(&token, "testSecret").await.unwrap_err();
    assert_eq!(error, "Rollee rejected the pending JWT (401): not promoted");

    let new = rig.sandbox.issued_jwts()[0].clone();
    assert_eq!(rig.value("AWSCURRENT").await.as_deref(), Some(old.as_str()));
    assert_eq!(rig.value("AWSPENDING").await.as_deref(), Some(new.as_str()));
    let (_, _) = rig.finish();
    assert_no_leaks();
}

#[tokio::test]
async fn a_secret_not_enabled_for_rotation_or_a_version_not_pending_is_refused_untouched() {
    let old = jwt_in_days(5);
    let rig = rig(&old, &old, &[]).await;
    let initial = rig.stages().await;
    let current_version = initial.keys().next().unwrap().clone();

    // Never configured for rotation.
    let token = uuid::Uuid::new_v4().to_string();
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let error = rig.step(&token, step).await.unwrap_err();
        assert!(
            error.contains("is not enabled for rotation: nothing done"),
            "{step}: {error}"
        );
    }

    // Rotation started, then turned off (CancelRotateSecret).
    let token = rig.moto.start_rotation(&rig.arn).await.unwrap();
    rig.moto
        .client()
        .await
        .unwrap()
        .cancel_rotate_secret()
        .secret_id(&rig.arn)
        .send()
        .await
        .unwrap();
    let error = rig.step(&token, "createSecret").await.unwrap_err();
    assert!(error.contains("is not enabled for rotation"), "{error}");
    assert_eq!(rig.value("AWSPENDING").await, None);

    // Rotation on: a token that is no version, or not the pending one.
    let token = rig.moto.start_rotation(&rig.arn).await.unwrap();
    let error = rig.step("not-a-version", "createSecret").await.unwrap_err();
    assert!(error.contains("is not a version of the secret"), "{error}");
    let error = rig.step(&token, "rotateSecret").await.unwrap_err();
    assert!(error.starts_with("unknown step"), "{error}");
    // The current version, as a token: a finished rotation; nothing to do.
    rig.step(&current_version, "finishSecret").await.unwrap();

    assert!(rig.sandbox.requests().is_empty(), "Rollee was never called");
    assert_eq!(rig.value("AWSCURRENT").await.as_deref(), Some(old.as_str()));
    assert_eq!(rig.value("AWSPENDING").await, None);
    let (_, _) = rig.finish();
    assert_no_leaks();
}

#[tokio::test]
async fn a_refreshed_jwt_that_does_not_expire_later_is_not_stored() {
    let old = jwt_in_days(60);
    let rig = rig(&old, &old, &[]).await;
    // Rollee now issues JWTs for 30 days: the new one dies before the old one.
    rig.sandbox
        .set_jwt_lifetime(Duration::from_secs(30 * DAY as u64));
    let token = rig.moto.start_rotation(&rig.arn).await.unwrap();
    let started = rig.stages().await;

    let error = rig.step(&token, "createSecret").await.unwrap_err();
    assert!(
        error.contains("not later than the current one's") && error.contains("not stored"),
        "{error}"
    );
    assert_eq!(rig.sandbox.issued_jwts().len(), 1);
    assert_eq!(rig.stages().await, started);
    assert_eq!(rig.value("AWSPENDING").await, None);
    assert_eq!(rig.value("AWSCURRENT").await.as_deref(), Some(old.as_str()));
    let (_, _) = rig.finish();
    assert_no_leaks();
}

/// The serving functions' state, reading `arn` from moto as deployed.
async fn serving_state(rig: &Rig, vars: &[(&str, &str)]) -> rollee_shared::State {
    let mut all = vec![("ROLLEE_SECRET_ID", rig.arn.as_str())];
    all.extend_from_slice(vars);
    state_on(&rig.moto, &rig.sandbox, &all, test_options()).await
}

#[tokio::test]
async fn while_rollee_keeps_the_old_jwt_the_serving_functions_move_to_the_new_one_at_its_maximum_age()
 {
    let old = jwt_in_days(3);
    let rig = rig(&old, &old, &[]).await;
    let state = serving_state(&rig, &[("ROLLEE_JWT_MAX_AGE_SECONDS", "1")]).await;
    // Three days left, under the 14-day threshold: a warning at cold start.
    let warned = logs();
    assert!(
        warned
            .lines()
            .any(|l| l.contains("WARN") && l.contains("the Rollee JWT expires in 2 days")),
        "{warned}"
    );

    let created = create_user(&state, &event("create-user")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    watch_session(&created);
    let user = created.str("user_id");

    let token = rig.moto.start_rotation(&rig.arn).await.unwrap();
    rig.rotate(&token).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let session = new_session(&state, &with_user(event("new-session"), &user)).await;
    assert_eq!(session.status, 201, "{}", session.body);
    watch_session(&session);
    assert_eq!(
        rig.calls(&old),
        [
            "POST /users old",
            "GET /token/refresh old",
            "GET /users/{id} new1",
            // No 401 first: the old JWT still works, but the new one is used.
            format!("POST /users/{user}/sessions/new new1").as_str(),
        ]
    );
    let _ = rig.finish();
    assert_no_leaks();
}

#[tokio::test]
async fn when_rollee_revokes_the_old_jwt_the_serving_functions_reread_the_secret_on_the_401() {
    // A JWT without exp (opaque): nothing to compare, the rotation goes on.
    let old = format!(
        "eyJ0eXAiOiJvcGFxdWUifQ.opaque-{}",
        uuid::Uuid::new_v4().simple()
    );
    let rig = rig(&old, &old, &[]).await;
    rig.sandbox.revoke_old_jwt_on_refresh(true);
    let state = serving_state(&rig, &[]).await;
    let created = create_user(&state, &event("create-user")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    watch_session(&created);
    let user = created.str("user_id");

    let token = rig.moto.start_rotation(&rig.arn).await.unwrap();
    rig.rotate(&token).await;

    let session = new_session(&state, &with_user(event("new-session"), &user)).await;
    assert_eq!(session.status, 201, "{}", session.body);
    watch_session(&session);
    let body = json!({ "connect_url": session.str("connect_url") }).to_string();
    let refreshed = refresh_url(&state, &with_body(event("refresh-url"), &body)).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    watch_session(&refreshed);
    let new_session_path = format!("POST /users/{user}/sessions/new");
    let calls = rig.calls(&old);
    assert_eq!(
        calls[..5],
        [
            "POST /users old".to_owned(),
            "GET /token/refresh old".to_owned(),
            "GET /users/{id} new1".to_owned(),
            // Revoked: 401, one re-read of the secret, the new JWT from then on.
            format!("{new_session_path} old"),
            format!("{new_session_path} new1"),
        ]
    );
    assert!(calls[5].ends_with("/refresh new1"), "{calls:?}");
    assert!(
        logs().contains("Rollee rejected the JWT; re-read a new one from Secrets Manager"),
        "the 401 re-read"
    );
    assert!(
        logs().contains("the Rollee JWT carries no readable expiry (exp)"),
        "the cold start says so"
    );
    let _ = rig.finish();
    assert_no_leaks();
}
