//! Everything the Rollee Connect functions have in common, once.
//!
//! Layers, each using only those before it:
//! `metrics` → `link` → `http` → `secret` → `token` → `config` → `aws` → `rollee` → `rotation` → `store` → `selftest` → `problem` → `bus` → `request` → `flow` → `app` → `webhook`.
//!
//! - [`metrics`]: CloudWatch metrics as embedded-metric-format lines on stdout, and what each event emits;
//! - [`link`]: canonical UUIDs and the session UUID of a Connect link;
//! - [`http`]: the process's one HTTP client and bounded body reads;
//! - [`secret`]: a Secrets Manager version read, and when a held secret is read again;
//! - [`token`]: the Rollee JWT, read from Secrets Manager, re-read at a maximum age and (paced) on a 401;
//! - [`config`]: settings from the environment (the serving functions' and the rotation function's), checked at start;
//! - [`aws`]: the AWS SDK's configuration for a cold start, over our HTTP client;
//! - [`rollee`]: the typed Rollee client, with its time budget and retry policy;
//! - [`rotation`]: the Secrets Manager rotation of the JWT secret, with Rollee's token refresh;
//! - [`store`]: the ownership table (DynamoDB): who owns which user and session, quotas;
//! - [`problem`]: RFC 9457 problem responses: the error table;
//! - [`bus`]: the EventBridge bus events are published to;
//! - [`request`]: the caller, the path's `user_id`, the JSON body;
//! - [`flow`]: the three operations, ownership, input limits, failures as problems;
//! - [`app`]: the state built at cold start, the invocation plumbing, responses;
//! - [`selftest`]: the direct-invoke self-test every function answers with what it depends on;
//! - [`webhook`]: Rollee's webhooks, authenticated, de-duplicated, published to EventBridge.

pub mod app;
pub mod aws;
pub mod bus;
pub mod config;
pub mod flow;
pub mod http;
pub mod link;
pub mod metrics;
pub mod problem;
pub mod request;
pub mod rollee;
pub mod rotation;
pub mod secret;
pub mod selftest;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod token;
pub mod webhook;

pub use app::State;
pub use lambda_http;
