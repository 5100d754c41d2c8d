//! `POST /users/{user_id}/sessions`: a new Connect session for one of the
//! caller's users.

use rollee_shared::State;
use rollee_shared::app::{SessionBody, json};
use rollee_shared::flow;
use rollee_shared::lambda_http::http::StatusCode;
use rollee_shared::lambda_http::{Body, Request, Response};
use rollee_shared::problem::ApiError;
use rollee_shared::request::{json_body, user_id};

/// The route takes no body; an empty JSON object is tolerated, anything else is a 400.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoBody {}

/// 201 answer.
#[derive(Debug, serde::Serialize)]
pub struct NewSession {
    pub user_id: String,
    #[serde(flatten)]
    pub session: SessionBody,
}

pub async fn handle(state: &State, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = state.caller(request)?;
    let user = user_id(request)?;
    json_body::<NoBody>(request)?;
    let session = flow::new_session(&state.client, &state.store, &caller, user).await?;
    json(
        StatusCode::CREATED,
        &NewSession {
            user_id: user.to_string(),
            session: (&session).into(),
        },
    )
}
