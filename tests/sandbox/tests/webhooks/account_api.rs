//! The account endpoints (list, get, delete, reconnect, disconnect), the reconnect
//! Connect page, and `POST /_sandbox/accounts/{id}` with its handle twin.

use hyper::{Method, StatusCode};
use rollee_sandbox::{API_PREFIX, CONNECT_PREFIX, Fault, SANDBOX_DATASOURCE_ID, Sandbox};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

/// A user with one connected account: (user id, its session, the account).
async fn user_with_account(sandbox: &Sandbox) -> (String, Uuid, Uuid) {
    let user = create_user(sandbox).await;
    let session: Uuid = user["session"].as_str().unwrap().parse().unwrap();
    let account = sandbox.connect_account(session).unwrap();
    (user["id"].as_str().unwrap().to_owned(), session, account)
}

async fn control(sandbox: &Sandbox, path: &str, body: &str) -> (StatusCode, Value) {
    let (status, _, answer) = raw(sandbox, Method::POST, path, None, body.as_bytes()).await;
    (status, json_of(&answer))
}

/// The `data` of every delivered event of `kind`, with its action.
fn account_events(deliveries: &[rollee_sandbox::Delivery], kind: &str) -> Vec<(String, Value)> {
    deliveries
        .iter()
        .filter(|d| d.kind == kind)
        .map(|d| (d.action.clone(), json_of(&d.body)["data"].clone()))
        .collect()
}

#[tokio::test]
async fn accounts_are_listed_and_read_behind_the_jwt() {
    let sandbox = sandbox_with(fast(1)).await;
    let user = create_user(&sandbox).await;
    let user_id = user["id"].as_str().unwrap();
    let (status, list) = api(
        &sandbox,
        Method::GET,
        &format!("/users/{user_id}/accounts"),
        None,
    )
    .await;
    assert_eq!((status, list), (StatusCode::OK, json!([])));

    let session: Uuid = user["session"].as_str().unwrap().parse().unwrap();
    let first = sandbox.connect_account(session).unwrap();
    let second = sandbox.connect_account(session).unwrap();
    let (status, list) = api(
        &sandbox,
        Method::GET,
        &format!("/users/{user_id}/accounts"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.to_string(), second.to_string()]);
    assert_eq!(
        sandbox.accounts_of(user_id.parse().unwrap()),
        [first, second]
    );

    let (status, account) = api(&sandbox, Method::GET, &format!("/accounts/{first}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(account, list[0]);
    assert_eq!(Some(account.clone()), sandbox.account(first));
    let mut keys: Vec<&str> = account
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "connected",
            "created_at",
            "datasource_id",
            "id",
            "status",
            "updated_at",
            "user_id"
        ]
    );
    assert_eq!(account["user_id"], user_id);
    assert_eq!(account["datasource_id"], SANDBOX_DATASOURCE_ID.to_string());
    assert_eq!(
        (&account["connected"], &account["status"]),
        (&json!(true), &json!("connected"))
    );
    assert_eq!(account["created_at"], account["updated_at"]);
    assert!(account["created_at"].as_str().unwrap().ends_with('Z'));

    for path in [
        format!("/users/{}/accounts", Uuid::new_v4()),
        format!("/accounts/{}", Uuid::new_v4()),
        "/accounts/not-a-uuid".to_owned(),
        format!("/accounts/{}/reconnect", Uuid::new_v4()),
        format!("/accounts/{}/disconnect", Uuid::new_v4()),
    ] {
        let method = if path.ends_with("connect") {
            Method::POST
        } else {
            Method::GET
        };
        let (status, _) = api(&sandbox, method, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let path = format!("{API_PREFIX}/accounts/{first}");
    let (status, _, _) = raw(&sandbox, Method::GET, &path, Some("wrong"), b"").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    sandbox.fail(Fault::ServerError, Some(1));
    let (status, _) = api(&sandbox, Method::GET, &format!("/accounts/{first}"), None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let recorded = sandbox.requests();
    assert!(
        recorded
            .iter()
            .any(|r| r.method == "GET" && r.path == format!("/accounts/{first}"))
    );
    assert!(
        recorded
            .iter()
            .any(|r| r.path == format!("/users/{user_id}/accounts"))
    );
}

#[tokio::test]
async fn disconnecting_an_account_answers_it_and_emits_disconnect_account() {
    let sandbox = sandbox_with(fast(1)).await;
    let hook = Hook::start(&[]).await;
    let (user, _, account) = user_with_account(&sandbox).await;
    register(&sandbox, "accounts", json!({"url": hook.url})).await;
    sandbox.advance_clock(std::time::Duration::from_secs(60));

    let (status, answer) = api(
        &sandbox,
        Method::POST,
        &format!("/accounts/{account}/disconnect"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&answer["connected"], &answer["status"]),
        (&json!(false), &json!("disconnected"))
    );
    assert_ne!(answer["updated_at"], answer["created_at"]);
    assert_eq!(Some(answer.clone()), sandbox.account(account));
    let deliveries = sandbox.wait_for_deliveries(1, WAIT).await;
    let events = account_events(&deliveries, "accounts");
    assert_eq!(events.len(), 1, "{deliveries:?}");
    assert_eq!(events[0].0, "disconnect_account");
    assert_eq!(
        events[0].1,
        json!({
            "account_id": account, "user_id": user, "datasource_id": SANDBOX_DATASOURCE_ID,
            "connected": false, "created_at": answer["created_at"],
        })
    );
    let (_, fetched) = api(&sandbox, Method::GET, &format!("/users/{user}"), None).await;
    assert_eq!(
        (
            &fetched["accounts_number"],
            &fetched["connected_accounts_count"]
        ),
        (&json!(1), &json!(0))
    );

    assert!(sandbox.disconnect_account(account));
    assert!(!sandbox.disconnect_account(Uuid::new_v4()));
    assert_eq!(sandbox.wait_for_deliveries(2, WAIT).await.len(), 2);

    // Deleting it: delete_account, then it is gone with its reconnect sessions.
    let reconnect = sandbox.reconnect_session(account).unwrap();
    let path = format!("/accounts/{account}");
    let (status, answer) = api(&sandbox, Method::DELETE, &path, None).await;
    assert_eq!((status, answer), (StatusCode::OK, json!({})));
    let deliveries = sandbox.wait_for_deliveries(3, WAIT).await;
    let deleted = &account_events(&deliveries, "accounts")[2];
    assert_eq!(deleted.0, "delete_account");
    assert_eq!(deleted.1["account_id"], account.to_string());
    assert_eq!(
        api(&sandbox, Method::GET, &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api(&sandbox, Method::DELETE, &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(!sandbox.session_is_valid(reconnect));
    let user: Uuid = user.parse().unwrap();
    assert!(sandbox.has_user(user) && sandbox.accounts_of(user).is_empty());
}

#[tokio::test]
async fn a_reconnect_session_reconnects_its_account_on_the_connect_page() {
    let sandbox = sandbox_with(fast(1)).await;
    let hook = Hook::start(&[]).await;
    let (user, own_session, account) = user_with_account(&sandbox).await;
    assert!(sandbox.disconnect_account(account));
    register(&sandbox, "accounts", json!({"url": hook.url})).await;

    let (status, session) = api(
        &sandbox,
        Method::POST,
        &format!("/accounts/{account}/reconnect"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut keys: Vec<&str> = session
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "link", "session", "session_expires_at"]);
    assert_eq!(session["id"], user.as_str());
    let id = session["session"].as_str().unwrap();
    assert_ne!(id, own_session.to_string());
    let link = session["link"].as_str().unwrap();
    assert_eq!(
        link,
        format!(
            "{}{CONNECT_PREFIX}{id}",
            sandbox.base_url().trim_end_matches(API_PREFIX)
        )
    );
    // The user's own session stays its latest.
    let (_, fetched) = api(&sandbox, Method::GET, &format!("/users/{user}"), None).await;
    assert_eq!(fetched["session"], own_session.to_string());

    let page_path = format!("{CONNECT_PREFIX}{id}");
    let (status, _, page) = raw(&sandbox, Method::GET, &page_path, None, b"").await;
    assert_eq!(status, StatusCode::OK);
    let page = String::from_utf8(page.to_vec()).unwrap();
    assert!(
        page.contains(&format!("Reconnect account {account}")),
        "{page}"
    );
    assert!(
        page.contains(&format!("action=\"{page_path}/connect\"")),
        "{page}"
    );
    let (status, _, answer) = raw(
        &sandbox,
        Method::POST,
        &format!("{page_path}/connect"),
        None,
        b"",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let answer = String::from_utf8(answer.to_vec()).unwrap();
    assert!(answer.contains("Account reconnected."), "{answer}");
    assert!(
        answer.contains(&format!("<code id=\"account-id\">{account}</code>")),
        "{answer}"
    );

    let now = sandbox.account(account).unwrap();
    assert_eq!(
        (&now["connected"], &now["status"]),
        (&json!(true), &json!("connected"))
    );
    assert_eq!(sandbox.accounts_of(user.parse().unwrap()), [account]);
    let deliveries = sandbox.wait_for_deliveries(1, WAIT).await;
    let events = account_events(&deliveries, "accounts");
    assert_eq!(
        events.len(),
        1,
        "connect_account only, no create_account: {deliveries:?}"
    );
    assert_eq!(events[0].0, "connect_account");
    assert_eq!(
        (&events[0].1["account_id"], &events[0].1["connected"]),
        (&json!(account), &json!(true))
    );

    // The handle's reconnect session, refreshed, still reconnects the account.
    let session = sandbox.reconnect_session(account).unwrap();
    let (status, fresh) = api(
        &sandbox,
        Method::POST,
        &format!("/sessions/{session}/refresh"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let fresh: Uuid = fresh["session"].as_str().unwrap().parse().unwrap();
    assert_eq!(sandbox.connect_account(fresh), Some(account));
    assert_eq!(sandbox.accounts_of(user.parse().unwrap()), [account]);
    assert_eq!(sandbox.reconnect_session(Uuid::new_v4()), None);
}

#[tokio::test]
async fn the_control_sets_an_account_and_emits_update_account() {
    let sandbox = sandbox_with(fast(1)).await;
    let hook = Hook::start(&[]).await;
    let (user, _, account) = user_with_account(&sandbox).await;
    register(&sandbox, "accounts", json!({"url": hook.url})).await;
    let path = format!("/_sandbox/accounts/{account}");

    let (status, answer) = control(
        &sandbox,
        &path,
        r#"{"connected": false, "status": "error"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&answer["connected"], &answer["status"]),
        (&json!(false), &json!("error"))
    );
    let (status, answer) = control(&sandbox, &path, r#"{"status": null}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert!(answer.get("status").is_none(), "{answer}");
    let (_, fetched) = api(&sandbox, Method::GET, &format!("/accounts/{account}"), None).await;
    assert_eq!(fetched, answer);
    // A status the sandbox set itself follows `connected`.
    let (_, answer) = control(&sandbox, &path, r#"{"status": "connected"}"#).await;
    assert_eq!(answer["connected"], false);
    let (_, answer) = control(&sandbox, &path, r#"{"connected": false}"#).await;
    assert_eq!(answer["status"], "disconnected");

    let deliveries = sandbox.wait_for_deliveries(4, WAIT).await;
    let events = account_events(&deliveries, "accounts");
    assert_eq!(events.len(), 4, "{deliveries:?}");
    assert!(
        events
            .iter()
            .all(|(action, data)| action == "update_account"
                && data["account_id"] == json!(account)
                && data["connected"] == false)
    );

    for (body, expected) in [
        (r#"{"connected": "no"}"#, StatusCode::BAD_REQUEST),
        (r#"{"status": 3}"#, StatusCode::BAD_REQUEST),
        ("[]", StatusCode::BAD_REQUEST),
    ] {
        assert_eq!(control(&sandbox, &path, body).await.0, expected, "{body}");
    }
    let unknown = format!("/_sandbox/accounts/{}", Uuid::new_v4());
    assert_eq!(
        control(&sandbox, &unknown, "{}").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        control(&sandbox, "/_sandbox/accounts/nope", "{}").await.0,
        StatusCode::NOT_FOUND
    );

    // The handle's twin.
    assert!(sandbox.set_account(account, Some(true), Some(Some("connected"))));
    assert_eq!(sandbox.account(account).unwrap()["status"], "connected");
    assert!(sandbox.set_account(account, None, Some(None)));
    assert!(sandbox.account(account).unwrap().get("status").is_none());
    assert!(!sandbox.set_account(Uuid::new_v4(), Some(false), None));

    // Deleting the user deletes its accounts.
    let user: Uuid = user.parse().unwrap();
    assert!(sandbox.has_user(user));
    let (status, _) = api(&sandbox, Method::DELETE, &format!("/users/{user}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!sandbox.has_user(user));
    assert!(sandbox.accounts_of(user).is_empty());
    assert_eq!(sandbox.account(account), None);
    let (status, _) = api(&sandbox, Method::GET, &format!("/accounts/{account}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
