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
            .filter(|p| p.starts_with("/users/") && !p.ends_with("/new"))
            .count(),
        2,
        "GET user retried: {paths:?}"
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
    let state = dev_state(&sandbox).await;
    let user = a_user(&state).await;
    // A 3 s budget; every Rollee call takes 1 s, and the first attempt of each
    // of new-session's two calls fails with a 5xx: retried, the read ends at
    // ~2 s, leaving no room for the second call's 1 s answer.
    let options = rollee_shared::rollee::ClientOptions {
        budget: Duration::from_secs(3),
        ..test_options()
    };
    let state = state_with_options(&sandbox, &[("ROLLEE_TOKEN", JWT)], options).await;
    sandbox.set_latency(Duration::from_secs(1));
    sandbox.fail(Fault::ServerError, Some(1));
    sandbox.fail(Fault::Delay(Duration::ZERO), Some(1));
    sandbox.fail(Fault::ServerError, Some(1));
    let a = new_session(&state, &with_user(event("new-session"), &user)).await;
    // With 1.5 s per attempt, the session call would have had its 1 s answer:
    // the 504 is the request's budget running out, not an attempt's timeout.
    a.problem(504);
    let calls: Vec<String> = sandbox
        .requests()
        .iter()
        .map(|r| r.method.clone())
        .collect();
    // create (a_user), the read and its retry, the one session attempt: no retry past the budget.
    assert_eq!(calls, ["POST", "GET", "GET", "POST"], "{calls:?}");
    assert_no_leaks();
}
