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
use serde_json::{Map, Value};

use crate::Error;
use crate::settings::{CALLER, IN_FLIGHT, INIT_TIMEOUT, SECRET, UPSTREAM_DELAY};
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
    /// Empty for the floor, which calls nothing.
    pub upstream: Vec<Duration>,
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
}

pub async fn init(
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

/// One GetSecretValue on a new client and connection, as at a cold start.
async fn secret_round_trip(moto: &Moto) -> Result<Duration, Error> {
    let client = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await?);
    let started = Instant::now();
    client.get_secret_value().secret_id(SECRET).send().await?;
    Ok(started.elapsed())
}

/// The first invocation and `warm` more, in one process.
pub async fn invocations(
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
        peak_rss_kib: function.peak_rss_kib(),
    })
}

/// The same Rollee calls a function makes, with the same client, straight from
/// here: what an invocation would cost if the function added nothing.
pub async fn upstream(
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
    let owner: Map<String, Value> = [
        (flow::OWNER_KEY.to_owned(), CALLER.into()),
        ("plan".to_owned(), "gold".into()),
    ]
    .into_iter()
    .collect();
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

/// [`IN_FLIGHT`] streams of invocations into one process for `duration`, with
/// every sandbox call delayed by [`UPSTREAM_DELAY`].
pub async fn concurrency(
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
        peak_rss_kib: function.peak_rss_kib(),
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
