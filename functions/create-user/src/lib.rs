//! `POST /users`: creates a Rollee user owned by the caller and returns its
//! first Connect URL.

use rollee_shared::State;
use rollee_shared::app::{finish, json, rfc3339};
use rollee_shared::flow;
use rollee_shared::lambda_http::http::StatusCode;
use rollee_shared::lambda_http::{Body, Request, Response};
use rollee_shared::request::{json_body, request_id, require_post};
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
    pub connect_url: String,
    pub expires_at: Option<String>,
}

pub async fn handle(state: &State, request: Request) -> Response<Body> {
    let id = request_id(&request);
    let result = async {
        require_post(&request)?;
        let caller = state.caller(&request)?;
        let metadata = json_body::<CreateUser>(&request)?
            .and_then(|body| body.metadata)
            .unwrap_or_default();
        flow::check_metadata(&metadata)?;
        let created = flow::create_user(&state.client, &caller, metadata).await?;
        json(
            StatusCode::CREATED,
            &Created {
                user_id: created.user_id.to_string(),
                connect_url: created.session.link.to_string(),
                expires_at: rfc3339(created.session.expires_at),
            },
        )
    }
    .await;
    finish(&id, result)
}
