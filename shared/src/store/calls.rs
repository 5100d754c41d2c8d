//! How a table call is judged and counted: a refused condition is an
//! answer; throttling and every other failure are the table failing, a
//! [`StoreError`]; each call's metric says which, and how long it took.

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};

use crate::metrics::{self, TableOutcome};

/// The table failed: unreachable, throttled, or refused. Never carries an item.
#[derive(Debug, thiserror::Error)]
#[error("the ownership table failed: {0}")]
pub struct StoreError(pub(super) String);

/// A conditional write refused because its condition did not hold: an
/// answer, not a failure of the table.
pub(super) fn condition_failed<E, R>(e: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

/// [`condition_failed`], or a write refused because its item is in another
/// request's transaction, when the write is sent again.
pub(super) fn condition_failed_or_conflicted<E, R>(e: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    condition_failed(e) || conflicted(e)
}

/// A write refused because its item is in another request's transaction;
/// the SDK does not retry it.
pub(super) fn conflicted<E, R>(e: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "TransactionConflictException")
}

/// DynamoDB refused the call for capacity (past the SDK's own retries).
fn throttled<E, R>(e: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| {
            matches!(
                code,
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
            )
        })
}

/// One table call, measured: its metric says the operation, whether it
/// failed (a refused condition is an answer, not a failure) or was
/// throttled, and how long it took, the SDK's retries included.
pub(super) fn measured<T, E, R>(
    operation: &'static str,
    call: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> impl Future<Output = Result<T, SdkError<E, R>>>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    judged(operation, call, condition_failed)
}

/// [`measured`], with `answered` telling which errors are answers (a
/// transaction cancelled by its own conditions, say) rather than failures.
///
/// Not an `async fn`: that would keep the SDK's (large) future twice, as its
/// argument and as what it awaits; boxed here, it is moved once.
pub(super) fn judged<T, E, R>(
    operation: &'static str,
    call: impl Future<Output = Result<T, SdkError<E, R>>>,
    answered: fn(&SdkError<E, R>) -> bool,
) -> impl Future<Output = Result<T, SdkError<E, R>>>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    let call = Box::pin(call);
    async move {
        let started = std::time::Instant::now();
        let result = call.await;
        let outcome = match &result {
            Ok(_) => TableOutcome::Ok,
            Err(e) if answered(e) => TableOutcome::Ok,
            Err(e) if throttled(e) => TableOutcome::Throttled,
            Err(_) => TableOutcome::Failed,
        };
        metrics::table_call(operation, outcome, started.elapsed());
        result
    }
}

/// A conditional write's result: `true` done, `false` refused because its
/// condition did not hold (an answer), or the table's failure.
pub(super) fn held<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if condition_failed(&e) => Ok(false),
        Err(e) => Err(store_error(e)),
    }
}

pub(super) fn store_error<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError(DisplayErrorContext(&e).to_string())
}
