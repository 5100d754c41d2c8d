//! `POST /accounts/{account_id}/reconnect`: a Connect session that
//! reconnects an account of one of the caller's users.

use rollee_shared::State;
use rollee_shared::app::{SessionBody, json};
use rollee_shared::flow;
use rollee_shared::lambda_http::http::StatusCode;
use rollee_shared::lambda_http::{Body, Request, Response};
use rollee_shared::problem::ApiError;
use rollee_shared::request::{account_id, json_body};

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

pub async fn handle(state: &State, request: &Request) -> Result<Response<Body>, ApiError> {
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
