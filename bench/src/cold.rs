//! A cold start as a 128 MB function pays it: for init and for init + the
//! first request, the wall time and the process's CPU time (user + system,
//! [`Bootstrap::cpu_time`]), in fresh processes; and, where the machine
//! allows it, the same under a CPU quota of 128/1769 of one core, the share
//! Lambda gives a 128 MB function (a whole vCPU at 1769 MB).
//!
//! CPU time is what a 128 MB function pays for: on this 2-core machine a
//! process gets a whole core, so its wall time hides the CPU it burns (TLS
//! handshakes, the SDK's set-up), which at a fourteenth of a core takes
//! fourteen times as long.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rollee_harness::runtime_api::Bootstrap;
use serde_json::{Value, json};

use crate::Error;
use crate::measure::{Failures, percentile};
use crate::settings::INIT_TIMEOUT;

/// The quota: 1 ms of CPU per 13.82 ms, i.e. 128/1769 of one core, with
/// the shortest period the kernel's 1 ms minimum quota allows, so that the
/// throttling is spread over the start as a proportional share would be
/// (with the default 100 ms period, a start using under 7 ms of CPU would
/// run unthrottled).
pub const QUOTA_US: u64 = 1000;
pub const PERIOD_US: u64 = 1000 * 1769 / 128;

/// What a function's cold starts are given and answered with.
pub trait ColdWork {
    fn event(&mut self) -> Result<Value, Error>;
    /// Whether the answer is the expected one; keeps any chain going.
    fn check(&mut self, response: &Value) -> bool;
}

/// `count` cold starts: each samples init, then one request.
#[derive(Default)]
pub struct Cold {
    pub init_wall: Vec<Duration>,
    pub init_cpu: Vec<Duration>,
    pub first_wall: Vec<Duration>,
    /// Init + the first request.
    pub total_wall: Vec<Duration>,
    pub total_cpu: Vec<Duration>,
}

/// `count` fresh processes from `start`, each in `quota` when given.
pub async fn measure<S, F>(
    name: &str,
    count: usize,
    quota: Option<&Quota>,
    start: S,
    work: &mut dyn ColdWork,
    failures: &Failures,
) -> Result<Cold, Error>
where
    S: Fn() -> F,
    F: Future<Output = Result<Bootstrap, Error>>,
{
    let mut cold = Cold::default();
    let what = if quota.is_some() { " (quota)" } else { "" };
    for i in 0..count {
        let function = start().await?;
        if let Some(quota) = quota {
            quota.add(function.pid())?;
        }
        let init = match function.init(INIT_TIMEOUT).await {
            Ok(d) => d,
            Err(e) => {
                failures.add(format!("{name} cold start{what} #{i}: {e}"));
                continue;
            }
        };
        let init_cpu = function.cpu_time();
        let event = work.event()?;
        let started = Instant::now();
        let response = function.invoke(&event, INIT_TIMEOUT).await;
        let first = started.elapsed();
        match response {
            Ok(r) if work.check(&r) => {}
            Ok(r) => failures.add(format!(
                "{name} cold start{what} #{i}: statusCode {} body {}",
                r["statusCode"], r["body"]
            )),
            Err(e) => failures.add(format!("{name} cold start{what} #{i}: {e}")),
        }
        // The request is over once the function asks for the next event.
        if let Err(e) = function.runtime.poll(2, INIT_TIMEOUT).await {
            failures.add(format!("{name} cold start{what} #{i}: {e}"));
        }
        let total_cpu = function.cpu_time();
        match (init_cpu, total_cpu) {
            (Some(a), Some(b)) => {
                cold.init_cpu.push(a);
                cold.total_cpu.push(b);
            }
            _ => failures.add(format!("{name}: /proc/<pid>/task/*/schedstat unreadable")),
        }
        cold.init_wall.push(init);
        cold.first_wall.push(first);
        cold.total_wall.push(init + first);
    }
    Ok(cold)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn p50(v: &[Duration]) -> Option<f64> {
    (!v.is_empty()).then(|| ms(percentile(v, 0.5)))
}

impl Cold {
    pub fn json(&self) -> Value {
        json!({
            "samples": self.init_wall.len(),
            "init_wall_ms_p50": p50(&self.init_wall),
            "init_cpu_ms_p50": p50(&self.init_cpu),
            "first_request_wall_ms_p50": p50(&self.first_wall),
            "init_and_first_wall_ms_p50": p50(&self.total_wall),
            "init_and_first_cpu_ms_p50": p50(&self.total_cpu),
        })
    }
}

/// One row per function: `(name, whole core, under the quota, warm p50 ms)`.
pub fn table(rows: &[(&str, &Cold, Option<&Cold>, Option<f64>)], quota_note: &str) -> String {
    let f = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.2}"));
    let mut out = String::from(
        "Cold start, wall and CPU time (user + system, /proc/<pid>/task/*/schedstat), p50 ms of fresh processes\n",
    );
    out.push_str(quota_note);
    out.push('\n');
    out.push_str("| function | init wall | init CPU | 1st request wall | 1st request / warm p50 | init + 1st wall | init + 1st CPU | CPU ratio to floor's init CPU | quota: init wall | quota: init + 1st wall | quota: init + 1st CPU |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    let floor_cpu = rows
        .iter()
        .find(|(name, ..)| *name == "hello")
        .and_then(|(_, c, ..)| p50(&c.init_cpu));
    for (name, cold, quota, warm) in rows {
        let first = p50(&cold.first_wall);
        let ratio = match (first, warm) {
            (Some(a), Some(b)) if *b > 0.0 => format!("{:.1}x", a / b),
            _ => "–".to_owned(),
        };
        let cpu_ratio = match (p50(&cold.total_cpu), floor_cpu) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.1}x", a / b),
            _ => "–".to_owned(),
        };
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {ratio} | {} | {} | {cpu_ratio} | {} | {} | {} |\n",
            f(p50(&cold.init_wall)),
            f(p50(&cold.init_cpu)),
            f(first),
            f(p50(&cold.total_wall)),
            f(p50(&cold.total_cpu)),
            f(quota.and_then(|q| p50(&q.init_wall))),
            f(quota.and_then(|q| p50(&q.total_wall))),
            f(quota.and_then(|q| p50(&q.total_cpu))),
        ));
    }
    out
}

/// A CPU cgroup with the quota; removed when dropped. A function is moved
/// into it right after it is spawned: the first instructions of its start
/// (the dynamic loader's, at most the start of `main`) may run unthrottled,
/// within the period's first millisecond that the quota grants anyway.
pub struct Quota {
    dir: PathBuf,
    procs: PathBuf,
}

impl Quota {
    /// The cgroup, or why it cannot be made here (not root, no cpu
    /// controller): the quota run is then skipped.
    pub fn create() -> Result<Quota, String> {
        let name = format!("rollee-bench-{}", std::process::id());
        // cgroup v2: the cpu controller in the unified hierarchy.
        for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
            let root = PathBuf::from(root);
            let controllers =
                std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
            if !controllers.split_whitespace().any(|c| c == "cpu") {
                continue;
            }
            let dir = root.join(&name);
            let made = (|| {
                std::fs::write(root.join("cgroup.subtree_control"), "+cpu")?;
                std::fs::create_dir(&dir)?;
                std::fs::write(dir.join("cpu.max"), format!("{QUOTA_US} {PERIOD_US}"))
            })();
            return match made {
                Ok(()) => Ok(Quota {
                    procs: dir.join("cgroup.procs"),
                    dir,
                }),
                Err(e) => {
                    let _ = std::fs::remove_dir(&dir);
                    Err(format!("cgroup v2 at {}: {e}", root.display()))
                }
            };
        }
        // cgroup v1's cpu controller.
        let root = PathBuf::from("/sys/fs/cgroup/cpu");
        if root.join("cpu.cfs_quota_us").is_file() {
            let dir = root.join(&name);
            let made = (|| {
                std::fs::create_dir(&dir)?;
                std::fs::write(dir.join("cpu.cfs_period_us"), PERIOD_US.to_string())?;
                std::fs::write(dir.join("cpu.cfs_quota_us"), QUOTA_US.to_string())
            })();
            return match made {
                Ok(()) => Ok(Quota {
                    procs: dir.join("cgroup.procs"),
                    dir,
                }),
                Err(e) => {
                    let _ = std::fs::remove_dir(&dir);
                    Err(format!("cgroup v1 at {}: {e}", root.display()))
                }
            };
        }
        Err("no cgroup cpu controller (v2 or v1) is mounted".to_owned())
    }

    pub fn add(&self, pid: u32) -> Result<(), Error> {
        std::fs::write(&self.procs, pid.to_string())
            .map_err(|e| format!("moving {pid} into {}: {e}", self.procs.display()).into())
    }

    pub fn describe(&self) -> String {
        format!(
            "{} (quota {QUOTA_US} µs per {PERIOD_US} µs = 128/1769 of a core)",
            self.dir.display()
        )
    }
}

impl Drop for Quota {
    fn drop(&mut self) {
        // Its processes were killed and reaped; the kernel may take a moment.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
