//! The Rollee client against `wiremock`: the exact shape of each request, and
//! how timeouts, retries and Rollee's error answers come out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::time::{Duration, Instant};

use rollee_shared::rollee::{ClientOptions, RolleeClient, RolleeError};
use rollee_shared::token::{Jwt, TokenSource};
use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.client-test.c2ln";
const USER: &str = "d8ee0653-1293-47fe-990c-45971109de76";
const SESSION: &str = "11123432-45d1-4557-8ffe-432199401b23";

fn options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_millis(500),
        attempt_timeout: Duration::from_millis(400),
        budget: Duration::from_secs(3),
        retry_pause: Duration::from_millis(10),
    }
}

/// A request's deadline, as a handler takes it: the options' budget from now.
fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + options().budget
}

fn client(server: &MockServer) -> RolleeClient {
    let base = format!("{}/api/v0.5", server.uri()).parse().unwrap();
    RolleeClient::new(base, TokenSource::fixed(Jwt::new(JWT)), options()).unwrap()
}

fn user_json() -> serde_json::Value {
    json!({
        "id": USER,
        "created_at": "2024-04-25T19:32:49.765013012Z",
        "metadata": {"crm_id": "42"},
        "link": format!("https://connectv2.stage.getrollee.com/v0.4/session/{SESSION}"),
        "session": SESSION,
        "session_expires_at": "2024-04-26T19:32:49.790255Z",
        "session_expired": false,
        "accounts_number": 0,
        "connected_accounts_count": 0
    })
}

#[tokio::test]
async fn create_user_posts_the_metadata_with_the_bearer_jwt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v0.5/users"))
        .and(header("authorization", format!("Bearer {JWT}").as_str()))
        .and(header("content-type", "application/json"))
        .and(header("accept", "application/json"))
        .and(body_json(json!({"metadata": {"crm_id": "42"}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json()))
        .expect(1)
        .mount(&server)
        .await;
    let metadata = json!({"crm_id": "42"}).as_object().unwrap().clone();
    let user = client(&server)
        .create_user(&metadata, deadline())
        .await
        .unwrap();
    assert_eq!(user.id.to_string(), USER);
    assert_eq!(user.session.unwrap().id.to_string(), SESSION);
}

#[tokio::test]
async fn get_user_reads_the_user_and_its_metadata() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v0.5/users/{USER}")))
        .and(header("authorization", format!("Bearer {JWT}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json()))
        .expect(1)
        .mount(&server)
        .await;
    let user = client(&server)
        .get_user(USER.parse().unwrap(), deadline())
        .await
        .unwrap();
    assert_eq!(user.metadata["crm_id"], "42");
}

#[tokio::test]
async fn new_session_accepts_the_whole_user_and_refresh_the_four_fields() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v0.5/users/{USER}/sessions/new")))
        .and(header("authorization", format!("Bearer {JWT}").as_str()))
        .respond_with(ResponseTemplate::new(201).set_body_json(user_json()))
        .expect(1)
        .mount(&server)
        .await;
    let fresh = Uuid::new_v4();
    Mock::given(method("POST"))
        .and(path(format!("/api/v0.5/sessions/{SESSION}/refresh")))
        .and(header("authorization", format!("Bearer {JWT}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": USER,
            "link": format!("https://connect.example/v0.4/session/{fresh}"),
            "session": fresh,
            "session_expires_at": "2026-11-28T10:30:00Z"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let s = c
        .new_session(USER.parse().unwrap(), deadline())
        .await
        .unwrap();
    assert_eq!(s.id.to_string(), SESSION);
    let r = c
        .refresh_session(SESSION.parse().unwrap(), deadline())
        .await
        .unwrap();
    assert_eq!(r.id, fresh);
    assert_eq!(
        r.link.as_str(),
        format!("https://connect.example/v0.4/session/{fresh}")
    );
    assert!(r.expires_at.is_some());
}

#[tokio::test]
async fn a_slow_upstream_hits_the_attempt_timeout_and_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(user_json())
                .set_delay(Duration::from_secs(2)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let started = Instant::now();
    let err = client(&server)
        .refresh_session(SESSION.parse().unwrap(), deadline())
        .await
        .unwrap_err();
    assert!(matches!(err, RolleeError::Timeout), "{err:?}");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn a_5xx_is_retried_once_for_a_refresh_but_not_for_a_new_user() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v0.5/sessions/{SESSION}/refresh")))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v0.5/sessions/{SESSION}/refresh")))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v0.5/users"))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    c.refresh_session(SESSION.parse().unwrap(), deadline())
        .await
        .unwrap();
    let err = c
        .create_user(&serde_json::Map::new(), deadline())
        .await
        .unwrap_err();
    assert!(
        matches!(err, RolleeError::Status { status: 500 }),
        "{err:?}"
    );
}

#[tokio::test]
async fn two_5xx_in_a_row_give_up_after_one_retry() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502))
        .expect(2)
        .mount(&server)
        .await;
    let err = client(&server)
        .get_user(USER.parse().unwrap(), deadline())
        .await
        .unwrap_err();
    assert!(
        matches!(err, RolleeError::Status { status: 502 }),
        "{err:?}"
    );
}

#[tokio::test]
async fn rollee_answers_map_to_typed_errors() {
    let server = MockServer::start().await;
    Mock::given(path(format!("/api/v0.5/users/{USER}")))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(path(format!("/api/v0.5/users/{USER}/sessions/new")))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "12"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v0.5/users"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(format!("/api/v0.5/sessions/{SESSION}/refresh")))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>oops</html>"))
        .mount(&server)
        .await;
    let c = client(&server);
    let user: Uuid = USER.parse().unwrap();
    assert!(matches!(
        c.get_user(user, deadline()).await,
        Err(RolleeError::NotFound)
    ));
    assert!(matches!(
        c.new_session(user, deadline()).await,
        Err(RolleeError::RateLimited {
            retry_after: Some(12)
        })
    ));
    // A fixed JWT (ROLLEE_TOKEN) cannot be re-read: one attempt.
    assert!(matches!(
        c.create_user(&serde_json::Map::new(), deadline()).await,
        Err(RolleeError::Unauthorized)
    ));
    assert!(matches!(
        c.refresh_session(SESSION.parse().unwrap(), deadline())
            .await,
        Err(RolleeError::Malformed(_))
    ));
}

#[tokio::test]
async fn nothing_listening_is_unreachable_and_the_message_has_no_session() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}/api/v0.5").parse().unwrap();
    let c = RolleeClient::new(base, TokenSource::fixed(Jwt::new(JWT)), options()).unwrap();
    let err = c
        .refresh_session(SESSION.parse().unwrap(), deadline())
        .await
        .unwrap_err();
    assert!(matches!(err, RolleeError::Unreachable(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        !message.contains(SESSION) && !message.contains(JWT),
        "{message}"
    );
}
