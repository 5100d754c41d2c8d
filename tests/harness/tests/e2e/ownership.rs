//! Who owns what, through the real SDK against moto's DynamoDB: one Rollee
//! user per app user, sessions only their owner can refresh, per-caller
//! quotas, users from before the table, and the table failing.

use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;
use rollee_sandbox::Sandbox;
use rollee_shared::State;

fn as_caller(sub: &str) -> Value {
    with_sub(event("create-user-no-body"), sub)
}

fn refresh_as(sub: &str, connect_url: &str) -> Value {
    with_sub(
        with_body(
            event("refresh-url"),
            &json!({ "connect_url": connect_url }).to_string(),
        ),
        sub,
    )
}

/// A Rollee user made straight at Rollee (the sandbox), as this server did
/// before it had a table: its owner only in the metadata.
async fn user_from_before_the_table(sandbox: &Sandbox, owner: &str) -> String {
    let http = rollee_shared::http::client(test_options().timeouts()).unwrap();
    let user: Value = http
        .post(format!("{}/users", sandbox.base_url()))
        .bearer_auth(JWT)
        .json(&json!({"metadata": {"__connect_owner": owner}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    watch(user["session"].as_str().unwrap());
    user["id"].as_str().unwrap().to_owned()
}

fn rollee_calls(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .requests()
        .iter()
        .map(|r| {
            let path = r.path.split('/').filter(|s| Uuid::try_parse(s).is_err());
            format!("{} {}", r.method, path.collect::<Vec<_>>().join("/"))
        })
        .collect()
}

#[tokio::test]
async fn post_users_creates_the_callers_user_once_then_finds_it_with_a_fresh_session() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let first = create_user(&state, &event("create-user")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    watch_session(&first);
    let again = create_user(
        &state,
        &with_body(event("create-user"), r#"{"metadata": {"plan": "silver"}}"#),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.body);
    watch_session(&again);
    assert_eq!(again.str("user_id"), first.str("user_id"));
    assert_ne!(again.str("session_id"), first.str("session_id"));
    assert_eq!(sandbox.user_count(), 1);
    // Metadata applies at creation only.
    let user = Uuid::parse_str(&first.str("user_id")).unwrap();
    assert_eq!(sandbox.metadata_of(user).unwrap()["plan"], "gold");
    assert_eq!(
        rollee_calls(&sandbox),
        ["POST /users", "POST /users/sessions/new"]
    );
    // The table answers who owns the Rollee user (what webhooks need).
    assert_eq!(
        state.store.owner_of_user(user).await.unwrap().as_deref(),
        Some("alice")
    );
    assert_no_leaks();
}

#[tokio::test]
async fn eight_concurrent_first_calls_create_one_rollee_user() {
    let sandbox = sandbox().await;
    // Every Rollee call takes 200 ms, so that the eight calls overlap.
    sandbox.set_latency(Duration::from_millis(200));
    let state = std::sync::Arc::new(dev_state(&sandbox).await);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move { create_user(&state, &as_caller("alice")).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 200, 201]);
    for a in &answers {
        watch_session(a);
        assert_eq!(a.str("user_id"), answers[0].str("user_id"));
    }
    assert_eq!(sandbox.user_count(), 1, "one Rollee user");
    let sessions: std::collections::BTreeSet<String> =
        answers.iter().map(|a| a.str("session_id")).collect();
    assert_eq!(sessions.len(), 8, "each answer has a session of its own");
    assert_no_leaks();
}

#[tokio::test]
async fn another_caller_cannot_refresh_a_session_even_holding_its_url() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let alice = create_user(&state, &as_caller("alice")).await;
    watch_session(&alice);
    let url = alice.str("connect_url");
    // Expired long ago: Rollee would refresh it for anyone holding it.
    sandbox.advance_clock(Duration::from_secs(30 * 86_400 - 3_600));
    let mallory = refresh_url(&state, &refresh_as("mallory", &url)).await;
    assert_eq!(
        mallory.problem(404)["detail"],
        "No session of this user has this connect_url."
    );
    assert_eq!(
        rollee_calls(&sandbox),
        ["POST /users"],
        "nothing reached Rollee"
    );
    // The owner still can, and gets its user back with the new session.
    let refreshed = refresh_url(&state, &refresh_as("alice", &url)).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    watch_session(&refreshed);
    assert_eq!(refreshed.str("user_id"), alice.str("user_id"));
    assert_no_leaks();
}

#[tokio::test]
async fn over_its_quota_a_caller_gets_429_and_rollee_is_not_called() {
    // The quota counts per calendar minute: the four calls below must fall in
    // one (they once straddled a minute and the fourth got its session).
    while rollee_shared::store::now() % 60 >= 50 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let sandbox = sandbox().await;
    let state = state_with(
        &sandbox,
        &[
            ("ROLLEE_TOKEN", JWT),
            ("SESSIONS_PER_CALLER_PER_MINUTE", "3"),
        ],
    )
    .await;
    // The quota counts per calendar minute: start well inside one.
    let second_of_minute = rollee_shared::store::now() % 60;
    if second_of_minute > 45 {
        tokio::time::sleep(Duration::from_secs(61 - second_of_minute)).await;
    }
    let first = create_user(&state, &as_caller("alice")).await;
    watch_session(&first);
    let user = first.str("user_id");
    let second = new_session(
        &state,
        &with_sub(with_user(event("new-session"), &user), "alice"),
    )
    .await;
    watch_session(&second);
    let third = refresh_url(&state, &refresh_as("alice", &second.str("connect_url"))).await;
    watch_session(&third);
    for a in [&first, &second, &third] {
        assert!(a.status < 300, "{}", a.body);
    }
    let calls = sandbox.requests().len();
    let over = new_session(
        &state,
        &with_sub(with_user(event("new-session"), &user), "alice"),
    )
    .await;
    let problem = over.problem(429);
    assert_eq!(problem["type"], "urn:rollee-connect:problem:rate-limited");
    let retry_after: u64 = over.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        sandbox.requests().len(),
        calls,
        "no Rollee call over the quota"
    );
    // Another caller has a quota of its own.
    let bob = create_user(&state, &as_caller("bob")).await;
    assert_eq!(bob.status, 201, "{}", bob.body);
    watch_session(&bob);
    assert_no_leaks();
}

#[tokio::test]
async fn a_user_from_before_the_table_is_checked_in_rollee_once_then_recorded() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let user = user_from_before_the_table(&sandbox, "alice").await;
    let bob = new_session(
        &state,
        &with_sub(with_user(event("new-session"), &user), "bob"),
    )
    .await;
    bob.problem(404);
    let before = sandbox.requests().len();
    for _ in 0..2 {
        let a = new_session(
            &state,
            &with_sub(with_user(event("new-session"), &user), "alice"),
        )
        .await;
        assert_eq!(a.status, 201, "{}", a.body);
        watch_session(&a);
    }
    let calls = rollee_calls(&sandbox)[before..].to_vec();
    assert_eq!(
        calls,
        [
            "GET /users",
            "POST /users/sessions/new",
            "POST /users/sessions/new"
        ],
        "the metadata is read once"
    );
    let id = Uuid::parse_str(&user).unwrap();
    assert_eq!(
        state.store.owner_of_user(id).await.unwrap().as_deref(),
        Some("alice")
    );
    // It became alice's user: POST /users finds it.
    let found = create_user(&state, &as_caller("alice")).await;
    assert_eq!((found.status, found.str("user_id")), (200, user));
    watch_session(&found);
    assert_no_leaks();
}

#[tokio::test]
async fn when_rollee_refuses_sessions_new_the_users_session_is_refreshed_instead() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let created = create_user(&state, &as_caller("alice")).await;
    watch_session(&created);
    sandbox.refuse_new_sessions(Some(400));
    let a = new_session(
        &state,
        &with_sub(
            with_user(event("new-session"), &created.str("user_id")),
            "alice",
        ),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    watch_session(&a);
    let session = Uuid::parse_str(&a.str("session_id")).unwrap();
    assert!(sandbox.session_is_valid(session));
    assert_eq!(
        rollee_calls(&sandbox),
        [
            "POST /users",
            "POST /users/sessions/new",
            "GET /users",
            "POST /sessions/refresh"
        ]
    );
    // The session so made is the caller's to refresh.
    let r = refresh_url(&state, &refresh_as("alice", &a.str("connect_url"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    watch_session(&r);
    assert_no_leaks();
}

#[tokio::test]
async fn a_user_deleted_at_rollee_is_replaced_on_the_next_post_users() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let first = create_user(&state, &as_caller("alice")).await;
    watch_session(&first);
    let http = rollee_shared::http::client(test_options().timeouts()).unwrap();
    http.delete(format!(
        "{}/users/{}",
        sandbox.base_url(),
        first.str("user_id")
    ))
    .bearer_auth(JWT)
    .send()
    .await
    .unwrap();
    let second = create_user(&state, &as_caller("alice")).await;
    assert_eq!(second.status, 201, "{}", second.body);
    watch_session(&second);
    assert_ne!(second.str("user_id"), first.str("user_id"));
    assert_no_leaks();
}

#[tokio::test]
async fn a_creation_that_may_have_happened_blocks_the_caller_for_a_lease_only() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    // Rollee takes longer than an attempt may wait: the user may exist.
    sandbox.fail(
        rollee_sandbox::Fault::Delay(Duration::from_secs(3)),
        Some(1),
    );
    create_user(&state, &as_caller("alice")).await.problem(504);
    // Within the lease, another first call waits, then says "in progress"
    // instead of creating a second user.
    let waiting = create_user(&state, &as_caller("alice")).await;
    assert_eq!(
        waiting.problem(409)["type"],
        "urn:rollee-connect:problem:in-progress"
    );
    assert!(waiting.headers.get("retry-after").is_some());
    // Other callers are not held up.
    let bob = create_user(&state, &as_caller("bob")).await;
    assert_eq!(bob.status, 201, "{}", bob.body);
    watch_session(&bob);
    assert_no_leaks();
}

#[tokio::test]
async fn with_the_table_down_every_route_is_503_and_rollee_is_not_called() {
    let sandbox = sandbox().await;
    let moto = Moto::start().unwrap();
    let state: State = state_on(&moto, &sandbox, &[("ROLLEE_TOKEN", JWT)], test_options()).await;
    let alice = create_user(&state, &as_caller("alice")).await;
    watch_session(&alice);
    drop(moto);
    let calls = sandbox.requests().len();
    let answers = [
        create_user(&state, &as_caller("alice")).await,
        new_session(
            &state,
            &with_sub(
                with_user(event("new-session"), &alice.str("user_id")),
                "alice",
            ),
        )
        .await,
        refresh_url(&state, &refresh_as("alice", &alice.str("connect_url"))).await,
    ];
    for a in &answers {
        assert_eq!(
            a.problem(503)["type"],
            "urn:rollee-connect:problem:store-unavailable"
        );
    }
    assert_eq!(
        sandbox.requests().len(),
        calls,
        "no Rollee call without the table"
    );
    assert_no_leaks();
}
