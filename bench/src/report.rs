//! What a run reports: the failures that void it, or the tables (figures and
//! ratios to the floor), the targets, and `results.json`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::Error;
use crate::measure::{FunctionResult, percentile};
use crate::settings::{IN_FLIGHT, MEMORY_MB, Settings, TableChoice, UPSTREAM_DELAY};
use crate::workload::Kind;

/// Says which invocations failed and that no figures are reported.
pub fn failures(failed: &[String]) {
    eprintln!(
        "bench: {} invocation(s) failed; no figures are reported from this run:",
        failed.len()
    );
    for f in failed.iter().take(20) {
        eprintln!("  {f}");
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

pub struct Report<'a> {
    settings: &'a Settings,
    secret_round_trip: Duration,
    results: &'a [FunctionResult],
}

/// One function's figures, in ms and MB.
struct Figures {
    init_p50: f64,
    init_p90: f64,
    init_token_p50: Option<f64>,
    first: f64,
    warm_p50: f64,
    warm_p99: f64,
    upstream_p50: Option<f64>,
    upstream_p99: Option<f64>,
    table_p50: Option<f64>,
    /// Paired: each invocation less its own calls ([`crate::paired`]).
    overhead_p50: Option<f64>,
    overhead_p99: Option<f64>,
    rss_kib: u64,
    rss_mb: f64,
    size_mb: f64,
    rps: f64,
    concurrent_rss_kib: u64,
    concurrent_rss_mb: f64,
}

/// What [`IN_FLIGHT`] invocations can complete per second when every one
/// waits [`UPSTREAM_DELAY`] on Rollee and nothing else takes any time.
fn bound_rps() -> f64 {
    IN_FLIGHT as f64 / UPSTREAM_DELAY.as_secs_f64()
}

impl Figures {
    fn of(r: &FunctionResult) -> Figures {
        let upstream = (!r.upstream.is_empty()).then_some(&r.upstream);
        let overhead = (!r.serial.overhead.is_empty()).then_some(&r.serial.overhead);
        let rss_kib = r
            .serial
            .peak_rss_kib
            .expect("the peak RSS (VmHWM) of the function after its warm invocations");
        let concurrent_rss_kib = r
            .concurrency
            .peak_rss_kib
            .expect("the peak RSS (VmHWM) of the function after the concurrent invocations");
        Figures {
            init_p50: ms(percentile(&r.init.secret, 0.5)),
            init_p90: ms(percentile(&r.init.secret, 0.9)),
            init_token_p50: (!r.init.token.is_empty()).then(|| ms(percentile(&r.init.token, 0.5))),
            first: ms(r.serial.first),
            warm_p50: ms(percentile(&r.serial.warm, 0.5)),
            warm_p99: ms(percentile(&r.serial.warm, 0.99)),
            upstream_p50: upstream.map(|u| ms(percentile(u, 0.5))),
            upstream_p99: upstream.map(|u| ms(percentile(u, 0.99))),
            table_p50: (!r.table.is_empty()).then(|| ms(percentile(&r.table, 0.5))),
            overhead_p50: overhead.map(|o| ms(percentile(o, 0.5))),
            overhead_p99: overhead.map(|o| ms(percentile(o, 0.99))),
            rss_kib,
            rss_mb: rss_kib as f64 / 1024.0,
            size_mb: r.size as f64 / 1_048_576.0,
            rps: r.concurrency.ok as f64 / r.concurrency.elapsed.as_secs_f64(),
            concurrent_rss_kib,
            concurrent_rss_mb: concurrent_rss_kib as f64 / 1024.0,
        }
    }
}

impl<'a> Report<'a> {
    /// The report of a run in which nothing failed.
    pub fn new(settings: &'a Settings, results: &'a [FunctionResult]) -> Report<'a> {
        let round_trips: Vec<Duration> = results
            .iter()
            .flat_map(|r| r.init.round_trips.clone())
            .collect();
        Report {
            settings,
            secret_round_trip: percentile(&round_trips, 0.5),
            results,
        }
    }

    fn floor(&self) -> Figures {
        let hello = self
            .results
            .iter()
            .find(|r| r.kind == Kind::Hello)
            .expect("the floor (hello) is among the functions measured");
        Figures::of(hello)
    }

    pub fn table(&self) -> String {
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
        line(match s.table {
            TableChoice::Fast => "ownership table: the in-process stand-in (our side alone; `--table moto` for moto's DynamoDB)".into(),
            TableChoice::Moto => "ownership table: moto's DynamoDB (its milliseconds per call dominate)".into(),
        });
        line(if s.metrics {
            "metric lines: on, as deployed (METRICS_NAMESPACE set; `--metrics off` to compare)"
                .into()
        } else {
            "metric lines: off (METRICS_NAMESPACE unset): no overhead, which pairs each invocation with the calls its lines report".into()
        });
        line("overhead: each warm invocation's time less the time of its own Rollee and table calls, as its metric lines report them (the Runtime API's round trips included); p50 / p99 of those differences".into());
        line(String::new());
        line("| function | size MB | init p50 / p90 ms | init w/o secret p50 ms | 1st invoke ms | warm p50 / p99 ms | same calls direct (Rollee + table) p50 / p99 ms | of which table p50 ms | overhead p50 / p99 ms (paired) | peak RSS MB | req/s @64 (errors) | RSS @64 MB |".into());
        line("|---|---|---|---|---|---|---|---|---|---|---|---|".into());
        for r in self.results {
            let f = Figures::of(r);
            let up = match (f.upstream_p50, f.upstream_p99) {
                (Some(a), Some(b)) => format!("{a:.3} / {b:.3}"),
                _ => "–".into(),
            };
            let over = match (f.overhead_p50, f.overhead_p99) {
                (Some(a), Some(b)) => format!("{a:.3} / {b:.3}"),
                _ => "–".into(),
            };
            let table = f.table_p50.map_or("–".to_owned(), |t| format!("{t:.3}"));
            let no_secret = f
                .init_token_p50
                .map_or("–".to_owned(), |t| format!("{t:.2}"));
            line(format!(
                "| {} | {:.2} | {:.2} / {:.2} | {no_secret} | {:.2} | {:.3} / {:.3} | {up} | {table} | {over} | {:.1} | {:.0} ({}) | {:.1} |",
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
            let f = Figures::of(r);
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
        line(format!(
            "{IN_FLIGHT} in flight (bound: {:.0} req/s, every call waiting {UPSTREAM_DELAY:?}): where the CPU went over the phase",
            bound_rps()
        ));
        line("| function | req/s | of the bound | each stream's first invocation p50 / max ms | later invocations p50 / p99 ms | function CPU per request ms | machine CPU busy (2 cores, every process) |".into());
        line("|---|---|---|---|---|---|---|".into());
        for r in self.results.iter() {
            let c = &r.concurrency;
            let per_request = c
                .function_cpu
                .filter(|_| c.ok > 0)
                .map_or("–".to_owned(), |cpu| {
                    format!("{:.3}", ms(cpu) / c.ok as f64)
                });
            let busy = c
                .machine_busy
                .map_or("–".to_owned(), |b| format!("{:.0} %", 100.0 * b));
            let rps = Figures::of(r).rps;
            let spread = |samples: &[Duration], tail: f64| {
                if samples.is_empty() {
                    "–".to_owned()
                } else {
                    format!(
                        "{:.2} / {:.2}",
                        ms(percentile(samples, 0.5)),
                        ms(percentile(samples, tail))
                    )
                }
            };
            let first = spread(&c.first, 1.0);
            let later = spread(&c.latencies, 0.99);
            // The floor calls nothing: the bound is not its.
            let share = if r.kind == Kind::Hello {
                "– (no calls)".to_owned()
            } else {
                format!("{:.1} %", 100.0 * rps / bound_rps())
            };
            line(format!(
                "| {} | {rps:.0} | {share} | {first} | {later} | {per_request} | {busy} |",
                r.kind.binary(),
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
            let f = Figures::of(r);
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
            if let Some(p99) = f.overhead_p99 {
                targets.push(Target::at_most(
                    format!("{name} warm overhead p99 ms (paired)"),
                    p99,
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
                format!("{name} req/s with {IN_FLIGHT} in flight (95 % of the bound)"),
                f.rps,
                0.95 * bound_rps(),
            ));
        }
        targets
    }

    /// Writes the figures, the targets and `table` to `path` as JSON.
    /// `extra`: what is measured apart (`emf`: the metric lines' cost, see
    /// [`crate::emf`]; `webhook`: the webhook function, see [`crate::webhook`]).
    pub fn write_json(&self, path: &Path, table: &str, extra: Value) -> Result<(), Error> {
        let mut value = self.json(table);
        if let Value::Object(extra) = extra {
            for (key, inner) in extra {
                value[key] = inner;
            }
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(&value)? + "\n")?;
        Ok(())
    }

    fn json(&self, table: &str) -> Value {
        let functions: Vec<Value> = self
            .results
            .iter()
            .map(|r| {
                let f = Figures::of(r);
                let in_calls: Vec<Duration> = r.serial.calls.iter().map(|c| c.upstream()).collect();
                json!({
                    "function": r.kind.binary(),
                    "binary_bytes": r.size,
                    "init_ms": {"p50": f.init_p50, "p90": f.init_p90, "samples": r.init.secret.len()},
                    "init_without_secret_ms": {"p50": f.init_token_p50, "samples": r.init.token.len()},
                    "first_invocation_ms": f.first,
                    "warm_ms": {"p50": f.warm_p50, "p99": f.warm_p99, "samples": r.serial.warm.len()},
                    "upstream_ms": {"p50": f.upstream_p50, "p99": f.upstream_p99, "samples": r.upstream.len()},
                    "table_ms": {"p50": f.table_p50},
                    "overhead_ms": {
                        "p50": f.overhead_p50,
                        "p99": f.overhead_p99,
                        "samples": r.serial.overhead.len(),
                        "paired": true,
                    },
                    "calls_in_invocation_ms": {
                        "p50": (!in_calls.is_empty()).then(|| ms(percentile(&in_calls, 0.5))),
                        "p99": (!in_calls.is_empty()).then(|| ms(percentile(&in_calls, 0.99))),
                    },
                    "peak_rss_kib": f.rss_kib,
                    "concurrency": {
                        "in_flight": IN_FLIGHT,
                        "upstream_delay_ms": UPSTREAM_DELAY.as_millis() as u64,
                        "seconds": r.concurrency.elapsed.as_secs_f64(),
                        "ok": r.concurrency.ok,
                        "errors": r.concurrency.errors,
                        "requests_per_second": f.rps,
                        "function_cpu_ms": r.concurrency.function_cpu.map(ms),
                        "machine_busy": r.concurrency.machine_busy,
                        "peak_rss_kib": f.concurrent_rss_kib,
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
            "metrics": self.settings.metrics,
            "table": format!("{:?}", self.settings.table).to_lowercase(),
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

/// What the run ran on, as far as /proc says ("unknown" or empty where it does not).
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
