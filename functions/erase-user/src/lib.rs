//! `DELETE /users/{user_id}`: erases one of the caller's users, at Rollee
//! and in the ownership table, and publishes `user.erased`.

use rollee_shared::State;
use rollee_shared::flow;
use rollee_shared::lambda_http::http::StatusCode;
use rollee_shared::lambda_http::{Body, Request, Response};
use rollee_shared::problem::ApiError;
use rollee_shared::request::user_id;

pub async fn handle(state: &State, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = state.caller(request)?;
    let user = user_id(request)?;
    // The function's start requires EVENT_BUS_NAME (see main.rs).
    let bus = state
        .bus
        .as_ref()
        .ok_or_else(|| ApiError::internal("EVENT_BUS_NAME is not set"))?;
    flow::erase(&state.client, &state.store, bus, &caller, user).await?;
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}
