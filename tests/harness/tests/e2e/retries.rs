//! The time budget, end to end: a request's Rollee calls all end within it.
//! (The retry policy itself is a table in `shared/src/rollee/retry.rs`; the
//! attempt counts per endpoint, a 5xx retried once where harmless and never
//! for a new user, are checked against wiremock in `shared/tests/client.rs`.)

use std::time::Duration;

use crate::errors::a_user;
use crate::support::*;

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
