//! The end-to-end tests: one binary, a module per area.
//!
//! - `flow`: create user → new session → refresh through the real handlers over real HTTP to the sandbox;
//! - `lifecycle`: after the Connect page: accounts, reconnects and erasures, with their cut points and faults;
//! - `ownership`: the ownership table through the real SDK against moto: one user per caller, concurrency, quotas, migration, the table down;
//! - `deploy`: aliases, CodeDeploy, rollback alarms, the hook and route scopes as written, and (`--ignored`) as SAM translates them;
//! - `deploy_hook`: the pre-traffic hook (`deploy-check`) runs the five real binaries' self-tests through a stand-in for Lambda's Invoke and reports to a stand-in for CodeDeploy;
//! - `errors`: each row of the error table from the input that triggers it;
//! - `retries`: the time budget against a slow sandbox;
//! - `events`: every file in `events/` through its handler;
//! - `secrets`: the real AWS SDK against moto's Secrets Manager;
//! - `rotation`: the `rotate-token` binary's four steps against moto's Secrets Manager and the sandbox, and the serving functions after it;
//! - `selftest`: every real binary's self-test under the local Runtime API, each dependency up and down;
//! - `startup`: the real binaries at cold start, and under a local Runtime API;
//! - `tls`: a real binary against upstreams over TLS, trusting a local CA through `AWS_CA_BUNDLE`; a bad bundle stops its start;
//! - `robustness`: events a function cannot read are answered, logged and survived;
//! - `consistency`: template, local router and code agree;
//! - `template`: the template's IAM, log retention and access-log choices;
//! - `oncall`: the template's alarms and dashboard read metrics the code emits; JSON logs and metrics on every function;
//! - `logs`: the real binaries' JSON lines: request and trace ids on each, metric lines by the rules, the runbook's queries name real fields;
//! - `metrics`: the metric lines the handlers emit (the embedded metric format's rules, what each request counts, the JWT alarm's metric);
//! - `openapi`: docs/openapi.yaml's examples are what the handlers answer; its routes and problem types are the code's;
//! - `recipes`: every route, field and problem type the platform recipes (docs/clients/) name is in docs/openapi.yaml;
//! - `deliveries`: the sandbox registers the receiver (the real `register-webhooks`) and delivers to it over HTTP: the whole story, retries, duplicates;
//! - `webhooks`: the webhook receiver against moto (table, secret, EventBridge → SQS) and the sandbox's deliveries;
//! - `artifact` (`--ignored`, after `sam build`): the built bootstraps under a local Runtime API.
//!
//! Each route, and where its tests are (the function crates' unit tests,
//! `cargo test -p <function>`, run the handler over the in-memory table and
//! the in-process sandbox, with no Python; the modules here use moto):
//!
//! | route | unit tests | end to end |
//! |---|---|---|
//! | `POST /users` | `functions/create-user` | `flow`, `ownership` (one user per caller, concurrency, the table down), `errors`, `events` |
//! | `POST /users/{user_id}/sessions` | `functions/new-session` | `flow`, `ownership` (not yours, quota, users from before the table), `errors`, `retries` |
//! | `POST /sessions/refresh` | `functions/refresh-url` | `flow`, `ownership` (another caller's URL), `errors` |
//! | `GET /users/{user_id}/accounts` | `functions/list-accounts` | `lifecycle` (statuses, not yours, Rollee's faults), `errors` |
//! | `POST /accounts/{account_id}/reconnect` | `functions/reconnect-account` | `lifecycle` (owner checked once with Rollee, quota), `errors` |
//! | `DELETE /users/{user_id}` | `functions/erase-user` | `lifecycle` (the erasure's cut points, deliveries after it) |
//! | `POST /webhooks/rollee` | `shared/src/webhook` | `webhooks`, `deliveries` (the five types through the sandbox) |
//!
//! Every route: `consistency` (template, router and handlers agree), `openapi`, `logs`, `metrics`.
//!
//! `support` holds what they share: the handlers' state, log and metric capture and the leak
//! check; `cfn` reads the template as CloudFormation does.

mod artifact;
mod cfn;
mod consistency;
mod deliveries;
mod deploy;
mod deploy_hook;
mod errors;
mod events;
mod flow;
mod lifecycle;
mod logs;
mod metrics;
mod oncall;
mod openapi;
mod ownership;
mod recipes;
mod retries;
mod robustness;
mod rotation;
mod secrets;
mod selftest;
mod startup;
mod support;
mod template;
mod tls;
mod webhooks;
