//! After the Connect page: a user's accounts, a reconnect session for one of
//! them, and the erasure of a user. Owner-scoped as the Connect flow is: not
//! the caller's is the same 404 as does not exist.

use serde_json::json;
use uuid::Uuid;

use super::{Ownership, over_quota, ownership, user_not_found, within_quota};
use crate::bus::Bus;
use crate::problem::ApiError;
use crate::request::Caller;
use crate::rollee::{Account, RolleeClient, RolleeError, Session};
use crate::store::{Check, Gate, Table, quota_keys};

/// The detail type of the event an erasure publishes.
pub const USER_ERASED: &str = "user.erased";

fn account_not_found() -> ApiError {
    ApiError::not_found("No account with this id belongs to the caller's users.")
}

/// `GET /users/{user_id}/accounts`: the accounts of one of the caller's
/// users, each recorded in the table as that user's (for reconnects and
/// account webhooks).
pub async fn accounts(
    client: &RolleeClient,
    store: &impl Table,
    caller: &Caller,
    user_id: Uuid,
) -> Result<Vec<Account>, ApiError> {
    let deadline = client.deadline();
    if ownership(client, store, caller, user_id, deadline).await? != Some(Ownership::Owned) {
        return Err(user_not_found());
    }
    let (accounts, skipped) = match client.list_accounts(user_id, deadline).await {
        Ok(listed) => listed,
        Err(RolleeError::NotFound) => return Err(user_not_found()),
        Err(e) => return Err(e.into()),
    };
    if skipped > 0 {
        tracing::warn!(%user_id, skipped, "Rollee's accounts listing had items without a usable id; they are left out");
    }
    // An item that names another user is not this user's to show.
    let (accounts, foreign): (Vec<Account>, Vec<Account>) = accounts
        .into_iter()
        .partition(|a| a.user_id.is_none_or(|u| u == user_id));
    if !foreign.is_empty() {
        tracing::warn!(%user_id, foreign = foreign.len(), "Rollee's accounts listing named other users; those items are left out");
    }
    let ids: Vec<Uuid> = accounts.iter().map(|a| a.id).collect();
    // The answer does not depend on the record: a reconnect of an account
    // the table missed checks it with Rollee instead.
    if let Err(e) = store.record_accounts(caller.sub(), user_id, &ids).await {
        tracing::warn!(%user_id, error = %e, "could not record the user's accounts; a reconnect will check them with Rollee");
    }
    Ok(accounts)
}

/// `POST /accounts/{account_id}/reconnect`: a Connect session that
/// reconnects an account of one of the caller's users. Counts against the
/// caller's session quota; the session is refreshable like any minted here.
/// Returns the account's user and the session.
pub async fn reconnect(
    client: &RolleeClient,
    store: &impl Table,
    caller: &Caller,
    account: Uuid,
) -> Result<(Uuid, Session), ApiError> {
    let deadline = client.deadline();
    let user_id = match store.owner_of_account(account).await? {
        // Counted, and its user checked (the caller's, not being erased), in
        // one transaction before Rollee is called.
        Some(owner) if owner.sub == caller.sub() => {
            match store.gate(caller.sub(), Check::User(owner.user_id)).await? {
                Gate::Open => {}
                Gate::OverQuota(seconds) => return Err(over_quota(seconds)),
                Gate::Closed => {
                    tracing::info!(%account, "reconnect refused: the account's user is being erased");
                    return Err(account_not_found());
                }
                // A user the table has no item of (created before it).
                Gate::Unknown => within_quota(store, caller).await?,
            }
            owner.user_id
        }
        Some(_) => {
            tracing::info!(%account, "reconnect refused: the account is not the caller's");
            return Err(account_not_found());
        }
        // Not recorded yet (no listing or account webhook seen it): Rollee
        // says whose it is, once, and the table remembers.
        None => {
            within_quota(store, caller).await?;
            let found = match client.get_account(account, deadline).await {
                Ok(found) => found,
                Err(RolleeError::NotFound) => return Err(account_not_found()),
                Err(e) => return Err(e.into()),
            };
            let Some(user_id) = found.user_id else {
                tracing::warn!(%account, "Rollee's account names no user: its owner cannot be checked");
                return Err(account_not_found());
            };
            if ownership(client, store, caller, user_id, deadline).await? != Some(Ownership::Owned)
            {
                tracing::info!(%account, "reconnect refused: the account's user is not the caller's");
                return Err(account_not_found());
            }
            store.record_account(caller.sub(), user_id, account).await?;
            user_id
        }
    };
    let session = match client.reconnect_account(account, deadline).await {
        Ok(session) => session,
        Err(RolleeError::NotFound) => return Err(account_not_found()),
        Err(e) => return Err(e.into()),
    };
    super::record(store, caller, user_id, session.id).await?;
    Ok((user_id, session))
}

/// `DELETE /users/{user_id}`: erases one of the caller's users at Rollee
/// and in the table, then says so on the bus. Each step can be repeated, so
/// a retry after any failure finishes the erasure:
///
/// 1. mark `user#<uuid>` (from then on the user gets no session), and
///    delete its `session#` items (from then on none is refreshed);
/// 2. Rollee's `DELETE /users/{id}` (a 404 there: already deleted);
/// 3. every other item of the user and its caller in the table;
/// 4. `user.erased` on the bus, with `user_id` and `sub` only (a retry after
///    this step publishes it again: consumers de-duplicate on `user_id`);
/// 5. delete the mark. A second call then is a 404.
pub async fn erase(
    client: &RolleeClient,
    store: &impl Table,
    bus: &Bus,
    caller: &Caller,
    user_id: Uuid,
) -> Result<(), ApiError> {
    let deadline = client.deadline();
    if ownership(client, store, caller, user_id, deadline)
        .await?
        .is_none()
    {
        return Err(user_not_found());
    }
    if !store.begin_erasure(caller.sub(), user_id).await? {
        return Err(user_not_found());
    }
    tracing::info!(%user_id, "erasure begun");
    // Hints of other processes fail their transaction's condition once the
    // items are gone; this one's are forgotten now.
    if store.hints().owner(caller.sub()) == Some(user_id) {
        store.hints().forget_owner(caller.sub());
    }
    // A refresh checks the session's item, not the mark: without its items,
    // no session of the user is refreshed while Rollee's delete is pending.
    let sessions: Vec<String> = store
        .items_of_user(user_id)
        .await?
        .into_iter()
        .filter(|key| key.starts_with("session#"))
        .collect();
    store.delete_items(&sessions).await?;
    if !client.delete_user(user_id, deadline).await? {
        tracing::info!(%user_id, "Rollee no longer knows the user (deleted before); erasing the table's items");
    }
    let mut keys = store.items_of_user(user_id).await?;
    keys.extend(quota_keys(caller.sub()));
    store.delete_items(&keys).await?;
    let detail = json!({ "user_id": user_id, "sub": caller.sub() }).to_string();
    bus.put(
        USER_ERASED,
        detail,
        "The erasure is done at Rollee but not yet announced; retry the same request.",
    )
    .await?;
    store.end_erasure(user_id).await?;
    tracing::info!(%user_id, items = keys.len(), "erasure done");
    Ok(())
}
