//! `POST /sessions/refresh`: takes the app's current Connect URL, refreshes
//! that session, returns the new URL.

use rollee_shared::State;
use rollee_shared::app::{finish, json, rfc3339};
use rollee_shared::flow;
use rollee_shared::lambda_http::http::StatusCode;
use rollee_shared::lambda_http::{Body, Request, Response};
use rollee_shared::problem::ApiError;
use rollee_shared::request::{json_body, request_id, require_post};

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    pub connect_url: String,
}

/// 200 answer.
#[derive(Debug, serde::Serialize)]
pub struct Refreshed {
    pub session_id: String,
    pub connect_url: String,
    pub expires_at: Option<String>,
}

pub async fn handle(state: &State, request: Request) -> Response<Body> {
    let id = request_id(&request);
    let result = async {
        require_post(&request)?;
        state.caller(&request)?;
        let body = json_body::<Refresh>(&request)?
            .ok_or_else(|| ApiError::bad_request("The body must be {\"connect_url\": \"…\"}."))?;
        let session = flow::session_of_connect_url(&body.connect_url)?;
        let refreshed = flow::refresh(&state.client, session).await?;
        json(
            StatusCode::OK,
            &Refreshed {
                session_id: refreshed.id.to_string(),
                connect_url: refreshed.link.to_string(),
                expires_at: rfc3339(refreshed.expires_at),
            },
        )
    }
    .await;
    finish(&id, result)
}
