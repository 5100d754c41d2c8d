//! Registration through the API, and the control endpoints.

use hyper::{Method, StatusCode};
use rollee_sandbox::{API_PREFIX, Sandbox};
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn registration_answers_lists_deletes_and_validates() {
    let sandbox = sandbox_with(fast(4)).await;
    let answer = register(
        &sandbox,
        "users",
        json!({"url": "http://127.0.0.1:9/x", "headers": {"X-Client": "ours"}, "secret": SECRET}),
    )
    .await;
    let expected_users = json!({
        "type": "users", "url": "http://127.0.0.1:9/x", "method": "POST",
        "headers": {"X-Client": "ours"}, "enabled": true, "signed": true,
    });
    assert_eq!(answer, expected_users);
    assert!(
        !answer.to_string().contains(SECRET),
        "the secret is never shown"
    );
    let accounts = register(
        &sandbox,
        "accounts",
        json!({"url": "https://example.com/h", "method": "POST", "enabled": false}),
    )
    .await;
    assert_eq!(accounts["signed"], false);
    assert_eq!(accounts["enabled"], false);
    assert_eq!(accounts["headers"], json!({}));

    let (status, listed) = api(&sandbox, Method::GET, "/webhooks", None).await;
    assert_eq!(status, StatusCode::OK);
    let listed = listed.as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&expected_users) && listed.contains(&accounts));
    assert_eq!(sandbox.webhooks(), Value::Array(listed));

    for bad in [
        json!({}),
        json!([]),
        json!({"url": "ftp://example.com/"}),
        json!({"url": "not a url"}),
        json!({"url": "http://h/", "method": "GET"}),
        json!({"url": "http://h/", "headers": "X-A: 1"}),
        json!({"url": "http://h/", "headers": {"X-A": 1}}),
        json!({"url": "http://h/", "headers": {"Content-Length": "1"}}),
        json!({"url": "http://h/", "secret": 12}),
        json!({"url": "http://h/", "enabled": "no"}),
    ] {
        let (status, answer) =
            api(&sandbox, Method::PUT, "/webhooks/users", Some(bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(answer["error"].is_string(), "{bad}: {answer}");
    }
    let (status, _, _) = raw(
        &sandbox,
        Method::PUT,
        &format!("{API_PREFIX}/webhooks/users"),
        Some(JWT),
        b"{not json",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        sandbox.webhooks().as_array().unwrap().len(),
        2,
        "a refused PUT changes nothing"
    );

    let (status, _) = api(
        &sandbox,
        Method::PUT,
        "/webhooks/payouts",
        Some(json!({"url": "http://h/"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = raw(
        &sandbox,
        Method::GET,
        &format!("{API_PREFIX}/webhooks"),
        Some("wrong"),
        b"",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, headers, body) = raw(
        &sandbox,
        Method::DELETE,
        &format!("{API_PREFIX}/webhooks/accounts"),
        Some(JWT),
        b"",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(body.is_empty() && headers.get("content-type").is_none());
    let (status, _) = api(&sandbox, Method::DELETE, "/webhooks/accounts", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(sandbox.webhooks(), json!([expected_users]));

    let paths: Vec<(String, String)> = sandbox
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    assert!(paths.contains(&("PUT".to_owned(), "/webhooks/users".to_owned())));
    assert!(paths.contains(&("DELETE".to_owned(), "/webhooks/accounts".to_owned())));
    assert!(sandbox.deliveries().is_empty());
}

#[tokio::test]
async fn the_control_endpoints_set_the_mode_and_list_deliveries() {
    let sandbox = Sandbox::start(JWT).await.unwrap();
    let hook = Hook::start(&[500]).await;
    let control = |method: Method, path: &'static str, body: Value| {
        let sandbox = &sandbox;
        async move {
            let (status, _, answer) =
                raw(sandbox, method, path, None, body.to_string().as_bytes()).await;
            (status, json_of(&answer))
        }
    };
    let (status, mode) = control(Method::GET, "/_sandbox/webhooks", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        mode,
        json!({"duplicate": false, "retry_delay_ms": 30000, "max_attempts": 4})
    );
    let (status, mode) = control(
        Method::POST,
        "/_sandbox/webhooks",
        json!({"retry_delay_ms": 50, "max_attempts": 2}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        mode,
        json!({"duplicate": false, "retry_delay_ms": 50, "max_attempts": 2})
    );
    for bad in [
        json!({"max_attempts": 0}),
        json!({"max_attempts": -1}),
        json!({"retry_delay_ms": "1s"}),
        json!({"duplicate": 1}),
    ] {
        let (status, _) = control(Method::POST, "/_sandbox/webhooks", bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }

    register(&sandbox, "users", json!({"url": hook.url})).await;
    create_user(&sandbox).await;
    sandbox.wait_for_deliveries(2, WAIT).await;
    let (status, listed) = control(Method::GET, "/_sandbox/webhooks/deliveries", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        listed,
        json!([
            {"kind": "users", "action": "create_user", "attempt": 1, "status": 500},
            {"kind": "users", "action": "create_user", "attempt": 2, "status": 200},
        ])
    );
}
