//! `POST /accounts/{account_id}/reconnect`: a Connect session that
//! reconnects an account of one of the caller's users.

use rollee_shared::State;
use rollee_shared::app::{SessionBody, json};
use rollee_shared::flow;
use rollee_shared::lambda_http::http::StatusCode;
use rollee_shared::lambda_http::{Body, Request, Response};
use rollee_shared::problem::ApiError;
use rollee_shared::request::{account_id, json_body};
use rollee_shared::store::Table;

/// The route takes no body; an empty JSON object is tolerated, anything else is a 400.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoBody {}

/// 201 answer: the usual session body, and the account it reconnects.
#[derive(Debug, serde::Serialize)]
pub struct Reconnect {
    pub user_id: String,
    pub account_id: String,
    #[serde(flatten)]
    pub session: SessionBody,
}

pub async fn handle<T: Table>(
    state: &State<T>,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let caller = state.caller(request)?;
    let account = account_id(request)?;
    json_body::<NoBody>(request)?;
    let (user, session) = flow::reconnect(&state.client, &state.store, &caller, account).await?;
    json(
        StatusCode::CREATED,
        &Reconnect {
            user_id: user.to_string(),
            account_id: account.to_string(),
            session: (&session).into(),
        },
    )
}

#[cfg(test)]
mod tests {
    use rollee_sandbox::Sandbox;
    use rollee_shared::testkit::{as_caller, call, event, state, with_param};
    use uuid::Uuid;

    const JWT: &str = "unit-test-jwt";

    #[tokio::test]
    async fn an_account_of_the_callers_user_gets_a_session_that_reconnects_it() {
        let sandbox = Sandbox::start(JWT).await.unwrap();
        let state = state(&sandbox.base_url(), JWT, 10);
        let (_, created) = call(&state, &event("create-user"), create_user::handle).await;
        let session = Uuid::parse_str(created["session_id"].as_str().unwrap()).unwrap();
        let account = sandbox.connect_account(session).unwrap();
        assert!(sandbox.disconnect_account(account));
        let id = account.to_string();
        // Bob first: Rollee says whose the account is, and it is not his.
        let bobs = as_caller(
            with_param(event("reconnect-account"), "account_id", &id),
            "bob",
        );
        assert_eq!(call(&state, &bobs, super::handle).await.0, 404);
        let e = with_param(event("reconnect-account"), "account_id", &id);
        let (status, body) = call(&state, &e, super::handle).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["account_id"], id);
        assert_eq!(body["user_id"], created["user_id"]);
        let reconnect = Uuid::parse_str(body["session_id"].as_str().unwrap()).unwrap();
        assert_eq!(sandbox.connect_account(reconnect), Some(account));
        assert_eq!(sandbox.account(account).unwrap()["connected"], true);
    }

    #[tokio::test]
    async fn an_unknown_account_is_404_and_a_body_is_refused() {
        let sandbox = Sandbox::start(JWT).await.unwrap();
        let state = state(&sandbox.base_url(), JWT, 10);
        let unknown = event("reconnect-account");
        assert_eq!(call(&state, &unknown, super::handle).await.0, 404);
        let bad = event("reconnect-account-bad-uuid");
        assert_eq!(call(&state, &bad, super::handle).await.0, 400);
        let body = rollee_shared::testkit::with_body(event("reconnect-account"), r#"{"x": 1}"#);
        assert_eq!(call(&state, &body, super::handle).await.0, 400);
    }
}
