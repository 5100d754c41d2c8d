//! `POST /users`: the caller's one Rollee user (created on its first call)
//! with a fresh Connect URL.

use rollee_shared::State;
use rollee_shared::app::{UserSessionBody, json};
use rollee_shared::flow;
use rollee_shared::lambda_http::http::StatusCode;
use rollee_shared::lambda_http::{Body, Request, Response};
use rollee_shared::problem::ApiError;
use rollee_shared::request::json_body;
use rollee_shared::store::Table;
use serde_json::{Map, Value};

/// The optional request body; `metadata` is used when the user is created only.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

pub async fn handle<T: Table>(
    state: &State<T>,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let caller = state.caller(request)?;
    let metadata = json_body::<CreateUser>(request)?
        .and_then(|body| body.metadata)
        .unwrap_or_default();
    flow::check_metadata(&metadata)?;
    let found = flow::find_or_create_user(&state.client, &state.store, &caller, metadata).await?;
    let status = if found.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    // 201 (created) or 200 (the caller's existing user).
    json(status, &UserSessionBody::new(found.user_id, &found.session))
}

#[cfg(test)]
mod tests {
    use rollee_sandbox::Sandbox;
    use rollee_shared::testkit::{as_caller, call, event, state, with_body};

    const JWT: &str = "unit-test-jwt";

    #[tokio::test]
    async fn a_first_call_creates_the_callers_user_and_later_calls_find_it() {
        let sandbox = Sandbox::start(JWT).await.unwrap();
        let state = state(&sandbox.base_url(), JWT, 10);
        let e = event("create-user");
        let (status, first) = call(&state, &e, super::handle).await;
        assert_eq!(status, 201, "{first}");
        let (status, again) = call(&state, &e, super::handle).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["user_id"], first["user_id"]);
        assert_ne!(again["session_id"], first["session_id"]);
        assert_eq!(sandbox.user_count(), 1);
        let bob = as_caller(event("create-user"), "bob");
        let (status, other) = call(&state, &bob, super::handle).await;
        assert_eq!(status, 201);
        assert_ne!(other["user_id"], first["user_id"]);
    }

    #[tokio::test]
    async fn a_hint_of_the_callers_user_is_checked_by_the_table_not_trusted() {
        use rollee_shared::store::Table;
        let sandbox = Sandbox::start(JWT).await.unwrap();
        let state = state(&sandbox.base_url(), JWT, 10);
        let e = event("create-user");
        let (_, first) = call(&state, &e, super::handle).await;
        let alices: uuid::Uuid = first["user_id"].as_str().unwrap().parse().unwrap();
        assert_eq!(state.store.hints().owner("alice"), Some(alices));
        // A hint naming a user that is not the caller's (here bob's) is
        // refused by the table's check: the caller still gets its own user.
        let bob = as_caller(event("create-user"), "bob");
        let (_, bobs) = call(&state, &bob, super::handle).await;
        let bobs: uuid::Uuid = bobs["user_id"].as_str().unwrap().parse().unwrap();
        state.store.hints().set_owner("alice", bobs);
        let (status, again) = call(&state, &e, super::handle).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["user_id"], first["user_id"]);
        assert_eq!(state.store.hints().owner("alice"), Some(alices));
        // A hint of a user the table does not know: the same.
        state.store.hints().set_owner("alice", uuid::Uuid::new_v4());
        let (status, again) = call(&state, &e, super::handle).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["user_id"], first["user_id"]);
        assert_eq!(sandbox.user_count(), 2);
    }

    #[tokio::test]
    async fn a_user_being_erased_gets_no_session_with_a_hint_or_without() {
        use rollee_shared::store::Table;
        let sandbox = Sandbox::start(JWT).await.unwrap();
        let state = state(&sandbox.base_url(), JWT, 10);
        let e = event("create-user");
        let (_, first) = call(&state, &e, super::handle).await;
        let user: uuid::Uuid = first["user_id"].as_str().unwrap().parse().unwrap();
        assert!(state.store.begin_erasure("alice", user).await.unwrap());
        let calls = sandbox.requests().len();
        // This process still holds the hint (another process began the
        // erasure), then not: 409 both times, and Rollee is not called.
        assert_eq!(state.store.hints().owner("alice"), Some(user));
        for hinted in [true, false] {
            let (status, body) = call(&state, &e, super::handle).await;
            assert_eq!(status, 409, "hinted {hinted}: {body}");
            assert_eq!(body["type"], "urn:rollee-connect:problem:in-progress");
            assert_eq!(state.store.hints().owner("alice"), None);
        }
        assert_eq!(sandbox.requests().len(), calls);
        // Rollee no longer knows the user: forgetting the caller's user
        // keeps the erasure's mark for its retry.
        state.store.forget_user("alice", user).await.unwrap();
        assert!(state.store.user(user).await.unwrap().unwrap().erasing);
    }

    #[tokio::test]
    async fn bad_bodies_and_no_caller_are_refused_before_any_rollee_call() {
        let sandbox = Sandbox::start(JWT).await.unwrap();
        let state = state(&sandbox.base_url(), JWT, 10);
        for (name, status) in [
            ("create-user-no-claims", 401),
            ("create-user-unknown-field", 400),
            ("create-user-reserved-key", 400),
            ("create-user-not-json", 400),
        ] {
            let (got, body) = call(&state, &event(name), super::handle).await;
            assert_eq!(got, status, "{name}: {body}");
            assert_eq!(body["status"], status);
        }
        let array = with_body(event("create-user"), "[]");
        assert_eq!(call(&state, &array, super::handle).await.0, 400);
        assert!(sandbox.requests().is_empty());
    }

    #[tokio::test]
    async fn with_the_table_down_the_answer_is_503_and_rollee_is_not_called() {
        let sandbox = Sandbox::start(JWT).await.unwrap();
        let state = state(&sandbox.base_url(), JWT, 10);
        state.store.fail(true);
        let (status, body) = call(&state, &event("create-user"), super::handle).await;
        assert_eq!(status, 503);
        assert_eq!(body["type"], "urn:rollee-connect:problem:store-unavailable");
        assert!(sandbox.requests().is_empty());
    }
}
