//! Every row of the error table (docs/api.md, "Every status"): the input that triggers it, the
//! status, and the problem body. Plus the retry rules that decide between them.

use std::time::Duration;

use crate::support::*;
use rollee_sandbox::Fault;
use rollee_shared::request::MAX_BODY_BYTES;
use serde_json::json;
use uuid::Uuid;

pub async fn a_user(state: &rollee_shared::State) -> String {
    let created = create_user(state, &event("create-user")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    watch_session(&created);
    created.str("user_id")
}

fn refresh_event(connect_url: &str) -> serde_json::Value {
    with_body(
        event("refresh-url"),
        &json!({ "connect_url": connect_url }).to_string(),
    )
}

// ------------------------------------------------------------------ 400

/// Each answer is a 400 invalid-request problem with the event's request
/// id, and none of the requests reached Rollee.
fn assert_all_400(sandbox: &rollee_sandbox::Sandbox, cases: &[(&str, Answer)]) {
    for (what, answer) in cases {
        let problem = answer.problem(400);
        assert_eq!(
            problem["type"], "urn:rollee-connect:problem:invalid-request",
            "{what}"
        );
        assert_eq!(
            problem["request_id"], "req-0001",
            "{what}: the event's request id"
        );
    }
    assert!(
        sandbox.requests().is_empty(),
        "no invalid request reaches Rollee"
    );
    assert_no_leaks();
}

async fn create_user_with(state: &rollee_shared::State, body: &str) -> Answer {
    create_user(state, &with_body(event("create-user"), body)).await
}

#[tokio::test]
async fn row_400_a_body_that_is_no_create_user_object() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let cases = [
        (
            "not JSON",
            create_user(&state, &event("create-user-not-json")).await,
        ),
        (
            "unknown field",
            create_user(&state, &event("create-user-unknown-field")).await,
        ),
        (
            "wrong field type",
            create_user_with(&state, r#"{"metadata": "gold"}"#).await,
        ),
        ("an array", create_user_with(&state, "[]").await),
    ];
    assert_all_400(&sandbox, &cases);
}

#[tokio::test]
async fn row_400_metadata_over_the_limits_or_reserved() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let many_keys: serde_json::Map<String, serde_json::Value> =
        (0..21).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cases = [
        (
            "too many keys",
            create_user_with(&state, &json!({ "metadata": many_keys }).to_string()).await,
        ),
        (
            "a value too long",
            create_user_with(
                &state,
                &json!({"metadata": {"k": "v".repeat(513)}}).to_string(),
            )
            .await,
        ),
        (
            "a value not a string",
            create_user_with(&state, r#"{"metadata": {"k": 1}}"#).await,
        ),
        (
            "a reserved key",
            create_user(&state, &event("create-user-reserved-key")).await,
        ),
    ];
    assert_all_400(&sandbox, &cases);
}

#[tokio::test]
async fn row_400_a_path_id_that_is_no_uuid_or_a_body_where_none_is_taken() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let cases = [
        (
            "new-session: bad UUID",
            new_session(&state, &event("new-session-bad-uuid")).await,
        ),
        (
            "new-session: unexpected body",
            new_session(
                &state,
                &with_body(event("new-session"), r#"{"user_id": "x"}"#),
            )
            .await,
        ),
        (
            "list-accounts: bad UUID",
            list_accounts(&state, &event("list-accounts-bad-uuid")).await,
        ),
        (
            "reconnect-account: bad UUID",
            reconnect_account(&state, &event("reconnect-account-bad-uuid")).await,
        ),
    ];
    assert_all_400(&sandbox, &cases);
}

#[tokio::test]
async fn row_400_a_refresh_without_a_connect_url_of_a_session() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let cases = [
        (
            "wrong body",
            refresh_url(&state, &event("refresh-url-wrong-body")).await,
        ),
        (
            "no body",
            refresh_url(&state, &with_body(event("refresh-url"), "")).await,
        ),
        (
            "not a Connect URL",
            refresh_url(&state, &event("refresh-url-not-connect-url")).await,
        ),
        (
            "a Connect URL without a UUID",
            refresh_url(
                &state,
                &refresh_event("https://connect.example/v0.4/session/123"),
            )
            .await,
        ),
    ];
    assert_all_400(&sandbox, &cases);
}

#[tokio::test]
async fn row_400_details_say_what_to_fix() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let a = create_user(&state, &event("create-user-unknown-field")).await;
    assert!(
        a.problem(400)["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `owner`"),
        "{}",
        a.body
    );
    let a = create_user(&state, &event("create-user-not-json")).await;
    assert_eq!(
        a.problem(400)["detail"],
        "The request body must be a JSON object."
    );
    let a = create_user(
        &state,
        &with_body(event("create-user"), r#"{"metadata": {"#),
    )
    .await;
    assert_eq!(
        a.problem(400)["detail"],
        "The request body is not valid JSON."
    );
    let a = new_session(&state, &event("new-session-bad-uuid")).await;
    assert_eq!(
        a.problem(400)["detail"],
        "The user id in the path is not a UUID."
    );
    let a = refresh_url(&state, &event("refresh-url-not-connect-url")).await;
    assert!(
        a.problem(400)["detail"]
            .as_str()
            .unwrap()
            .starts_with("connect_url is not a Rollee Connect session URL")
    );
    assert_no_leaks();
}

// ------------------------------------------------------------------ 401

#[tokio::test]
async fn row_401_no_authenticated_caller() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    for answer in [
        create_user(&state, &event("create-user-no-claims")).await,
        new_session(&state, &event("new-session-no-claims")).await,
        refresh_url(&state, &event("refresh-url-no-claims")).await,
        create_user(&state, &with_sub(event("create-user"), "")).await,
    ] {
        assert_eq!(
            answer.problem(401)["type"],
            "urn:rollee-connect:problem:unauthenticated"
        );
    }
    assert!(sandbox.requests().is_empty());
    assert_no_leaks();
}

#[tokio::test]
async fn dev_caller_applies_only_to_requests_without_claims() {
    let sandbox = sandbox().await;
    let state = state_with(
        &sandbox,
        &[("ROLLEE_TOKEN", JWT), ("DEV_CALLER_SUB", "alice")],
    )
    .await;
    let created = create_user(&state, &event("create-user-no-claims")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    watch_session(&created);
    // Claims present: they win, and bob does not own alice's user.
    let user = created.str("user_id");
    new_session(&state, &with_user(event("new-session-other-caller"), &user))
        .await
        .problem(404);
    let mine = new_session(&state, &with_user(event("new-session-no-claims"), &user)).await;
    assert_eq!(mine.status, 201, "{}", mine.body);
    watch_session(&mine);
    assert_no_leaks();
}

// ------------------------------------------------------------------ 404

#[tokio::test]
async fn row_404_unknown_user_other_callers_user_unknown_session() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let user = a_user(&state).await;

    let nobody = new_session(
        &state,
        &with_user(event("new-session"), &Uuid::new_v4().to_string()),
    )
    .await;
    let not_yours = new_session(&state, &with_user(event("new-session-other-caller"), &user)).await;
    assert_eq!(
        nobody.problem(404)["detail"],
        not_yours.problem(404)["detail"]
    );

    let unknown = refresh_url(
        &state,
        &refresh_event(&format!(
            "{}/v0.4/session/{}",
            "https://connect.example",
            Uuid::new_v4()
        )),
    )
    .await;
    assert_eq!(
        unknown.problem(404)["detail"],
        "No session of this user has this connect_url."
    );
    assert_no_leaks();
}

// ------------------------------------------------------------------ 413

#[tokio::test]
async fn row_413_body_over_the_size_limit() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let big = json!({"metadata": {"k": "x".repeat(MAX_BODY_BYTES)}}).to_string();
    let a = create_user(&state, &with_body(event("create-user"), &big)).await;
    assert_eq!(
        a.problem(413)["type"],
        "urn:rollee-connect:problem:payload-too-large"
    );
    let a = refresh_url(
        &state,
        &with_body(event("refresh-url"), &" ".repeat(MAX_BODY_BYTES + 1)),
    )
    .await;
    a.problem(413);
    assert!(sandbox.requests().is_empty());
    assert_no_leaks();
}

// ------------------------------------------------------------------ 429

#[tokio::test]
async fn row_429_rollee_rate_limit_with_and_without_retry_after() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    sandbox.fail(Fault::RateLimited(Some(30)), Some(1));
    let a = create_user(&state, &event("create-user")).await;
    assert_eq!(
        a.problem(429)["type"],
        "urn:rollee-connect:problem:rate-limited"
    );
    assert_eq!(a.headers["retry-after"], "30");
    // A definite refusal leaves nothing behind: the next call creates the user.
    let created = create_user(&state, &event("create-user")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    watch_session(&created);

    sandbox.fail(Fault::RateLimited(None), Some(1));
    let a = refresh_url(&state, &refresh_event(&created.str("connect_url"))).await;
    a.problem(429);
    assert!(a.headers.get("retry-after").is_none());
    assert_eq!(sandbox.requests().len(), 3, "a 429 is not retried");
    assert_no_leaks();
}

// ------------------------------------------------------------------ 502

#[tokio::test]
async fn row_502_rollee_5xx_malformed_or_dropped() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let user = a_user(&state).await;

    for fault in [Fault::ServerError, Fault::MalformedJson, Fault::Drop] {
        sandbox.fail(fault.clone(), None);
        let a = new_session(&state, &with_user(event("new-session"), &user)).await;
        assert_eq!(
            a.problem(502)["type"],
            "urn:rollee-connect:problem:upstream-error",
            "{fault:?}"
        );
        let a = create_user(&state, &event("create-user")).await;
        a.problem(502);
        sandbox.clear_faults();
    }
    assert_no_leaks();
}

// ------------------------------------------------------------------ 503

#[tokio::test]
async fn row_503_rollee_rejects_the_jwt() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    sandbox.accept_only("jwt-that-we-do-not-have");
    watch("jwt-that-we-do-not-have");
    let a = create_user(&state, &event("create-user")).await;
    assert_eq!(
        a.problem(503)["type"],
        "urn:rollee-connect:problem:upstream-credentials"
    );
    // A token from ROLLEE_TOKEN cannot be re-read: one attempt, no retry.
    assert_eq!(sandbox.requests().len(), 1);
    assert_no_leaks();
}

// ------------------------------------------------------------------ 504

#[tokio::test]
async fn row_504_rollee_does_not_answer_in_time() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    sandbox.fail(Fault::Delay(Duration::from_secs(3)), Some(1));
    let a = create_user(&state, &event("create-user")).await;
    // Rollee would have answered after 3 s: the 504 is the attempt timeout (1.5 s in tests).
    assert_eq!(
        a.problem(504)["type"],
        "urn:rollee-connect:problem:upstream-timeout"
    );
    assert_eq!(sandbox.requests().len(), 1, "a timeout is not retried");
    assert_no_leaks();
}
