//! Data-ready events (`endpoints`, `multi_endpoints`) after an account
//! connects, and Connect-page events (`rollee_connect_events`).

use std::time::Duration;

use hyper::{Method, StatusCode};
use rollee_sandbox::{CONNECT_PREFIX, Delivery, SANDBOX_DATASOURCE_ID};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

fn bodies(deliveries: &[Delivery], kind: &str) -> Vec<(String, Value)> {
    deliveries
        .iter()
        .filter(|d| d.kind == kind)
        .map(|d| (d.action.clone(), json_of(&d.body)))
        .collect()
}

#[tokio::test]
async fn a_connected_account_has_its_data_ready() {
    let sandbox = sandbox_with(fast(1)).await;
    let hook = Hook::start(&[]).await;
    let secret = json!({"url": hook.url, "secret": SECRET});
    register(&sandbox, "endpoints", secret.clone()).await;
    register(&sandbox, "multi_endpoints", secret).await;
    let (_, registered) = api(&sandbox, Method::GET, "/webhooks", None).await;
    let types: Vec<&str> = registered
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["endpoints", "multi_endpoints"]);
    let user = create_user(&sandbox).await;
    let session: Uuid = user["session"].as_str().unwrap().parse().unwrap();

    let account = sandbox.connect_account(session).unwrap();
    let deliveries = sandbox.wait_for_deliveries(3, WAIT).await;
    assert!(
        deliveries.iter().all(|d| d.status == Some(200)),
        "{deliveries:?}"
    );
    let single = bodies(&deliveries, "endpoints");
    let multi = bodies(&deliveries, "multi_endpoints");
    assert_eq!((single.len(), multi.len()), (2, 1), "{deliveries:?}");
    let end = time::OffsetDateTime::now_utc().date().to_string();
    let request_id = &single[0].1["data"]["request_id"];
    assert!(Uuid::try_parse(request_id.as_str().unwrap()).is_ok());
    for ((action, event), endpoint) in single.iter().zip(["profile", "income"]) {
        assert_eq!(action, "update_endpoint");
        assert_eq!(event["action"], "update_endpoint");
        let data = &event["data"];
        assert_eq!(data["account_id"], account.to_string());
        assert_eq!(data["user_id"], user["id"]);
        assert_eq!(data["endpoint"], endpoint);
        assert_eq!(data["data_available"], true);
        assert_eq!(&data["request_id"], request_id);
        assert_eq!(data["date_end"], end.as_str());
        let start = data["date_start"].as_str().unwrap();
        assert!(start.len() == 10 && start < end.as_str(), "{start}");
    }
    let (action, event) = &multi[0];
    assert_eq!(action, "update_multi_endpoint");
    let mut expected = single[0].1["data"].clone();
    expected.as_object_mut().unwrap().remove("endpoint");
    expected["endpoints"] = json!(["profile", "income"]);
    assert_eq!(event["data"], expected);
    for received in hook.got() {
        assert_eq!(
            header(&received, "x-signature"),
            Some(hmac_hex(SECRET, &received.body).as_str())
        );
    }

    // A reconnection has its data ready too, for the same account.
    let session = sandbox.reconnect_session(account).unwrap();
    assert_eq!(sandbox.connect_account(session), Some(account));
    let deliveries = sandbox.wait_for_deliveries(6, WAIT).await;
    let single = bodies(&deliveries, "endpoints");
    assert_eq!(single.len(), 4, "{deliveries:?}");
    assert_eq!(single[3].1["data"]["account_id"], account.to_string());
    assert_ne!(&single[3].1["data"]["request_id"], request_id);
}

#[tokio::test]
async fn the_connect_page_emits_home_then_login_events() {
    let sandbox = sandbox_with(fast(1)).await;
    let hook = Hook::start(&[]).await;
    register(&sandbox, "rollee_connect_events", json!({"url": hook.url})).await;
    let user = create_user(&sandbox).await;
    let session = user["session"].as_str().unwrap();
    let page_path = format!("{CONNECT_PREFIX}{session}");

    let (status, _, _) = raw(&sandbox, Method::GET, &page_path, None, b"").await;
    assert_eq!(status, StatusCode::OK);
    sandbox.advance_clock(Duration::from_secs(2));
    let path = format!("{page_path}/connect");
    let (status, _, _) = raw(&sandbox, Method::POST, &path, None, b"").await;
    assert_eq!(status, StatusCode::OK);
    let deliveries = sandbox.wait_for_deliveries(2, WAIT).await;
    assert_eq!(
        summary(&deliveries),
        [
            ("rollee_connect_events", "home".to_owned(), 1, Some(200)),
            ("rollee_connect_events", "login".to_owned(), 1, Some(200)),
        ]
    );
    let home = json_of(&deliveries[0].body);
    let login = json_of(&deliveries[1].body);
    let account = sandbox.accounts_of(user["id"].as_str().unwrap().parse().unwrap())[0];
    for (event, screen, status, account) in [
        (&home, "home", "started", Value::Null),
        (&login, "login", "success", json!(account)),
    ] {
        let mut keys: Vec<&str> = event
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "account_id",
                "auth_method",
                "connection_status",
                "datasource_id",
                "device_type",
                "duration",
                "screen",
                "status_description",
                "timestamp",
                "tracking_id",
                "user_id"
            ]
        );
        assert_eq!(event["user_id"], user["id"]);
        assert_eq!(event["screen"], screen);
        assert_eq!(event["connection_status"], status);
        assert_eq!(event["account_id"], account);
        assert_eq!(event["datasource_id"], SANDBOX_DATASOURCE_ID.to_string());
        assert_eq!(
            (&event["device_type"], &event["auth_method"]),
            (&json!("desktop"), &json!("password"))
        );
        assert!(
            event["status_description"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
        assert!(event["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(home["tracking_id"], login["tracking_id"]);
    assert_eq!(home["duration"], 0);
    assert!(login["duration"].as_i64().unwrap() >= 2000, "{login}");
    assert!(login["timestamp"].as_str() > home["timestamp"].as_str());

    // The page of a reconnect session names its account from the start; a
    // refused page emits nothing.
    let reconnect = sandbox.reconnect_session(account).unwrap();
    let (status, _, _) = raw(
        &sandbox,
        Method::GET,
        &format!("{CONNECT_PREFIX}{reconnect}"),
        None,
        b"",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = raw(
        &sandbox,
        Method::GET,
        &format!("{CONNECT_PREFIX}{}", Uuid::new_v4()),
        None,
        b"",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let deliveries = sandbox.wait_for_deliveries(3, WAIT).await;
    assert_eq!(deliveries.len(), 3, "{deliveries:?}");
    let home = json_of(&deliveries[2].body);
    assert_eq!(home["account_id"], account.to_string());
    assert_ne!(home["tracking_id"], login["tracking_id"]);
    assert_eq!(sandbox.wait_for_deliveries(4, QUIET).await.len(), 3);
}
