//! `GET /users/{user_id}/accounts`: the accounts of one of the caller's
//! users, with a normalised status the app can show.

use rollee_shared::State;
use rollee_shared::app::{json, rfc3339};
use rollee_shared::flow;
use rollee_shared::lambda_http::http::StatusCode;
use rollee_shared::lambda_http::{Body, Request, Response};
use rollee_shared::problem::ApiError;
use rollee_shared::request::user_id;
use rollee_shared::rollee::{Account, AccountStatus};
use rollee_shared::store::Table;

/// 200 answer.
#[derive(Debug, serde::Serialize)]
pub struct Accounts {
    pub user_id: String,
    pub accounts: Vec<AccountBody>,
}

/// One account, as the app sees it. What Rollee's answer does not give is
/// `null`, never invented.
#[derive(Debug, serde::Serialize)]
pub struct AccountBody {
    pub account_id: String,
    pub datasource_id: Option<String>,
    pub connected: Option<bool>,
    pub status: AccountStatus,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

impl From<&Account> for AccountBody {
    fn from(a: &Account) -> Self {
        Self {
            account_id: a.id.to_string(),
            datasource_id: a.datasource_id.clone(),
            connected: a.connected,
            status: a.status,
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
        }
    }
}

pub async fn handle<T: Table>(
    state: &State<T>,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let caller = state.caller(request)?;
    let user = user_id(request)?;
    let accounts = flow::accounts(&state.client, &state.store, &caller, user).await?;
    json(
        StatusCode::OK,
        &Accounts {
            user_id: user.to_string(),
            accounts: accounts.iter().map(AccountBody::from).collect(),
        },
    )
}

#[cfg(test)]
mod tests {
    use rollee_sandbox::Sandbox;
    use rollee_shared::store::Table;
    use rollee_shared::testkit::{as_caller, call, event, state, with_param};
    use uuid::Uuid;

    const JWT: &str = "unit-test-jwt";

    #[tokio::test]
    async fn the_callers_accounts_come_with_a_status_and_are_recorded_as_its_users() {
        let sandbox = Sandbox::start(JWT).await.unwrap();
        let state = state(&sandbox.base_url(), JWT, 10);
        let (_, created) = call(&state, &event("create-user"), create_user::handle).await;
        let user = created["user_id"].as_str().unwrap();
        let session = Uuid::parse_str(created["session_id"].as_str().unwrap()).unwrap();
        let account = sandbox.connect_account(session).unwrap();
        assert!(sandbox.set_account(account, Some(false), Some(Some("expired"))));
        let e = with_param(event("list-accounts"), "user_id", user);
        let (status, listed) = call(&state, &e, super::handle).await;
        assert_eq!(status, 200, "{listed}");
        assert_eq!(listed["user_id"], user);
        let first = &listed["accounts"][0];
        assert_eq!(first["account_id"], account.to_string());
        assert_eq!(first["status"], "disconnected");
        assert_eq!(first["connected"], false);
        let owner = state
            .store
            .owner_of_account(account)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (owner.sub.as_str(), owner.user_id.to_string()),
            ("alice", user.to_owned())
        );
        // Not bob's: the same 404 as an unknown user, and no Rollee call.
        let calls = sandbox.requests().len();
        let bobs = as_caller(with_param(event("list-accounts"), "user_id", user), "bob");
        assert_eq!(call(&state, &bobs, super::handle).await.0, 404);
        assert_eq!(sandbox.requests().len(), calls);
        let bad = event("list-accounts-bad-uuid");
        assert_eq!(call(&state, &bad, super::handle).await.0, 400);
    }
}
