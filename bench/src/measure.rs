//! The measurements, each from outside the function process: init, the first
//! and warm invocations, the same Rollee calls made directly (upstream), peak
//! RSS, and many invocations in flight in one process; and the percentiles
//! taken of them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rollee_harness::moto::Moto;
use rollee_sandbox::Sandbox;
use rollee_shared::flow;
use rollee_shared::rollee::RolleeClient;
use rollee_shared::store::{Check, Store};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::Error;
use crate::paired::{self, Calls};
use crate::settings::{IN_FLIGHT, INIT_TIMEOUT, NAMESPACE, SECRET, UPSTREAM_DELAY};
use crate::table::{FastTable, Units};
use crate::upstreams::Upstreams;
use crate::workload::{Env, JwtFrom, Kind, Work, invoke, start};

/// Everything that went wrong in the run; any entry voids the figures.
#[derive(Default)]
pub struct Failures(Mutex<Vec<String>>);

impl Failures {
    pub fn add(&self, what: String) {
        self.lock().push(what);
    }
    pub fn all(&self) -> Vec<String> {
        self.lock().clone()
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.0
            .lock()
            .expect("nothing panics while holding the list of failures")
    }
}

/// One function's measurements.
pub struct FunctionResult {
    pub kind: Kind,
    /// The `bootstrap`'s size in bytes.
    pub size: u64,
    pub init: Init,
    pub serial: Serial,
    /// The same Rollee and table calls made directly; empty for the floor,
    /// which calls nothing.
    pub upstream: Vec<Duration>,
    /// The table's part of each upstream sample.
    pub table: Vec<Duration>,
    pub concurrency: Concurrency,
}

pub struct Init {
    /// The JWT from Secrets Manager, as deployed.
    pub secret: Vec<Duration>,
    /// The JWT from ROLLEE_TOKEN: the same init without the secret's fetch.
    pub token: Vec<Duration>,
    /// GetSecretValue from this process, each on a new client and connection,
    /// interleaved with the inits so that both see the same load on moto.
    pub round_trips: Vec<Duration>,
}

/// Invocations one after the other in one process.
pub struct Serial {
    pub first: Duration,
    pub warm: Vec<Duration>,
    /// Each warm invocation's time less its own calls' ([`paired`]): empty
    /// for the floor (no calls, no metric lines) and with the lines off.
    pub overhead: Vec<Duration>,
    /// Each warm invocation's calls, as the function timed them (idem).
    pub calls: Vec<Calls>,
    /// The table's request units of each warm invocation (the in-process
    /// table only).
    pub units: Vec<Units>,
    /// `None` if the process's `VmHWM` could not be read.
    pub peak_rss_kib: Option<u64>,
}

/// [`IN_FLIGHT`] invocations in flight in one process.
pub struct Concurrency {
    pub ok: usize,
    pub errors: usize,
    pub elapsed: Duration,
    /// `None` if the process's `VmHWM` could not be read.
    pub peak_rss_kib: Option<u64>,
    /// The function's CPU time (user + system) over the phase; `None` if
    /// its schedstat could not be read.
    pub function_cpu: Option<Duration>,
    /// The share of the machine's CPU time that was busy over the phase
    /// (`/proc/stat`, every process: the function, the benchmark's Runtime
    /// API, sandbox, TLS fronts and table stand-in); `None` if unreadable.
    pub machine_busy: Option<f64>,
    /// Each stream's first invocation's time (event queued → response):
    /// they run together and open the function's connections.
    pub first: Vec<Duration>,
    /// The time of every later successful invocation.
    pub latencies: Vec<Duration>,
}

/// The machine's CPU time from `/proc/stat`'s first line, in clock ticks:
/// (all, idle + iowait). Only its first eight fields (user to steal): guest
/// time is already counted in user time.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let idle = fields.get(3)? + fields.get(4)?;
    Some((fields.iter().sum(), idle))
}

pub async fn init(
    kind: Kind,
    env: &Env,
    upstreams: &Upstreams,
    moto: &Moto,
    aws_endpoint: &str,
    count: usize,
    failures: &Failures,
) -> Result<Init, Error> {
    let mut init = Init {
        secret: Vec::with_capacity(count),
        token: Vec::with_capacity(count),
        round_trips: Vec::with_capacity(count),
    };
    for i in 0..count {
        for jwt in [JwtFrom::Secret, JwtFrom::Token] {
            if kind == Kind::Hello && jwt == JwtFrom::Token {
                continue;
            }
            let function = start(kind, env, jwt, &[], false).await?;
            match function.init(INIT_TIMEOUT).await {
                Ok(d) if jwt == JwtFrom::Secret => init.secret.push(d),
                Ok(d) => init.token.push(d),
                Err(e) => failures.add(format!("{} init #{i}: {e}", kind.binary())),
            }
        }
        init.round_trips
            .push(secret_round_trip(upstreams, moto, aws_endpoint).await?);
    }
    Ok(init)
}

/// One GetSecretValue on a new client and connection (over TLS when the
/// functions' is), as at a cold start.
async fn secret_round_trip(
    upstreams: &Upstreams,
    moto: &Moto,
    aws_endpoint: &str,
) -> Result<Duration, Error> {
    let sdk_config = moto.sdk_config_over(upstreams.fresh_client()?).await;
    let config = aws_sdk_secretsmanager::config::Builder::from(&sdk_config)
        .endpoint_url(aws_endpoint)
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(config);
    let started = Instant::now();
    client.get_secret_value().secret_id(SECRET).send().await?;
    Ok(started.elapsed())
}

/// The first invocation and `warm` more, in one process; its output kept to
/// pair each invocation with its calls.
pub async fn invocations(
    kind: Kind,
    env: &Env,
    warm: usize,
    work: &mut Work,
    table: Option<&FastTable>,
    failures: &Failures,
) -> Result<Serial, Error> {
    let function = start(kind, env, JwtFrom::Secret, &[], true).await?;
    function.init(INIT_TIMEOUT).await?;
    let mut windows = Vec::with_capacity(warm + 1);
    for i in 0..=warm {
        let e = work.next_event();
        let started = Instant::now();
        let outcome = invoke(&function, kind, &e).await;
        windows.push((started, Instant::now()));
        match outcome {
            Ok(response) => work.record(&response),
            Err(what) => failures.add(format!("{} invocation #{i}: {what}", kind.binary())),
        }
    }
    let peak_rss_kib = function.peak_rss_kib();
    let output = function.stop();
    let (first, windows) = windows.split_at(1);
    let duration = |(from, to): &(Instant, Instant)| to.duration_since(*from);
    let (mut calls, mut overhead) = (Vec::new(), Vec::new());
    if kind != Kind::Hello && env.metrics {
        match paired::by_invocation(&output, NAMESPACE) {
            Ok(mut all) if !all.is_empty() => {
                calls = all.split_off(1);
                overhead = paired::overheads(kind.binary(), windows, &calls, &[], failures);
            }
            Ok(_) => failures.add(format!("{}: no metric lines to pair", kind.binary())),
            Err(e) => failures.add(format!(
                "{}: a metric line is malformed: {e}",
                kind.binary()
            )),
        }
    }
    Ok(Serial {
        first: duration(&first[0]),
        warm: windows.iter().map(duration).collect(),
        overhead,
        calls,
        units: table.map(|t| t.units_within(windows)).unwrap_or_default(),
        peak_rss_kib,
    })
}

/// The same Rollee calls and ownership-table calls a function makes, with the
/// same clients, straight from here: what an invocation would cost if the
/// function added nothing. Each sample is (Rollee + table, table alone).
pub async fn upstream(
    kind: Kind,
    client: &RolleeClient,
    store: &Store,
    count: usize,
    work: &mut Work,
    failures: &Failures,
) -> (Vec<Duration>, Vec<Duration>) {
    let mut samples = Vec::with_capacity(count);
    let mut table = Vec::with_capacity(count);
    if kind == Kind::Hello {
        return (samples, table);
    }
    let user = work.user;
    let mut session = work
        .connect_url
        .as_deref()
        .and_then(|u| u.rsplit('/').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    // The functions' chain moved on; start a fresh one for the direct calls.
    if kind == Kind::RefreshUrl {
        match client.new_session(user, client.deadline()).await {
            Ok(s) => {
                session = s.id;
                if let Err(e) = store.record_session(&work.sub, user, s.id).await {
                    failures.add(format!("upstream set-up: {e}"));
                }
            }
            Err(e) => failures.add(format!("upstream set-up: {e}")),
        }
    }
    for i in 0..count {
        let sub = match kind {
            Kind::CreateUser => work.fresh_caller(),
            _ => work.sub.clone(),
        };
        let started = Instant::now();
        let (outcome, in_table) = one_upstream(kind, client, store, &sub, user, &mut session).await;
        samples.push(started.elapsed());
        table.push(in_table);
        if let Err(e) = outcome {
            failures.add(format!("{} upstream #{i}: {e}", kind.binary()));
        }
    }
    (samples, table)
}

/// One invocation's calls, in the function's order; the time spent in the table.
async fn one_upstream(
    kind: Kind,
    client: &RolleeClient,
    store: &Store,
    sub: &str,
    user: Uuid,
    session: &mut Uuid,
) -> (Result<(), String>, Duration) {
    let mut in_table = Duration::ZERO;
    macro_rules! table {
        ($call:expr) => {{
            let started = Instant::now();
            let result = $call.await;
            in_table += started.elapsed();
            match result {
                Ok(value) => value,
                Err(e) => return (Err(e.to_string()), in_table),
            }
        }};
    }
    let deadline = client.deadline();
    let outcome = match kind {
        Kind::Hello => Ok(()),
        Kind::CreateUser => {
            let _ = table!(store.count_session(sub));
            table!(store.caller(sub));
            let claim = Uuid::new_v4();
            table!(store.claim(sub, claim));
            let owner: Map<String, Value> = [(flow::OWNER_KEY.to_owned(), Value::from(sub))]
                .into_iter()
                .collect();
            match client.create_user(&owner, deadline).await {
                Ok(created) => {
                    let first = created.session.map(|s| s.id);
                    table!(store.complete(sub, claim, created.id, first));
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Kind::NewSession => {
            // The quota and the owner in one transaction.
            table!(store.gate(sub, Check::User(user)));
            match client.new_session(user, deadline).await {
                Ok(s) => {
                    table!(store.record_session(sub, user, s.id));
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Kind::RefreshUrl => {
            // A session the function recorded (the chain's last): the quota
            // and its owner in one transaction, the user from its hint.
            table!(store.gate(
                sub,
                Check::Session {
                    session: *session,
                    user_id: user
                }
            ));
            match client.refresh_session(*session, deadline).await {
                Ok(s) => {
                    *session = s.id;
                    table!(store.record_session(sub, user, s.id));
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        }
    };
    (outcome, in_table)
}

/// [`IN_FLIGHT`] streams of invocations into one process for `duration`, with
/// every sandbox call delayed by [`UPSTREAM_DELAY`].
pub async fn concurrency(
    kind: Kind,
    env: &Env,
    client: &RolleeClient,
    store: &Store,
    sandbox: &Sandbox,
    duration: Duration,
    failures: &Arc<Failures>,
) -> Result<Concurrency, Error> {
    let concurrency = [("AWS_LAMBDA_MAX_CONCURRENCY", IN_FLIGHT.to_string())];
    let function = Arc::new(start(kind, env, JwtFrom::Secret, &concurrency, false).await?);
    function.init(INIT_TIMEOUT).await?;
    // Each in-flight stream has its own caller, user and refresh chain.
    let mut streams = Vec::with_capacity(IN_FLIGHT);
    for n in 0..IN_FLIGHT {
        let sub = format!("bench-{}-stream-{n}", kind.binary());
        streams.push(Work::new(kind, client, store, sub).await?);
    }
    sandbox.set_latency(UPSTREAM_DELAY);
    let cpu_before = function.cpu_time();
    let ticks_before = machine_ticks();
    let ok = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let first = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for (n, mut work) in streams.into_iter().enumerate() {
        let function = function.clone();
        let (ok, errors, failures) = (ok.clone(), errors.clone(), failures.clone());
        let (latencies, first) = (latencies.clone(), first.clone());
        tasks.push(tokio::spawn(async move {
            let mut later = false;
            while Instant::now() < deadline {
                let e = work.next_event();
                let sent = Instant::now();
                match invoke(&function, kind, &e).await {
                    Ok(response) => {
                        let took = sent.elapsed();
                        let into = if later { &latencies } else { &first };
                        into.lock().expect("not poisoned").push(took);
                        later = true;
                        work.record(&response);
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(what) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        failures.add(format!("{} concurrent stream {n}: {what}", kind.binary()));
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = started.elapsed();
    let function_cpu = cpu_before
        .zip(function.cpu_time())
        .map(|(before, after)| after.saturating_sub(before));
    let machine_busy = ticks_before.zip(machine_ticks()).and_then(|(b, a)| {
        let all = a.0.checked_sub(b.0).filter(|all| *all > 0)?;
        let idle = a.1.checked_sub(b.1)?;
        Some(1.0 - idle as f64 / all as f64)
    });
    sandbox.set_latency(Duration::ZERO);
    Ok(Concurrency {
        ok: ok.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        elapsed,
        peak_rss_kib: function.peak_rss_kib(),
        function_cpu,
        machine_busy,
        first: std::mem::take(&mut *first.lock().expect("not poisoned")),
        latencies: std::mem::take(&mut *latencies.lock().expect("not poisoned")),
    })
}

/// The nearest-rank percentile `p` (0 to 1) of `samples`, which must not be empty.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    assert!(!samples.is_empty(), "a percentile of no samples");
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
