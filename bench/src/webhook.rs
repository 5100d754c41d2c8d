//! The webhook function, measured apart from the Connect functions (it calls
//! no Rollee, and answers Rollee rather than the app): its size, its init
//! (the webhook secret from moto's Secrets Manager), its warm deliveries, the
//! same AWS calls made directly (claim, owner, publish, record), and what
//! each delivery adds to its own calls ([`crate::paired`]).
//!
//! The table is the in-process stand-in ([`crate::table`]); EventBridge is an
//! in-process stand-in too, answering `PutEvents` at once: with moto's bus
//! the figures would measure moto. The function times its table calls on
//! its metric lines but not its `PutEvents`: that call's upstream time is
//! the bus stand-in's, from the request's arrival to its answer, which
//! leaves the SDK's own work on the call (signing, serialising, the local
//! round trip) in the overhead.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use rollee_harness::moto::Moto;
use rollee_harness::runtime_api::Bootstrap;
use rollee_shared::store::Store;
use rollee_shared::store::delivery::Claim;
use rollee_shared::webhook::auth::{Credentials, DEFAULT_HEADER, body_digest};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::Error;
use crate::cold::{Cold, ColdWork, Quota};
use crate::measure::{Failures, percentile};
use crate::paired::{self, Calls};
use crate::settings::{INIT_TIMEOUT, NAMESPACE, TABLE, root};
use crate::table::{FastTable, Units};
use crate::upstreams::Upstreams;

const BINARY: &str = "webhook";
const SECRET_ID: &str = "rollee/connect/webhook";
const WEBHOOK_SECRET: &str = "bench-webhook-secret-0123456789abcdefghijklmnop";
const BUS: &str = "rollee";

pub fn build() -> Result<(), Error> {
    let status = Command::new("cargo")
        .args(["lambda", "build", "--release", "--bin", BINARY])
        .current_dir(root())
        .status()?;
    if !status.success() {
        return Err("cargo lambda build --release --bin webhook failed".into());
    }
    Ok(())
}

fn bootstrap() -> std::path::PathBuf {
    root().join("target/lambda").join(BINARY).join("bootstrap")
}

/// An EventBridge stand-in: every `PutEvents` succeeds at once, and
/// `DescribeEventBus` (the connection opened at init) describes a bus.
struct FastBus {
    addr: std::net::SocketAddr,
    served: Arc<Served>,
    task: JoinHandle<()>,
}

/// Each `PutEvents`: when it arrived, when it was answered, and the events
/// EventBridge bills for it (one per entry and 64 KB started).
#[derive(Default)]
struct Served(Mutex<Vec<(Instant, Instant, u64)>>);

impl Drop for FastBus {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn put_events(
    served: Arc<Served>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    use http_body_util::BodyExt;
    let arrived = Instant::now();
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = request.into_body().collect().await?.to_bytes();
    if target == "AWSEvents.DescribeEventBus" {
        // The connection the function opens at init: described, not billed.
        let answer = json!({"Name": "bench", "Arn": "arn:aws:events:eu-west-1:000000000000:event-bus/bench"});
        let mut response = Response::new(Full::new(Bytes::from(answer.to_string())));
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        return Ok(response);
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let events: u64 = body["Entries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| entry.to_string().len().div_ceil(64 * 1024).max(1) as u64)
        .sum();
    let answer = json!({"FailedEntryCount": 0, "Entries": [{"EventId": Uuid::new_v4()}]});
    let mut response = Response::new(Full::new(Bytes::from(answer.to_string())));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    served
        .0
        .lock()
        .expect("no panic while holding the log")
        .push((arrived, Instant::now(), events));
    Ok(response)
}

impl FastBus {
    async fn start() -> std::io::Result<FastBus> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let served = Arc::new(Served::default());
        let task = rollee_sandbox::spawn_server(listener, served.clone(), put_events);
        Ok(FastBus { addr, served, task })
    }

    /// Within each window: the time `PutEvents` calls were being served,
    /// their number, and the events billed.
    fn within(&self, windows: &[(Instant, Instant)]) -> Vec<(Duration, u32, u64)> {
        let served = self
            .served
            .0
            .lock()
            .expect("no panic while holding the log");
        windows
            .iter()
            .map(|(from, to)| {
                served
                    .iter()
                    .filter(|(arrived, answered, _)| from <= arrived && answered <= to)
                    .fold(
                        (Duration::ZERO, 0, 0),
                        |(time, calls, events), (a, b, n)| {
                            (time + b.duration_since(*a), calls + 1, events + n)
                        },
                    )
            })
            .collect()
    }
}

pub struct WebhookResult {
    pub size: u64,
    pub init: Vec<Duration>,
    pub first: Duration,
    pub warm: Vec<Duration>,
    pub upstream: Vec<Duration>,
    /// Each warm delivery's time less its own calls' ([`paired`]).
    pub overhead: Vec<Duration>,
    /// Each warm delivery's table calls, as the function timed them.
    pub calls: Vec<Calls>,
    /// Each warm delivery's table units, `PutEvents` calls, events billed.
    pub units: Vec<Units>,
    pub publishes: Vec<u32>,
    pub events: Vec<u64>,
    pub peak_rss_kib: Option<u64>,
}

fn delivery_event(credentials: &Credentials) -> Result<Value, Error> {
    let mut e = rollee_harness::event("webhook")?;
    let body = json!({"action": "update_user", "data": {"id": Uuid::new_v4()}}).to_string();
    e["headers"][DEFAULT_HEADER] = credentials.header_value().into();
    e["body"] = body.into();
    Ok(e)
}

/// The webhook function's set-up: its secret in moto, the bus stand-in,
/// the variables it is started with.
pub struct Webhook {
    bus: FastBus,
    bus_endpoint: String,
    table_endpoint: String,
    credentials: Credentials,
    vars: Vec<(String, String)>,
}

/// Deliveries for cold starts: each a new one, answered 200.
struct Deliveries<'a>(&'a Credentials);

impl ColdWork for Deliveries<'_> {
    fn event(&mut self) -> Result<Value, Error> {
        delivery_event(self.0)
    }
    fn check(&mut self, response: &Value) -> bool {
        response["statusCode"].as_u64() == Some(200)
    }
}

impl Webhook {
    /// `aws_endpoint` (moto) and `table_endpoint` as the functions reach
    /// them; the bus stand-in is exposed the same way.
    pub async fn new(
        moto: &Moto,
        upstreams: &Upstreams,
        aws_endpoint: &str,
        table_endpoint: &str,
    ) -> Result<Webhook, Error> {
        moto.put_secret(SECRET_ID, WEBHOOK_SECRET).await?;
        let bus = FastBus::start().await?;
        let bus_endpoint = upstreams.expose(bus.addr).await?;
        let credentials = Credentials::derive(WEBHOOK_SECRET).ok_or("a short webhook secret")?;
        let mut vars: Vec<(String, String)> = [
            ("WEBHOOK_SECRET_ID", SECRET_ID),
            ("WEBHOOK_HEADER", DEFAULT_HEADER),
            ("WEBHOOK_SIGNATURE", "off"),
            ("EVENT_BUS_NAME", BUS),
            ("OWNERSHIP_TABLE", TABLE),
            ("METRICS_NAMESPACE", NAMESPACE),
            ("AWS_ENDPOINT_URL", aws_endpoint),
            ("AWS_ENDPOINT_URL_DYNAMODB", table_endpoint),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", bus_endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_SESSION_TOKEN", "testing"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        vars.extend(upstreams.vars());
        Ok(Webhook {
            bus,
            bus_endpoint,
            table_endpoint: table_endpoint.to_owned(),
            credentials,
            vars,
        })
    }

    async fn start(&self, capture: bool) -> Result<Bootstrap, Error> {
        let vars: Vec<(&str, &str)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Ok(Bootstrap::start(&bootstrap(), BINARY, &vars, capture).await?)
    }

    /// `count` cold starts with a first delivery each ([`crate::cold`]).
    pub async fn cold(
        &self,
        count: usize,
        quota: Option<&Quota>,
        failures: &Failures,
    ) -> Result<Cold, Error> {
        let mut work = Deliveries(&self.credentials);
        crate::cold::measure(
            BINARY,
            count,
            quota,
            || self.start(false),
            &mut work,
            failures,
        )
        .await
    }

    /// `inits` cold starts, then `warm` + 1 deliveries in one process, then
    /// `warm` direct sequences of the same calls.
    pub async fn measure(
        &self,
        moto: &Moto,
        upstreams: &Upstreams,
        table: &FastTable,
        inits: usize,
        warm: usize,
        failures: &Failures,
    ) -> Result<WebhookResult, Error> {
        let (bus, credentials) = (&self.bus, &self.credentials);
        let table_endpoint = self.table_endpoint.as_str();
        let bus_endpoint = &self.bus_endpoint;
        let start = |capture| self.start(capture);

        let mut init = Vec::with_capacity(inits);
        for i in 0..inits {
            let function = start(false).await?;
            match function.init(INIT_TIMEOUT).await {
                Ok(d) => init.push(d),
                Err(e) => failures.add(format!("webhook init #{i}: {e}")),
            }
        }

        let function = start(true).await?;
        function.init(INIT_TIMEOUT).await?;
        let mut windows = Vec::with_capacity(warm + 1);
        for i in 0..=warm {
            let e = delivery_event(credentials)?;
            let started = Instant::now();
            let response = function.invoke(&e, Duration::from_secs(30)).await;
            windows.push((started, Instant::now()));
            match response {
                Ok(r) if r["statusCode"].as_u64() == Some(200) => {}
                Ok(r) => failures.add(format!("webhook delivery #{i}: {}", r["body"])),
                Err(e) => failures.add(format!("webhook delivery #{i}: {e}")),
            }
        }
        let peak_rss_kib = function.peak_rss_kib();
        let output = function.stop();
        let (first, windows) = windows.split_at(1);
        let duration = |(from, to): &(Instant, Instant)| to.duration_since(*from);
        let bus_within = bus.within(windows);
        let published: Vec<Duration> = bus_within.iter().map(|(time, _, _)| *time).collect();
        let (mut calls, mut overhead) = (Vec::new(), Vec::new());
        match paired::by_invocation(&output, NAMESPACE) {
            Ok(mut all) if !all.is_empty() => {
                calls = all.split_off(1);
                overhead = paired::overheads(BINARY, windows, &calls, &published, failures);
            }
            Ok(_) => failures.add("webhook: no metric lines to pair".to_owned()),
            Err(e) => failures.add(format!("webhook: a metric line is malformed: {e}")),
        }
        let units = table.units_within(windows);

        // The same calls from here, with the same endpoints.
        let sdk_config = moto.sdk_config_over(upstreams.http.clone()).await;
        let dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk_config)
            .endpoint_url(table_endpoint)
            .build();
        let store = Store::new(aws_sdk_dynamodb::Client::from_conf(dynamodb), TABLE, 0);
        let events = aws_sdk_eventbridge::config::Builder::from(&sdk_config)
            .endpoint_url(bus_endpoint)
            .build();
        let events = aws_sdk_eventbridge::Client::from_conf(events);
        let mut upstream = Vec::with_capacity(warm);
        for i in 0..warm {
            let e = delivery_event(credentials)?;
            let body = e["body"].as_str().unwrap_or_default().to_owned();
            let started = Instant::now();
            let digest = body_digest(body.as_bytes());
            let done = async {
                if !matches!(store.claim_delivery(&digest).await?, Claim::Claimed(_)) {
                    return Err::<(), Error>("not claimed".into());
                }
                store.owner_of_user(Uuid::new_v4()).await?;
                let entry = PutEventsRequestEntry::builder()
                    .event_bus_name(BUS)
                    .source("rollee.connect")
                    .detail_type("update_user")
                    .detail(body.clone())
                    .build();
                events.put_events().entries(entry).send().await?;
                store.delivery_published(&digest).await?;
                Ok(())
            }
            .await;
            upstream.push(started.elapsed());
            if let Err(e) = done {
                failures.add(format!("webhook upstream #{i}: {e}"));
            }
        }
        Ok(WebhookResult {
            size: std::fs::metadata(bootstrap())?.len(),
            init,
            first: duration(&first[0]),
            warm: windows.iter().map(duration).collect(),
            upstream,
            overhead,
            calls,
            units,
            publishes: bus_within.iter().map(|(_, calls, _)| *calls).collect(),
            events: bus_within.iter().map(|(_, _, events)| *events).collect(),
            peak_rss_kib,
        })
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}

impl WebhookResult {
    pub fn table(&self) -> String {
        let p = |v: &[Duration], q| {
            if v.is_empty() {
                f64::NAN
            } else {
                ms(percentile(v, q))
            }
        };
        let (w50, w99, u50, u99) = (
            p(&self.warm, 0.5),
            p(&self.warm, 0.99),
            p(&self.upstream, 0.5),
            p(&self.upstream, 0.99),
        );
        let over = |q| {
            if self.overhead.is_empty() {
                f64::NAN
            } else {
                percentile(&self.overhead, q).as_secs_f64() * 1000.0
            }
        };
        format!(
            "webhook function (table and EventBridge: in-process stand-ins)\n\
             | binary | init p50 | first delivery | warm p50 / p99 | same calls direct p50 / p99 | overhead p50 / p99 (paired) | peak RSS |\n\
             |---|---|---|---|---|---|---|\n\
             | {:.2} MB | {:.1} ms | {:.2} ms | {w50:.2} / {w99:.2} ms | {u50:.2} / {u99:.2} ms | {:.3} / {:.3} ms | {} |\n",
            self.size as f64 / 1_000_000.0,
            p(&self.init, 0.5),
            ms(self.first),
            over(0.5),
            over(0.99),
            self.peak_rss_kib
                .map_or("?".to_owned(), |k| format!("{:.1} MB", k as f64 / 1024.0)),
        )
    }

    pub fn json(&self) -> Value {
        let p = |v: &[Duration], q| (!v.is_empty()).then(|| ms(percentile(v, q)));
        let us = |v: &[Duration], q| {
            (!v.is_empty()).then(|| (percentile(v, q).as_secs_f64() * 1e6).round() / 1e3)
        };
        let in_calls: Vec<Duration> = self.calls.iter().map(Calls::upstream).collect();
        json!({
            "binary_bytes": self.size,
            "init_ms": {"p50": p(&self.init, 0.5), "samples": self.init.len()},
            "first_delivery_ms": ms(self.first),
            "warm_ms": {"p50": p(&self.warm, 0.5), "p99": p(&self.warm, 0.99), "samples": self.warm.len()},
            "upstream_ms": {"p50": p(&self.upstream, 0.5), "p99": p(&self.upstream, 0.99), "samples": self.upstream.len()},
            "table_calls_in_delivery_ms": {"p50": us(&in_calls, 0.5), "p99": us(&in_calls, 0.99)},
            "overhead_ms": {"p50": us(&self.overhead, 0.5), "p99": us(&self.overhead, 0.99), "samples": self.overhead.len(), "paired": true},
            "peak_rss_kib": self.peak_rss_kib,
        })
    }
}
