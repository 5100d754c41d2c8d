//! `POST /sessions/refresh`: takes the app's current Connect URL, refreshes
//! that session if this server minted it for the caller, returns the new URL.

use rollee_shared::State;
use rollee_shared::app::{SessionBody, json};
use rollee_shared::flow;
use rollee_shared::lambda_http::http::StatusCode;
use rollee_shared::lambda_http::{Body, Request, Response};
use rollee_shared::problem::ApiError;
use rollee_shared::request::json_body;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    pub connect_url: String,
}

/// 200 answer.
#[derive(Debug, serde::Serialize)]
pub struct Refreshed {
    pub user_id: String,
    #[serde(flatten)]
    pub session: SessionBody,
}

pub async fn handle(state: &State, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = state.caller(request)?;
    let body = json_body::<Refresh>(request)?
        .ok_or_else(|| ApiError::bad_request("The body must be {\"connect_url\": \"…\"}."))?;
    let session = flow::session_of_connect_url(&body.connect_url)?;
    let (user_id, refreshed) = flow::refresh(&state.client, &state.store, &caller, session).await?;
    json(
        StatusCode::OK,
        &Refreshed {
            user_id: user_id.to_string(),
            session: (&refreshed).into(),
        },
    )
}
