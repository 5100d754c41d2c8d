//! Everything the three Rollee Connect functions have in common, once.
//!
//! - [`config`]: settings from the environment, checked at start;
//! - [`token`]: the Rollee JWT, read from Secrets Manager and re-read on a 401;
//! - [`aws`]: the AWS SDK's configuration for a cold start, over our HTTP client;
//! - [`rollee`]: the typed Rollee client, with its time budget and retries;
//! - [`request`]: the caller, the path's `user_id`, the JSON body;
//! - [`flow`]: the three operations, ownership and input limits;
//! - [`problem`]: RFC 9457 problem responses, one per row of the error table;
//! - [`app`]: the state built at cold start and the response of a handler.

pub mod app;
pub mod aws;
pub mod config;
pub mod flow;
pub mod problem;
pub mod request;
pub mod rollee;
pub mod token;

pub use app::State;
pub use lambda_http;
