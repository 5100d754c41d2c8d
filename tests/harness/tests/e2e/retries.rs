//! The retry rules and the time budget, end to end: what reaches the sandbox
//! when Rollee fails once. (The policy itself is a table in
//! `shared/src/rollee/retry.rs`; the attempt counts per endpoint are checked
//! against wiremock in `shared/tests/client.rs`.)

use std::time::Duration;

use crate::errors::a_user;
use crate::support::*;
use rollee_sandbox::Fault;
use serde_json::json;

#[tokio::test]
async fn a_transient_5xx_or_dropped_connection_is_retried_once_where_harmless() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let user = a_user(&state).await;

    sandbox.fail(Fault::ServerError, Some(1));
    let a = new_session(&state, &with_user(event("new-session"), &user)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    watch_session(&a);

    sandbox.fail(Fault::Drop, Some(1));
    let body = json!({ "connect_url": a.str("connect_url") }).to_string();
    let r = refresh_url(&state, &with_body(event("refresh-url"), &body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    watch_session(&r);

    let paths: Vec<String> = sandbox.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.ends_with("/sessions/new"))
            .count(),
        2,
        "new session retried: {paths:?}"
    );
    assert_eq!(
        paths.iter().filter(|p| p.ends_with("/refresh")).count(),
        2,
        "refresh retried: {paths:?}"
    );
    assert_no_leaks();
}

#[tokio::test]
async fn create_user_is_not_repeated_once_it_may_have_reached_rollee() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    for fault in [Fault::ServerError, Fault::Drop] {
        sandbox.fail(fault, Some(1));
        create_user(&state, &event("create-user"))
            .await
            .problem(502);
    }
    assert_eq!(
        sandbox.requests().len(),
        2,
        "one POST /users per attempt, no retry"
    );
    assert_eq!(sandbox.user_count(), 0);
    assert_no_leaks();
}

#[tokio::test]
async fn the_time_budget_covers_the_whole_request_not_each_rollee_call() {
    let sandbox = sandbox().await;
    let options = rollee_shared::rollee::ClientOptions {
        budget: Duration::from_millis(2500),
        ..test_options()
    };
    let state = state_with_options(&sandbox, &[("ROLLEE_TOKEN", JWT)], options).await;
    let user = a_user(&state).await;
    // A new session here takes three Rollee calls (`sessions/new` refused,
    // the user read, its session refreshed) of 1 s each: each fits in an
    // attempt's 1.5 s, all three do not fit in the request's 2.5 s.
    sandbox.refuse_new_sessions(Some(400));
    sandbox.set_latency(Duration::from_secs(1));
    let a = new_session(&state, &with_user(event("new-session"), &user)).await;
    a.problem(504);
    let calls: Vec<String> = sandbox
        .requests()
        .iter()
        .map(|r| r.method.clone())
        .collect();
    // create (a_user), sessions/new, the read, the refresh cut short: nothing after.
    assert_eq!(calls, ["POST", "POST", "GET", "POST"], "{calls:?}");
    assert_no_leaks();
}
