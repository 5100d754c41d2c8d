//! `POST /users/{user_id}/sessions`: a new Connect session for one of the
//! caller's users.

use rollee_shared::State;
use rollee_shared::app::{UserSessionBody, json};
use rollee_shared::flow;
use rollee_shared::lambda_http::http::StatusCode;
use rollee_shared::lambda_http::{Body, Request, Response};
use rollee_shared::problem::ApiError;
use rollee_shared::request::{json_body, user_id};
use rollee_shared::store::Table;

/// The route takes no body; an empty JSON object is tolerated, anything else is a 400.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoBody {}

pub async fn handle<T: Table>(
    state: &State<T>,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let caller = state.caller(request)?;
    let user = user_id(request)?;
    json_body::<NoBody>(request)?;
    let session = flow::new_session(&state.client, &state.store, &caller, user).await?;
    json(StatusCode::CREATED, &UserSessionBody::new(user, &session))
}

#[cfg(test)]
mod tests {
    use rollee_sandbox::Sandbox;
    use rollee_shared::app::respond;
    use rollee_shared::testkit::{answer, as_caller, call, event, request, state, with_param};

    const JWT: &str = "unit-test-jwt";

    #[tokio::test]
    async fn the_callers_user_gets_a_new_session_and_anyone_elses_is_the_same_404_as_none() {
        let sandbox = Sandbox::start(JWT).await.unwrap();
        let state = state(&sandbox.base_url(), JWT, 10);
        let (_, created) = call(&state, &event("create-user"), create_user::handle).await;
        let user = created["user_id"].as_str().unwrap();
        let mine = with_param(event("new-session"), "user_id", user);
        let (status, session) = call(&state, &mine, super::handle).await;
        assert_eq!(status, 201, "{session}");
        assert_eq!(session["user_id"], user);
        assert_ne!(session["session_id"], created["session_id"]);
        let calls = sandbox.requests().len();
        let bobs = as_caller(with_param(event("new-session"), "user_id", user), "bob");
        let (status, refused) = call(&state, &bobs, super::handle).await;
        assert_eq!(status, 404, "{refused}");
        assert_eq!(
            sandbox.requests().len(),
            calls,
            "the table knew: no Rollee call"
        );
        let unknown = with_param(
            event("new-session"),
            "user_id",
            &uuid::Uuid::new_v4().to_string(),
        );
        let (status, none) = call(&state, &unknown, super::handle).await;
        assert_eq!(status, 404);
        assert_eq!(none["detail"], refused["detail"]);
    }

    #[tokio::test]
    async fn over_the_quota_is_429_with_retry_after_and_no_rollee_call() {
        let sandbox = Sandbox::start(JWT).await.unwrap();
        let state = state(&sandbox.base_url(), JWT, 1);
        let (_, created) = call(&state, &event("create-user"), create_user::handle).await;
        let user = created["user_id"].as_str().unwrap();
        let calls = sandbox.requests().len();
        let e = request(&with_param(event("new-session"), "user_id", user));
        let response = Box::pin(respond(&state, &e, super::handle)).await;
        assert!(response.headers().get("retry-after").is_some());
        let (status, body) = answer(response);
        assert_eq!(status, 429, "{body}");
        assert_eq!(sandbox.requests().len(), calls);
        let bad = call(&state, &event("new-session-bad-uuid"), super::handle).await;
        assert_eq!(bad.0, 400);
    }
}
