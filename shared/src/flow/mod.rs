//! The three operations of the Connect flow: who owns what (the ownership
//! table first, Rollee's metadata as the second record), per-caller quotas,
//! and how a failure of Rollee or of the table becomes a problem for the app.

mod input;
mod lifecycle;

use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;
use uuid::Uuid;

pub use input::{
    MAX_CONNECT_URL_BYTES, MAX_KEY_CHARS, MAX_METADATA_KEYS, MAX_VALUE_CHARS, OWNER_KEY,
    RESERVED_PREFIX, check_metadata, session_of_connect_url,
};

pub use lifecycle::{USER_ERASED, accounts, erase, reconnect};

use crate::problem::{ApiError, Problem};
use crate::request::Caller;
use crate::rollee::{RolleeClient, RolleeError, Session};
use crate::store::{CallerRecord, Check, Gate, Table};

/// How long `POST /users` waits for a concurrent first call of the same
/// caller to finish creating its user, before answering 409.
pub const WAIT_FOR_CREATION: Duration = Duration::from_secs(8);
const POLL: Duration = Duration::from_millis(100);

/// The caller's Rollee user and a fresh Connect session for it.
#[derive(Debug, Clone)]
pub struct UserSession {
    pub user_id: Uuid,
    pub session: Session,
    /// The user was created by this call (201), not found (200).
    pub created: bool,
}

fn user_not_found() -> ApiError {
    ApiError::not_found("No user with this id belongs to the caller.")
}

/// Counts one session for the caller; over its quota, a 429 before any Rollee call.
async fn within_quota(store: &impl Table, caller: &Caller) -> Result<(), ApiError> {
    match store.count_session(caller.sub()).await? {
        Ok(()) => Ok(()),
        Err(seconds) => Err(over_quota(seconds)),
    }
}

/// The caller's user is being erased: 409 until the erasure (or its retry)
/// is done, when `POST /users` creates the caller a new user. The detail
/// names the user (the caller's own), so that an app which no longer holds
/// its id can finish the erasure: waiting alone does not.
fn being_erased(user_id: Uuid) -> ApiError {
    ApiError::new(
        Problem::InProgress,
        format!(
            "This user's Rollee user {user_id} is being erased: send DELETE /users/{user_id} again to finish, then retry."
        ),
    )
    .with_retry_after(Some(2))
}

/// The caller is over its quota of sessions: 429, before any Rollee call.
fn over_quota(seconds: u64) -> ApiError {
    tracing::info!("a caller is over its quota of Connect sessions per minute");
    crate::metrics::quota_rejected();
    ApiError::new(
        Problem::RateLimited,
        "This user asked for too many Connect sessions in the last minute; retry after Retry-After seconds.",
    )
    .with_retry_after(Some(seconds))
}

/// `POST /users`: the caller's one Rollee user, created on its first call,
/// with a fresh Connect session. `metadata` (checked by [`check_metadata`])
/// is used at creation only.
///
/// Two first calls at once create one user: the first claims the caller in
/// the table before calling Rollee, the other waits for it to finish.
pub async fn find_or_create_user(
    client: &RolleeClient,
    store: &impl Table,
    caller: &Caller,
    metadata: Map<String, Value>,
) -> Result<UserSession, ApiError> {
    // A caller this process has seen: its quota and its user in one table
    // call, the hint checked by the transaction. Otherwise the caller's item
    // is read, and its user checked with the quota in the same transaction.
    let mut counted = false;
    let mut known = match store.hints().owner(caller.sub()) {
        Some(user_id) => match store.gate(caller.sub(), Check::User(user_id)).await? {
            Gate::Open => {
                counted = true;
                Some(user_id)
            }
            Gate::OverQuota(seconds) => return Err(over_quota(seconds)),
            Gate::Closed | Gate::Unknown => {
                store.hints().forget_owner(caller.sub());
                None
            }
        },
        None => None,
    };
    let deadline = client.deadline();
    let waiting_ends = Instant::now() + WAIT_FOR_CREATION;
    loop {
        let found = match known.take() {
            Some(user_id) => CallerRecord::Owner { user_id },
            None => store.caller(caller.sub()).await?,
        };
        match found {
            CallerRecord::Owner { user_id } => {
                if !counted {
                    match store.gate(caller.sub(), Check::User(user_id)).await? {
                        Gate::Open => {}
                        Gate::OverQuota(seconds) => return Err(over_quota(seconds)),
                        // The caller's user is being erased (`user#` names the
                        // caller whenever `caller#` names the user): no
                        // session until the erasure is done, as for a new one.
                        Gate::Closed => return Err(being_erased(user_id)),
                        // No `user#` item: a `caller#` written before the table
                        // kept one, or one an erasure's index query missed.
                        Gate::Unknown => within_quota(store, caller).await?,
                    }
                    counted = true;
                }
                match mint(client, user_id, deadline).await {
                    Ok(session) => {
                        record(store, caller, user_id, session.id).await?;
                        store.hints().set_owner(caller.sub(), user_id);
                        return Ok(UserSession {
                            user_id,
                            session,
                            created: false,
                        });
                    }
                    // Deleted at Rollee: forget it, and create a new one below.
                    Err(RolleeError::NotFound) => {
                        tracing::warn!(%user_id, "the caller's Rollee user no longer exists; creating a new one");
                        store.hints().forget_owner(caller.sub());
                        store.forget_user(caller.sub(), user_id).await?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            CallerRecord::Claimed { lease_until } if lease_until > crate::store::now() => {
                if Instant::now() + POLL > waiting_ends {
                    return Err(ApiError::new(
                        Problem::InProgress,
                        "This user's Rollee user is still being created by another request; retry in a few seconds.",
                    )
                    .with_retry_after(Some(2)));
                }
                tokio::time::sleep(POLL).await;
            }
            CallerRecord::Unknown | CallerRecord::Claimed { .. } => {
                if !counted {
                    within_quota(store, caller).await?;
                    counted = true;
                }
                let claim = Uuid::new_v4();
                if store.claim(caller.sub(), claim).await? {
                    return create(client, store, caller, metadata, claim, deadline).await;
                }
                // Another request claimed it first: look again.
            }
        }
    }
}

/// Creates the caller's Rollee user under `claim`, and records it.
async fn create(
    client: &RolleeClient,
    store: &impl Table,
    caller: &Caller,
    mut metadata: Map<String, Value>,
    claim: Uuid,
    deadline: Instant,
) -> Result<UserSession, ApiError> {
    // The second record of the owner, in Rollee itself.
    metadata.insert(OWNER_KEY.to_owned(), Value::String(caller.sub().to_owned()));
    let user = match client.create_user(&metadata, deadline).await {
        Ok(user) => user,
        Err(e) if e.may_have_acted() => {
            // The user may exist at Rollee without a record here. The claim
            // blocks this caller until its lease ends; then a new user is made.
            tracing::warn!(
                %claim,
                error = %e,
                "creating a Rollee user failed ambiguously: it may exist without an owner record (its metadata names the owner); the claim expires after its lease"
            );
            return Err(e.into());
        }
        Err(e) => {
            if let Err(release) = store.release(caller.sub(), claim).await {
                tracing::warn!(%claim, error = %release, "could not release the claim; it expires after its lease");
            }
            return Err(e.into());
        }
    };
    tracing::info!(user_id = %user.id, "created a Rollee user");
    // `POST /users` returns the first session; should an answer lack it,
    // ask for one rather than lose the user just created.
    let session = match user.session {
        Some(session) => Ok(session),
        None => {
            tracing::warn!(user_id = %user.id, "Rollee's new user has no usable Connect link; requesting a session");
            mint(client, user.id, deadline).await
        }
    };
    let recorded = store
        .complete(
            caller.sub(),
            claim,
            user.id,
            session.as_ref().ok().map(|s| s.id),
        )
        .await;
    if recorded.is_ok() {
        store.hints().set_owner(caller.sub(), user.id);
        if let Ok(session) = &session {
            store.hints().set_session(session.id, user.id);
        }
    }
    if let Err(e) = recorded {
        tracing::error!(
            user_id = %user.id,
            %claim,
            error = %e,
            "created a Rollee user but could not record its owner: the user exists at Rollee with its owner in metadata; remove it by hand if the caller creates another"
        );
        return Err(e.into());
    }
    Ok(UserSession {
        user_id: user.id,
        session: session?,
        created: true,
    })
}

/// `POST /users/{user_id}/sessions`: a new session for one of the caller's
/// users. "No such user" and "not yours" are the same 404, on purpose.
pub async fn new_session(
    client: &RolleeClient,
    store: &impl Table,
    caller: &Caller,
    user_id: Uuid,
) -> Result<Session, ApiError> {
    let deadline = client.deadline();
    // The quota and the owner in one table call; a user the table does not
    // know is counted, then checked with Rollee once.
    match store.gate(caller.sub(), Check::User(user_id)).await? {
        Gate::Open => {}
        Gate::OverQuota(seconds) => return Err(over_quota(seconds)),
        Gate::Closed => {
            tracing::info!(%user_id, "new session refused: the user is not the caller's, or is being erased");
            return Err(user_not_found());
        }
        Gate::Unknown => {
            within_quota(store, caller).await?;
            if ownership(client, store, caller, user_id, deadline).await? != Some(Ownership::Owned)
            {
                return Err(user_not_found());
            }
        }
    }
    let session = match mint(client, user_id, deadline).await {
        Ok(session) => session,
        Err(RolleeError::NotFound) => return Err(user_not_found()),
        Err(e) => return Err(e.into()),
    };
    record(store, caller, user_id, session.id).await?;
    Ok(session)
}

/// Records a session minted for the caller's `user_id`, and keeps its user
/// as a hint for the session's refresh.
async fn record(
    store: &impl Table,
    caller: &Caller,
    user_id: Uuid,
    session: Uuid,
) -> Result<(), ApiError> {
    store.record_session(caller.sub(), user_id, session).await?;
    store.hints().set_session(session, user_id);
    Ok(())
}

/// How a Rollee user is the caller's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ownership {
    Owned,
    /// An erasure of it began: it gets no session, and may only be erased.
    Erasing,
}

/// Whether `user_id` is the caller's: from the table, or for a user the
/// table does not know (created before the table) from its owner in
/// Rollee's metadata, checked once and then recorded. `None`: not the
/// caller's, or no such user; which one is not told.
async fn ownership(
    client: &RolleeClient,
    store: &impl Table,
    caller: &Caller,
    user_id: Uuid,
    deadline: Instant,
) -> Result<Option<Ownership>, ApiError> {
    match store.user(user_id).await? {
        Some(owner) if owner.sub != caller.sub() => {
            tracing::info!(%user_id, "refused: the user is not the caller's");
            Ok(None)
        }
        Some(owner) if owner.erasing => Ok(Some(Ownership::Erasing)),
        Some(_) => Ok(Some(Ownership::Owned)),
        None => Ok(adopt(client, store, caller, user_id, deadline)
            .await?
            .then_some(Ownership::Owned)),
    }
}

/// A user the table does not know: created before the table, its owner is in
/// Rollee's metadata. Checked that way once, then recorded in the table.
/// `false`: no such user, or not the caller's.
async fn adopt(
    client: &RolleeClient,
    store: &impl Table,
    caller: &Caller,
    user_id: Uuid,
    deadline: Instant,
) -> Result<bool, ApiError> {
    let user = match client.get_user(user_id, deadline).await {
        Ok(user) => user,
        Err(RolleeError::NotFound) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    if user.metadata.get(OWNER_KEY).and_then(Value::as_str) != Some(caller.sub()) {
        tracing::info!(%user_id, "refused: the user is not the caller's");
        return Ok(false);
    }
    store.adopt(caller.sub(), user_id).await?;
    tracing::info!(%user_id, "recorded the owner of a user created before the ownership table");
    Ok(true)
}

/// `POST /sessions/refresh`: refreshes a session this server minted for the
/// caller; any other session is the same 404 as an unknown one. Returns the
/// session's user and the new session.
pub async fn refresh(
    client: &RolleeClient,
    store: &impl Table,
    caller: &Caller,
    session: Uuid,
) -> Result<(Uuid, Session), ApiError> {
    let not_found = || ApiError::not_found("No session of this user has this connect_url.");
    // A session this process recorded: the quota and its owner in one table
    // call, the hint checked by the transaction; otherwise counted, then read.
    let hinted = match store.hints().session(session) {
        Some(user_id) => {
            match store
                .gate(caller.sub(), Check::Session { session, user_id })
                .await?
            {
                Gate::Open => Some(user_id),
                Gate::OverQuota(seconds) => return Err(over_quota(seconds)),
                Gate::Closed | Gate::Unknown => {
                    store.hints().forget_session(session);
                    None
                }
            }
        }
        None => None,
    };
    let user_id = match hinted {
        Some(user_id) => user_id,
        None => {
            within_quota(store, caller).await?;
            match store.session(session).await? {
                Some(record) if record.sub == caller.sub() => record.user_id,
                Some(_) => {
                    tracing::info!("refresh refused: the session is not the caller's");
                    return Err(not_found());
                }
                None => return Err(not_found()),
            }
        }
    };
    let fresh = match client.refresh_session(session, client.deadline()).await {
        Ok(fresh) => fresh,
        Err(RolleeError::NotFound) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    record(store, caller, user_id, fresh.id).await?;
    Ok((user_id, fresh))
}

/// A new Connect session for `user_id`.
///
/// STAND-IN for unpublished behaviour: Rollee describes `sessions/new` as
/// "intended for users created with the API v0.3" and publishes nothing about
/// what it answers for other users. If it refuses one of ours with a status
/// that is not 401, 404, 429 or 5xx, the user's current session (from
/// `GET /users/{id}`) is refreshed instead, which Rollee documents for any session.
async fn mint(
    client: &RolleeClient,
    user_id: Uuid,
    deadline: Instant,
) -> Result<Session, RolleeError> {
    match client.new_session(user_id, deadline).await {
        Err(RolleeError::Status { status }) if (400..500).contains(&status) => {
            tracing::info!(%user_id, status, "Rollee refused sessions/new; refreshing the user's current session instead");
            let user = client.get_user(user_id, deadline).await?;
            let current = user
                .session
                .ok_or(RolleeError::Malformed("the user has no session to refresh"))?;
            client.refresh_session(current.id, deadline).await
        }
        other => other,
    }
}
