//! `DELETE /users/{user_id}`: erases one of the caller's users, at Rollee
//! and in the ownership table, and publishes `user.erased`.

use rollee_shared::State;
use rollee_shared::flow;
use rollee_shared::lambda_http::http::{StatusCode, header};
use rollee_shared::lambda_http::{Body, Request, Response};
use rollee_shared::problem::ApiError;
use rollee_shared::request::user_id;
use rollee_shared::store::Table;

pub async fn handle<T: Table>(
    state: &State<T>,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let caller = state.caller(request)?;
    let user = user_id(request)?;
    // The function's start requires EVENT_BUS_NAME (see main.rs).
    let bus = state
        .bus
        .as_ref()
        .ok_or_else(|| ApiError::internal("EVENT_BUS_NAME is not set"))?;
    flow::erase(&state.client, &state.store, bus, &caller, user).await?;
    // No body; still no cache may keep the answer, as for every route.
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use rollee_sandbox::Sandbox;
    use rollee_shared::bus::Bus;
    use rollee_shared::testkit::{as_caller, call, event, state, with_param};
    use uuid::Uuid;

    const JWT: &str = "unit-test-jwt";

    /// A bus nobody answers for: every event fails to be put.
    async fn unreachable_bus() -> Bus {
        let config = aws_config::SdkConfig::builder()
            .endpoint_url("http://127.0.0.1:9")
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::for_tests(),
                ),
            )
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        Bus::new(&config, "no-bus")
    }

    #[tokio::test]
    async fn an_erasure_cut_before_its_event_leaves_only_the_mark_and_anothers_is_404() {
        let sandbox = Sandbox::start(JWT).await.unwrap();
        let mut state = state(&sandbox.base_url(), JWT, 10);
        state.bus = Some(unreachable_bus().await);
        let (_, created) = call(&state, &event("create-user"), create_user::handle).await;
        let user = created["user_id"].as_str().unwrap();
        let session = Uuid::parse_str(created["session_id"].as_str().unwrap()).unwrap();
        sandbox.connect_account(session).unwrap();
        let calls = sandbox.requests().len();
        let bobs = as_caller(with_param(event("erase-user"), "user_id", user), "bob");
        assert_eq!(call(&state, &bobs, super::handle).await.0, 404);
        assert_eq!(sandbox.requests().len(), calls, "no Rollee call");

        let e = with_param(event("erase-user"), "user_id", user);
        let (status, problem) = call(&state, &e, super::handle).await;
        assert_eq!(status, 503, "{problem}");
        assert_eq!(
            problem["type"],
            "urn:rollee-connect:problem:event-bus-unavailable"
        );
        // Erased at Rollee and in the table, but for the mark a retry finishes from.
        assert!(!sandbox.has_user(Uuid::parse_str(user).unwrap()));
        assert_eq!(state.store.keys(), [format!("user#{user}")]);
    }

    #[tokio::test]
    async fn a_function_without_its_bus_answers_500_and_erases_nothing() {
        let sandbox = Sandbox::start(JWT).await.unwrap();
        let state = state(&sandbox.base_url(), JWT, 10);
        let (_, created) = call(&state, &event("create-user"), create_user::handle).await;
        let user = created["user_id"].as_str().unwrap();
        let e = with_param(event("erase-user"), "user_id", user);
        assert_eq!(call(&state, &e, super::handle).await.0, 500);
        assert!(sandbox.has_user(Uuid::parse_str(user).unwrap()));
    }
}
