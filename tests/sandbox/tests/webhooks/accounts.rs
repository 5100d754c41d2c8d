//! Account events, from `Sandbox::connect_account` and the Connect page button.

use std::time::Duration;

use hyper::{Method, StatusCode};
use rollee_sandbox::{CONNECT_PREFIX, SANDBOX_DATASOURCE_ID};
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

#[tokio::test]
async fn connecting_an_account_emits_create_then_connect() {
    let sandbox = sandbox_with(fast(4)).await;
    let hook = Hook::start(&[]).await;
    register(
        &sandbox,
        "accounts",
        json!({"url": hook.url, "headers": {"X-Client": "ours"}, "secret": SECRET}),
    )
    .await;
    let user = create_user(&sandbox).await;
    let user_id = user["id"].as_str().unwrap();
    let session: Uuid = user["session"].as_str().unwrap().parse().unwrap();

    let account = sandbox.connect_account(session).unwrap();
    let deliveries = sandbox.wait_for_deliveries(2, WAIT).await;
    assert_eq!(
        summary(&deliveries),
        [
            ("accounts", "create_account".to_owned(), 1, Some(200)),
            ("accounts", "connect_account".to_owned(), 1, Some(200))
        ]
    );
    for (received, action) in hook.got().iter().zip(["create_account", "connect_account"]) {
        let event = json_of(&received.body);
        assert_eq!(event["action"], action);
        let data = &event["data"];
        assert_eq!(data["account_id"], account.to_string());
        assert_eq!(data["user_id"], user_id);
        assert_eq!(data["datasource_id"], SANDBOX_DATASOURCE_ID.to_string());
        assert_eq!(data["connected"], true);
        assert!(data["created_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(header(received, "x-client"), Some("ours"));
        assert_eq!(
            header(received, "x-signature"),
            Some(hmac_hex(SECRET, &received.body).as_str())
        );
    }
    let (_, fetched) = api(&sandbox, Method::GET, &format!("/users/{user_id}"), None).await;
    assert_eq!(
        (
            fetched["accounts_number"].clone(),
            fetched["connected_accounts_count"].clone()
        ),
        (json!(1), json!(1))
    );

    // No account for a session the page would refuse.
    assert_eq!(sandbox.connect_account(Uuid::new_v4()), None);
    sandbox.advance_clock(Duration::from_secs(31 * 60));
    assert_eq!(sandbox.connect_account(session), None);
    assert_eq!(sandbox.wait_for_deliveries(3, QUIET).await.len(), 2);
}

#[tokio::test]
async fn the_connect_page_button_connects_an_account() {
    let sandbox = sandbox_with(fast(4)).await;
    let hook = Hook::start(&[]).await;
    register(&sandbox, "accounts", json!({"url": hook.url})).await;
    let user = create_user(&sandbox).await;
    let session = user["session"].as_str().unwrap();
    let page_path = format!("{CONNECT_PREFIX}{session}");

    let (status, _, page) = raw(&sandbox, Method::GET, &page_path, None, b"").await;
    assert_eq!(status, StatusCode::OK);
    let page = String::from_utf8(page.to_vec()).unwrap();
    let action = format!("{page_path}/connect");
    assert!(
        page.contains(&format!("<form method=\"post\" action=\"{action}\">")),
        "{page}"
    );
    assert!(page.contains("id=\"connect-account\""), "{page}");

    let (status, _, _) = raw(&sandbox, Method::GET, &action, None, b"").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, headers, answer) = raw(&sandbox, Method::POST, &action, None, b"").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let answer = String::from_utf8(answer.to_vec()).unwrap();
    assert!(
        answer.contains("<p id=\"status\">Account connected.</p>"),
        "{answer}"
    );
    let deliveries = sandbox.wait_for_deliveries(2, WAIT).await;
    let account = json_of(&deliveries[0].body)["data"]["account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        answer.contains(&format!("<code id=\"account-id\">{account}</code>")),
        "{answer}"
    );
    assert_eq!(json_of(&deliveries[1].body)["data"]["user_id"], user["id"]);

    // Refused sessions: the page's statuses, no account.
    let (status, _, _) = raw(
        &sandbox,
        Method::POST,
        &format!("{CONNECT_PREFIX}{}/connect", Uuid::new_v4()),
        None,
        b"",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = raw(
        &sandbox,
        Method::POST,
        &format!("{CONNECT_PREFIX}not-a-uuid/connect"),
        None,
        b"",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api(
        &sandbox,
        Method::POST,
        &format!("/sessions/{session}/refresh"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, answer) = raw(&sandbox, Method::POST, &action, None, b"").await;
    assert_eq!(status, StatusCode::GONE);
    assert!(!String::from_utf8_lossy(&answer).contains("Account connected"));
    assert_eq!(sandbox.wait_for_deliveries(3, QUIET).await.len(), 2);
}
