//! `POST /sessions/refresh`: takes the app's current Connect URL, refreshes
//! that session if this server minted it for the caller, returns the new URL.

use rollee_shared::State;
use rollee_shared::app::{UserSessionBody, json};
use rollee_shared::flow;
use rollee_shared::lambda_http::http::StatusCode;
use rollee_shared::lambda_http::{Body, Request, Response};
use rollee_shared::problem::ApiError;
use rollee_shared::request::json_body;
use rollee_shared::store::Table;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    pub connect_url: String,
}

pub async fn handle<T: Table>(
    state: &State<T>,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let caller = state.caller(request)?;
    let body = json_body::<Refresh>(request)?
        .ok_or_else(|| ApiError::bad_request("The body must be {\"connect_url\": \"…\"}."))?;
    let session = flow::session_of_connect_url(&body.connect_url)?;
    let (user_id, refreshed) = flow::refresh(&state.client, &state.store, &caller, session).await?;
    json(StatusCode::OK, &UserSessionBody::new(user_id, &refreshed))
}

#[cfg(test)]
mod tests {
    use rollee_sandbox::Sandbox;
    use rollee_shared::testkit::{as_caller, call, event, state, with_body};

    const JWT: &str = "unit-test-jwt";

    fn refresh(url: &str) -> serde_json::Value {
        with_body(
            event("refresh-url"),
            &serde_json::json!({ "connect_url": url }).to_string(),
        )
    }

    #[tokio::test]
    async fn only_the_caller_may_refresh_a_session_minted_for_it() {
        let sandbox = Sandbox::start(JWT).await.unwrap();
        let state = state(&sandbox.base_url(), JWT, 10);
        let (_, created) = call(&state, &event("create-user"), create_user::handle).await;
        let url = created["connect_url"].as_str().unwrap();
        let calls = sandbox.requests().len();
        let bobs = as_caller(refresh(url), "bob");
        let (status, refused) = call(&state, &bobs, super::handle).await;
        assert_eq!(status, 404, "{refused}");
        assert_eq!(sandbox.requests().len(), calls, "no Rollee call");
        let (status, fresh) = call(&state, &refresh(url), super::handle).await;
        assert_eq!(status, 200, "{fresh}");
        assert_eq!(fresh["user_id"], created["user_id"]);
        assert_ne!(fresh["connect_url"], created["connect_url"]);
        // The new session is the caller's too: refreshable again.
        let again = refresh(fresh["connect_url"].as_str().unwrap());
        assert_eq!(call(&state, &again, super::handle).await.0, 200);
    }

    #[tokio::test]
    async fn what_is_no_connect_url_is_400() {
        let sandbox = Sandbox::start(JWT).await.unwrap();
        let state = state(&sandbox.base_url(), JWT, 10);
        for name in ["refresh-url-not-connect-url", "refresh-url-wrong-body"] {
            let (status, body) = call(&state, &event(name), super::handle).await;
            assert_eq!(status, 400, "{name}: {body}");
        }
        assert!(sandbox.requests().is_empty());
    }
}
