//! `cargo run --release -p bench [-- --smoke] [--json PATH] [--skip-build]`
//!
//! Builds each function with `cargo lambda build --release`, plus a
//! hello-world `lambda_http` function (the floor), and runs every `bootstrap`
//! the way Lambda does: this process serves the Lambda Runtime API on
//! 127.0.0.1, sets the variables Lambda sets, and the functions read their JWT
//! from moto's Secrets Manager and call the local Rollee sandbox. Everything is
//! measured from outside the function process. A run in which any invocation
//! failed reports no figures and says which failed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rollee_harness::moto::Moto;
use rollee_harness::runtime_api::Bootstrap;
use rollee_sandbox::Sandbox;
use rollee_shared::flow;
use rollee_shared::request::Caller;
use rollee_shared::rollee::{ClientOptions, RolleeClient};
use rollee_shared::token::{Jwt, TokenSource};
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error + Send + Sync>;

const JWT: &str = "eyJ0eXAiOiJKV1QifQ.benchmark.c2ln";
const SECRET: &str = "rollee/connect/jwt";
const CALLER: &str = "alice"; // the `sub` of the events in events/
const MEMORY_MB: u32 = 128;
const IN_FLIGHT: usize = 64;
const UPSTREAM_DELAY: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Hello,
    CreateUser,
    NewSession,
    RefreshUrl,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::Hello,
        Kind::CreateUser,
        Kind::NewSession,
        Kind::RefreshUrl,
    ];

    fn binary(self) -> &'static str {
        match self {
            Kind::Hello => "hello",
            Kind::CreateUser => "create-user",
            Kind::NewSession => "new-session",
            Kind::RefreshUrl => "refresh-url",
        }
    }

    fn expected_status(self) -> u64 {
        match self {
            Kind::Hello | Kind::RefreshUrl => 200,
            Kind::CreateUser | Kind::NewSession => 201,
        }
    }
}

struct Settings {
    smoke: bool,
    inits: usize,
    warm: usize,
    concurrency_for: Duration,
    json: PathBuf,
    build: bool,
}

fn settings() -> Result<Settings, Error> {
    let mut args = std::env::args().skip(1);
    let mut smoke = false;
    let mut build = true;
    let mut json = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--smoke" => smoke = true,
            "--skip-build" => build = false,
            "--json" => json = args.next().map(PathBuf::from),
            other => {
                return Err(format!(
                    "unknown argument {other}; use --smoke, --skip-build, --json PATH"
                )
                .into());
            }
        }
    }
    let default_json = if smoke {
        "target/bench-smoke.json"
    } else {
        "bench/results.json"
    };
    Ok(Settings {
        smoke,
        inits: if smoke { 3 } else { 20 },
        warm: if smoke { 40 } else { 2000 },
        concurrency_for: Duration::from_secs(if smoke { 1 } else { 5 }),
        json: json.unwrap_or_else(|| root().join(default_json)),
        build,
    })
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bootstrap(kind: Kind) -> PathBuf {
    root()
        .join("target/lambda")
        .join(kind.binary())
        .join("bootstrap")
}

/// Everything that went wrong in the run; any entry voids the figures.
#[derive(Default)]
struct Failures(std::sync::Mutex<Vec<String>>);

impl Failures {
    fn add(&self, what: String) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(what);
    }
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[tokio::main]
async fn main() {
    match run().await {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    }
}

async fn run() -> Result<bool, Error> {
    let settings = settings()?;
    if settings.build {
        for kind in Kind::ALL {
            build(kind)?;
        }
    }
    for kind in Kind::ALL {
        if !bootstrap(kind).is_file() {
            return Err(format!(
                "{} is missing: run without --skip-build",
                bootstrap(kind).display()
            )
            .into());
        }
    }

    let moto = Moto::start()?;
    moto.put_secret(SECRET, JWT).await?;
    let sandbox = Arc::new(Sandbox::start(JWT).await?);
    let client = RolleeClient::new(
        sandbox.base_url().parse()?,
        TokenSource::fixed(Jwt::new(JWT)),
        ClientOptions::default(),
    )?;
    let env = Env {
        runtime_vars: vec![
            ("ROLLEE_API_URL".into(), sandbox.base_url()),
            ("AWS_ENDPOINT_URL".into(), moto.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_SESSION_TOKEN".into(), "testing".into()),
        ],
    };
    let failures = Arc::new(Failures::default());

    let mut results = Vec::new();
    for kind in Kind::ALL {
        eprintln!("bench: {} …", kind.binary());
        let mut work = Work::new(kind, &client).await?;
        let init = measure_init(kind, &env, &moto, settings.inits, &failures).await?;
        let serial = measure_invocations(kind, &env, settings.warm, &mut work, &failures).await?;
        let upstream = measure_upstream(kind, &client, settings.warm, &mut work, &failures).await;
        let concurrency = measure_concurrency(
            kind,
            &env,
            &client,
            &sandbox,
            settings.concurrency_for,
            &failures,
        )
        .await?;
        results.push(FunctionResult {
            kind,
            size: std::fs::metadata(bootstrap(kind))?.len(),
            init,
            serial,
            upstream,
            concurrency,
        });
    }

    let failed = failures.all();
    if !failed.is_empty() {
        eprintln!(
            "bench: {} invocation(s) failed; no figures are reported from this run:",
            failed.len()
        );
        for f in failed.iter().take(20) {
            eprintln!("  {f}");
        }
        return Ok(false);
    }

    let round_trips: Vec<Duration> = results
        .iter()
        .flat_map(|r| r.init.round_trips.clone())
        .collect();
    let report = Report {
        settings: &settings,
        secret_round_trip: percentile(&round_trips, 0.5),
        results: &results,
    };
    let table = report.table();
    println!("{table}");
    let value = report.json(&table);
    if let Some(dir) = settings.json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&settings.json, serde_json::to_string_pretty(&value)? + "\n")?;
    eprintln!("bench: wrote {}", settings.json.display());
    Ok(true)
}

fn build(kind: Kind) -> Result<(), Error> {
    let status = Command::new("cargo")
        .args(["lambda", "build", "--release", "--bin", kind.binary()])
        .current_dir(root())
        .status()?;
    if !status.success() {
        return Err(format!(
            "cargo lambda build --release --bin {} failed",
            kind.binary()
        )
        .into());
    }
    Ok(())
}

// ------------------------------------------------------------------ processes

struct Env {
    runtime_vars: Vec<(String, String)>,
}

/// Where a started function gets its JWT.
#[derive(Clone, Copy, PartialEq, Eq)]
enum JwtFrom {
    /// Secrets Manager (moto), as deployed.
    Secret,
    /// `ROLLEE_TOKEN`: no secret to fetch, to see what init costs without it.
    Token,
}

/// Starts `kind`'s release bootstrap as Lambda would.
async fn start(
    kind: Kind,
    env: &Env,
    jwt: JwtFrom,
    extra: &[(&str, String)],
) -> Result<Bootstrap, Error> {
    let source = match jwt {
        JwtFrom::Secret => ("ROLLEE_SECRET_ID", SECRET),
        JwtFrom::Token => ("ROLLEE_TOKEN", JWT),
    };
    let mut vars: Vec<(&str, &str)> = env
        .runtime_vars
        .iter()
        // The functions refuse ROLLEE_TOKEN where AWS_EXECUTION_ENV says they
        // run in Lambda: for the init without the secret, it is left out (it
        // changes nothing else the function does).
        .filter(|(k, _)| jwt == JwtFrom::Secret || k != "AWS_EXECUTION_ENV")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    vars.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
    vars.push(source);
    Ok(Bootstrap::start(&bootstrap(kind), kind.binary(), &vars, false).await?)
}

const INIT_TIMEOUT: Duration = Duration::from_secs(30);

/// One invocation, checked: the API Gateway response the function returned.
async fn invoke(function: &Bootstrap, kind: Kind, event: &Value) -> Result<Value, String> {
    let response = function.invoke(event, Duration::from_secs(30)).await?;
    if response["statusCode"].as_u64() == Some(kind.expected_status()) {
        Ok(response)
    } else {
        Err(format!(
            "statusCode {} body {}",
            response["statusCode"], response["body"]
        ))
    }
}

// ------------------------------------------------------------------ the requests

fn event(name: &str) -> Result<Value, Error> {
    Ok(rollee_harness::event(name)?)
}

/// What each invocation of a function needs: a user to make sessions for, a
/// chain of Connect URLs to refresh.
struct Work {
    kind: Kind,
    template: Value,
    user: Option<String>,
    connect_url: Option<String>,
}

impl Work {
    async fn new(kind: Kind, client: &RolleeClient) -> Result<Work, Error> {
        let template = match kind {
            Kind::Hello | Kind::CreateUser => event("create-user")?,
            Kind::NewSession => event("new-session")?,
            Kind::RefreshUrl => event("refresh-url")?,
        };
        let created = flow::create_user(client, &Caller::new(CALLER), Default::default())
            .await
            .map_err(|e| e.detail)?;
        Ok(Work {
            kind,
            template,
            user: Some(created.user_id.to_string()),
            connect_url: Some(created.session.link.to_string()),
        })
    }

    fn next_event(&self) -> Value {
        let mut e = self.template.clone();
        match self.kind {
            Kind::Hello | Kind::CreateUser => {}
            Kind::NewSession => {
                let user = self.user.clone().unwrap_or_default();
                e["rawPath"] = format!("/users/{user}/sessions").into();
                e["pathParameters"]["user_id"] = user.into();
            }
            Kind::RefreshUrl => {
                e["body"] = json!({ "connect_url": self.connect_url })
                    .to_string()
                    .into();
            }
        }
        e
    }

    /// Keeps the refresh chain going: the next refresh uses the URL just returned.
    fn record(&mut self, response: &Value) {
        if self.kind == Kind::RefreshUrl
            && let Some(body) = response["body"].as_str()
            && let Ok(body) = serde_json::from_str::<Value>(body)
        {
            self.connect_url = body["connect_url"].as_str().map(str::to_owned);
        }
    }
}

// ------------------------------------------------------------------ measurements

struct Serial {
    first: Duration,
    warm: Vec<Duration>,
    peak_rss_kib: u64,
}

struct Concurrency {
    ok: usize,
    errors: usize,
    elapsed: Duration,
    peak_rss_kib: u64,
}

struct FunctionResult {
    kind: Kind,
    size: u64,
    init: Init,
    serial: Serial,
    upstream: Vec<Duration>,
    concurrency: Concurrency,
}

struct Init {
    /// The JWT from Secrets Manager, as deployed.
    secret: Vec<Duration>,
    /// The JWT from ROLLEE_TOKEN: the same init without the secret's fetch.
    token: Vec<Duration>,
    /// GetSecretValue from this process, each on a new client and connection,
    /// interleaved with the inits so that both see the same load on moto.
    round_trips: Vec<Duration>,
}

async fn measure_init(
    kind: Kind,
    env: &Env,
    moto: &Moto,
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
            let function = start(kind, env, jwt, &[]).await?;
            match function.init(INIT_TIMEOUT).await {
                Ok(d) if jwt == JwtFrom::Secret => init.secret.push(d),
                Ok(d) => init.token.push(d),
                Err(e) => failures.add(format!("{} init #{i}: {e}", kind.binary())),
            }
        }
        init.round_trips.push(secret_round_trip(moto).await?);
    }
    Ok(init)
}

async fn measure_invocations(
    kind: Kind,
    env: &Env,
    warm: usize,
    work: &mut Work,
    failures: &Failures,
) -> Result<Serial, Error> {
    let function = start(kind, env, JwtFrom::Secret, &[]).await?;
    function.init(INIT_TIMEOUT).await?;
    let mut timed = Vec::with_capacity(warm + 1);
    for i in 0..=warm {
        let e = work.next_event();
        let started = Instant::now();
        let outcome = invoke(&function, kind, &e).await;
        timed.push(started.elapsed());
        match outcome {
            Ok(response) => work.record(&response),
            Err(what) => failures.add(format!("{} invocation #{i}: {what}", kind.binary())),
        }
    }
    let first = timed.remove(0);
    Ok(Serial {
        first,
        warm: timed,
        peak_rss_kib: function.peak_rss_kib().unwrap_or_default(),
    })
}

/// The same Rollee calls a function makes, with the same client, straight from
/// here: what an invocation would cost if the function added nothing.
async fn measure_upstream(
    kind: Kind,
    client: &RolleeClient,
    count: usize,
    work: &mut Work,
    failures: &Failures,
) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(count);
    if kind == Kind::Hello {
        return samples;
    }
    let owner = json!({ flow::OWNER_KEY: CALLER, "plan": "gold" });
    let owner = owner.as_object().cloned().unwrap_or_default();
    let user = work
        .user
        .as_deref()
        .and_then(|u| u.parse().ok())
        .unwrap_or_default();
    let mut session = work
        .connect_url
        .as_deref()
        .and_then(|u| u.rsplit('/').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    // The functions' chain moved on; start a fresh one for the direct calls.
    if kind == Kind::RefreshUrl {
        match client.new_session(user, client.deadline()).await {
            Ok(s) => session = s.id,
            Err(e) => failures.add(format!("upstream set-up: {e}")),
        }
    }
    for i in 0..count {
        let started = Instant::now();
        let outcome = match kind {
            Kind::Hello => Ok(()),
            Kind::CreateUser => client
                .create_user(&owner, client.deadline())
                .await
                .map(drop),
            Kind::NewSession => match client.get_user(user, client.deadline()).await {
                Ok(_) => client.new_session(user, client.deadline()).await.map(drop),
                Err(e) => Err(e),
            },
            Kind::RefreshUrl => client
                .refresh_session(session, client.deadline())
                .await
                .map(|s| session = s.id),
        };
        samples.push(started.elapsed());
        if let Err(e) = outcome {
            failures.add(format!("{} upstream #{i}: {e}", kind.binary()));
        }
    }
    samples
}

async fn measure_concurrency(
    kind: Kind,
    env: &Env,
    client: &RolleeClient,
    sandbox: &Sandbox,
    duration: Duration,
    failures: &Arc<Failures>,
) -> Result<Concurrency, Error> {
    let concurrency = [("AWS_LAMBDA_MAX_CONCURRENCY", IN_FLIGHT.to_string())];
    let function = Arc::new(start(kind, env, JwtFrom::Secret, &concurrency).await?);
    function.init(INIT_TIMEOUT).await?;
    // Each in-flight stream has its own user and refresh chain.
    let mut streams = Vec::with_capacity(IN_FLIGHT);
    for _ in 0..IN_FLIGHT {
        streams.push(Work::new(kind, client).await?);
    }
    sandbox.set_latency(UPSTREAM_DELAY);
    let ok = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for (n, mut work) in streams.into_iter().enumerate() {
        let function = function.clone();
        let (ok, errors, failures) = (ok.clone(), errors.clone(), failures.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let e = work.next_event();
                match invoke(&function, kind, &e).await {
                    Ok(response) => {
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
    sandbox.set_latency(Duration::ZERO);
    Ok(Concurrency {
        ok: ok.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        elapsed,
        peak_rss_kib: function.peak_rss_kib().unwrap_or_default(),
    })
}

/// One GetSecretValue on a new client and connection, as at a cold start.
async fn secret_round_trip(moto: &Moto) -> Result<Duration, Error> {
    let client = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await?);
    let started = Instant::now();
    client.get_secret_value().secret_id(SECRET).send().await?;
    Ok(started.elapsed())
}

// ------------------------------------------------------------------ report

fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

struct Report<'a> {
    settings: &'a Settings,
    secret_round_trip: Duration,
    results: &'a [FunctionResult],
}

struct Figures {
    init_p50: f64,
    init_p90: f64,
    init_token_p50: Option<f64>,
    first: f64,
    warm_p50: f64,
    warm_p99: f64,
    upstream_p50: Option<f64>,
    upstream_p99: Option<f64>,
    rss_mb: f64,
    size_mb: f64,
    rps: f64,
    concurrent_rss_mb: f64,
}

impl FunctionResult {
    fn figures(&self) -> Figures {
        let upstream = (!self.upstream.is_empty()).then_some(&self.upstream);
        Figures {
            init_p50: ms(percentile(&self.init.secret, 0.5)),
            init_p90: ms(percentile(&self.init.secret, 0.9)),
            init_token_p50: (!self.init.token.is_empty())
                .then(|| ms(percentile(&self.init.token, 0.5))),
            first: ms(self.serial.first),
            warm_p50: ms(percentile(&self.serial.warm, 0.5)),
            warm_p99: ms(percentile(&self.serial.warm, 0.99)),
            upstream_p50: upstream.map(|u| ms(percentile(u, 0.5))),
            upstream_p99: upstream.map(|u| ms(percentile(u, 0.99))),
            rss_mb: self.serial.peak_rss_kib as f64 / 1024.0,
            size_mb: self.size as f64 / 1_048_576.0,
            rps: self.concurrency.ok as f64 / self.concurrency.elapsed.as_secs_f64(),
            concurrent_rss_mb: self.concurrency.peak_rss_kib as f64 / 1024.0,
        }
    }
}

impl Report<'_> {
    fn floor(&self) -> Figures {
        self.results
            .iter()
            .find(|r| r.kind == Kind::Hello)
            .map(FunctionResult::figures)
            .unwrap_or_else(unreachable_floor)
    }

    fn table(&self) -> String {
        let s = self.settings;
        let floor = self.floor();
        let mut out = String::new();
        let mut line = |l: String| {
            out.push_str(&l);
            out.push('\n');
        };
        if s.smoke {
            line("SMOKE RUN: too few samples for these figures to mean anything; it checks that the benchmark works.".into());
        }
        line(format!(
            "{} inits (and as many without the secret), {} warm invocations per function; concurrency: {IN_FLIGHT} in flight for {:?}, upstream delay {:?}; secret round trip (median, new client and connection, interleaved with the inits): {:.3} ms",
            s.inits,
            s.warm,
            s.concurrency_for,
            UPSTREAM_DELAY,
            ms(self.secret_round_trip)
        ));
        line(String::new());
        line("| function | size MB | init p50 / p90 ms | init w/o secret p50 ms | 1st invoke ms | warm p50 / p99 ms | upstream p50 / p99 ms | overhead p50 / p99 ms | peak RSS MB | req/s @64 (errors) | RSS @64 MB |".into());
        line("|---|---|---|---|---|---|---|---|---|---|---|".into());
        for r in self.results {
            let f = r.figures();
            let (up, over) = match (f.upstream_p50, f.upstream_p99) {
                (Some(a), Some(b)) => (
                    format!("{a:.3} / {b:.3}"),
                    format!("{:.3} / {:.3}", f.warm_p50 - a, f.warm_p99 - b),
                ),
                _ => ("–".into(), "–".into()),
            };
            let no_secret = f
                .init_token_p50
                .map_or("–".to_owned(), |t| format!("{t:.2}"));
            line(format!(
                "| {} | {:.2} | {:.2} / {:.2} | {no_secret} | {:.2} | {:.3} / {:.3} | {up} | {over} | {:.1} | {:.0} ({}) | {:.1} |",
                r.kind.binary(),
                f.size_mb,
                f.init_p50,
                f.init_p90,
                f.first,
                f.warm_p50,
                f.warm_p99,
                f.rss_mb,
                f.rps,
                r.concurrency.errors,
                f.concurrent_rss_mb
            ));
        }
        line(String::new());
        line("Ratio to the floor (hello):".into());
        line("| function | size | init p50 | 1st invoke | warm p50 | warm p99 | peak RSS |".into());
        line("|---|---|---|---|---|---|---|".into());
        for r in self.results.iter().filter(|r| r.kind != Kind::Hello) {
            let f = r.figures();
            line(format!(
                "| {} | {:.2}x | {:.2}x | {:.2}x | {:.2}x | {:.2}x | {:.2}x |",
                r.kind.binary(),
                f.size_mb / floor.size_mb,
                f.init_p50 / floor.init_p50,
                f.first / floor.first,
                f.warm_p50 / floor.warm_p50,
                f.warm_p99 / floor.warm_p99,
                f.rss_mb / floor.rss_mb
            ));
        }
        line(String::new());
        line("Targets:".into());
        for t in self.targets() {
            line(format!(
                "- {} {}: {} (limit {})",
                if t.met { "MET " } else { "MISS" },
                t.name,
                t.value,
                t.limit
            ));
        }
        out
    }

    fn targets(&self) -> Vec<Target> {
        let floor = self.floor();
        let init_limit = 1.3 * floor.init_p50 + ms(self.secret_round_trip);
        let mut targets = Vec::new();
        for r in self.results.iter().filter(|r| r.kind != Kind::Hello) {
            let f = r.figures();
            let name = r.kind.binary();
            targets.push(Target::at_most(
                format!("{name} init p50 ms"),
                f.init_p50,
                init_limit,
            ));
            if let Some(token) = f.init_token_p50 {
                // For reading the one above: the same init without the secret's fetch, against 1.3 x the floor.
                targets.push(Target::at_most(
                    format!("{name} init p50 without the secret ms (for information)"),
                    token,
                    1.3 * floor.init_p50,
                ));
            }
            if let (Some(_), Some(up99)) = (f.upstream_p50, f.upstream_p99) {
                targets.push(Target::at_most(
                    format!("{name} warm overhead p99 ms"),
                    f.warm_p99 - up99,
                    0.5,
                ));
            }
            targets.push(Target::at_most(
                format!("{name} peak RSS MB"),
                f.rss_mb,
                20.0,
            ));
            targets.push(Target::at_most(format!("{name} binary MB"), f.size_mb, 8.0));
            targets.push(Target::at_least(
                format!("{name} req/s with {IN_FLIGHT} in flight"),
                f.rps,
                500.0,
            ));
        }
        targets
    }

    fn json(&self, table: &str) -> Value {
        let functions: Vec<Value> = self
            .results
            .iter()
            .map(|r| {
                let f = r.figures();
                json!({
                    "function": r.kind.binary(),
                    "binary_bytes": r.size,
                    "init_ms": {"p50": f.init_p50, "p90": f.init_p90, "samples": r.init.secret.len()},
                    "init_without_secret_ms": {"p50": f.init_token_p50, "samples": r.init.token.len()},
                    "first_invocation_ms": f.first,
                    "warm_ms": {"p50": f.warm_p50, "p99": f.warm_p99, "samples": r.serial.warm.len()},
                    "upstream_ms": {"p50": f.upstream_p50, "p99": f.upstream_p99, "samples": r.upstream.len()},
                    "overhead_ms": {
                        "p50": f.upstream_p50.map(|u| f.warm_p50 - u),
                        "p99": f.upstream_p99.map(|u| f.warm_p99 - u),
                    },
                    "peak_rss_kib": r.serial.peak_rss_kib,
                    "concurrency": {
                        "in_flight": IN_FLIGHT,
                        "upstream_delay_ms": UPSTREAM_DELAY.as_millis() as u64,
                        "seconds": r.concurrency.elapsed.as_secs_f64(),
                        "ok": r.concurrency.ok,
                        "errors": r.concurrency.errors,
                        "requests_per_second": f.rps,
                        "peak_rss_kib": r.concurrency.peak_rss_kib,
                    },
                })
            })
            .collect();
        let targets: Vec<Value> = self
            .targets()
            .into_iter()
            .map(|t| json!({"name": t.name, "value": t.value, "limit": t.limit, "met": t.met}))
            .collect();
        json!({
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "smoke": self.settings.smoke,
            "machine": machine(),
            "secret_round_trip_ms": ms(self.secret_round_trip),
            "memory_mb_setting": MEMORY_MB,
            "functions": functions,
            "targets": targets,
            "table": table,
        })
    }
}

struct Target {
    name: String,
    value: String,
    limit: String,
    met: bool,
}

impl Target {
    fn at_most(name: String, value: f64, limit: f64) -> Target {
        Target {
            name,
            value: format!("{value:.3}"),
            limit: format!("≤ {limit:.3}"),
            met: value <= limit,
        }
    }
    fn at_least(name: String, value: f64, limit: f64) -> Target {
        Target {
            name,
            value: format!("{value:.1}"),
            limit: format!("≥ {limit:.1}"),
            met: value >= limit,
        }
    }
}

/// Only reachable if `Kind::ALL` lost `Hello`.
fn unreachable_floor() -> Figures {
    Figures {
        init_p50: f64::NAN,
        init_p90: f64::NAN,
        init_token_p50: None,
        first: f64::NAN,
        warm_p50: f64::NAN,
        warm_p99: f64::NAN,
        upstream_p50: None,
        upstream_p99: None,
        rss_mb: f64::NAN,
        size_mb: f64::NAN,
        rps: f64::NAN,
        concurrent_rss_mb: f64::NAN,
    }
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim)
        .unwrap_or("unknown")
        .to_owned();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut m = BTreeMap::new();
    m.insert("cpu", model);
    m.insert("cores", cores.to_string());
    m.insert("kernel", kernel.trim().to_owned());
    m.insert("memory", memory);
    json!(m)
}
