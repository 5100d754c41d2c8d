//! Connections opened during init for the first request, beside the
//! secret's read: at a cold start the first request would otherwise pay for
//! them (TCP, and a TLS handshake that at 128 MB, a fourteenth of a vCPU,
//! takes most of a cold request's time).
//!
//! Opened: the ownership table's (DynamoDB). Not opened: Rollee's. reqwest
//! (0.13) opens a pooled connection only for a request, and has no way to
//! connect without one; a request to Rollee that changes nothing would
//! count against its 1000 requests a minute on every cold start, so the
//! first request still connects to Rollee itself.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;

/// How long init waits for the table's connection beyond the secret's read.
/// A slower table would have delayed the first request as much, which then
/// opens its own; long enough for a handshake at 128 MB.
pub const DEADLINE: Duration = Duration::from_secs(1);

/// A key no item has (a session's is `session#<UUID>`), under a prefix every
/// Connect function's role may read (template.yaml's `LeadingKeys`).
pub const PROBE_KEY: &str = "session#connect-at-init";

/// A consistent `GetItem` of [`PROBE_KEY`]: its connection stays in the
/// pool for the first request. Its outcome is not init's concern: a failure
/// or the deadline is logged at DEBUG, and the first request meets (and
/// reports) whatever is wrong with the table.
pub async fn table(client: &aws_sdk_dynamodb::Client, table: &str) {
    let started = Instant::now();
    let read = client
        .get_item()
        .table_name(table)
        .key(crate::store::KEY, AttributeValue::S(PROBE_KEY.to_owned()))
        .consistent_read(true)
        .send();
    match tokio::time::timeout(DEADLINE, read).await {
        Ok(Ok(_)) => tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1e3,
            "opened the table's connection at init"
        ),
        Ok(Err(e)) => tracing::debug!(
            "could not open the table's connection at init (the first request will): {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(&e)
        ),
        Err(_) => tracing::debug!(
            "the table's connection was not open within {DEADLINE:?} at init; the first request opens it"
        ),
    }
}
