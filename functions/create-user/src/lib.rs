//! `POST /users`: the caller's one Rollee user (created on its first call)
//! with a fresh Connect URL.

use rollee_shared::State;
use rollee_shared::app::{SessionBody, json};
use rollee_shared::flow;
use rollee_shared::lambda_http::http::StatusCode;
use rollee_shared::lambda_http::{Body, Request, Response};
use rollee_shared::problem::ApiError;
use rollee_shared::request::json_body;
use serde_json::{Map, Value};

/// The optional request body; `metadata` is used when the user is created only.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

/// 201 (created) or 200 (the caller's existing user).
#[derive(Debug, serde::Serialize)]
pub struct UserBody {
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
    let found = flow::find_or_create_user(&state.client, &state.store, &caller, metadata).await?;
    let status = if found.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    json(
        status,
        &UserBody {
            user_id: found.user_id.to_string(),
            session: (&found.session).into(),
        },
    )
}
