//! After the Connect page: who owns an account, and the erasure of a user.
//!
//! An erasure, as the table sees it ([`crate::flow::erase`] drives it):
//! 1. [`Store::begin_erasure`] marks `user#<uuid>` with [`ERASING`]: from
//!    then on the user gets no new session, and a retry finishes the erasure;
//!    its `session#` items are deleted right away, so that none is refreshed;
//! 2. (Rollee deletes the user);
//! 3. [`Store::items_of_user`] finds the other items that name the user
//!    (through [`USER_INDEX`]) and [`Store::delete_items`] deletes them, with
//!    the caller's quota items;
//! 4. (the bus gets `user.erased`);
//! 5. [`Store::end_erasure`] deletes `user#<uuid>`, the mark, last.

use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use uuid::Uuid;

use super::calls::{held, measured, store_error};
use super::{
    Item, KEY, Store, StoreError, USER_ATTRIBUTE, USER_INDEX, account_key, n, now, s, text,
    user_key, uuid,
};

/// The attribute of `user#<uuid>` that marks an erasure begun (epoch seconds).
pub const ERASING: &str = "erasing";
/// DynamoDB's limit of requests in one `BatchWriteItem`.
const BATCH: usize = 25;
/// Rounds of re-sending what `BatchWriteItem` left unprocessed (throttled)
/// before the call counts as the table failing.
const BATCH_ROUNDS: usize = 4;

/// Who owns a Rollee account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountOwner {
    pub sub: String,
    pub user_id: Uuid,
}

fn account_item(sub: &str, user_id: Uuid, account: Uuid) -> Item {
    Item::from([
        (KEY.to_owned(), account_key(account)),
        ("sub".to_owned(), s(sub)),
        (USER_ATTRIBUTE.to_owned(), s(user_id.to_string())),
    ])
}

impl Store {
    /// Who owns `account`, when the table learned it.
    pub async fn owner_of_account(
        &self,
        account: Uuid,
    ) -> Result<Option<AccountOwner>, StoreError> {
        Ok(self.get(account_key(account)).await?.and_then(|item| {
            Some(AccountOwner {
                sub: text(&item, "sub")?.to_owned(),
                user_id: uuid(&item, USER_ATTRIBUTE)?,
            })
        }))
    }

    /// Records that `accounts` belong to `sub`'s Rollee user `user_id`.
    pub async fn record_accounts(
        &self,
        sub: &str,
        user_id: Uuid,
        accounts: &[Uuid],
    ) -> Result<(), StoreError> {
        let writes = accounts
            .iter()
            .map(|account| {
                PutRequest::builder()
                    .set_item(Some(account_item(sub, user_id, *account)))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError(format!("could not build a write: {e}")))?;
        self.batch_write(writes).await
    }

    /// Records that `account` belongs to `sub`'s Rollee user `user_id`.
    pub async fn record_account(
        &self,
        sub: &str,
        user_id: Uuid,
        account: Uuid,
    ) -> Result<(), StoreError> {
        self.put(account_item(sub, user_id, account)).await
    }

    /// Forgets `account` (Rollee deleted it).
    pub async fn forget_account(&self, account: Uuid) -> Result<(), StoreError> {
        self.delete(account_key(account)).await
    }

    /// Begins erasing `sub`'s Rollee user `user_id` (or continues one begun):
    /// marks `user#<uuid>`, writing the owner when the table did not know it.
    /// `false`: the table says another caller owns it.
    pub async fn begin_erasure(&self, sub: &str, user_id: Uuid) -> Result<bool, StoreError> {
        let result = measured(
            "UpdateItem",
            self.client
                .update_item()
                .table_name(&self.table)
                .key(KEY, user_key(user_id))
                .update_expression(
                    "SET #erasing = if_not_exists(#erasing, :now), #sub = :sub, #user = :user",
                )
                .condition_expression("attribute_not_exists(#sub) OR #sub = :sub")
                .expression_attribute_names("#erasing", ERASING)
                .expression_attribute_names("#sub", "sub")
                .expression_attribute_names("#user", USER_ATTRIBUTE)
                .expression_attribute_values(":now", n(now()))
                .expression_attribute_values(":sub", s(sub))
                .expression_attribute_values(":user", s(user_id.to_string()))
                .send(),
        )
        .await;
        held(result)
    }

    /// The keys of every item that names `user_id` (its caller's record, its
    /// sessions, its accounts), through [`USER_INDEX`]; not `user#<uuid>`,
    /// the erasure's mark, which [`Store::end_erasure`] deletes last.
    /// The index is eventually consistent: an item written a moment ago may
    /// be missing; an erasure marks the user first so that none is added.
    pub async fn items_of_user(&self, user_id: Uuid) -> Result<Vec<String>, StoreError> {
        let mark = user_key(user_id);
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let page = measured(
                "Query",
                self.client
                    .query()
                    .table_name(&self.table)
                    .index_name(USER_INDEX)
                    .key_condition_expression("#user = :user")
                    .expression_attribute_names("#user", USER_ATTRIBUTE)
                    .expression_attribute_values(":user", s(user_id.to_string()))
                    .set_exclusive_start_key(start)
                    .send(),
            )
            .await
            .map_err(store_error)?;
            keys.extend(
                page.items()
                    .iter()
                    .filter(|item| item.get(KEY) != Some(&mark))
                    .filter_map(|item| text(item, KEY).map(str::to_owned)),
            );
            match page.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(keys),
            }
        }
    }

    /// Deletes the items with these keys (none there: nothing to do).
    pub async fn delete_items(&self, keys: &[String]) -> Result<(), StoreError> {
        let writes = keys
            .iter()
            .map(|key| {
                DeleteRequest::builder()
                    .key(KEY, s(key.as_str()))
                    .build()
                    .map(|delete| WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError(format!("could not build a delete: {e}")))?;
        self.batch_write(writes).await
    }

    /// Ends the erasure of `user_id`: deletes `user#<uuid>` and its mark.
    pub async fn end_erasure(&self, user_id: Uuid) -> Result<(), StoreError> {
        self.delete(user_key(user_id)).await
    }

    /// `writes` in batches of [`BATCH`], re-sending what DynamoDB leaves
    /// unprocessed up to [`BATCH_ROUNDS`] times.
    async fn batch_write(&self, writes: Vec<WriteRequest>) -> Result<(), StoreError> {
        for chunk in writes.chunks(BATCH) {
            let mut pending = chunk.to_vec();
            for round in 0.. {
                if pending.is_empty() {
                    break;
                }
                if round == BATCH_ROUNDS {
                    return Err(StoreError(format!(
                        "{} writes stayed unprocessed (throttled) after {BATCH_ROUNDS} rounds",
                        pending.len()
                    )));
                }
                let output = measured(
                    "BatchWriteItem",
                    self.client
                        .batch_write_item()
                        .request_items(self.table.clone(), pending)
                        .send(),
                )
                .await
                .map_err(store_error)?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default();
            }
        }
        Ok(())
    }
}
