//! Webhooks end to end: registration through the API, events from the user
//! and account routes and the Connect stand-in (account, data-ready and
//! Connect-page events), deliveries to a receiver started here (signature,
//! headers, retries, duplicates), and the control endpoints.

// Test support fails loudly: unwrap, expect and panic are how a test says
// "this must hold" (clippy.toml allows them in test functions, not in helpers).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod account_api;
mod accounts;
mod deliveries;
mod ready_and_page;
mod registration;
mod support;
