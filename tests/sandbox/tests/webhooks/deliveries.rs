//! Deliveries of user events and of `Sandbox::deliver`: signature,
//! headers, retries, duplicates, replaced and deleted configurations.

use std::time::Duration;

use hyper::{Method, StatusCode};
use rollee_sandbox::WebhookMode;
use serde_json::json;
use tokio::net::TcpListener;

use crate::support::*;

#[tokio::test]
async fn a_new_user_is_delivered_signed_with_the_registered_headers() {
    let sandbox = sandbox_with(fast(4)).await;
    let hook = Hook::start(&[]).await;
    register(&sandbox, "users", json!({"url": hook.url, "headers": {"X-Client": "ours", "Authorization": "Basic abc"}, "secret": SECRET})).await;

    let user = create_user(&sandbox).await;
    let deliveries = sandbox.wait_for_deliveries(1, WAIT).await;
    assert_eq!(
        summary(&deliveries),
        [("users", "create_user".to_owned(), 1, Some(200))]
    );

    let got = hook.got();
    assert_eq!(got.len(), 1);
    let request = &got[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, "/hooks/rollee");
    assert_eq!(header(request, "content-type"), Some("application/json"));
    assert_eq!(header(request, "x-client"), Some("ours"));
    assert_eq!(header(request, "authorization"), Some("Basic abc"));
    assert_eq!(
        request.body, deliveries[0].body,
        "the recorded bytes are the bytes sent"
    );
    assert_eq!(
        header(request, "x-signature"),
        Some(hmac_hex(SECRET, &request.body).as_str())
    );
    assert_ne!(
        header(request, "x-signature"),
        Some(hmac_hex("other", &request.body).as_str())
    );

    let event = json_of(&request.body);
    assert_eq!(event["action"], "create_user");
    let (_, fetched) = api(
        &sandbox,
        Method::GET,
        &format!("/users/{}", user["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(event["data"], fetched, "data is the User as GET returns it");
    assert_eq!(event["data"]["metadata"], json!({"crm_id": "42"}));
}

#[tokio::test]
async fn update_and_delete_user_are_delivered() {
    let sandbox = sandbox_with(fast(4)).await;
    let hook = Hook::start(&[]).await;
    register(&sandbox, "users", json!({"url": hook.url})).await;
    let user = create_user(&sandbox).await;
    let path = format!("/users/{}", user["id"].as_str().unwrap());
    sandbox.wait_for_deliveries(1, WAIT).await;

    let (status, updated) = api(
        &sandbox,
        Method::PUT,
        &path,
        Some(json!({"metadata": {"crm_id": "43"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    sandbox.wait_for_deliveries(2, WAIT).await;
    let (_, before_delete) = api(&sandbox, Method::GET, &path, None).await;
    let (status, _) = api(&sandbox, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let deliveries = sandbox.wait_for_deliveries(3, WAIT).await;

    let actions: Vec<String> = deliveries.iter().map(|d| d.action.clone()).collect();
    assert_eq!(actions, ["create_user", "update_user", "delete_user"]);
    let got = hook.got();
    assert_eq!(
        json_of(&got[1].body),
        json!({"action": "update_user", "data": updated})
    );
    assert_eq!(
        json_of(&got[1].body)["data"]["metadata"],
        json!({"crm_id": "43"})
    );
    assert_eq!(
        json_of(&got[2].body),
        json!({"action": "delete_user", "data": before_delete})
    );
    assert!(
        got.iter().all(|r| r.headers.get("x-signature").is_none()),
        "no secret, no signature"
    );

    // Failed calls emit nothing.
    let (status, _) = api(&sandbox, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api(
        &sandbox,
        Method::POST,
        "/users",
        Some(json!({"metadata": 5})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(sandbox.wait_for_deliveries(4, QUIET).await.len(), 3);
}

#[tokio::test]
async fn a_failed_attempt_is_retried_with_identical_bytes() {
    let sandbox = sandbox_with(fast(4)).await;
    let hook = Hook::start(&[500]).await;
    register(
        &sandbox,
        "users",
        json!({"url": hook.url, "headers": {"X-Client": "ours"}, "secret": SECRET}),
    )
    .await;
    create_user(&sandbox).await;

    let deliveries = sandbox.wait_for_deliveries(2, WAIT).await;
    assert_eq!(
        summary(&deliveries),
        [
            ("users", "create_user".to_owned(), 1, Some(500)),
            ("users", "create_user".to_owned(), 2, Some(200))
        ]
    );
    assert_eq!(deliveries[0].body, deliveries[1].body);
    let got = hook.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(
        header(&got[0], "x-signature"),
        header(&got[1], "x-signature")
    );
    assert_eq!(header(&got[1], "x-client"), Some("ours"));
    assert!(
        got[1].at.duration_since(got[0].at) >= Duration::from_millis(100),
        "the retry waits retry_delay"
    );
    assert_eq!(
        sandbox.wait_for_deliveries(3, QUIET).await.len(),
        2,
        "no attempt after a 2xx"
    );
}

#[tokio::test]
async fn attempts_stop_at_max_attempts() {
    let sandbox = sandbox_with(WebhookMode {
        retry_delay: Duration::from_millis(20),
        ..fast(3)
    })
    .await;
    let hook = Hook::start(&[503, 503, 503, 503, 503]).await;
    register(&sandbox, "users", json!({"url": hook.url})).await;
    create_user(&sandbox).await;
    let deliveries = sandbox.wait_for_deliveries(3, WAIT).await;
    assert_eq!(
        deliveries
            .iter()
            .map(|d| (d.attempt, d.status))
            .collect::<Vec<_>>(),
        [(1, Some(503)), (2, Some(503)), (3, Some(503))]
    );
    assert_eq!(sandbox.wait_for_deliveries(4, QUIET).await.len(), 3);
    assert_eq!(hook.got().len(), 3);

    // Nobody listening, and https (stored, never delivered): transport errors, retried too.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_url = format!("http://{}/gone", closed.local_addr().unwrap());
    drop(closed);
    for url in [closed_url, "https://127.0.0.1:9/h".to_owned()] {
        let before = sandbox.deliveries().len();
        register(&sandbox, "users", json!({"url": url})).await;
        create_user(&sandbox).await;
        let deliveries = sandbox.wait_for_deliveries(before + 3, WAIT).await;
        assert_eq!(
            deliveries[before..]
                .iter()
                .map(|d| (d.attempt, d.status))
                .collect::<Vec<_>>(),
            [(1, None), (2, None), (3, None)],
            "{url}"
        );
    }
}

#[tokio::test]
async fn duplicate_mode_delivers_each_event_twice() {
    let sandbox = sandbox_with(WebhookMode {
        duplicate: true,
        ..fast(4)
    })
    .await;
    let hook = Hook::start(&[]).await;
    register(
        &sandbox,
        "users",
        json!({"url": hook.url, "secret": SECRET}),
    )
    .await;
    create_user(&sandbox).await;
    let deliveries = sandbox.wait_for_deliveries(2, WAIT).await;
    assert_eq!(
        summary(&deliveries),
        [
            ("users", "create_user".to_owned(), 1, Some(200)),
            ("users", "create_user".to_owned(), 1, Some(200))
        ]
    );
    let got = hook.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(
        header(&got[0], "x-signature"),
        header(&got[1], "x-signature")
    );
    assert_eq!(sandbox.wait_for_deliveries(3, QUIET).await.len(), 2);
}

#[tokio::test]
async fn a_put_replaces_the_configuration_and_a_delete_stops_deliveries() {
    let sandbox = sandbox_with(fast(4)).await;
    let first = Hook::start(&[]).await;
    let second = Hook::start(&[]).await;
    register(
        &sandbox,
        "users",
        json!({"url": first.url, "headers": {"X-Old": "1"}, "secret": SECRET}),
    )
    .await;
    create_user(&sandbox).await;
    sandbox.wait_for_deliveries(1, WAIT).await;
    assert_eq!(header(&first.got()[0], "x-old"), Some("1"));

    let replaced = register(&sandbox, "users", json!({"url": second.url})).await;
    assert_eq!(
        (replaced["headers"].clone(), replaced["signed"].clone()),
        (json!({}), json!(false))
    );
    create_user(&sandbox).await;
    sandbox.wait_for_deliveries(2, WAIT).await;
    assert_eq!(first.got().len(), 1, "the old URL gets nothing more");
    let got = second.got();
    assert_eq!(got.len(), 1);
    assert!(
        got[0].headers.get("x-old").is_none(),
        "the old headers are gone"
    );
    assert!(
        got[0].headers.get("x-signature").is_none(),
        "the old secret is gone"
    );

    let (status, _) = api(&sandbox, Method::DELETE, "/webhooks/users", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    create_user(&sandbox).await;
    assert_eq!(sandbox.wait_for_deliveries(3, QUIET).await.len(), 2);
    assert_eq!(second.got().len(), 1);

    // Registered but disabled: nothing either.
    register(
        &sandbox,
        "users",
        json!({"url": second.url, "enabled": false}),
    )
    .await;
    create_user(&sandbox).await;
    assert_eq!(sandbox.wait_for_deliveries(3, QUIET).await.len(), 2);
    assert_eq!(second.got().len(), 1);
}

#[tokio::test]
async fn deliver_sends_any_event_through_the_registered_webhook() {
    let sandbox = sandbox_with(fast(2)).await;
    let hook = Hook::start(&[500]).await;
    register(
        &sandbox,
        "accounts",
        json!({"url": hook.url, "secret": SECRET}),
    )
    .await;
    let event = json!({"action": "refresh_account", "data": {"anything": [1, 2]}});
    sandbox.deliver("accounts", event.clone()).await;
    // `deliver` returns once its attempts have ended.
    assert_eq!(
        summary(&sandbox.deliveries()),
        [
            ("accounts", "refresh_account".to_owned(), 1, Some(500)),
            ("accounts", "refresh_account".to_owned(), 2, Some(200))
        ]
    );
    let got = hook.got();
    assert_eq!(json_of(&got[1].body), event);
    assert_eq!(
        header(&got[1], "x-signature"),
        Some(hmac_hex(SECRET, &got[1].body).as_str())
    );

    sandbox.deliver("accounts", json!(["no", "action"])).await;
    assert_eq!(
        sandbox
            .deliveries()
            .last()
            .map(|d| (d.action.clone(), d.status)),
        Some((String::new(), Some(200)))
    );
    sandbox.deliver("users", event.clone()).await;
    sandbox.deliver("bogus", event).await;
    assert_eq!(
        sandbox.deliveries().len(),
        3,
        "nothing registered for users, no such type as bogus"
    );
}
