//! The end-to-end tests: one binary, a module per area.
//!
//! - `flow`: create user → new session → refresh through the real handlers over real HTTP to the sandbox;
//! - `ownership`: the ownership table through the real SDK against moto: one user per caller, concurrency, quotas, migration, the table down;
//! - `errors`: each row of the error table from the input that triggers it;
//! - `retries`: the retry rules and the time budget against a failing sandbox;
//! - `events`: every file in `events/` through its handler;
//! - `secrets`: the real AWS SDK against moto's Secrets Manager;
//! - `rotation`: the `rotate-token` binary's four steps against moto's Secrets Manager and the sandbox, and the serving functions after it;
//! - `startup`: the real binaries at cold start, and under a local Runtime API;
//! - `robustness`: events a function cannot read are answered, logged and survived;
//! - `consistency`: template, local router and code agree;
//! - `template`: the template's IAM, log retention and access-log choices;
//! - `openapi`: docs/openapi.yaml's examples are what the handlers answer; its routes and problem types are the code's;
//! - `deliveries`: the sandbox registers the receiver (the real `register-webhooks`) and delivers to it over HTTP: the whole story, retries, duplicates;
//! - `webhooks`: the webhook receiver against moto (table, secret, EventBridge → SQS) and the sandbox's deliveries;
//! - `artifact` (`--ignored`, after `sam build`): the built bootstraps under a local Runtime API.
//!
//! `support` holds what they share: the handlers' state, log capture and the leak check.

mod artifact;
mod consistency;
mod deliveries;
mod errors;
mod events;
mod flow;
mod openapi;
mod ownership;
mod retries;
mod robustness;
mod rotation;
mod secrets;
mod startup;
mod support;
mod template;
mod webhooks;
