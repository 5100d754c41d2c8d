//! `docs/openapi.yaml` says what the handlers do:
//!
//! - every response example in it is what the real handlers answer for that
//!   route and status (same status, same content type, same JSON shape: the
//!   same keys with values of the same types; for problems the same `type`
//!   and `title`), except API Gateway's own `{"message": …}` answers, which
//!   no function produces and which must be the gateway's documented bodies;
//!   a response documented without a body (the erasure's 204) is answered
//!   with that status and no body;
//! - every request example is accepted by its route (no 400);
//! - every problem type of the code (`Problem::ALL`) is in it, with an
//!   example of its status, and in docs/api.md;
//! - its routes are the SAM template's routes.
//!
//! The schemathesis run in `make test` checks the rest against the running
//! local stack: generated requests, and every answer against the schemas.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rollee_sandbox::Fault;
use rollee_shared::State;
use rollee_shared::problem::{PROBLEM_TYPE_PREFIX, Problem};
use serde_json::{Value, json};

use crate::support::*;

pub fn document() -> Value {
    let text = std::fs::read_to_string(root().join("docs/openapi.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// `value`, or what its `$ref` (a local JSON pointer) points at.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(pointer) => {
            let target = doc
                .pointer(pointer.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("unresolved $ref {pointer}"));
            resolve(doc, target)
        }
        None => value,
    }
}

/// The name of the component a `$ref` points at, or `None` for an inline value.
fn ref_name(value: &Value) -> Option<&str> {
    value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
}

#[derive(Debug, Clone)]
struct Example {
    /// `POST /users`, or `None` for a response that belongs to no route.
    route: Option<String>,
    status: u16,
    media: String,
    /// The schema of the media type, by component name.
    schema: String,
    name: String,
    value: Value,
}

/// Every response example, under every route and in `components/responses`.
fn response_examples(doc: &Value) -> Vec<Example> {
    let mut found = Vec::new();
    let mut collect = |route: Option<String>, status: u16, response: &Value| {
        let response = resolve(doc, response);
        for (media, content) in response["content"].as_object().into_iter().flatten() {
            let schema = ref_name(&content["schema"]).unwrap_or("inline").to_owned();
            for (name, example) in content["examples"].as_object().into_iter().flatten() {
                found.push(Example {
                    route: route.clone(),
                    status,
                    media: media.clone(),
                    schema: schema.clone(),
                    name: ref_name(example).unwrap_or(name).to_owned(),
                    value: resolve(doc, example)["value"].clone(),
                });
            }
        }
    };
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let route = format!("{} {path}", method.to_uppercase());
            for (status, response) in operation["responses"].as_object().unwrap() {
                collect(Some(route.clone()), status.parse().unwrap(), response);
            }
        }
    }
    // A response no route uses: API Gateway's 404 for any other path.
    let not_found = &doc["components"]["responses"]["GatewayNotFound"];
    collect(None, 404, not_found);
    found
}

/// API Gateway's own answers (no function runs), by status.
const GATEWAY_MESSAGES: &[(u16, &str)] = &[
    (401, "Unauthorized"),
    (404, "Not Found"),
    (429, "Too Many Requests"),
    (500, "Internal Server Error"),
    (503, "Service Unavailable"),
];

/// The same keys, and values of the same JSON types, all the way down.
fn same_shape(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    fn kind(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let ek: BTreeSet<&String> = e.keys().collect();
            let ak: BTreeSet<&String> = a.keys().collect();
            if ek != ak {
                return Err(format!("{at}: keys {ek:?} in the example, {ak:?} answered"));
            }
            for (k, v) in e {
                same_shape(v, &a[k], &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => match (e.first(), a.first()) {
            (Some(e), Some(a)) => same_shape(e, a, &format!("{at}[0]")),
            _ => Ok(()),
        },
        (e, a) if kind(e) == kind(a) => Ok(()),
        (e, a) => Err(format!(
            "{at}: {} in the example, {} answered",
            kind(e),
            kind(a)
        )),
    }
}

// ------------------------------------------------------------- producing

fn as_caller(name: &str, sub: &str) -> Value {
    with_sub(event(name), sub)
}

fn refresh_event(sub: &str, connect_url: &str) -> Value {
    with_body(
        as_caller("refresh-url", sub),
        &json!({ "connect_url": connect_url }).to_string(),
    )
}

const LIST_ACCOUNTS: &str = "GET /users/{user_id}/accounts";
const RECONNECT: &str = "POST /accounts/{account_id}/reconnect";
const ERASE: &str = "DELETE /users/{user_id}";

/// The event name of `route`'s function (`events/<name>.json`).
fn event_name(route: &str) -> &'static str {
    match route {
        "POST /users" => "create-user",
        "POST /users/{user_id}/sessions" => "new-session",
        "POST /sessions/refresh" => "refresh-url",
        LIST_ACCOUNTS => "list-accounts",
        RECONNECT => "reconnect-account",
        ERASE => "erase-user",
        other => panic!("no such route {other}"),
    }
}

/// Calls the handler of `route` with event `e`.
async fn call(state: &State, route: &str, e: &Value) -> Answer {
    match route {
        "POST /users" => create_user(state, e).await,
        "POST /users/{user_id}/sessions" => new_session(state, e).await,
        "POST /sessions/refresh" => refresh_url(state, e).await,
        LIST_ACCOUNTS => list_accounts(state, e).await,
        RECONNECT => reconnect_account(state, e).await,
        ERASE => erase_user(state, e).await,
        other => panic!("no such route {other}"),
    }
}

/// An account connected on the Connect page of `first`'s session (the
/// sandbox's button), for the reconnect route; `None` for the others.
fn account_for(sandbox: &rollee_sandbox::Sandbox, route: &str, first: &Answer) -> Option<String> {
    (route == RECONNECT).then(|| {
        let session = uuid::Uuid::parse_str(&first.str("session_id")).unwrap();
        sandbox.connect_account(session).unwrap().to_string()
    })
}

/// Calls `route` as `sub` the way the app would after a first `POST /users`:
/// a new session for the caller's user, a refresh of its URL, its accounts,
/// a reconnect of `account` (see [`account_for`]), its erasure.
async fn call_after_create(
    state: &State,
    route: &str,
    sub: &str,
    first: &Answer,
    account: Option<&str>,
) -> Answer {
    let user = first.str("user_id");
    let e = match route {
        "POST /users" => as_caller("create-user", sub),
        "POST /users/{user_id}/sessions" => with_user(as_caller("new-session", sub), &user),
        "POST /sessions/refresh" => refresh_event(sub, &first.str("connect_url")),
        LIST_ACCOUNTS | ERASE => for_user(as_caller(event_name(route), sub), &user),
        RECONNECT => with_account(
            as_caller("reconnect-account", sub),
            account.expect("an account to reconnect"),
        ),
        other => panic!("no such route {other}"),
    };
    call(state, route, &e).await
}

/// The first `POST /users` of `sub`, which must succeed.
async fn first_user(state: &State, sub: &str) -> Answer {
    let a = create_user(state, &as_caller("create-user", sub)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    watch_session(&a);
    a
}

/// A state whose ownership table cannot be reached.
async fn state_without_table(sandbox: &rollee_sandbox::Sandbox) -> State {
    let base = sandbox.base_url();
    let config = rollee_shared::config::Config::from_lookup(|name| match name {
        "ROLLEE_API_URL" => Some(base.clone()),
        "ROLLEE_TOKEN" => Some(JWT.to_owned()),
        "OWNERSHIP_TABLE" => Some("ownership".to_owned()),
        // The erasure's function starts only with its bus (never reached here).
        "EVENT_BUS_NAME" => Some("bus".to_owned()),
        _ => None,
    })
    .unwrap();
    State::build(&config, test_options(), |http| {
        rollee_shared::aws::loader(http)
            .endpoint_url("http://127.0.0.1:9")
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .load()
    })
    .await
    .unwrap()
}

/// What the handlers answer on `route` in the situation the example `name`
/// stands for. Each runs against a fresh sandbox and table.
async fn produce(name: &str, route: &str) -> Answer {
    if route == WEBHOOK_ROUTE && name != "startupFailed" {
        return produce_delivery(name).await;
    }
    let sandbox = sandbox().await;
    let sub = "alice";
    match name {
        "startupFailed" => {
            // The answer of a function that could not start under `cargo
            // lambda watch` (the startup tests run it in the real binary).
            let reason = rollee_shared::config::ConfigError::NoTokenSource.to_string();
            answer(
                rollee_shared::problem::ApiError::startup_failed(&reason)
                    .into_response("1f2a3b4c-5d6e-4f7a-8b9c-0d1e2f3a4b5c"),
            )
        }
        "storeUnavailable" => {
            let state = state_without_table(&sandbox).await;
            let e = match route {
                "POST /sessions/refresh" => refresh_event(
                    sub,
                    "https://c.example/v0.4/session/2bd3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f",
                ),
                _ => as_caller(event_name(route), sub),
            };
            call(&state, route, &e).await
        }
        "erasureNotAnnounced" => {
            // The bus the function publishes to does not exist.
            let (state, _) = bus_state_on(&sandbox, &local_table().await, false).await;
            let first = first_user(&state, sub).await;
            call_after_create(&state, route, sub, &first, None).await
        }
        "callerQuota" => {
            let state = state_with(
                &sandbox,
                &[
                    ("ROLLEE_TOKEN", JWT),
                    ("SESSIONS_PER_CALLER_PER_MINUTE", "1"),
                ],
            )
            .await;
            let first = first_user(&state, sub).await;
            let account = account_for(&sandbox, route, &first);
            // The quota counts per minute: a call may fall in the next one.
            let mut last = call_after_create(&state, route, sub, &first, account.as_deref()).await;
            for _ in 0..2 {
                if last.status == 429 {
                    break;
                }
                watch_session(&last);
                last = call_after_create(&state, route, sub, &first, account.as_deref()).await;
            }
            last
        }
        // The erasure's function publishes: its state has a bus.
        _ if route == ERASE => {
            let state = bus_state(&sandbox).await;
            produce_with(&state, &sandbox, name, route, sub).await
        }
        _ => {
            let state = dev_state(&sandbox).await;
            produce_with(&state, &sandbox, name, route, sub).await
        }
    }
}

const WEBHOOK_ROUTE: &str = "POST /webhooks/rollee";

/// What the webhook receiver answers in the situation of example `name`,
/// each on a fresh table and bus.
async fn produce_delivery(name: &str) -> Answer {
    use crate::webhooks::{deliver, deliver_ok, setup, setup_on};
    let body = json!({"action": "update_user", "data": {"id": uuid::Uuid::new_v4()}}).to_string();
    match name {
        "published" => deliver_ok(&setup(&[], true).await.0, &body).await,
        "duplicate" => {
            let (s, _) = setup(&[], true).await;
            deliver_ok(&s, &body).await;
            deliver_ok(&s, &body).await
        }
        "notAnEvent" => deliver_ok(&setup(&[], true).await.0, r#"{"data": {}}"#).await,
        "deliveryUnauthenticated" => deliver(&setup(&[], true).await.0, &[], &body).await,
        "deliveryInProgress" => {
            // Another request has claimed this delivery and is publishing it.
            let (s, _) = setup(&[], true).await;
            let digest = rollee_shared::webhook::auth::body_digest(body.as_bytes());
            s.receiver.store().claim_delivery(&digest).await.unwrap();
            deliver_ok(&s, &body).await
        }
        "payloadTooLarge" => {
            let big = json!({"action": "update_user", "pad": "x".repeat(200_000)}).to_string();
            deliver_ok(&setup(&[], true).await.0, &big).await
        }
        "storeUnavailable" => {
            let missing = format!("no-such-table-{}", uuid::Uuid::new_v4().simple());
            deliver_ok(&setup_on(&[], true, missing).await.0, &body).await
        }
        "eventBusUnavailable" => deliver_ok(&setup(&[], false).await.0, &body).await,
        other => {
            panic!("no way to produce example {other:?} on {WEBHOOK_ROUTE}: add it to openapi.rs")
        }
    }
}

async fn produce_with(
    state: &State,
    sandbox: &rollee_sandbox::Sandbox,
    name: &str,
    route: &str,
    sub: &str,
) -> Answer {
    let too_large = format!(r#"{{"metadata": {{"k": "{}"}}}}"#, "x".repeat(70_000));
    match (name, route) {
        ("created", _) => create_user(state, &as_caller("create-user", sub)).await,
        ("found", _) => {
            first_user(state, sub).await;
            create_user(state, &as_caller("create-user", sub)).await
        }
        ("newSession" | "refreshed" | "accounts" | "reconnectSession" | "noContent", _) => {
            let first = first_user(state, sub).await;
            let account = match name {
                // The accounts listed: one connected on the Connect page.
                "accounts" => account_for(sandbox, RECONNECT, &first),
                _ => account_for(sandbox, route, &first),
            };
            call_after_create(state, route, sub, &first, account.as_deref()).await
        }
        ("unknownField", _) => create_user(state, &event("create-user-unknown-field")).await,
        ("badUserId", ERASE) => {
            erase_user(state, &for_user(as_caller("erase-user", sub), "not-a-uuid")).await
        }
        ("badUserId" | "badAccountId", _) => {
            call(
                state,
                route,
                &event(&format!("{}-bad-uuid", event_name(route))),
            )
            .await
        }
        ("notAConnectUrl", _) => refresh_url(state, &event("refresh-url-not-connect-url")).await,
        ("userNotFound" | "accountNotFound", _) => {
            call(state, route, &event(event_name(route))).await
        }
        ("sessionNotFound", _) => refresh_url(state, &event("refresh-url")).await,
        ("unauthenticated", _) => call(state, route, &as_caller(event_name(route), "")).await,
        ("payloadTooLarge", _) => {
            call(
                state,
                route,
                &with_body(as_caller(event_name(route), sub), &too_large),
            )
            .await
        }
        ("inProgress", _) => {
            // Another request claimed the caller and is still creating its user.
            assert!(state.store.claim(sub, uuid::Uuid::new_v4()).await.unwrap());
            create_user(state, &as_caller("create-user", sub)).await
        }
        ("rolleeRateLimit" | "upstreamError" | "upstreamCredentials" | "upstreamTimeout", _) => {
            let first = if route == "POST /users" {
                None
            } else {
                Some(first_user(state, sub).await)
            };
            let account = first.as_ref().and_then(|f| account_for(sandbox, route, f));
            let fault = match name {
                "rolleeRateLimit" => Fault::RateLimited(Some(30)),
                "upstreamError" => Fault::ServerError,
                "upstreamCredentials" => Fault::Unauthorized,
                _ => Fault::Delay(Duration::from_secs(3)),
            };
            sandbox.fail(fault, None);
            match first {
                None => create_user(state, &as_caller("create-user", sub)).await,
                Some(first) => {
                    call_after_create(state, route, sub, &first, account.as_deref()).await
                }
            }
        }
        other => panic!("no way to produce example {other:?} on {route}: add it to openapi.rs"),
    }
}

// ------------------------------------------------------------- the tests

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_response_example_is_what_the_handlers_answer() {
    capture_logs();
    let doc = document();
    let examples = response_examples(&doc);

    // No example in components is left out of the walk.
    let walked: BTreeSet<&str> = examples.iter().map(|e| e.name.as_str()).collect();
    let components: BTreeSet<&str> = doc["components"]["examples"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        walked, components,
        "every example in components is used by a response"
    );

    // Each example makes its own table in moto: a few at a time, so that
    // moto, shared with the rest of the suite, answers within the SDK's
    // timeout (forty at once once made it answer 503 store-unavailable).
    let at_once = std::sync::Arc::new(tokio::sync::Semaphore::new(6));
    let mut tasks = Vec::new();
    for example in examples {
        if example.schema == "GatewayMessage" {
            assert_eq!(example.media, "application/json", "{}", example.name);
            let message = GATEWAY_MESSAGES
                .iter()
                .find(|(s, _)| *s == example.status)
                .map(|(_, m)| *m)
                .unwrap_or_else(|| {
                    panic!("{}: API Gateway sends no {}", example.name, example.status)
                });
            assert_eq!(
                example.value,
                json!({ "message": message }),
                "{}",
                example.name
            );
            continue;
        }
        let route = example
            .route
            .clone()
            .unwrap_or_else(|| panic!("{}: a function example outside any route", example.name));
        let at_once = at_once.clone();
        tasks.push(tokio::spawn(async move {
            let _turn = at_once.acquire_owned().await.unwrap();
            let answer = produce(&example.name, &route).await;
            (example, route, answer)
        }));
    }
    assert!(tasks.len() >= 20, "only {} examples produced", tasks.len());
    let mut checked = BTreeMap::new();
    for task in tasks {
        let (example, route, answer) = task.await.unwrap();
        let what = format!("{} on {route} ({})", example.name, example.status);
        assert_eq!(answer.status, example.status, "{what}: {}", answer.body);
        assert_eq!(
            answer.headers["content-type"], example.media,
            "{what}: content type"
        );
        if let Err(e) = same_shape(&example.value, &answer.body, "body") {
            panic!(
                "{what}: {e}\nexample: {}\nanswer: {}",
                example.value, answer.body
            );
        }
        match example.schema.as_str() {
            "Problem" => {
                for field in ["type", "title", "status"] {
                    assert_eq!(example.value[field], answer.body[field], "{what}: {field}");
                }
            }
            "Session" | "ReconnectSession" => {
                watch_session(&answer);
                let id = example.value["session_id"].as_str().unwrap();
                assert!(
                    example.value["connect_url"]
                        .as_str()
                        .unwrap()
                        .ends_with(&format!("/session/{id}")),
                    "{what}: the session id is the URL's last segment"
                );
            }
            "Accounts" => {
                let statuses =
                    &doc["components"]["schemas"]["Account"]["properties"]["status"]["enum"];
                for account in answer.body["accounts"].as_array().unwrap() {
                    assert!(
                        statuses.as_array().unwrap().contains(&account["status"]),
                        "{what}: {account}"
                    );
                }
                assert_eq!(
                    answer.body["accounts"].as_array().map(Vec::len),
                    Some(1),
                    "{what}: the account connected"
                );
            }
            "WebhookAccepted" => {
                assert_eq!(example.value["status"], answer.body["status"], "{what}");
            }
            other => panic!("{what}: unexpected schema {other}"),
        }
        *checked.entry(route).or_insert(0) += 1;
    }
    assert_eq!(checked.len(), 7, "{checked:?}");

    // A response documented without a body: that status, and no body.
    let bodyless = bodyless_responses(&doc);
    assert_eq!(bodyless, [(ERASE.to_owned(), 204)], "{bodyless:?}");
    for (route, status) in bodyless {
        let answer = produce("noContent", &route).await;
        assert_eq!(answer.status, status, "{route}: {}", answer.body);
        assert_eq!(answer.body, Value::Null, "{route}: a body");
    }
    assert_no_leaks();
}

/// Every (route, status) whose response has no `content`.
fn bodyless_responses(doc: &Value) -> Vec<(String, u16)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                if resolve(doc, response).get("content").is_none() {
                    let route = format!("{} {path}", method.to_uppercase());
                    found.push((route, status.parse().unwrap()));
                }
            }
        }
    }
    found
}

#[tokio::test]
async fn every_request_example_is_accepted_by_its_route() {
    let doc = document();
    let mut seen = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let route = format!("{} {path}", method.to_uppercase());
            let content = &operation["requestBody"]["content"]["application/json"];
            for (name, example) in content["examples"].as_object().into_iter().flatten() {
                let body = resolve(&doc, example)["value"].to_string();
                if route == WEBHOOK_ROUTE {
                    let (s, _) = crate::webhooks::setup(&[], true).await;
                    let a = crate::webhooks::deliver_ok(&s, &body).await;
                    assert_eq!(a.status, 200, "{route} {name}: {}", a.body);
                    seen += 1;
                    continue;
                }
                let sandbox = sandbox().await;
                let state = dev_state(&sandbox).await;
                let a = match route.as_str() {
                    "POST /users" => {
                        create_user(&state, &with_body(event("create-user"), &body)).await
                    }
                    "POST /users/{user_id}/sessions" => {
                        new_session(&state, &with_body(event("new-session"), &body)).await
                    }
                    _ => refresh_url(&state, &with_body(event("refresh-url"), &body)).await,
                };
                assert!(
                    a.status < 300 || a.status == 404,
                    "{route} {name}: {} {}",
                    a.status,
                    a.body
                );
                if a.status < 300 {
                    watch_session(&a);
                }
                seen += 1;
            }
        }
    }
    assert!(seen >= 3, "{seen} request examples");
    assert_no_leaks();
}

#[test]
fn every_problem_type_is_in_the_document_with_its_status_and_in_the_api_docs() {
    let doc = document();
    let listed: BTreeSet<String> =
        doc["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
    let code: BTreeSet<String> = Problem::ALL
        .iter()
        .map(|p| format!("{PROBLEM_TYPE_PREFIX}{}", p.slug()))
        .collect();
    assert_eq!(listed, code, "the Problem schema's types are Problem::ALL");

    let examples = response_examples(&doc);
    let api_md = std::fs::read_to_string(root().join("docs/api.md")).unwrap();
    for p in Problem::ALL {
        let uri = format!("{PROBLEM_TYPE_PREFIX}{}", p.slug());
        let with_it: Vec<&Example> = examples
            .iter()
            .filter(|e| e.value["type"] == uri.as_str())
            .collect();
        assert!(!with_it.is_empty(), "{uri}: no example in openapi.yaml");
        for e in with_it {
            assert_eq!(e.status, p.status().as_u16(), "{}: {uri}", e.name);
            assert_eq!(e.value["status"], p.status().as_u16(), "{}", e.name);
            assert_eq!(e.value["title"], p.title(), "{}", e.name);
        }
        assert!(
            api_md.contains(&format!(
                "`{uri}` | {} | {} |",
                p.status().as_u16(),
                p.title()
            )),
            "docs/api.md's problem table lacks {uri}"
        );
    }
}

#[test]
fn the_documents_routes_are_the_templates_routes() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let template: BTreeSet<(String, String)> = crate::consistency::template_routes()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    assert_eq!(documented, template);
}
