//! The Connect flow end to end: the real handlers, the real Rollee client,
//! real HTTP to the local sandbox.

use std::time::Duration;

use crate::support::*;
use rollee_shared::flow::OWNER_KEY;
use uuid::Uuid;

#[tokio::test]
async fn create_user_then_new_session_then_refresh() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;

    // 1. POST /users with metadata.
    let created = create_user(&state, &event("create-user")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    watch_session(&created);
    let user_id = created.str("user_id");
    let first_url = created.str("connect_url");
    assert!(
        first_url.starts_with(&format!("http://{}/v0.4/session/", sandbox.addr())),
        "{first_url}"
    );
    let first_session = Uuid::parse_str(first_url.rsplit('/').next().unwrap()).unwrap();
    assert!(sandbox.session_is_valid(first_session));
    assert!(created.body["expires_at"].as_str().unwrap().ends_with('Z'));
    expires_in_matches_expires_at(&created);
    assert_eq!(created.str("session_id"), first_session.to_string());
    assert_eq!(
        created.body.as_object().unwrap().len(),
        5,
        "{}",
        created.body
    );

    // The caller's metadata is stored, and so is its owner, under the reserved key.
    let stored = sandbox
        .metadata_of(Uuid::parse_str(&user_id).unwrap())
        .unwrap();
    assert_eq!(stored["plan"], "gold");
    assert_eq!(stored[OWNER_KEY], "alice");

    // 2. POST /users/{user_id}/sessions by the same caller.
    let session = new_session(&state, &with_user(event("new-session"), &user_id)).await;
    assert_eq!(session.status, 201, "{}", session.body);
    watch_session(&session);
    assert_eq!(session.str("user_id"), user_id);
    let second_url = session.str("connect_url");
    assert_ne!(second_url, first_url);
    assert_eq!(
        second_url.rsplit('/').next().unwrap(),
        session.str("session_id")
    );
    assert!(session.body["expires_at"].is_string());
    expires_in_matches_expires_at(&session);

    // 3. POST /sessions/refresh with the current URL.
    let body = serde_json::json!({ "connect_url": second_url }).to_string();
    let refreshed = refresh_url(&state, &with_body(event("refresh-url"), &body)).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    watch_session(&refreshed);
    let third_url = refreshed.str("connect_url");
    assert_eq!(
        third_url.rsplit('/').next().unwrap(),
        refreshed.str("session_id")
    );
    expires_in_matches_expires_at(&refreshed);
    let third_session = Uuid::parse_str(&refreshed.str("session_id")).unwrap();
    assert!(sandbox.session_is_valid(third_session));
    // The sandbox replaces a refreshed session: the old URL no longer opens.
    let second_session = Uuid::parse_str(&session.str("session_id")).unwrap();
    assert!(!sandbox.session_is_valid(second_session));

    // What reached "Rollee": the published paths, each with the Bearer JWT.
    let seen: Vec<String> = sandbox
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        seen,
        [
            "POST /users".to_owned(),
            format!("POST /users/{user_id}/sessions/new"),
            format!("POST /sessions/{second_session}/refresh"),
        ]
    );
    let bearer = format!("Bearer {JWT}");
    assert!(
        sandbox
            .requests()
            .iter()
            .all(|r| r.authorization.as_deref() == Some(bearer.as_str()))
    );
    assert_no_leaks();

    // A Connect URL is a credential for Connect: no cache keeps an answer that carries one.
    for answer in [&created, &session, &refreshed] {
        assert_eq!(
            answer.headers["cache-control"], "no-store",
            "{}",
            answer.body
        );
    }
}

/// `expires_in` is `expires_at` less the moment of the answer, in whole
/// seconds, never more (Rollee's `Date` is cut to the second, so the
/// server takes a second off): a fresh sandbox session has its 30 minutes,
/// give or take the seconds the answer took.
fn expires_in_matches_expires_at(answer: &Answer) {
    let now = time::OffsetDateTime::now_utc();
    let at = time::OffsetDateTime::parse(
        &answer.str("expires_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let left = (at - now).whole_seconds();
    let expires_in = answer.body["expires_in"].as_i64().unwrap();
    assert!(
        (left - 2..=left + 1).contains(&expires_in) && (1795..=1800).contains(&expires_in),
        "expires_in {expires_in}, {left} s to expires_at"
    );
}

#[tokio::test]
async fn a_second_caller_gets_404_on_the_first_callers_user() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let created = create_user(&state, &event("create-user")).await;
    assert_eq!(created.status, 201);
    watch_session(&created);
    let user_id = created.str("user_id");

    let stolen = new_session(
        &state,
        &with_user(event("new-session-other-caller"), &user_id),
    )
    .await;
    let problem = stolen.problem(404);
    // Same answer as for a user that does not exist at all.
    let missing = new_session(
        &state,
        &with_user(event("new-session"), &Uuid::new_v4().to_string()),
    )
    .await;
    assert_eq!(missing.problem(404)["detail"], problem["detail"]);
    assert_eq!(missing.body["type"], problem["type"]);
    // No session was created for bob.
    assert!(
        !sandbox
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/sessions/new"))
    );
    assert_no_leaks();
}

#[tokio::test]
async fn a_user_created_outside_this_server_has_no_owner_and_is_nobodys() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    // Created straight at Rollee, without our owner key.
    let http = rollee_shared::http::client(test_options().timeouts()).unwrap();
    let user: serde_json::Value = http
        .post(format!("{}/users", sandbox.base_url()))
        .bearer_auth(JWT)
        .json(&serde_json::json!({"metadata": {"crm_id": "42"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    watch(user["session"].as_str().unwrap());
    let id = user["id"].as_str().unwrap();
    new_session(&state, &with_user(event("new-session"), id))
        .await
        .problem(404);
    assert_no_leaks();
}

#[tokio::test]
async fn an_expired_session_is_refreshed_into_one_that_opens() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let created = create_user(&state, &event("create-user-no-body")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    watch_session(&created);
    let url = created.str("connect_url");
    let old = Uuid::parse_str(url.rsplit('/').next().unwrap()).unwrap();

    sandbox.advance_clock(Duration::from_secs(31 * 60));
    assert!(
        !sandbox.session_is_valid(old),
        "sessions expire after 30 minutes"
    );

    let body = serde_json::json!({ "connect_url": url }).to_string();
    let refreshed = refresh_url(&state, &with_body(event("refresh-url"), &body)).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    watch_session(&refreshed);
    let fresh = Uuid::parse_str(&refreshed.str("session_id")).unwrap();
    assert!(sandbox.session_is_valid(fresh));
    // Rollee's clock (the sandbox's) is now 31 minutes ahead of this
    // server's: the new session still has 30 minutes, counted on Rollee's.
    let expires_in = refreshed.body["expires_in"].as_i64().unwrap();
    assert!((1795..=1800).contains(&expires_in), "{expires_in}");

    // The Connect page served at the new link says so; the old one does not open.
    let http = rollee_shared::http::client(test_options().timeouts()).unwrap();
    let page = http.get(refreshed.str("connect_url")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Session valid until"));
    let old_page = http.get(&url).send().await.unwrap();
    assert_eq!(old_page.status(), 410);
    assert_no_leaks();
}

#[tokio::test]
async fn metadata_sent_by_the_app_cannot_claim_an_owner() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let a = create_user(&state, &event("create-user-reserved-key")).await;
    assert!(
        a.problem(400)["detail"]
            .as_str()
            .unwrap()
            .contains("reserved")
    );
    assert_eq!(sandbox.user_count(), 0, "nothing reaches Rollee");
    assert_no_leaks();
}
