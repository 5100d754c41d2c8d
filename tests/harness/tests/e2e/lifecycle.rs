//! After the Connect page, through the real handlers, the sandbox and moto:
//! a user's accounts, a reconnect session, and the erasure of a user, with
//! its cut points.

use aws_sdk_dynamodb::types::AttributeValue;
use rollee_sandbox::{Fault, Sandbox};
use rollee_shared::State;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

/// Alice's user with one connected account: (user id, account id).
async fn alice_with_an_account(sandbox: &Sandbox, state: &State) -> (String, Uuid) {
    let created = create_user(state, &event("create-user")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    watch_session(&created);
    let session = Uuid::parse_str(created.str("connect_url").rsplit('/').next().unwrap()).unwrap();
    let account = sandbox
        .connect_account(session)
        .expect("the account connects");
    (created.str("user_id"), account)
}

fn list_as(sub: &str, user: &str) -> Value {
    with_sub(for_user(event("list-accounts"), user), sub)
}

fn reconnect_as(sub: &str, account: Uuid) -> Value {
    with_sub(
        with_account(event("reconnect-account"), &account.to_string()),
        sub,
    )
}

fn erase_as(sub: &str, user: &str) -> Value {
    with_sub(for_user(event("erase-user"), user), sub)
}

/// Every item of `table`, as JSON-ish text, to look for a user or a sub in.
async fn items_of(table: &str) -> Vec<String> {
    let dynamo = aws_sdk_dynamodb::Client::new(&shared_moto().sdk_config().await.unwrap());
    let scan = dynamo.scan().table_name(table).send().await.unwrap();
    scan.items()
        .iter()
        .map(|item| {
            let mut text: Vec<String> = item
                .iter()
                .map(|(k, v)| match v {
                    AttributeValue::S(s) => format!("{k}={s}"),
                    AttributeValue::N(n) => format!("{k}={n}"),
                    other => format!("{k}={other:?}"),
                })
                .collect();
            text.sort();
            text.join(" ")
        })
        .collect()
}

// ------------------------------------------------------------ accounts

#[tokio::test]
async fn the_callers_accounts_are_listed_with_a_normalised_status_and_recorded_as_theirs() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let (user, first) = alice_with_an_account(&sandbox, &state).await;
    let user_id = Uuid::parse_str(&user).unwrap();
    // Two more: one Rollee flipped to disconnected, one with a status word.
    let second = sandbox
        .connect_account(sandbox.reconnect_session(first).unwrap())
        .unwrap();
    assert_eq!(
        second, first,
        "a reconnect session reconnects the same account"
    );
    let session = new_session(&state, &with_user(event("new-session"), &user)).await;
    watch_session(&session);
    let other = sandbox
        .connect_account(Uuid::parse_str(&session.str("session_id")).unwrap())
        .unwrap();
    assert!(sandbox.set_account(other, Some(false), None));
    let listed = list_accounts(&state, &list_as("alice", &user)).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.str("user_id"), user);
    let accounts = listed.body["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2, "{}", listed.body);
    let by_id = |id: Uuid| {
        accounts
            .iter()
            .find(|a| a["account_id"] == id.to_string())
            .unwrap_or_else(|| panic!("{id} in {}", listed.body))
    };
    assert_eq!(by_id(first)["status"], "connected");
    assert_eq!(by_id(first)["connected"], true);
    assert_eq!(by_id(other)["status"], "disconnected");
    for a in accounts {
        assert!(a["created_at"].as_str().unwrap().ends_with('Z'), "{a}");
        assert!(a["datasource_id"].is_string(), "{a}");
    }
    // A status word Rollee sends wins over the flag.
    assert!(sandbox.set_account(other, Some(true), Some(Some("syncing"))));
    let again = list_accounts(&state, &list_as("alice", &user)).await;
    let pending = again.body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == other.to_string())
        .unwrap()
        .clone();
    assert_eq!(pending["status"], "pending", "{pending}");
    for account in [first, other] {
        let owner = state
            .store
            .owner_of_account(account)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((owner.sub.as_str(), owner.user_id), ("alice", user_id));
    }
    assert_no_leaks();
}

#[tokio::test]
async fn another_callers_user_and_an_unknown_user_are_the_same_404_and_bad_ids_are_400() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let (user, _) = alice_with_an_account(&sandbox, &state).await;
    let calls = sandbox.requests().len();
    let bobs = list_accounts(&state, &list_as("bob", &user)).await;
    let bob_problem = bobs.problem(404).clone();
    assert_eq!(
        sandbox.requests().len(),
        calls,
        "the table knew: no Rollee call"
    );
    let unknown = list_accounts(&state, &list_as("alice", &Uuid::new_v4().to_string())).await;
    let unknown_problem = unknown.problem(404);
    assert_eq!(bob_problem["detail"], unknown_problem["detail"]);
    assert_eq!(bob_problem["type"], unknown_problem["type"]);
    list_accounts(&state, &event("list-accounts-bad-uuid"))
        .await
        .problem(400);
    reconnect_account(&state, &event("reconnect-account-bad-uuid"))
        .await
        .problem(400);
    let erase = erase_user(
        &bus_state(&sandbox).await,
        &for_user(event("erase-user"), "nope"),
    )
    .await;
    erase.problem(400);
    assert_no_leaks();
}

#[tokio::test]
async fn rollee_failures_on_the_listing_are_the_usual_problems() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let (user, _) = alice_with_an_account(&sandbox, &state).await;
    let cases = [
        (Fault::RateLimited(Some(7)), 429, "rate-limited"),
        (Fault::ServerError, 502, "upstream-error"),
        (Fault::MalformedJson, 502, "upstream-error"),
        (Fault::Unauthorized, 503, "upstream-credentials"),
        (
            Fault::Delay(std::time::Duration::from_secs(10)),
            504,
            "upstream-timeout",
        ),
    ];
    for (fault, status, problem) in cases {
        sandbox.clear_faults();
        sandbox.fail(fault, None);
        let answer = list_accounts(&state, &list_as("alice", &user)).await;
        assert_eq!(
            answer.problem(status)["type"],
            format!("urn:rollee-connect:problem:{problem}"),
            "{status}"
        );
        if status == 429 {
            assert_eq!(answer.headers["retry-after"], "7");
        }
    }
    sandbox.clear_faults();
    assert_eq!(
        list_accounts(&state, &list_as("alice", &user)).await.status,
        200
    );
    assert_no_leaks();
}

// ------------------------------------------------------------ reconnect

#[tokio::test]
async fn a_reconnect_session_reconnects_the_account_and_is_refreshable_like_any_other() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let (user, account) = alice_with_an_account(&sandbox, &state).await;
    assert!(sandbox.disconnect_account(account));
    // Never listed: the table learns the owner from Rollee, once.
    let reconnect = reconnect_account(&state, &reconnect_as("alice", account)).await;
    assert_eq!(reconnect.status, 201, "{}", reconnect.body);
    watch_session(&reconnect);
    assert_eq!(reconnect.str("user_id"), user);
    assert_eq!(reconnect.str("account_id"), account.to_string());
    assert!(reconnect.body["expires_in"].as_i64().unwrap() > 0);
    let owner = state
        .store
        .owner_of_account(account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.sub, "alice");
    // Refreshable through POST /sessions/refresh.
    let refreshed = refresh_url(
        &state,
        &with_body(
            event("refresh-url"),
            &json!({ "connect_url": reconnect.str("connect_url") }).to_string(),
        ),
    )
    .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    watch_session(&refreshed);
    // Through the (stand-in) Connect page, the account is connected again.
    let session = Uuid::parse_str(&refreshed.str("session_id")).unwrap();
    assert_eq!(sandbox.connect_account(session), Some(account));
    let listed = list_accounts(&state, &list_as("alice", &user)).await;
    assert_eq!(
        listed.body["accounts"][0]["status"], "connected",
        "{}",
        listed.body
    );
    assert_no_leaks();
}

#[tokio::test]
async fn another_callers_account_is_404_and_once_recorded_costs_no_rollee_call() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let (_, account) = alice_with_an_account(&sandbox, &state).await;
    // Unknown to the table: Rollee says whose, and it is not bob's.
    let bob = reconnect_account(&state, &reconnect_as("bob", account)).await;
    let first = bob.problem(404).clone();
    assert!(
        state
            .store
            .owner_of_account(account)
            .await
            .unwrap()
            .is_none()
    );
    // Alice's reconnect records it; bob's next try is answered by the table alone.
    let alice = reconnect_account(&state, &reconnect_as("alice", account)).await;
    assert_eq!(alice.status, 201, "{}", alice.body);
    watch_session(&alice);
    let calls = sandbox.requests().len();
    let again = reconnect_account(&state, &reconnect_as("bob", account)).await;
    assert_eq!(again.problem(404)["detail"], first["detail"]);
    assert_eq!(sandbox.requests().len(), calls, "no Rollee call");
    let unknown = reconnect_account(&state, &reconnect_as("alice", Uuid::new_v4())).await;
    assert_eq!(unknown.problem(404)["detail"], first["detail"]);
    assert_no_leaks();
}

#[tokio::test]
async fn reconnects_count_against_the_callers_session_quota() {
    let sandbox = sandbox().await;
    let state = state_with(
        &sandbox,
        &[
            ("ROLLEE_TOKEN", JWT),
            ("SESSIONS_PER_CALLER_PER_MINUTE", "2"),
        ],
    )
    .await;
    // POST /users is the first of the two sessions this minute.
    let (_, account) = alice_with_an_account(&sandbox, &state).await;
    let ok = reconnect_account(&state, &reconnect_as("alice", account)).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    watch_session(&ok);
    let calls = sandbox.requests().len();
    let over = reconnect_account(&state, &reconnect_as("alice", account)).await;
    assert_eq!(
        over.problem(429)["type"],
        "urn:rollee-connect:problem:rate-limited"
    );
    assert!(over.headers.get("retry-after").is_some());
    assert_eq!(
        sandbox.requests().len(),
        calls,
        "no Rollee call over the quota"
    );
    assert_no_leaks();
}

// ------------------------------------------------------------ erasure

/// Asserts that nothing of `user` or `sub` is left in `table`, at Rollee
/// or in a session, and that the bus got exactly one `user.erased`.
async fn assert_erased(sandbox: &Sandbox, table: &str, user: &str, sub: &str) {
    let left: Vec<String> = items_of(table)
        .await
        .into_iter()
        .filter(|item| {
            item.contains(user)
                || item.contains(&format!("sub={sub}"))
                || item.contains(&format!("#{sub}"))
        })
        .collect();
    assert!(left.is_empty(), "items of the erased user left: {left:?}");
    assert!(!sandbox.has_user(Uuid::parse_str(user).unwrap()));
}

#[tokio::test]
async fn an_erasure_removes_the_user_everywhere_says_so_once_and_then_is_a_404() {
    let sandbox = sandbox().await;
    let table = local_table().await;
    let (state, bus) = bus_state_on(&sandbox, &table, true).await;
    let bus = bus.unwrap();
    let (user, account) = alice_with_an_account(&sandbox, &state).await;
    // Every kind of item: caller, user, sessions, an account, quota.
    let session = new_session(&state, &with_user(event("new-session"), &user)).await;
    watch_session(&session);
    assert_eq!(
        list_accounts(&state, &list_as("alice", &user)).await.status,
        200
    );
    assert!(
        state
            .store
            .owner_of_account(account)
            .await
            .unwrap()
            .is_some()
    );
    // Bob's user stays.
    let bob = create_user(&state, &with_sub(event("create-user"), "bob")).await;
    watch_session(&bob);

    let erased = erase_user(&state, &erase_as("alice", &user)).await;
    assert_eq!(erased.status, 204, "{}", erased.body);
    assert_eq!(erased.body, Value::Null);
    assert_erased(&sandbox, &table, &user, "alice").await;
    let events = bus
        .wait_for(1, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail-type"], "user.erased");
    assert_eq!(
        events[0]["detail"],
        json!({ "user_id": user, "sub": "alice" })
    );
    assert!(
        items_of(&table).await.iter().any(|i| i.contains("sub=bob")),
        "another caller's items stay"
    );

    let calls = sandbox.requests().len();
    erase_user(&state, &erase_as("alice", &user))
        .await
        .problem(404);
    // A second call: the table does not know the user, Rollee is asked once.
    assert!(sandbox.requests().len() <= calls + 1);
    let again = create_user(&state, &event("create-user")).await;
    assert_eq!(
        again.status, 201,
        "a new user after the erasure: {}",
        again.body
    );
    watch_session(&again);
    assert_ne!(again.str("user_id"), user);
    assert_no_leaks();
}

#[tokio::test]
async fn another_caller_cannot_erase_a_user_and_rollee_is_not_called() {
    let sandbox = sandbox().await;
    let state = bus_state(&sandbox).await;
    let (user, _) = alice_with_an_account(&sandbox, &state).await;
    let calls = sandbox.requests().len();
    erase_user(&state, &erase_as("bob", &user))
        .await
        .problem(404);
    assert_eq!(sandbox.requests().len(), calls);
    assert!(sandbox.has_user(Uuid::parse_str(&user).unwrap()));
    assert_eq!(
        list_accounts(&state, &list_as("alice", &user)).await.status,
        200
    );
    assert_no_leaks();
}

#[tokio::test]
async fn an_erasure_cut_before_rollee_blocks_new_sessions_and_a_retry_finishes_it() {
    let sandbox = sandbox().await;
    let table = local_table().await;
    let (state, _bus) = bus_state_on(&sandbox, &table, true).await;
    let (user, account) = alice_with_an_account(&sandbox, &state).await;
    let minted = new_session(&state, &with_user(event("new-session"), &user)).await;
    assert_eq!(minted.status, 201, "{}", minted.body);
    watch_session(&minted);
    // The listing records the account as alice's user's.
    assert_eq!(
        list_accounts(&state, &list_as("alice", &user)).await.status,
        200
    );
    sandbox.fail(Fault::ServerError, None);
    let failed = erase_user(&state, &erase_as("alice", &user)).await;
    assert_eq!(
        failed.problem(502)["type"],
        "urn:rollee-connect:problem:upstream-error"
    );
    sandbox.clear_faults();
    assert!(sandbox.has_user(Uuid::parse_str(&user).unwrap()));
    // Marked: no new session for a user being erased, no refresh of one
    // minted before, no listing either.
    new_session(&state, &with_user(event("new-session"), &user))
        .await
        .problem(404);
    let body = json!({ "connect_url": minted.str("connect_url") }).to_string();
    refresh_url(&state, &with_body(event("refresh-url"), &body))
        .await
        .problem(404);
    // Nor for its caller's POST /users, with this process's hint of the
    // user or without one.
    let user_id = Uuid::parse_str(&user).unwrap();
    for hint in [true, false] {
        if hint {
            state.store.hints().set_owner("alice", user_id);
        }
        let refused = create_user(&state, &event("create-user")).await;
        assert_eq!(
            refused.problem(409)["type"],
            "urn:rollee-connect:problem:in-progress",
            "hint {hint}"
        );
    }
    list_accounts(&state, &list_as("alice", &user))
        .await
        .problem(404);
    reconnect_account(&state, &reconnect_as("alice", account))
        .await
        .problem(404);
    let retried = erase_user(&state, &erase_as("alice", &user)).await;
    assert_eq!(retried.status, 204, "{}", retried.body);
    assert_erased(&sandbox, &table, &user, "alice").await;
    assert_no_leaks();
}

#[tokio::test]
async fn an_erasure_cut_after_rollee_or_half_way_through_the_table_finishes_on_retry() {
    for half_way in [false, true] {
        let sandbox = sandbox().await;
        let table = local_table().await;
        let (state, _bus) = bus_state_on(&sandbox, &table, true).await;
        let (user, _) = alice_with_an_account(&sandbox, &state).await;
        assert_eq!(
            list_accounts(&state, &list_as("alice", &user)).await.status,
            200
        );
        let user_id = Uuid::parse_str(&user).unwrap();
        // A process that stopped after these steps: the mark, Rollee's delete,
        // and (half way) some of the table's items.
        assert!(state.store.begin_erasure("alice", user_id).await.unwrap());
        assert!(
            state
                .client
                .delete_user(user_id, state.client.deadline())
                .await
                .unwrap()
        );
        if !half_way {
            // The caller's POST /users meanwhile: 409, and forgetting the
            // user Rollee no longer knows keeps the erasure's mark.
            create_user(&state, &event("create-user"))
                .await
                .problem(409);
            state.store.forget_user("alice", user_id).await.unwrap();
            assert!(state.store.user(user_id).await.unwrap().unwrap().erasing);
        }
        if half_way {
            let keys = state.store.items_of_user(user_id).await.unwrap();
            let some: Vec<String> = keys
                .into_iter()
                .filter(|k| k.starts_with("account#") || k.starts_with("caller#"))
                .collect();
            assert!(!some.is_empty());
            state.store.delete_items(&some).await.unwrap();
        }
        let retried = erase_user(&state, &erase_as("alice", &user)).await;
        assert_eq!(retried.status, 204, "half way {half_way}: {}", retried.body);
        assert_erased(&sandbox, &table, &user, "alice").await;
    }
    assert_no_leaks();
}

#[tokio::test]
async fn an_erasure_cut_before_its_event_is_503_and_a_retry_publishes_it() {
    let sandbox = sandbox().await;
    let table = local_table().await;
    // The bus this state names does not exist (yet).
    let (no_bus, _) = bus_state_on(&sandbox, &table, false).await;
    let (user, _) = alice_with_an_account(&sandbox, &no_bus).await;
    let failed = erase_user(&no_bus, &erase_as("alice", &user)).await;
    assert_eq!(
        failed.problem(503)["type"],
        "urn:rollee-connect:problem:event-bus-unavailable"
    );
    // Rollee's and the table's parts are done; the mark stays for the retry.
    assert!(!sandbox.has_user(Uuid::parse_str(&user).unwrap()));
    assert_eq!(
        items_of(&table).await.len(),
        1,
        "only the mark: {:?}",
        items_of(&table).await
    );
    let (state, bus) = bus_state_on(&sandbox, &table, true).await;
    let retried = erase_user(&state, &erase_as("alice", &user)).await;
    assert_eq!(retried.status, 204, "{}", retried.body);
    assert_erased(&sandbox, &table, &user, "alice").await;
    let events = bus
        .unwrap()
        .wait_for(1, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(events[0]["detail"]["user_id"], user);
    assert_no_leaks();
}

#[tokio::test]
async fn with_the_table_down_the_account_routes_are_503_and_rollee_is_not_called() {
    let sandbox = sandbox().await;
    let moto = Moto::start().unwrap();
    let state: State = state_on(
        &moto,
        &sandbox,
        &[("ROLLEE_TOKEN", JWT), ("EVENT_BUS_NAME", "bus")],
        test_options(),
    )
    .await;
    let (user, account) = alice_with_an_account(&sandbox, &state).await;
    drop(moto);
    let calls = sandbox.requests().len();
    let answers = [
        list_accounts(&state, &list_as("alice", &user)).await,
        reconnect_account(&state, &reconnect_as("alice", account)).await,
        erase_user(&state, &erase_as("alice", &user)).await,
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

#[tokio::test]
async fn after_an_erasure_deliveries_for_the_user_have_no_owner_and_both_user_shapes_are_read() {
    let sandbox = sandbox().await;
    let table = local_table().await;
    let (state, _) = bus_state_on(&sandbox, &table, true).await;
    let (setup, bus) = crate::webhooks::setup_on(&[], true, table.clone()).await;
    let bus = bus.unwrap();
    let (user, account) = alice_with_an_account(&sandbox, &state).await;
    // The other shape of user events [I]: `event` and a top-level `user_id`.
    let other_shape = json!({"event": "update_user", "user_id": user, "account_count": 1});
    let before = crate::webhooks::deliver_ok(&setup, &other_shape.to_string()).await;
    assert_eq!(before.status, 200, "{}", before.body);
    let account_event = |n: u32| {
        json!({"action": "update_account", "n": n, "data": {"account_id": account, "user_id": user, "connected": true}})
            .to_string()
    };
    assert_eq!(
        crate::webhooks::deliver_ok(&setup, &account_event(1))
            .await
            .status,
        200
    );
    let events = bus
        .wait_for(2, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(events[0]["detail-type"], "update_user", "{events:?}");
    for e in &events {
        assert_eq!(e["detail"]["owner"], "known", "{e}");
        assert_eq!(e["detail"]["sub"], "alice", "{e}");
    }

    let erased = erase_user(&state, &erase_as("alice", &user)).await;
    assert_eq!(erased.status, 204, "{}", erased.body);
    bus.take().await.unwrap();
    let after = crate::webhooks::deliver_ok(&setup, &account_event(2)).await;
    assert_eq!(after.status, 200, "{}", after.body);
    let events = bus
        .wait_for(1, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    let detail = &events[0]["detail"];
    assert_eq!(detail["owner"], "unknown", "{detail}");
    assert!(
        detail.get("sub").is_none(),
        "never re-linked to the old caller: {detail}"
    );
    // Nor is the account re-recorded for the erased user.
    assert_erased(&sandbox, &table, &user, "alice").await;
    assert_no_leaks();
}
