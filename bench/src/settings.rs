//! What a run is: the command line (smoke or full, where the figures go,
//! whether to build first) and the constants every run shares.

use std::path::PathBuf;
use std::time::Duration;

use crate::Error;

/// The Rollee JWT: in moto's Secrets Manager, or `ROLLEE_TOKEN`.
pub const JWT: &str = "eyJ0eXAiOiJKV1QifQ.benchmark.c2ln";
/// The secret holding [`JWT`].
pub const SECRET: &str = "rollee/connect/jwt";
/// The ownership table the functions are given, on moto.
pub const TABLE: &str = "ownership";
pub const MEMORY_MB: u32 = 128;
/// The functions' METRICS_NAMESPACE: their metric lines are checked, and
/// paired with their invocations, under it.
pub const NAMESPACE: &str = "RolleeConnect/bench";
/// Invocations in flight in one process for the concurrency figure.
pub const IN_FLIGHT: usize = 64;
/// The sandbox's delay on every call during the concurrency figure.
pub const UPSTREAM_DELAY: Duration = Duration::from_millis(100);
/// How long a started function may take to ask for its first event.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Which ownership table the functions get (see [`crate::table`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TableChoice {
    /// The in-process stand-in: our side alone.
    Fast,
    /// moto's DynamoDB.
    Moto,
}

pub struct Settings {
    pub smoke: bool,
    pub table: TableChoice,
    pub inits: usize,
    pub warm: usize,
    pub concurrency_for: Duration,
    pub json: PathBuf,
    pub build: bool,
    /// Only what the metric lines cost: no function is built or run.
    pub emf_only: bool,
    /// The functions send their metric lines (as deployed); `--metrics off`
    /// leaves METRICS_NAMESPACE unset, to compare.
    pub metrics: bool,
    /// The upstreams over TLS with the run's CA (`--tls off`: plain HTTP,
    /// see [`crate::upstreams`]).
    pub tls: bool,
    /// Only the cold starts (`--cold-only`: init and the first request, wall
    /// and CPU time, see [`crate::cold`]), without the warm, concurrent and
    /// cost figures.
    pub cold_only: bool,
    /// The cold starts also under the CPU quota where the machine allows
    /// it (`--quota off`: not).
    pub quota: bool,
    /// The Connect functions' `CONNECT_AT_INIT`: `on` (as deployed: the
    /// table's and Rollee's connections at init), `table` or `off`, to compare.
    pub connect_at_init: &'static str,
}

fn on_off(flag: &str, value: Option<String>) -> Result<bool, Error> {
    match value.as_deref() {
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        _ => Err(format!("{flag} takes on or off").into()),
    }
}

impl Settings {
    /// `[--smoke] [--json PATH] [--skip-build] [--table fast|moto] [--emf-only] [--metrics on|off]
    /// [--tls on|off] [--cold-only] [--quota on|off] [--connect-at-init on|table|off]`.
    pub fn from_args() -> Result<Settings, Error> {
        let mut args = std::env::args().skip(1);
        let mut smoke = false;
        let mut build = true;
        let mut json = None;
        let mut table = TableChoice::Fast;
        let mut emf_only = false;
        let mut metrics = true;
        let mut tls = true;
        let mut cold_only = false;
        let mut quota = true;
        let mut connect_at_init = "on";
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--smoke" => smoke = true,
                "--skip-build" => build = false,
                "--emf-only" => emf_only = true,
                "--cold-only" => cold_only = true,
                "--tls" => tls = on_off("--tls", args.next())?,
                "--quota" => quota = on_off("--quota", args.next())?,
                "--connect-at-init" => {
                    connect_at_init = match args.next().as_deref() {
                        Some("on") => "on",
                        Some("table") => "table",
                        Some("off") => "off",
                        _ => return Err("--connect-at-init takes on, table or off".into()),
                    }
                }
                "--metrics" => {
                    metrics = match args.next().as_deref() {
                        Some("on") => true,
                        Some("off") => false,
                        _ => return Err("--metrics takes on or off".into()),
                    }
                }
                "--json" => json = args.next().map(PathBuf::from),
                "--table" => {
                    table = match args.next().as_deref() {
                        Some("fast") => TableChoice::Fast,
                        Some("moto") => TableChoice::Moto,
                        _ => return Err("--table takes fast or moto".into()),
                    }
                }
                other => {
                    return Err(format!(
                        "unknown argument {other}; use --smoke, --skip-build, --json PATH, --table fast|moto, --emf-only, --metrics on|off, --tls on|off, --cold-only, --quota on|off, --connect-at-init on|table|off"
                    )
                    .into());
                }
            }
        }
        let default_json = if cold_only {
            "target/bench-cold.json"
        } else if smoke {
            "target/bench-smoke.json"
        } else {
            "bench/results.json"
        };
        Ok(Settings {
            smoke,
            table,
            inits: if smoke { 3 } else { 20 },
            warm: if smoke { 40 } else { 2000 },
            concurrency_for: Duration::from_secs(if smoke { 1 } else { 5 }),
            json: json.unwrap_or_else(|| root().join(default_json)),
            build,
            emf_only,
            metrics,
            tls,
            cold_only,
            quota,
            connect_at_init,
        })
    }
}

/// The workspace's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
