//! The Rollee client against `wiremock`: the exact shape of each request, and
//! how timeouts, retries and Rollee's error answers come out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::time::Duration;

use rollee_shared::http::MAX_RESPONSE_BYTES;
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
    // The answer would come after 2 s: a timeout means the 400 ms attempt limit held.
    let err = client(&server)
        .refresh_session(SESSION.parse().unwrap(), deadline())
        .await
        .unwrap_err();
    assert!(matches!(err, RolleeError::Timeout), "{err:?}");
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

#[tokio::test]
async fn an_answer_over_the_size_limit_is_refused_by_its_length() {
    let server = MockServer::start().await;
    let huge = format!(r#"{{"pad": "{}"}}"#, "x".repeat(MAX_RESPONSE_BYTES));
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(huge))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .get_user(USER.parse().unwrap(), deadline())
        .await
        .unwrap_err();
    assert!(matches!(err, RolleeError::Malformed(_)), "{err:?}");
}

/// A server that answers every connection with a chunked (length-less) 200
/// of `total` bytes, and counts how many it managed to write.
async fn chunked_server(total: usize) -> (String, tokio::task::JoinHandle<usize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v0.5", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let chunk = vec![b' '; 64 * 1024];
        let mut written = 0;
        while written < total {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if stream.write_all(&framed).await.is_err() {
                break;
            }
            written += chunk.len();
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
        written
    });
    (base, task)
}

#[tokio::test]
async fn an_answer_without_a_length_is_read_only_up_to_the_limit() {
    // 64 MiB of whitespace, which is valid JSON padding: without the cap it
    // would be read whole.
    let (base, server) = chunked_server(64 * 1024 * 1024).await;
    let c = RolleeClient::new(
        base.parse().unwrap(),
        TokenSource::fixed(Jwt::new(JWT)),
        options(),
    )
    .unwrap();
    let err = c
        .get_user(USER.parse().unwrap(), deadline())
        .await
        .unwrap_err();
    assert!(matches!(err, RolleeError::Malformed(_)), "{err:?}");
    drop(c);
    let written = server.await.unwrap();
    assert!(
        written < 16 * 1024 * 1024,
        "the client kept reading: {written} bytes sent"
    );
}

#[tokio::test]
async fn only_https_connect_links_go_out_and_http_only_from_an_http_rollee() {
    let server = MockServer::start().await;
    for (scheme, expected_ok) in [("javascript", false), ("data", false), ("http", true)] {
        server.reset().await;
        let mut user = user_json();
        user["link"] = format!("{scheme}://c.example/v0.4/session/{SESSION}").into();
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(user))
            .mount(&server)
            .await;
        // The mock server is plain http: an http link is that of a local stand-in.
        let result = client(&server)
            .refresh_session(SESSION.parse().unwrap(), deadline())
            .await;
        assert_eq!(result.is_ok(), expected_ok, "{scheme}: {result:?}");
        if !expected_ok {
            assert!(matches!(result, Err(RolleeError::Malformed(_))), "{scheme}");
        }
    }
}

#[tokio::test]
async fn an_https_rollee_may_not_send_http_links() {
    // The client's base is https (nothing listens there); only the link check is exercised.
    let c = RolleeClient::new(
        "https://rollee.invalid/api/v0.5".parse().unwrap(),
        TokenSource::fixed(Jwt::new(JWT)),
        options(),
    )
    .unwrap();
    let session = rollee_shared::rollee::parse_session(&json!({
        "link": format!("http://c.example/v0.4/session/{SESSION}")
    }))
    .unwrap();
    assert!(matches!(
        c.check_link(&session),
        Err(RolleeError::Malformed(_))
    ));
}

#[tokio::test]
async fn a_secret_over_the_size_limit_is_unreadable_not_read_whole() {
    use aws_sdk_secretsmanager::config::Credentials;
    use rollee_shared::token::{Origin, TokenError, TokenPolicy};
    let server = MockServer::start().await;
    let huge = format!(
        r#"{{"SecretString": "{}"}}"#,
        "x".repeat(MAX_RESPONSE_BYTES)
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(huge))
        .expect(1)
        .mount(&server)
        .await;
    let http = rollee_shared::http::client(options().timeouts()).unwrap();
    let origin = Origin::SecretsManager {
        secret_id: "rollee/jwt".into(),
    };
    let sdk_config = rollee_shared::aws::loader(&http)
        .endpoint_url(server.uri())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("AKID", "secret", None, None, "test"))
        .load()
        .await;
    let err = TokenSource::load(&origin, TokenPolicy::default(), &sdk_config)
        .await
        .unwrap_err();
    match err {
        TokenError::Unreadable { reason, .. } => {
            assert!(reason.contains("size limit"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_token_refresh_gets_the_new_jwt_with_the_current_one_at_the_configured_url() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v0.3/token/refresh"))
        .and(header("authorization", format!("Bearer {JWT}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"token": "eyJnew.jwt.c2ln"})))
        .expect(1)
        .mount(&server)
        .await;
    let url = format!("{}/api/v0.3/token/refresh", server.uri())
        .parse()
        .unwrap();
    let fresh = client(&server)
        .refresh_token(&url, deadline())
        .await
        .unwrap();
    assert_eq!(fresh.expose(), "eyJnew.jwt.c2ln");
}

#[tokio::test]
async fn a_token_refresh_is_never_repeated_once_it_may_have_reached_rollee() {
    // Whether a refresh revokes the JWT it was called with is not published:
    // a repeat could be refused and the first answer, the new JWT, lost.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v0.5/token/refresh"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    let url = format!("{}/api/v0.5/token/refresh", server.uri())
        .parse()
        .unwrap();
    let c = client(&server);
    assert!(matches!(
        c.refresh_token(&url, deadline()).await,
        Err(RolleeError::Status { status: 503 })
    ));
    server.verify().await;
    server.reset().await;

    // An answer without a usable token is malformed; a 401 is final (a fixed JWT).
    for body in [json!({}), json!({"token": ""}), json!({"token": "a b"})] {
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        assert!(matches!(
            c.refresh_token(&url, deadline()).await,
            Err(RolleeError::Malformed(_))
        ));
    }
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    assert!(matches!(
        c.refresh_token(&url, deadline()).await,
        Err(RolleeError::Unauthorized)
    ));
}
