//! The one table call before a session for a known user: the caller's
//! quota counted and the user's (or the session's) owner checked in one
//! transaction, so that a warm request makes two table calls (this and the
//! new session's record), not three: `POST /users/{user_id}/sessions`
//! always, and `POST /users` and `POST /sessions/refresh` when this process
//! holds a hint of the user ([`super::hints`]).

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    ConditionCheck, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use uuid::Uuid;

use super::calls::{judged, store_error};
use super::lifecycle::ERASING;
use super::quota::{CONFLICT_RETRIES, after_a_conflict};
use super::{KEY, QuotaCount, Store, StoreError, now, s, session_key, text, user_key};

/// What the transaction checks beside the quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// `user#`: the user is the caller's and not being erased.
    User(Uuid),
    /// `session#`: the session was minted here for the caller's `user_id`.
    Session { session: Uuid, user_id: Uuid },
}

/// What the table says before a new session for a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Counted, and the user (or session) is the caller's.
    Open,
    /// Over the caller's quota: retry after this many seconds.
    OverQuota(u64),
    /// Another caller's user, or one being erased (a session: another
    /// caller's, or another user's): nothing counted.
    Closed,
    /// The table has no such item (a user created before the table?):
    /// nothing counted.
    Unknown,
}

impl Store {
    /// Counts one session of `sub` and makes `check`, in one transaction.
    pub async fn gate(&self, sub: &str, check: Check) -> Result<Gate, StoreError> {
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
            .expression_attribute_names("#sub", "sub")
            .expression_attribute_values(":sub", s(sub))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let owner = match check {
            Check::User(user_id) => owner
                .key(KEY, user_key(user_id))
                .condition_expression("#sub = :sub AND attribute_not_exists(#erasing)")
                .expression_attribute_names("#erasing", ERASING),
            Check::Session { session, user_id } => owner
                .key(KEY, session_key(session))
                // As `Store::session`: an expired record DynamoDB has not yet deleted is none.
                .condition_expression("#sub = :sub AND #user = :user AND #ttl > :now")
                .expression_attribute_names("#user", super::USER_ATTRIBUTE)
                .expression_attribute_names("#ttl", super::TTL)
                .expression_attribute_values(":user", s(user_id.to_string()))
                .expression_attribute_values(":now", super::n(now)),
        }
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
            // A conflict that will be sent again is counted as an answer: only
            // the table's last word on this request can be its failure.
            let answered = if conflicts < CONFLICT_RETRIES {
                refused_or_conflicted
            } else {
                refused
            };
            let error = match judged("TransactWriteItems", request.send(), answered).await {
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
                    after_a_conflict().await;
                }
                _ => return Err(store_error(error)),
            }
        }
    }
}

/// The transaction was cancelled by its own conditions (the quota, the
/// owner): an answer, counted as such (beside a conflict on the other item,
/// the condition is what [`Store::gate`] answers). A conflict alone, or any
/// other reason, is the table's failure.
fn refused<R>(e: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>) -> bool {
    let codes = cancellation_codes(e);
    codes.contains(&"ConditionalCheckFailed") && only_answers_and_conflicts(&codes)
}

/// [`refused`], or cancelled by a conflict with another request's
/// transaction, when the transaction is sent again.
fn refused_or_conflicted<R>(
    e: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>,
) -> bool {
    let codes = cancellation_codes(e);
    codes.iter().any(|code| *code != "None") && only_answers_and_conflicts(&codes)
}

fn only_answers_and_conflicts(codes: &[&str]) -> bool {
    codes.iter().all(|code| {
        matches!(
            *code,
            "ConditionalCheckFailed" | "TransactionConflict" | "None"
        )
    })
}

/// The cancellation reasons' codes, in the items' order ("None" for an item
/// that did not cancel it); none when the call failed otherwise.
fn cancellation_codes<R>(
    e: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>,
) -> Vec<&str> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
            .cancellation_reasons()
            .iter()
            .map(|r| r.code().unwrap_or("None"))
            .collect(),
        _ => Vec::new(),
    }
}
