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

pub async fn handle(state: &State, request: &Request) -> Result<Response<Body>, ApiError> {
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
