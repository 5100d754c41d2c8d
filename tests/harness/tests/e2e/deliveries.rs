//! Webhooks as Rollee sends them: the local sandbox registers the receiver
//! (through the real `register-webhooks` binary), then delivers to it over
//! real HTTP when a user is created and an account connected; its retry and
//! duplicate modes against the receiver's de-duplication.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lambda_http::Body;
use rollee_sandbox::{Sandbox, WebhookMode};
use rollee_shared::rollee::WebhookKind;
use rollee_shared::webhook::auth::DEFAULT_HEADER;
use serde_json::json;
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::support::*;
use crate::webhooks::{SECRET, Setup, create_bus, setup_on};

const WAIT: Duration = Duration::from_secs(10);

/// The receiver behind a local HTTP server, as API Gateway would put it:
/// the request's method, path, headers and body become the handler's request.
async fn front(setup: Arc<Setup>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let setup = setup.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let setup = setup.clone();
                    async move { Ok::<_, Infallible>(through(&setup, request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

async fn through(setup: &Setup, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = match String::from_utf8(bytes.to_vec()) {
        Ok(text) => Body::Text(text),
        Err(e) => Body::Binary(e.into_bytes()),
    };
    let request = lambda_http::http::Request::from_parts(parts, body);
    let response =
        rollee_shared::app::respond(&setup.receiver, &request, rollee_shared::webhook::handle)
            .await;
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// Runs the real `register-webhooks` binary against the sandbox (off the
/// test's thread, which serves the sandbox); its output.
async fn register(sandbox: &Sandbox, url: &str, signature: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let built = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "webhook",
            "--bin",
            "register-webhooks",
        ])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(built.success());
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("register-webhooks");
    let mut command = Command::new(binary);
    command
        .arg(url)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ROLLEE_API_URL", sandbox.base_url())
        .env("ROLLEE_TOKEN", JWT)
        .env("WEBHOOK_SECRET", SECRET)
        .env("WEBHOOK_SIGNATURE", signature);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "register-webhooks failed: {text}");
    add_logs(&text);
    text
}

/// `register-webhooks --delete` (what `make destroy` runs first) against
/// the sandbox, with the JWT only; its output.
async fn unregister(sandbox: &Sandbox) -> String {
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("register-webhooks");
    let mut command = Command::new(binary);
    command
        .arg("--delete")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ROLLEE_API_URL", sandbox.base_url())
        .env("ROLLEE_TOKEN", JWT);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "register-webhooks --delete failed: {text}"
    );
    add_logs(&text);
    text
}

#[tokio::test]
async fn delete_removes_every_registration_at_rollee_and_a_second_delete_finds_none() {
    let (w, _) = world("off", false).await;
    register(&w.sandbox, &w.url, "off").await;
    assert_eq!(w.sandbox.webhooks().as_array().unwrap().len(), 5);
    let printed = unregister(&w.sandbox).await;
    let again = {
        assert_eq!(w.sandbox.webhooks().as_array().unwrap().len(), 0);
        unregister(&w.sandbox).await
    };
    for kind in WebhookKind::ALL.map(WebhookKind::name) {
        assert!(
            printed.contains(&format!("removed the {kind} webhooks")),
            "{printed}"
        );
        assert!(
            again.contains(&format!("no {kind} webhooks were registered")),
            "{again}"
        );
    }
    assert_no_leaks();
}

/// `make destroy`'s script with a stand-in `sam` on the PATH (the stack's
/// outputs; `sam delete` only recorded), the real `register-webhooks
/// --delete` against the sandbox, the JWT from moto's Secrets Manager.
async fn destroy(sandbox: &Sandbox, secret: &str, work: &std::path::Path) -> (bool, String) {
    use std::os::unix::fs::PermissionsExt;
    let outputs = serde_json::json!([
        {"OutputKey": "RolleeApiUrl", "OutputValue": sandbox.base_url()},
        {"OutputKey": "RolleeSecretArn", "OutputValue": secret},
        {"OutputKey": "OwnershipTableName", "OutputValue": "stack-OwnershipTable-ABC"},
    ]);
    std::fs::write(work.join("outputs.json"), outputs.to_string()).unwrap();
    let sam = work.join("sam");
    std::fs::write(
        &sam,
        format!(
            "#!/bin/sh\ncase \"$1 $2\" in\n  'list stack-outputs') cat '{0}/outputs.json' ;;\n  delete*) echo \"$@\" >> '{0}/deleted' ;;\n  *) exit 3 ;;\nesac\n",
            work.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&sam, std::fs::Permissions::from_mode(0o755)).unwrap();
    let moto = shared_moto();
    let mut command = Command::new("bash");
    command
        .arg(root().join("scripts/destroy.sh"))
        .current_dir(root())
        .env(
            "PATH",
            format!(
                "{}:{}",
                work.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("STACK", "stack")
        .env("DESTROY_NO_PROMPTS", "1")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "eu-west-1");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    add_logs(&text);
    (output.status.success(), text)
}

#[tokio::test]
async fn make_destroy_unregisters_at_rollee_before_deleting_the_stack_and_keeps_it_when_rollee_refuses()
 {
    let (w, _) = world("off", false).await;
    let secret = format!("destroy-{}", Uuid::new_v4().simple());
    shared_moto().put_secret(&secret, JWT).await.unwrap();
    let work = std::env::temp_dir().join(format!("destroy-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&work).unwrap();

    // Rollee refusing the JWT: the stack is not touched.
    register(&w.sandbox, &w.url, "off").await;
    w.sandbox.fail(rollee_sandbox::Fault::Unauthorized, None);
    let (ok, text) = destroy(&w.sandbox, &secret, &work).await;
    assert!(!ok, "{text}");
    assert!(text.contains("the stack is untouched"), "{text}");
    assert!(!work.join("deleted").exists(), "sam delete ran: {text}");
    w.sandbox.clear_faults();

    // Then: the registrations gone, the stack deleted, what stays named.
    let (ok, text) = destroy(&w.sandbox, &secret, &work).await;
    assert!(ok, "{text}");
    assert_eq!(w.sandbox.webhooks().as_array().unwrap().len(), 0, "{text}");
    let deleted = std::fs::read_to_string(work.join("deleted")).unwrap();
    assert_eq!(deleted.trim(), "delete --stack-name stack --no-prompts");
    assert!(
        text.find("removed the users webhooks").unwrap() < text.find("2/2 deleting stack").unwrap(),
        "{text}"
    );
    for kept in [
        "aws dynamodb delete-table --table-name 'stack-OwnershipTable-ABC'",
        "/aws/lambda/stack/",
        "stack-ApiAccessLogs",
    ] {
        assert!(text.contains(kept), "{kept} in {text}");
    }
    assert!(!text.contains(JWT));
    std::fs::remove_dir_all(&work).unwrap();
    assert_no_leaks();
}

struct World {
    sandbox: Sandbox,
    setup: Arc<Setup>,
    url: String,
    table: String,
}

async fn world(signature: &str, bus_exists: bool) -> (World, Option<rollee_harness::bus::Bus>) {
    let table = local_table().await;
    let (setup, bus) = setup_on(
        &[("WEBHOOK_SIGNATURE", signature)],
        bus_exists,
        table.clone(),
    )
    .await;
    let setup = Arc::new(setup);
    let url = format!("http://{}/webhooks/rollee", front(setup.clone()).await);
    let sandbox = sandbox().await;
    (
        World {
            sandbox,
            setup,
            url,
            table,
        },
        bus,
    )
}

#[tokio::test]
async fn registered_with_the_sandbox_a_new_user_and_a_connected_account_reach_the_bus_with_their_owner()
 {
    let (w, bus) = world("hex", true).await;
    let bus = bus.unwrap();
    let printed = register(&w.sandbox, &w.url, "hex").await;
    for kind in WebhookKind::ALL.map(WebhookKind::name) {
        assert!(
            printed.contains(&format!("registered {kind} webhooks")),
            "{printed}"
        );
    }
    // All five kinds, the header Rollee must send, and the HMAC key: everything, each time.
    let registered = w.sandbox.webhooks();
    let configs = registered.as_array().unwrap();
    assert_eq!(configs.len(), 5, "{registered}");
    for config in configs {
        assert_eq!(config["url"], w.url.as_str());
        assert_eq!(config["method"], "POST");
        assert_eq!(config["enabled"], true);
        assert_eq!(config["signed"], true);
        assert_eq!(
            config["headers"][DEFAULT_HEADER],
            w.setup.credentials.header_value()
        );
    }

    // The app's user signs up: the sandbox tells the receiver.
    let state = state_on_table(
        shared_moto(),
        &w.sandbox,
        &[("ROLLEE_TOKEN", JWT)],
        test_options(),
        &w.table,
    )
    .await;
    let created = create_user(&state, &event("create-user")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    watch_session(&created);
    let user = created.str("user_id");
    let events = bus.wait_for(1, WAIT).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail-type"], "create_user");
    assert_eq!(events[0]["detail"]["user_id"], user.as_str());
    // Rollee sends it as it creates the user, before this server has recorded
    // the owner: the owner comes from the metadata this server wrote.
    assert_eq!(events[0]["detail"]["owner"], "known", "{}", events[0]);
    assert_eq!(events[0]["detail"]["sub"], "alice");
    // The User's Connect session never reaches the bus.
    assert_eq!(
        events[0]["detail"]["redacted"],
        json!(["data.session", "data.link"])
    );
    let session_id = created.str("session_id");
    assert!(
        !events[0].to_string().contains(&session_id),
        "{}",
        events[0]
    );
    assert_eq!(events[0]["detail"]["webhook"]["data"]["id"], user.as_str());

    // The user connects an account on the Connect page: the account's
    // events, the data-ready events, and the Connect page's own step.
    let session: Uuid = created.str("session_id").parse().unwrap();
    let account = w.sandbox.connect_account(session).expect("a valid session");
    let events = bus.wait_for(6, WAIT).await.unwrap();
    let mut types: Vec<&str> = events
        .iter()
        .filter_map(|e| e["detail-type"].as_str())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "connect_account",
            "create_account",
            "rollee_connect_event",
            "update_endpoint",
            "update_endpoint",
            "update_multi_endpoint"
        ],
        "{events:?}"
    );
    for e in &events {
        let detail = &e["detail"];
        assert_eq!(detail["owner"], "known", "{e}");
        assert_eq!(detail["sub"], "alice");
        assert_eq!(detail["user_id"], user.as_str());
        assert_eq!(detail["known_action"], true, "{e}");
        let category = match e["detail-type"].as_str().unwrap() {
            "update_endpoint" | "update_multi_endpoint" => "data_ready",
            "rollee_connect_event" => "connect_page",
            _ => "account",
        };
        assert_eq!(detail["category"], category, "{e}");
        let webhook = &detail["webhook"];
        let named = webhook["data"]["account_id"]
            .as_str()
            .or(webhook["account_id"].as_str());
        assert_eq!(named, Some(account.to_string().as_str()), "{e}");
    }
    // The account events made the table know whose account it is.
    let owner = state
        .store
        .owner_of_account(account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.sub, "alice");
    // The Connect page's step is counted, by screen and status only.
    let funnel: Vec<String> = logs()
        .lines()
        .filter(|l| l.contains("\"ConnectEvents\""))
        .map(str::to_owned)
        .collect();
    // Valid EMF, under both of its dimension sets, counting one.
    let login = funnel
        .iter()
        .map(|l| rollee_harness::emf::check(l, NAMESPACE).unwrap_or_else(|e| panic!("{e}: {l}")))
        .find(|d| {
            d.publishes(
                "ConnectEvents",
                &[("Screen", "login"), ("ConnectionStatus", "success")],
            )
        })
        .unwrap_or_else(|| panic!("no login step counted: {funnel:?}"));
    assert!(login.publishes("ConnectEvents", &[("Screen", "login")]));
    assert_eq!(login.value("ConnectEvents"), Some(1.0));
    for line in &funnel {
        assert!(
            !line.contains(&user) && !line.contains(&account.to_string()),
            "{line}"
        );
    }
    // Every delivery was answered 200 at its first attempt.
    let deliveries = w.sandbox.deliveries();
    assert_eq!(deliveries.len(), 7, "{deliveries:?}");
    assert!(
        deliveries
            .iter()
            .all(|d| d.status == Some(200) && d.attempt == 1),
        "{deliveries:?}"
    );
    assert_no_leaks();
}

#[tokio::test]
async fn rollee_retries_a_delivery_answered_503_and_the_event_is_published_exactly_once() {
    let (w, _) = world("off", false).await;
    register(&w.sandbox, &w.url, "off").await;
    w.sandbox.set_webhook_mode(WebhookMode {
        retry_delay: Duration::from_millis(500),
        ..WebhookMode::default()
    });
    let body = json!({"action": "update_user", "data": {"id": Uuid::new_v4()}});
    // The bus is missing at the first attempt, and there at the retry.
    let sandbox = &w.sandbox;
    let (_, bus) = tokio::join!(sandbox.deliver("users", body), async {
        let first = sandbox.wait_for_deliveries(1, WAIT).await;
        assert_eq!(first.first().and_then(|d| d.status), Some(503), "{first:?}");
        create_bus(&w.setup.bus_name).await
    });
    let deliveries = w.sandbox.deliveries();
    let statuses: Vec<Option<u16>> = deliveries.iter().map(|d| d.status).collect();
    assert_eq!(statuses, [Some(503), Some(200)], "{deliveries:?}");
    assert_eq!(deliveries[0].body, deliveries[1].body);
    // What this shows is the release: the claim of the failed attempt did not
    // make the retry a duplicate (the bus could not have taken the first).
    let events = bus.wait_for(1, WAIT).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
}

#[tokio::test]
async fn a_delivery_rollee_sends_twice_is_published_once() {
    let (w, bus) = world("off", true).await;
    let bus = bus.unwrap();
    register(&w.sandbox, &w.url, "off").await;
    w.sandbox.set_webhook_mode(WebhookMode {
        duplicate: true,
        retry_delay: Duration::from_millis(200),
        ..WebhookMode::default()
    });
    w.sandbox
        .deliver("accounts", json!({"action": "disconnect_account", "data": {"account_id": Uuid::new_v4(), "user_id": Uuid::new_v4(), "connected": false}}))
        .await;
    let deliveries = w.sandbox.deliveries();
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    assert!(deliveries.iter().all(|d| d.status == Some(200)));
    let events = bus.wait_for(1, WAIT).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail"]["owner"], "unknown");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(bus.take().await.unwrap().is_empty());
}
