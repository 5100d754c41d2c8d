//! Connections opened during init for the first request, beside the
//! secret's read: at a cold start the first request would otherwise pay for
//! them (TCP, and a TLS handshake that at 128 MB, a fourteenth of a vCPU,
//! takes most of a cold request's time).
//!
//! Opened (`CONNECT_AT_INIT`, [`crate::config::ConnectAtInit`]): the
//! ownership table's (DynamoDB), and Rollee's. reqwest (0.13) opens a
//! pooled connection only for a request, so Rollee's is opened by a request
//! that changes nothing: `HEAD` of the API's origin (`/`), which is no route
//! of Rollee's API, without the JWT (see [`rollee`] for what it costs).

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;

/// How long init waits for a connection beyond the secret's read. A slower
/// upstream would have delayed the first request as much, which then opens
/// its own; long enough for a handshake at 128 MB.
pub const DEADLINE: Duration = Duration::from_secs(1);

/// A key no item has (a session's is `session#<UUID>`), under a prefix every
/// Connect function's role may read (template.yaml's `LeadingKeys`).
pub const PROBE_KEY: &str = "session#connect-at-init";

/// A consistent `GetItem` of `key` (one no item has: [`PROBE_KEY`], or the
/// webhook's): its connection stays in the pool for the first request. Its
/// outcome is not init's concern: a failure or the deadline is logged at
/// DEBUG, and the first request meets (and reports) whatever is wrong with
/// the table.
pub async fn table(client: &aws_sdk_dynamodb::Client, table: &str, key: &str) {
    let started = Instant::now();
    let read = client
        .get_item()
        .table_name(table)
        .key(crate::store::KEY, AttributeValue::S(key.to_owned()))
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

/// A `HEAD` of the origin of Rollee's API (`/`, whatever the configured
/// path), without the JWT: its connection stays in the pool of `http`, the
/// client the Rollee client is built on, for the first request. Any answer
/// will do (a 404 keeps the connection as well as a 200); a failure or the
/// deadline is logged at DEBUG and the first request connects itself.
///
/// What it costs: one request to Rollee per cold start, with no body and no
/// credentials. Rollee publishes a limit of 1000 requests a minute per
/// client, and nothing on whether a request without a JWT counts against
/// it, so take it as one of the 1000 for each cold start; `CONNECT_AT_INIT=table`
/// sends nothing to Rollee at init.
pub async fn rollee(http: &reqwest::Client, api_url: &url::Url) {
    let started = Instant::now();
    let mut origin = api_url.clone();
    origin.set_path("/");
    origin.set_query(None);
    match tokio::time::timeout(DEADLINE, http.head(origin).send()).await {
        Ok(Ok(answer)) => tracing::debug!(
            status = answer.status().as_u16(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "opened Rollee's connection at init"
        ),
        // The error names the origin only: no path, no credentials.
        Ok(Err(e)) => tracing::debug!(
            "could not open Rollee's connection at init (the first request will): {e}"
        ),
        Err(_) => tracing::debug!(
            "Rollee's connection was not open within {DEADLINE:?} at init; the first request opens it"
        ),
    }
}

/// The webhook's bus: `DescribeEventBus` (a read its role allows for the
/// self-test), so that the first delivery's `PutEvents` finds its
/// connection open. Logged and bounded as [`table`].
pub async fn bus(bus: &crate::bus::Bus) {
    let started = Instant::now();
    match tokio::time::timeout(DEADLINE, bus.describe()).await {
        Ok(Ok(_)) => tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1e3,
            "opened the bus's connection at init"
        ),
        Ok(Err(e)) => tracing::debug!(
            "could not open the bus's connection at init (the first delivery will): {e}"
        ),
        Err(_) => tracing::debug!(
            "the bus's connection was not open within {DEADLINE:?} at init; the first delivery opens it"
        ),
    }
}
