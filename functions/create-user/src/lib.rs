//! `POST /users`: creates a Rollee user owned by the caller and returns its
//! first Connect URL.

use rollee_shared::State;
use rollee_shared::app::{SessionBody, json};
use rollee_shared::flow;
use rollee_shared::lambda_http::http::StatusCode;
use rollee_shared::lambda_http::{Body, Request, Response};
use rollee_shared::problem::ApiError;
use rollee_shared::request::json_body;
use serde_json::{Map, Value};

/// The optional request body.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

/// 201 answer.
#[derive(Debug, serde::Serialize)]
pub struct Created {
    pub user_id: String,
    #[serde(flatten)]
    pub session: SessionBody,
}

pub async fn handle(state: &State, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = state.caller(request)?;
    let metadata = json_body::<CreateUser>(request)?
        .and_then(|body| body.metadata)
        .unwrap_or_default();
    flow::check_metadata(&metadata)?;
    let created = flow::create_user(&state.client, &caller, metadata).await?;
    json(
        StatusCode::CREATED,
        &Created {
            user_id: created.user_id.to_string(),
            session: (&created.session).into(),
        },
    )
}
