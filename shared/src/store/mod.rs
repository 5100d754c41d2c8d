//! The ownership table: the server's own memory, one DynamoDB table.
//!
//! One key attribute, `pk` (a string); one TTL attribute, `expires_at`
//! (epoch seconds). The items:
//!
//! | `pk` | other attributes | what |
//! |---|---|---|
//! | `caller#<sub>` | `state` = `claimed`, `claim`, `lease_until` | a first `POST /users` is creating the caller's Rollee user |
//! | `caller#<sub>` | `state` = `owner`, `user_id` | the caller's one Rollee user |
//! | `user#<uuid>` | `sub`, `user_id`, and `erasing` (epoch seconds) once an erasure began | who owns a Rollee user (what a webhook needs) |
//! | `session#<uuid>` | `sub`, `user_id`, `expires_at` | who may refresh a session this server minted |
//! | `account#<uuid>` | `sub`, `user_id` | who owns a Rollee account (listing, reconnect, account webhooks) |
//! | `quota#<sub>#<minute>` | `n`, `expires_at` | sessions minted by a caller in one minute |
//! | `delivery#<sha256>` | `state` = `claimed`, `lease_until`, `expires_at` | a webhook delivery being published ([`delivery`]) |
//! | `delivery#<sha256>` | `state` = `published`, `expires_at` | a webhook delivery already published: a repeat is a duplicate |
//!
//! Index [`USER_INDEX`] (keys only) finds every item that names a Rollee
//! user in `user_id` (the caller's, its sessions', its accounts'): what an
//! erasure deletes ([`lifecycle`]).
//!
//! A `sub` is an opaque string of at most 256 bytes without control
//! characters (see [`crate::request`]); items are never logged.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use uuid::Uuid;

mod calls;
pub mod delivery;
mod gate;
pub use gate::{Check, Gate};
pub mod hints;
pub use hints::Hints;
mod lease;
pub mod lifecycle;
mod memory;
mod quota;
mod table;
pub use calls::StoreError;
use calls::{held, measured, store_error};
pub use memory::MemoryTable;
use quota::QuotaCount;
pub use quota::quota_keys;
pub use table::Table;

/// The table's one key attribute (the template's `KeySchema` says the same;
/// a test checks it).
pub const KEY: &str = "pk";
/// The table's TTL attribute, in epoch seconds.
pub const TTL: &str = "expires_at";
/// The table's one index: key [`USER_ATTRIBUTE`], keys only (the
/// template's `GlobalSecondaryIndexes` says the same; a test checks it).
pub const USER_INDEX: &str = "by-user";
/// The attribute [`USER_INDEX`] is keyed on: the Rollee user an item is about.
pub const USER_ATTRIBUTE: &str = "user_id";

/// How long a claim on creating a caller's user holds before another request
/// may take it over: longer than a request's whole Rollee budget (20 s), so
/// that a creation still in flight completes first.
pub const CLAIM_LEASE: Duration = Duration::from_secs(30);
/// How long the owner of a session minted here is remembered. Rollee
/// refreshes even expired sessions; after this, the app asks for a new one.
pub const SESSION_RECORD_LIFETIME: Duration = Duration::from_secs(30 * 86_400);

/// What the table knows of a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerRecord {
    /// Never seen: no Rollee user yet.
    Unknown,
    /// A request is creating the caller's user, until `lease_until` (epoch seconds).
    Claimed { lease_until: u64 },
    /// The caller's Rollee user.
    Owner { user_id: Uuid },
}

/// Who owns a Rollee user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub sub: String,
    /// An erasure of the user began and has not finished: it is no longer
    /// given sessions, and a retry of the erasure finishes it.
    pub erasing: bool,
}

/// A session minted here: who may refresh it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub sub: String,
    pub user_id: Uuid,
}

/// Seconds since the epoch, now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
    /// Sessions a caller may mint per minute.
    sessions_per_minute: u32,
    hints: std::sync::Arc<Hints>,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn caller_key(sub: &str) -> AttributeValue {
    s(format!("caller#{sub}"))
}

fn user_key(user: Uuid) -> AttributeValue {
    s(format!("user#{user}"))
}

fn session_key(session: Uuid) -> AttributeValue {
    s(format!("session#{session}"))
}

fn account_key(account: Uuid) -> AttributeValue {
    s(format!("account#{account}"))
}

type Item = std::collections::HashMap<String, AttributeValue>;

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn uuid(item: &Item, name: &str) -> Option<Uuid> {
    text(item, name).and_then(|v| Uuid::try_parse(v).ok())
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>, sessions_per_minute: u32) -> Self {
        Self {
            client,
            table: table.into(),
            sessions_per_minute,
            hints: Default::default(),
        }
    }

    /// What this process has learnt from the table (shared by its clones).
    pub fn hints(&self) -> &Hints {
        &self.hints
    }

    async fn get(&self, key: AttributeValue) -> Result<Option<Item>, StoreError> {
        let output = measured(
            "GetItem",
            self.client
                .get_item()
                .table_name(&self.table)
                .key(KEY, key)
                .consistent_read(true)
                .send(),
        )
        .await
        .map_err(store_error)?;
        Ok(output.item)
    }

    /// Writes `item` whatever is there.
    async fn put(&self, item: Item) -> Result<(), StoreError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        measured("PutItem", request.send())
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Deletes the item at `key`, if any.
    async fn delete(&self, key: AttributeValue) -> Result<(), StoreError> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(KEY, key);
        measured("DeleteItem", request.send())
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// What the table knows of `sub`.
    pub async fn caller(&self, sub: &str) -> Result<CallerRecord, StoreError> {
        let Some(item) = self.get(caller_key(sub)).await? else {
            return Ok(CallerRecord::Unknown);
        };
        Ok(match (text(&item, "state"), uuid(&item, "user_id")) {
            (Some("owner"), Some(user_id)) => CallerRecord::Owner { user_id },
            _ => CallerRecord::Claimed {
                lease_until: number(&item, "lease_until").unwrap_or(0),
            },
        })
    }

    /// Claims the creation of `sub`'s Rollee user with `claim`, if no one holds
    /// a live claim and the caller has no user. `false`: someone else does.
    pub async fn claim(&self, sub: &str, claim: Uuid) -> Result<bool, StoreError> {
        let lease = self
            .claim_lease(caller_key(sub), claim, CLAIM_LEASE, None)
            .await?;
        Ok(matches!(lease, lease::Lease::Taken))
    }

    /// Gives up `claim` (Rollee definitely created no user): the caller's next
    /// call may try again at once.
    pub async fn release(&self, sub: &str, claim: Uuid) -> Result<(), StoreError> {
        let result = measured(
            "DeleteItem",
            self.client
                .delete_item()
                .table_name(&self.table)
                .key(KEY, caller_key(sub))
                .condition_expression("claim = :claim")
                .expression_attribute_values(":claim", s(claim.to_string()))
                .send(),
        )
        .await;
        // Refused: taken over after its lease, nothing of ours to release.
        held(result).map(drop)
    }

    /// Records, in one transaction, that `sub` owns the Rollee user it just
    /// created under `claim`, and its first session when there is one.
    pub async fn complete(
        &self,
        sub: &str,
        claim: Uuid,
        user_id: Uuid,
        session: Option<Uuid>,
    ) -> Result<(), StoreError> {
        let owner = Put::builder()
            .table_name(&self.table)
            .set_item(Some(owner_item(sub, user_id)))
            .condition_expression("claim = :claim")
            .expression_attribute_values(":claim", s(claim.to_string()));
        let user = Put::builder()
            .table_name(&self.table)
            .set_item(Some(user_item(sub, user_id)));
        let session = session.map(|session| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(session_item(sub, user_id, session)))
        });
        let mut request = self.client.transact_write_items();
        for put in [Some(owner), Some(user), session].into_iter().flatten() {
            let put = put
                .build()
                .map_err(|e| StoreError(format!("could not build a write: {e}")))?;
            request = request.transact_items(TransactWriteItem::builder().put(put).build());
        }
        measured("TransactWriteItems", request.send())
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Records that `sub` owns `user_id`, a user created before the table
    /// (its owner found in Rollee's metadata), and makes it the caller's user
    /// if the caller has none yet.
    pub async fn adopt(&self, sub: &str, user_id: Uuid) -> Result<(), StoreError> {
        self.put(user_item(sub, user_id)).await?;
        let result = measured(
            "PutItem",
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(owner_item(sub, user_id)))
                .condition_expression("attribute_not_exists(pk)")
                .send(),
        )
        .await;
        // Refused: the caller already has a user (or is creating one): keep it.
        held(result).map(drop)
    }

    /// Forgets that `sub` owns `user_id` (Rollee no longer knows the user), so
    /// that the caller's next `POST /users` creates a new one; the `user#`
    /// item of a user being erased stays, as the erasure's mark.
    pub async fn forget_user(&self, sub: &str, user_id: Uuid) -> Result<(), StoreError> {
        let result = measured(
            "DeleteItem",
            self.client
                .delete_item()
                .table_name(&self.table)
                .key(KEY, caller_key(sub))
                .condition_expression("user_id = :user")
                .expression_attribute_values(":user", s(user_id.to_string()))
                .send(),
        )
        .await;
        held(result)?;
        // A user whose erasure began keeps `user#`, its mark: the erasure's
        // retry needs it to finish (and to publish `user.erased`).
        let mark = measured(
            "DeleteItem",
            self.client
                .delete_item()
                .table_name(&self.table)
                .key(KEY, user_key(user_id))
                .condition_expression("attribute_not_exists(#erasing)")
                .expression_attribute_names("#erasing", lifecycle::ERASING)
                .send(),
        )
        .await;
        held(mark).map(drop)
    }

    /// Who owns the Rollee user `user_id`, when it was created or adopted here.
    pub async fn owner_of_user(&self, user_id: Uuid) -> Result<Option<String>, StoreError> {
        Ok(self.user(user_id).await?.map(|owner| owner.sub))
    }

    /// The table's record of the Rollee user `user_id`: its owner, and
    /// whether an erasure of it began.
    pub async fn user(&self, user_id: Uuid) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.get(user_key(user_id)).await?.and_then(|item| {
            Some(UserRecord {
                sub: text(&item, "sub")?.to_owned(),
                erasing: item.contains_key(lifecycle::ERASING),
            })
        }))
    }

    /// Who may refresh `session`, when it was minted here.
    pub async fn session(&self, session: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        let Some(item) = self.get(session_key(session)).await? else {
            return Ok(None);
        };
        // DynamoDB deletes expired items within days, not at once.
        if number(&item, TTL).is_some_and(|at| at <= now()) {
            return Ok(None);
        }
        Ok(match (text(&item, "sub"), uuid(&item, "user_id")) {
            (Some(sub), Some(user_id)) => Some(SessionRecord {
                sub: sub.to_owned(),
                user_id,
            }),
            _ => None,
        })
    }

    /// Records a session minted for `sub`'s user.
    pub async fn record_session(
        &self,
        sub: &str,
        user_id: Uuid,
        session: Uuid,
    ) -> Result<(), StoreError> {
        self.put(session_item(sub, user_id, session)).await
    }
}

fn owner_item(sub: &str, user_id: Uuid) -> Item {
    Item::from([
        (KEY.to_owned(), caller_key(sub)),
        ("state".to_owned(), s("owner")),
        ("user_id".to_owned(), s(user_id.to_string())),
    ])
}

fn user_item(sub: &str, user_id: Uuid) -> Item {
    Item::from([
        (KEY.to_owned(), user_key(user_id)),
        ("sub".to_owned(), s(sub)),
        (USER_ATTRIBUTE.to_owned(), s(user_id.to_string())),
    ])
}

fn session_item(sub: &str, user_id: Uuid, session: Uuid) -> Item {
    Item::from([
        (KEY.to_owned(), session_key(session)),
        ("sub".to_owned(), s(sub)),
        ("user_id".to_owned(), s(user_id.to_string())),
        (TTL.to_owned(), n(now() + SESSION_RECORD_LIFETIME.as_secs())),
    ])
}
