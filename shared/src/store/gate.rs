//! The one table call before a new session for a known user: the caller's
//! quota counted and the user's owner checked in one transaction, so that
//! the warm `POST /users/{user_id}/sessions` makes two table calls (this
//! and the session's record), not three.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    ConditionCheck, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use uuid::Uuid;

use super::calls::{measured, store_error};
use super::lifecycle::ERASING;
use super::{KEY, QuotaCount, Store, StoreError, now, s, text, user_key};

/// What the table says before a new session of `user_id` for a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Counted, and the user is the caller's.
    Open,
    /// Over the caller's quota: retry after this many seconds.
    OverQuota(u64),
    /// Another caller's user, or one being erased: nothing counted.
    Closed,
    /// The table does not know the user (created before the table?):
    /// nothing counted.
    Unknown,
}

/// How often a transaction that collided with another on the same items
/// (the caller's own concurrent requests) is sent again.
const CONFLICT_RETRIES: usize = 2;

impl Store {
    /// Counts one session of `sub` and checks that `user_id` is `sub`'s and
    /// not being erased, in one transaction.
    pub async fn gate(&self, sub: &str, user_id: Uuid) -> Result<Gate, StoreError> {
        let now = now();
        let count = self.quota_count(sub, now);
        let build = |e: aws_smithy_types::error::operation::BuildError| {
            StoreError(format!("could not build the transaction: {e}"))
        };
        let quota = Update::builder()
            .table_name(&self.table)
            .key(KEY, count.key)
            .update_expression(QuotaCount::UPDATE)
            .condition_expression(QuotaCount::CONDITION)
            .set_expression_attribute_names(Some(count.names))
            .set_expression_attribute_values(Some(count.values))
            .build()
            .map_err(build)?;
        let owner = ConditionCheck::builder()
            .table_name(&self.table)
            .key(KEY, user_key(user_id))
            .condition_expression("#sub = :sub AND attribute_not_exists(#erasing)")
            .expression_attribute_names("#sub", "sub")
            .expression_attribute_names("#erasing", ERASING)
            .expression_attribute_values(":sub", s(sub))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build)?;
        let mut conflicts = 0;
        loop {
            let request = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(quota.clone()).build())
                .transact_items(
                    TransactWriteItem::builder()
                        .condition_check(owner.clone())
                        .build(),
                );
            let error = match measured("TransactWriteItems", request.send()).await {
                Ok(_) => return Ok(Gate::Open),
                Err(e) => e,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                error.as_service_error()
            else {
                return Err(store_error(error));
            };
            let reasons = cancelled.cancellation_reasons();
            let code = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
            match (code(0), code(1)) {
                ("ConditionalCheckFailed", _) => return Ok(Gate::OverQuota(60 - now % 60)),
                (_, "ConditionalCheckFailed") => {
                    let item = reasons.get(1).and_then(|r| r.item());
                    return Ok(match item.and_then(|item| text(item, "sub")) {
                        None => Gate::Unknown,
                        Some(_) => Gate::Closed,
                    });
                }
                ("TransactionConflict", _) | (_, "TransactionConflict")
                    if conflicts < CONFLICT_RETRIES =>
                {
                    conflicts += 1;
                }
                _ => return Err(store_error(error)),
            }
        }
    }
}
