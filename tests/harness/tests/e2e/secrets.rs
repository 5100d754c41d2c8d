//! The JWT from AWS Secrets Manager through the real SDK, against moto's
//! server on 127.0.0.1 (started and stopped by each test).

use crate::support::*;
use rollee_shared::State;
use rollee_shared::app::StartupError;
use rollee_shared::config::Config;
use rollee_shared::token::TokenError;

const SECRET: &str = "rollee/connect/jwt";
const JWT_ONE: &str = "eyJ0eXAiOiJKV1QifQ.jwt-one.c2ln";
const JWT_TWO: &str = "eyJ0eXAiOiJKV1QifQ.jwt-two.c2ln";

async fn put_secret(moto: &Moto, value: &str) {
    moto.put_secret(SECRET, value).await.unwrap();
}

async fn deployed_state(
    moto: &Moto,
    sandbox: &rollee_sandbox::Sandbox,
) -> Result<State, StartupError> {
    let base = sandbox.base_url();
    // Idempotent across calls on one moto: a second state reuses the table.
    let _ = moto.create_table("ownership").await;
    let config = Config::from_lookup(|name| match name {
        "ROLLEE_SECRET_ID" => Some(SECRET.to_owned()),
        "ROLLEE_API_URL" => Some(base.clone()),
        "OWNERSHIP_TABLE" => Some("ownership".to_owned()),
        _ => None,
    })
    .unwrap();
    State::build(&config, test_options(), |http| {
        moto.sdk_config_over(http.clone())
    })
    .await
}

fn bearers(sandbox: &rollee_sandbox::Sandbox) -> Vec<String> {
    sandbox
        .requests()
        .iter()
        .map(|r| {
            let token = r.authorization.as_deref().unwrap_or_default();
            let which = if token.ends_with(JWT_ONE) {
                "one"
            } else if token.ends_with(JWT_TWO) {
                "two"
            } else {
                "?"
            };
            format!(
                "{} {} {which}",
                r.method,
                r.path.split('/').nth(1).unwrap_or_default()
            )
        })
        .collect()
}

#[tokio::test]
async fn the_jwt_is_read_at_start_and_reread_once_after_a_rotation() {
    capture_logs();
    watch(JWT_ONE);
    watch(JWT_TWO);
    let moto = Moto::start().unwrap();
    put_secret(&moto, &format!(r#"{{"token": "{JWT_ONE}"}}"#)).await;
    let sandbox = rollee_sandbox::Sandbox::start(JWT_ONE).await.unwrap();
    let state = deployed_state(&moto, &sandbox).await.unwrap();

    let created = create_user(&state, &event("create-user")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    watch_session(&created);
    let user = created.str("user_id");

    // The operator stores a new JWT (bare this time); Rollee stops taking the old one.
    put_secret(&moto, JWT_TWO).await;
    sandbox.accept_only(JWT_TWO);

    let session = new_session(&state, &with_user(event("new-session"), &user)).await;
    assert_eq!(session.status, 201, "{}", session.body);
    watch_session(&session);
    // And the new JWT is kept: no further 401.
    let body = serde_json::json!({ "connect_url": session.str("connect_url") }).to_string();
    let refreshed = refresh_url(&state, &with_body(event("refresh-url"), &body)).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    watch_session(&refreshed);

    assert_eq!(
        bearers(&sandbox),
        [
            "POST users one",
            "POST users one",
            "POST users two",
            "POST sessions two"
        ]
    );
    assert_no_leaks();
}

#[tokio::test]
async fn a_rejected_jwt_still_in_the_secret_is_503_without_a_retry() {
    capture_logs();
    watch(JWT_ONE);
    let moto = Moto::start().unwrap();
    put_secret(&moto, JWT_ONE).await;
    let sandbox = rollee_sandbox::Sandbox::start(JWT_ONE).await.unwrap();
    let state = deployed_state(&moto, &sandbox).await.unwrap();
    sandbox.accept_only("eyJrevoked-and-not-replaced");
    watch("eyJrevoked-and-not-replaced");

    let a = create_user(&state, &event("create-user")).await;
    let problem = a.problem(503);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("update the Rollee JWT secret"),
        "{problem}"
    );
    assert_eq!(
        sandbox.requests().len(),
        1,
        "same JWT after the re-read: not sent again"
    );
    assert_no_leaks();
}

#[tokio::test]
async fn a_secret_that_became_unreadable_is_503() {
    capture_logs();
    watch(JWT_ONE);
    let moto = Moto::start().unwrap();
    put_secret(&moto, JWT_ONE).await;
    let sandbox = rollee_sandbox::Sandbox::start(JWT_ONE).await.unwrap();
    let state = deployed_state(&moto, &sandbox).await.unwrap();

    let client = moto.client().await.unwrap();
    client
        .delete_secret()
        .secret_id(SECRET)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    sandbox.accept_only(JWT_TWO);
    watch(JWT_TWO);

    let a = create_user(&state, &event("create-user")).await;
    let problem = a.problem(503);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("could not read its Rollee credentials"),
        "{problem}"
    );
    assert!(logs().contains(&format!(
        "could not read secret {SECRET} from Secrets Manager"
    )));
    assert_no_leaks();
}

#[tokio::test]
async fn a_missing_or_unusable_secret_stops_the_start() {
    capture_logs();
    let moto = Moto::start().unwrap();
    let sandbox = rollee_sandbox::Sandbox::start(JWT_ONE).await.unwrap();

    let err = deployed_state(&moto, &sandbox).await.unwrap_err();
    assert!(
        matches!(err, StartupError::Token(TokenError::Unreadable { .. })),
        "{err:?}"
    );
    let line = err.to_string();
    assert!(
        line.contains(SECRET) && line.contains("ResourceNotFoundException"),
        "{line}"
    );

    put_secret(&moto, r#"{"jwt": "eyJwrong-field"}"#).await;
    watch("eyJwrong-field");
    let err = deployed_state(&moto, &sandbox).await.unwrap_err();
    assert!(
        matches!(err, StartupError::Token(TokenError::Malformed { .. })),
        "{err:?}"
    );
    assert!(!err.to_string().contains("eyJwrong-field"));
    assert!(sandbox.requests().is_empty());
    assert_no_leaks();
}
