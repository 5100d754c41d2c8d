//! The webhook receiver: the real handler, the real AWS SDK against moto's
//! DynamoDB, Secrets Manager and EventBridge (a rule sends what is published
//! to an SQS queue, read back here).

use std::time::Duration;

use lambda_http::http::{Method, Request as HttpRequest};
use lambda_http::{Body, Request};
use rollee_harness::bus::{self, Bus};
use rollee_shared::store::delivery::Claim;
use rollee_shared::webhook::auth::{
    Credentials, DEFAULT_HEADER, SIGNATURE_HEADER, SignatureEncoding, sign,
};
use rollee_shared::webhook::config::WebhookConfig;
use rollee_shared::webhook::{EVENT_SOURCE, Receiver};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

/// The generated secret of these tests (the template's is 64 characters).
pub const SECRET: &str = "e2e-webhook-secret-0123456789abcdefghijklmnopqrstuvwxyz";
/// `make dev`'s `DEV_WEBHOOK_SECRET`: `events/webhook.json` carries the header derived from it.
pub const DEV_SECRET: &str = "local-webhook-secret-for-development-only";

/// A receiver on its own table and bus (created unless `bus_exists` is false).
pub struct Setup {
    pub receiver: Receiver,
    pub bus_name: String,
    pub credentials: Credentials,
}

pub async fn setup(vars: &[(&str, &str)], bus_exists: bool) -> (Setup, Option<Bus>) {
    setup_on(vars, bus_exists, local_table().await).await
}

/// The same on an existing table.
pub async fn setup_on(
    vars: &[(&str, &str)],
    bus_exists: bool,
    table: String,
) -> (Setup, Option<Bus>) {
    capture_logs();
    let var = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    };
    let secret = var("WEBHOOK_SECRET").unwrap_or_else(|| SECRET.to_owned());
    let credentials = Credentials::derive(&secret).unwrap();
    watch(secret.clone());
    watch(credentials.header_value());
    watch(credentials.signing_key());
    let bus_name = format!("bus-{}", Uuid::new_v4().simple());
    let bus = if bus_exists {
        Some(create_bus(&bus_name).await)
    } else {
        None
    };
    let config = WebhookConfig::from_lookup(|name| match name {
        "OWNERSHIP_TABLE" => Some(table.clone()),
        "EVENT_BUS_NAME" => Some(bus_name.clone()),
        "WEBHOOK_SECRET" if var("WEBHOOK_SECRET_ID").is_none() => Some(secret.clone()),
        _ => var(name),
    })
    .expect("a valid webhook configuration");
    let sdk = shared_moto().sdk_config().await.unwrap();
    let receiver = Receiver::build(&config, &sdk)
        .await
        .expect("the receiver builds");
    (
        Setup {
            receiver,
            bus_name,
            credentials,
        },
        bus,
    )
}

pub async fn create_bus(name: &str) -> Bus {
    let moto = shared_moto();
    bus::create(&moto.sdk_config().await.unwrap(), &moto.endpoint, name)
        .await
        .expect("the bus and its queue are created")
}

/// A delivery as API Gateway hands it over.
pub fn delivery(headers: &[(&str, &str)], body: &str) -> Request {
    let mut builder = HttpRequest::builder()
        .method(Method::POST)
        .uri("https://api.example.com/webhooks/rollee")
        .header("content-type", "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::Text(body.to_owned())).unwrap()
}

pub async fn deliver(setup: &Setup, headers: &[(&str, &str)], body: &str) -> Answer {
    let request = delivery(headers, body);
    answer(
        rollee_shared::app::respond(&setup.receiver, &request, rollee_shared::webhook::handle)
            .await,
    )
}

/// A delivery with the right header.
pub async fn deliver_ok(setup: &Setup, body: &str) -> Answer {
    deliver(
        setup,
        &[(DEFAULT_HEADER, setup.credentials.header_value())],
        body,
    )
    .await
}

fn user_event(action: &str, user: Uuid) -> String {
    json!({"action": action, "data": {"id": user, "metadata": {"plan": "gold"}}}).to_string()
}

const WAIT: Duration = Duration::from_secs(5);

/// Nothing more arrives within a short wait.
async fn nothing_more(bus: &Bus) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let late = bus.take().await.unwrap();
    assert!(late.is_empty(), "published more than expected: {late:?}");
}

#[tokio::test]
async fn a_wrong_or_missing_header_gets_401_and_nothing_is_published() {
    let (setup, bus) = setup(&[], true).await;
    let bus = bus.unwrap();
    let refused_before = logs().matches("webhook refused").count();
    let body = user_event("create_user", Uuid::new_v4());
    let wrong = format!("{}x", setup.credentials.header_value());
    for headers in [
        vec![],
        vec![(DEFAULT_HEADER, wrong.as_str())],
        // The signing key is not the header's value.
        vec![(DEFAULT_HEADER, setup.credentials.signing_key())],
        // The right value in another header.
        vec![("x-other", setup.credentials.header_value())],
    ] {
        let a = deliver(&setup, &headers, &body).await;
        assert_eq!(a.status, 401, "{headers:?}: {}", a.body);
        assert_eq!(
            a.problem(401)["type"],
            "urn:rollee-connect:problem:unauthenticated"
        );
    }
    // Refused before the body is read: a bad body without the header is 401 too.
    assert_eq!(deliver(&setup, &[], "not json").await.status, 401);
    nothing_more(&bus).await;
    // And with the right header it goes through.
    let a = deliver_ok(&setup, &body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(bus.wait_for(1, WAIT).await.unwrap().len(), 1);
    // One line per refusal (other tests may add theirs meanwhile).
    assert!(logs().matches("webhook refused").count() >= refused_before + 5);
    assert_no_leaks();
}

#[tokio::test]
async fn with_signatures_on_a_tampered_body_with_the_right_header_gets_401() {
    let (setup, bus) = setup(&[("WEBHOOK_SIGNATURE", "hex")], true).await;
    let bus = bus.unwrap();
    let header = setup.credentials.header_value().to_owned();
    let body = user_event("update_user", Uuid::new_v4());
    let signature = sign(
        setup.credentials.signing_key(),
        body.as_bytes(),
        SignatureEncoding::Hex,
    );
    let tampered = body.replace("gold", "platinum");
    let a = deliver(
        &setup,
        &[(DEFAULT_HEADER, &header), (SIGNATURE_HEADER, &signature)],
        &tampered,
    )
    .await;
    assert_eq!(a.status, 401, "{}", a.body);
    // No signature at all.
    assert_eq!(
        deliver(&setup, &[(DEFAULT_HEADER, &header)], &body)
            .await
            .status,
        401
    );
    nothing_more(&bus).await;
    let a = deliver(
        &setup,
        &[(DEFAULT_HEADER, &header), (SIGNATURE_HEADER, &signature)],
        &body,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(bus.wait_for(1, WAIT).await.unwrap().len(), 1);
    watch(signature);
    assert_no_leaks();
}

#[tokio::test]
async fn a_repeated_delivery_is_answered_200_and_published_once() {
    let (setup, bus) = setup(&[], true).await;
    let bus = bus.unwrap();
    let body = user_event("update_user", Uuid::new_v4());
    let first = deliver_ok(&setup, &body).await;
    assert_eq!(
        (first.status, first.str("status")),
        (200, "published".into())
    );
    for _ in 0..3 {
        let again = deliver_ok(&setup, &body).await;
        assert_eq!(
            (again.status, again.str("status")),
            (200, "duplicate".into()),
            "{}",
            again.body
        );
        assert_eq!(again.str("delivery_id"), first.str("delivery_id"));
    }
    let events = bus.wait_for(1, WAIT).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    nothing_more(&bus).await;
    // Another body is another delivery.
    let other = user_event("update_user", Uuid::new_v4());
    assert_eq!(deliver_ok(&setup, &other).await.str("status"), "published");
    assert_eq!(bus.wait_for(1, WAIT).await.unwrap().len(), 1);
}

#[tokio::test]
async fn when_the_bus_fails_rollee_gets_503_and_its_retry_publishes_exactly_once() {
    let (setup, _) = setup(&[], false).await;
    let body = user_event("delete_user", Uuid::new_v4());
    // The bus does not exist yet: EventBridge refuses.
    let failed = deliver_ok(&setup, &body).await;
    assert_eq!(failed.status, 503, "{}", failed.body);
    assert_eq!(
        failed.problem(503)["type"],
        "urn:rollee-connect:problem:event-bus-unavailable"
    );
    // The claim was released: the retry is not taken for a duplicate.
    let bus = create_bus(&setup.bus_name).await;
    let retried = deliver_ok(&setup, &body).await;
    assert_eq!(
        (retried.status, retried.str("status")),
        (200, "published".into()),
        "{}",
        retried.body
    );
    let again = deliver_ok(&setup, &body).await;
    assert_eq!(again.str("status"), "duplicate");
    let events = bus.wait_for(1, WAIT).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    nothing_more(&bus).await;
    assert_no_leaks();
}

#[tokio::test]
async fn the_event_on_the_bus_carries_the_webhook_and_its_owner_or_says_it_has_none() {
    // A user this server created for "alice" (the ownership table says so);
    // the receiver reads the same table as the functions.
    let table = local_table().await;
    let (setup, bus) = setup_on(&[], true, table.clone()).await;
    let bus = bus.unwrap();
    let sandbox = sandbox().await;
    let state = state_on_table(
        shared_moto(),
        &sandbox,
        &[("ROLLEE_TOKEN", JWT)],
        test_options(),
        &table,
    )
    .await;
    let created = create_user(&state, &event("create-user")).await;
    watch_session(&created);
    let known: Uuid = created.str("user_id").parse().unwrap();

    let account = json!({"action": "connect_account", "data": {
        "account_id": Uuid::new_v4(), "user_id": known, "datasource_id": Uuid::new_v4(),
        "connected": true, "created_at": "2026-11-28T10:00:00Z"}})
    .to_string();
    assert_eq!(deliver_ok(&setup, &account).await.status, 200);
    let stranger = Uuid::new_v4();
    assert_eq!(
        deliver_ok(&setup, &user_event("create_user", stranger))
            .await
            .status,
        200
    );
    let unknown_action = json!({"action": "refresh_account", "note": "new in Rollee"}).to_string();
    assert_eq!(deliver_ok(&setup, &unknown_action).await.status, 200);

    let events = bus.wait_for(3, WAIT).await.unwrap();
    assert_eq!(events.len(), 3, "{events:?}");
    let by_type = |t: &str| -> Value {
        events
            .iter()
            .find(|e| e["detail-type"] == t)
            .unwrap_or_else(|| panic!("no {t} in {events:?}"))
            .clone()
    };
    let connected = by_type("connect_account");
    assert_eq!(connected["source"], EVENT_SOURCE);
    let detail = &connected["detail"];
    assert_eq!(detail["owner"], "known");
    assert_eq!(detail["sub"], "alice");
    assert_eq!(detail["user_id"], known.to_string());
    assert_eq!(detail["known_action"], true);
    assert_eq!(
        detail["webhook"],
        serde_json::from_str::<Value>(&account).unwrap()
    );
    assert_eq!(detail["delivery_id"].as_str().unwrap().len(), 64);

    let strange = &by_type("create_user")["detail"];
    assert_eq!(strange["owner"], "unknown");
    assert!(strange.get("sub").is_none(), "{strange}");
    assert_eq!(strange["user_id"], stranger.to_string());

    let new_kind = &by_type("refresh_account")["detail"];
    assert_eq!(new_kind["owner"], "no_user");
    assert_eq!(new_kind["known_action"], false);
    assert_eq!(new_kind["webhook"]["note"], "new in Rollee");
    assert_no_leaks();
}

#[tokio::test]
async fn a_body_that_is_no_event_gets_400_and_one_over_the_limit_413() {
    let (setup, bus) = setup(&[], true).await;
    let bus = bus.unwrap();
    for body in [
        "",
        "[]",
        "null",
        "not json",
        r#"{"data":{}}"#,
        r#"{"action":""}"#,
        r#"{"action":"a b"}"#,
    ] {
        let a = deliver_ok(&setup, body).await;
        assert_eq!(a.status, 400, "{body:?}: {}", a.body);
    }
    let big = json!({"action": "update_user", "pad": "x".repeat(130 * 1024)}).to_string();
    assert_eq!(deliver_ok(&setup, &big).await.status, 413);
    nothing_more(&bus).await;
}

#[tokio::test]
async fn a_rotated_webhook_secret_is_picked_up_and_the_previous_one_still_passes() {
    let secret_id = format!("webhook-{}", Uuid::new_v4().simple());
    shared_moto().put_secret(&secret_id, SECRET).await.unwrap();
    let (setup, bus) = setup(&[("WEBHOOK_SECRET_ID", &secret_id)], true).await;
    let bus = bus.unwrap();
    let rotated = format!("{SECRET}-rotated-by-hand");
    watch(rotated.clone());
    shared_moto()
        .put_secret(&secret_id, &rotated)
        .await
        .unwrap();
    let new = Credentials::derive(&rotated).unwrap();
    watch(new.header_value());
    // Rollee now sends the new header: the refusal makes the function re-read.
    let body = user_event("update_user", Uuid::new_v4());
    let a = deliver(&setup, &[(DEFAULT_HEADER, new.header_value())], &body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // A delivery Rollee made before the change still passes (the value was
    // replaced moments ago: well inside its grace).
    let older = user_event("update_user", Uuid::new_v4());
    assert_eq!(deliver_ok(&setup, &older).await.status, 200);
    assert_eq!(bus.wait_for(2, WAIT).await.unwrap().len(), 2);
    // Anything else is still refused.
    let other = Credentials::derive(&format!("{SECRET}-never-stored")).unwrap();
    let a = deliver(&setup, &[(DEFAULT_HEADER, other.header_value())], &body).await;
    assert_eq!(a.status, 401);
    assert_no_leaks();
}

#[tokio::test]
async fn a_function_that_starts_after_a_rotation_accepts_both_values_during_the_grace() {
    let secret_id = format!("webhook-{}", Uuid::new_v4().simple());
    shared_moto().put_secret(&secret_id, SECRET).await.unwrap();
    let rotated = format!("{SECRET}-rotated-before-start");
    watch(rotated.clone());
    shared_moto()
        .put_secret(&secret_id, &rotated)
        .await
        .unwrap();
    // The receiver starts now: AWSCURRENT is the new value, AWSPREVIOUS the old.
    let (setup, bus) = setup(&[("WEBHOOK_SECRET_ID", &secret_id)], true).await;
    let bus = bus.unwrap();
    let new = Credentials::derive(&rotated).unwrap();
    let old = Credentials::derive(SECRET).unwrap();
    for (i, c) in [&new, &old].into_iter().enumerate() {
        let body = json!({"action": "update_user", "n": i}).to_string();
        let a = deliver(&setup, &[(DEFAULT_HEADER, c.header_value())], &body).await;
        assert_eq!(a.status, 200, "{i}: {}", a.body);
    }
    assert_eq!(bus.wait_for(2, WAIT).await.unwrap().len(), 2);
}

#[tokio::test]
async fn the_same_delivery_arriving_twice_at_once_is_published_once() {
    let (setup, bus) = setup(&[], true).await;
    let bus = bus.unwrap();
    let body = user_event("update_user", Uuid::new_v4());
    let (a, b) = tokio::join!(deliver_ok(&setup, &body), deliver_ok(&setup, &body));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    // One publishes; the other finds it published, or still being published
    // (409: Rollee delivers it again later, then it is a duplicate).
    assert!(matches!(statuses, [200, 200] | [200, 409]), "{statuses:?}");
    assert_eq!(bus.wait_for(1, WAIT).await.unwrap().len(), 1);
    nothing_more(&bus).await;
    assert_eq!(deliver_ok(&setup, &body).await.str("status"), "duplicate");
}

#[tokio::test]
async fn a_claim_is_released_only_by_the_request_that_holds_it() {
    let (setup, _) = setup(&[], true).await;
    let store = setup.receiver.store();
    let digest = "0".repeat(64);
    let Claim::Claimed(mine) = store.claim_delivery(&digest).await.unwrap() else {
        panic!("a new delivery is claimed");
    };
    // Another request's release (its own claim lapsed and was taken over) leaves this one.
    store
        .release_delivery(&digest, Uuid::new_v4())
        .await
        .unwrap();
    assert_eq!(
        store.claim_delivery(&digest).await.unwrap(),
        Claim::InProgress
    );
    store.release_delivery(&digest, mine).await.unwrap();
    assert!(matches!(
        store.claim_delivery(&digest).await.unwrap(),
        Claim::Claimed(_)
    ));
    // A published delivery is never released.
    store.delivery_published(&digest).await.unwrap();
    store.release_delivery(&digest, mine).await.unwrap();
    assert_eq!(
        store.claim_delivery(&digest).await.unwrap(),
        Claim::Published
    );
}

#[tokio::test]
async fn a_delivery_dated_beyond_the_replay_window_is_refused_and_records_outlive_the_window() {
    let table = local_table().await;
    let (setup, bus) = setup_on(&[], true, table.clone()).await;
    let bus = bus.unwrap();
    let now = time::OffsetDateTime::now_utc();
    let days_ago = |days: i64| now - time::Duration::days(days);
    let rfc3339 = |at: time::OffsetDateTime| {
        at.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let old = days_ago(40);
    // A captured delivery replayed after its record expired: its own date
    // gives it away, wherever Rollee's Connect events put it [I].
    for body in [
        json!({"action": "update_user", "timestamp": rfc3339(old)}),
        json!({"action": "update_user", "timestamp": old.unix_timestamp()}),
        json!({"action": "update_user", "timestamp": old.unix_timestamp() * 1000}),
        json!({"action": "screen_viewed", "data": {"timestamp": rfc3339(old)}}),
    ] {
        let a = deliver_ok(&setup, &body.to_string()).await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        assert!(a.str("detail").contains("days"), "{}", a.body);
    }
    nothing_more(&bus).await;
    // Recent, or undated, or a date that is no date: published.
    for body in [
        json!({"action": "update_user", "timestamp": rfc3339(days_ago(1))}),
        json!({"action": "update_user", "timestamp": rfc3339(days_ago(34))}),
        json!({"action": "update_user", "data": {"created_at": rfc3339(days_ago(400))}}),
        json!({"action": "update_user", "timestamp": "yesterday"}),
    ] {
        let a = deliver_ok(&setup, &body.to_string()).await;
        assert_eq!(a.status, 200, "{body}: {}", a.body);
    }
    assert_eq!(bus.wait_for(4, WAIT).await.unwrap().len(), 4);
    // Each delivery is remembered for the whole window, so that a replay
    // within it is a duplicate and one after it is dated out.
    let body = user_event("update_user", Uuid::new_v4());
    let a = deliver_ok(&setup, &body).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&shared_moto().sdk_config().await.unwrap());
    let item = dynamo
        .get_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!(
                "delivery#{}",
                a.str("delivery_id")
            )),
        )
        .send()
        .await
        .unwrap();
    let ttl: i64 = item.item().unwrap()[rollee_shared::store::TTL]
        .as_n()
        .unwrap()
        .parse()
        .unwrap();
    let remembered = ttl - time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        remembered >= 35 * 86_400 - 60,
        "remembered for {remembered} s"
    );
}

#[tokio::test]
async fn after_a_refusal_a_new_secret_value_is_accepted_within_seconds() {
    let secret_id = format!("webhook-{}", Uuid::new_v4().simple());
    shared_moto().put_secret(&secret_id, SECRET).await.unwrap();
    let (setup, bus) = setup(&[("WEBHOOK_SECRET_ID", &secret_id)], true).await;
    let bus = bus.unwrap();
    // A scanner's wrong value: refused, and the secret re-read (no change).
    let junk = Credentials::derive(&format!("{SECRET}-a-scanner-guessing")).unwrap();
    let body = user_event("update_user", Uuid::new_v4());
    let a = deliver(&setup, &[(DEFAULT_HEADER, junk.header_value())], &body).await;
    assert_eq!(a.status, 401);
    // The secret is replaced and Rollee registered with the new value.
    let rotated = format!("{SECRET}-rotated-after-a-refusal");
    watch(rotated.clone());
    shared_moto()
        .put_secret(&secret_id, &rotated)
        .await
        .unwrap();
    let new = Credentials::derive(&rotated).unwrap();
    watch(new.header_value());
    // docs/webhooks.md's promise: a value it does not know makes a function
    // re-read the secret at once, at most every 2 seconds.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let a = deliver(&setup, &[(DEFAULT_HEADER, new.header_value())], &body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(bus.wait_for(1, WAIT).await.unwrap().len(), 1);
}

/// The worst bodies under [`MAX_WEBHOOK_BODY`] for the receiver's memory: a
/// long key above thousands of removed session fields, long keys nested as
/// deep as JSON is parsed, session fields by the thousand, tiny values by
/// the ten thousand, numbers written longer than they came.
fn worst_bodies() -> Vec<(&'static str, String)> {
    let limit = rollee_shared::webhook::event::MAX_WEBHOOK_BODY;
    let fill = |head: &str, item: &str, tail: &str| {
        let n = (limit - head.len() - tail.len()) / (item.len() + 1);
        format!("{head}{}{tail}", vec![item; n].join(","))
    };
    let long_key = "K".repeat(60_000);
    let deep = {
        let key = "K".repeat(900);
        let depth = 120;
        let mut body = String::from(r#"{"action":"x""#);
        for _ in 0..depth {
            body.push_str(&format!(r#","{key}":{{"session":1"#));
        }
        body.push_str(&"}".repeat(depth + 1));
        body
    };
    vec![
        (
            "a long key above session fields",
            fill(
                &format!(r#"{{"action":"x","{long_key}":["#),
                r#"{"session":1}"#,
                "]}",
            ),
        ),
        ("long keys nested deep", deep),
        (
            "session and link fields by the thousand",
            fill(
                r#"{"action":"x","data":["#,
                r#"{"session":1,"link":2}"#,
                "]}",
            ),
        ),
        ("tiny values", fill(r#"{"action":"x","data":["#, "{}", "]}")),
        (
            "numbers written longer",
            fill(r#"{"action":"x","data":["#, "1e5", "]}"),
        ),
    ]
}

#[tokio::test]
async fn the_worst_bodies_keep_the_webhooks_memory_within_a_small_multiple_of_the_limit() {
    let moto = shared_moto();
    let secret_id = format!("webhook-{}", Uuid::new_v4().simple());
    moto.put_secret(&secret_id, DEV_SECRET).await.unwrap();
    let bus = format!("bus-{}", Uuid::new_v4().simple());
    create_bus(&bus).await;
    let table = local_table().await;
    let vars = [
        ("WEBHOOK_SECRET_ID", secret_id.as_str()),
        ("EVENT_BUS_NAME", bus.as_str()),
        ("OWNERSHIP_TABLE", table.as_str()),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    let binary = crate::startup::binary("webhook");
    let timeout = Duration::from_secs(30);
    let status = |answer: &Value| answer["statusCode"].as_u64().unwrap();
    let limit_kib = (rollee_shared::webhook::event::MAX_WEBHOOK_BODY / 1024) as u64;
    let mut worst = 0;
    // Each shape in a fresh process: the peak (VmHWM) is each one's own.
    for (shape, body) in worst_bodies() {
        assert!(
            body.len() <= limit_kib as usize * 1024,
            "{shape}: {}",
            body.len()
        );
        let function =
            rollee_harness::runtime_api::Bootstrap::start(&binary, "webhook", &vars, false)
                .await
                .unwrap();
        // Warm: one ordinary delivery, then the peak so far is the baseline.
        let ordinary = function.invoke(&event("webhook"), timeout).await.unwrap();
        assert!([200].contains(&status(&ordinary)), "{ordinary}");
        let baseline = function.peak_rss_kib().unwrap();
        let answer = function
            .invoke(&with_body(event("webhook"), &body), timeout)
            .await
            .unwrap_or_else(|e| panic!("{shape}: {e}"));
        assert!([200, 413].contains(&status(&answer)), "{shape}: {answer}");
        let grown = function.peak_rss_kib().unwrap().saturating_sub(baseline);
        eprintln!(
            "{shape}: {} → peak RSS {grown} KiB above the baseline ({baseline} KiB)",
            status(&answer)
        );
        worst = worst.max(grown);
        function.stop();
    }
    // What a body under the limit may cost: its copies (the event, the
    // request, the parsed tree, the event on the bus), each a small
    // multiple of the body.
    assert!(
        worst <= 64 * limit_kib,
        "peak RSS grew {worst} KiB for bodies of at most {limit_kib} KiB"
    );
}
