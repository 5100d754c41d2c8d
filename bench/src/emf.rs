//! What the metric lines (CloudWatch's embedded metric format) cost a
//! function, measured where a function pays it: in a fresh process (this
//! benchmark's own binary, run with `--emf-child`) writing to its real
//! stdout, a pipe that this process drains as Lambda's log capture drains a
//! function's. The child reports its own timings on stderr; every line it
//! wrote is checked against the format's rules.
//!
//! - **init**: installing the emitter from the checked namespace, and the
//!   one line a cold start writes (the JWT's days left), the first write to
//!   stdout included;
//! - **per request**: the lines of the busiest request, a `POST /users` that
//!   creates the caller's user: the quota, the caller's record, the claim,
//!   the Rollee call, the transaction, the answer (six lines), inside the
//!   invocation's scope as `app::respond` runs it.
//!
//! Wall-clock times on a shared machine have tails that are the machine's
//! (preemption: the same tails appear writing to /dev/null), so the CPU time
//! the thread spent (Linux's `/proc/thread-self/schedstat`, system calls
//! included, waiting excluded) is measured too: the cost itself.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rollee_harness::emf;
use rollee_shared::metrics::{self, Invocation, RolleeCall, TableOutcome};
use serde_json::{Value, json};

use crate::Error;
use crate::measure::percentile;

const NAMESPACE: &str = "RolleeConnect/bench";
/// Lines a measured request writes.
const LINES_PER_REQUEST: usize = 6;
/// The targets: at most this much at init, and per request.
const INIT_LIMIT: Duration = Duration::from_micros(200);
const REQUEST_LIMIT: Duration = Duration::from_micros(50);

pub struct EmfCost {
    pub init: Vec<Duration>,
    pub per_request: Vec<Duration>,
    /// CPU time of each process's requests, divided by their number.
    pub cpu_per_request: Vec<Duration>,
    pub requests_per_process: usize,
}

/// The calling thread's CPU time so far (0 where Linux does not say).
fn cpu_time() -> Duration {
    let ns = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// The child: emits as a function does, prints its timings on stderr.
pub async fn child(requests: usize) {
    let started = Instant::now();
    if metrics::valid_namespace(NAMESPACE) {
        metrics::init(Some(NAMESPACE), "create-user");
    }
    metrics::jwt_days_left(20);
    let init = started.elapsed();

    let mut samples = Vec::with_capacity(requests);
    let cpu = cpu_time();
    for i in 0..requests {
        let started = Instant::now();
        let invocation = Invocation {
            request_id: format!("0d9f3a52-7c41-4c1e-9a1b-{i:012}"),
            xray_trace_id: Some("Root=1-6746f0c1-5e8b0c9d2a4f4e7b8c1d2e3f".to_owned()),
        };
        metrics::within(invocation, async {
            let d = Duration::from_micros(700);
            metrics::table_call("UpdateItem", TableOutcome::Ok, d);
            metrics::table_call("GetItem", TableOutcome::Ok, d);
            metrics::table_call("PutItem", TableOutcome::Ok, d);
            metrics::rollee_call(&RolleeCall {
                endpoint: "POST /users",
                outcome: "ok",
                attempts: 1,
                unauthorized: 0,
                rate_limited: 0,
                server_errors: 0,
                rereads: 0,
                latency: Duration::from_millis(80),
            });
            metrics::table_call("TransactWriteItems", TableOutcome::Ok, d);
            metrics::request(201, None, Duration::from_millis(84));
        })
        .await;
        samples.push(started.elapsed());
    }
    let cpu = cpu_time().saturating_sub(cpu);
    let nanos: Vec<u64> = samples.iter().map(|d| d.as_nanos() as u64).collect();
    eprintln!(
        "{}",
        json!({"init_ns": init.as_nanos() as u64, "request_ns": nanos, "cpu_ns": cpu.as_nanos() as u64})
    );
}

/// `processes` children of `requests` requests each.
pub fn measure(processes: usize, requests: usize) -> Result<EmfCost, Error> {
    let exe = std::env::current_exe()?;
    let mut cost = EmfCost {
        init: Vec::new(),
        per_request: Vec::new(),
        cpu_per_request: Vec::new(),
        requests_per_process: requests,
    };
    for _ in 0..processes {
        let mut child = Command::new(&exe)
            .args(["--emf-child", &requests.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut stdout = child.stdout.take().ok_or("no stdout")?;
        let drain = std::thread::spawn(move || {
            let mut text = String::new();
            stdout.read_to_string(&mut text).map(|_| text)
        });
        let output = child.wait_with_output()?;
        let lines = drain.join().map_err(|_| "the stdout reader panicked")??;
        if !output.status.success() {
            return Err(format!(
                "the EMF child failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        let count = lines.lines().count();
        if count != 1 + requests * LINES_PER_REQUEST {
            return Err(format!("the EMF child wrote {count} lines").into());
        }
        for line in lines.lines() {
            emf::check(line, NAMESPACE).map_err(|e| format!("{e}: {line}"))?;
        }
        let report: Value = serde_json::from_slice(&output.stderr)?;
        let nanos = |v: &Value| Duration::from_nanos(v.as_u64().unwrap_or(u64::MAX));
        cost.init.push(nanos(&report["init_ns"]));
        let samples = report["request_ns"].as_array().ok_or("no request_ns")?;
        cost.per_request.extend(samples.iter().map(nanos));
        cost.cpu_per_request
            .push(nanos(&report["cpu_ns"]) / requests.max(1) as u32);
    }
    Ok(cost)
}

fn us(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

impl EmfCost {
    /// (init p50, init worst, request p50, request p99, CPU per request p50).
    fn figures(&self) -> [Duration; 5] {
        [
            percentile(&self.init, 0.5),
            percentile(&self.init, 1.0),
            percentile(&self.per_request, 0.5),
            percentile(&self.per_request, 0.99),
            percentile(&self.cpu_per_request, 0.5),
        ]
    }

    /// The targets, on the typical cost: init's median over the fresh
    /// processes, and a request's median wall time and CPU time. The tails
    /// are reported beside them.
    fn targets(&self) -> [(&'static str, Duration, Duration); 3] {
        let [init_p50, _, request_p50, _, cpu] = self.figures();
        [
            ("metrics init p50 us", init_p50, INIT_LIMIT),
            ("metrics per request p50 us", request_p50, REQUEST_LIMIT),
            ("metrics CPU time per request us", cpu, REQUEST_LIMIT),
        ]
    }

    pub fn table(&self) -> String {
        let [init_p50, init_max, request_p50, request_p99, cpu] = self.figures();
        let mut out = format!(
            "Metric lines (EMF to a stdout pipe), {} fresh processes x {} requests of {LINES_PER_REQUEST} lines:\n\
             | figure | p50 us | tail us | CPU time us | target us |\n|---|---|---|---|---|\n\
             | init (emitter + the cold start's line) | {:.1} | {:.1} (worst) | – | ≤ {:.0} |\n\
             | per request ({LINES_PER_REQUEST} lines) | {:.1} | {:.1} (p99) | {:.1} (mean) | ≤ {:.0} |\n",
            self.init.len(),
            self.requests_per_process,
            us(init_p50),
            us(init_max),
            us(INIT_LIMIT),
            us(request_p50),
            us(request_p99),
            us(cpu),
            us(REQUEST_LIMIT),
        );
        for (name, value, limit) in self.targets() {
            let verdict = if value <= limit { "MET " } else { "MISS" };
            out.push_str(&format!(
                "- {verdict} {name}: {:.1} (limit ≤ {:.0})\n",
                us(value),
                us(limit)
            ));
        }
        out
    }

    pub fn json(&self) -> Value {
        let [init_p50, init_max, request_p50, request_p99, cpu] = self.figures();
        let targets: Vec<Value> = self
            .targets()
            .iter()
            .map(|(name, value, limit)| {
                json!({"name": name, "value": us(*value), "limit": us(*limit), "met": value <= limit})
            })
            .collect();
        json!({
            "processes": self.init.len(),
            "requests_per_process": self.requests_per_process,
            "lines_per_request": LINES_PER_REQUEST,
            "init_us": {"p50": us(init_p50), "max": us(init_max)},
            "per_request_us": {"p50": us(request_p50), "p99": us(request_p99), "cpu_mean": us(cpu)},
            "targets": targets,
        })
    }
}
