//! Metrics in CloudWatch's embedded metric format (EMF): each event is one
//! JSON line on stdout that CloudWatch Logs turns into metrics on its way in.
//! No API call, no extra latency, nothing buffered across invocations.
//!
//! Decisions, and why:
//!
//! - **stdout, one write per line.** A line is built whole in memory, then
//!   written with one `write_all` under stdout's lock and flushed. The log
//!   subscriber writes each of its lines the same way under the same lock, so
//!   an EMF line and a log line never interleave, and each reaches Lambda's
//!   log capture as soon as it is written (a timeout later loses nothing).
//! - **Lambda's JSON log format with a custom runtime (`provided.al2023`).**
//!   Lambda does not re-encode a line that is already JSON: an EMF line
//!   reaches CloudWatch Logs exactly as written, and its metrics are
//!   extracted. Lambda's log-level filter, though, gives a JSON line without
//!   a `level` field the level INFO and drops it when the function's
//!   `ApplicationLogLevel` is WARN or above: the metrics would vanish with the
//!   line, and every alarm on them go quiet. EMF lines carry no `level` (a
//!   made-up one would mislead anyone filtering logs by level); instead the
//!   template allows `ApplicationLogLevel` TRACE, DEBUG or INFO only.
//! - **Few, bounded dimensions.** The function (its binary's name, e.g.
//!   `create-user`), a status class, a problem type, a Rollee endpoint's
//!   template, a table operation, an outcome: each from a short fixed list.
//!   Never a user id, a caller's `sub`, a session id or anything a caller
//!   sends. The request id and the X-Ray trace id are plain members (to find
//!   the line's log lines), never dimensions: a dimension value is a metric
//!   of its own.
//! - **Off unless configured.** Without `METRICS_NAMESPACE` (local
//!   development) nothing is emitted; the template sets it on every function.
//!
//! [`catalogue`] lists every metric with its unit and dimension sets (the
//! template's alarms and dashboard are checked against it); [`record`] has
//! one function per event that emits one.

pub mod catalogue;
mod line;
pub mod record;

use std::io::Write;
use std::sync::OnceLock;

pub use catalogue::{Group, Metric, Unit};
pub use record::*;

/// Where lines go: stdout, or (tests, the benchmark) a function of the
/// caller's, or nowhere (metrics off).
enum Sink {
    Stdout,
    Hook(Box<dyn Fn(&str) + Send + Sync>),
    Off,
}

/// Writes EMF lines under one namespace, for one function.
pub struct Emitter {
    namespace: Box<str>,
    function: Box<str>,
    sink: Sink,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("namespace", &self.namespace)
            .field("function", &self.function)
            .finish_non_exhaustive()
    }
}

impl Emitter {
    /// Lines to the process's stdout, as Lambda captures them.
    pub fn stdout(namespace: &str, function: &str) -> Self {
        Self {
            namespace: namespace.into(),
            function: function.into(),
            sink: Sink::Stdout,
        }
    }

    /// Lines (each ending in `\n`) handed to `hook` instead.
    pub fn hook(
        namespace: &str,
        function: &str,
        hook: impl Fn(&str) + Send + Sync + 'static,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            function: function.into(),
            sink: Sink::Hook(Box::new(hook)),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn function(&self) -> &str {
        &self.function
    }

    /// The line (ending in `\n`) that this emitter writes for these members,
    /// inside `invocation` or outside any, without writing it: for the tests,
    /// which hold lines with any values to the format's rules.
    pub fn line(
        &self,
        groups: &[&Group],
        dimensions: &[(&str, &str)],
        values: &[(&str, f64)],
        invocation: Option<&Invocation>,
    ) -> String {
        line::build(self, groups, dimensions, values, invocation)
    }

    /// One line: `groups` declare the metrics, `dimensions` and `values` are
    /// the members they name, plus the function and the current invocation.
    fn emit(&self, groups: &[&Group], dimensions: &[(&str, &str)], values: &[(&str, f64)]) {
        if matches!(self.sink, Sink::Off) {
            return;
        }
        let line = INVOCATION
            .try_with(|invocation| self.line(groups, dimensions, values, Some(invocation)))
            .unwrap_or_else(|_| self.line(groups, dimensions, values, None));
        match &self.sink {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                // Nothing to do about a closed stdout: the line is lost, as a log line would be.
                let _ = out.write_all(line.as_bytes());
                let _ = out.flush();
            }
            Sink::Hook(hook) => hook(&line),
            Sink::Off => {}
        }
    }
}

static EMITTER: OnceLock<Emitter> = OnceLock::new();

/// Makes `emitter` the process's: every metric from now on goes through it.
/// The first one installed stays; `false` if one was already.
pub fn install(emitter: Emitter) -> bool {
    EMITTER.set(emitter).is_ok()
}

/// At a function's cold start: metrics to stdout under `namespace` (the
/// checked `METRICS_NAMESPACE`, see [`crate::config::metrics_namespace`]) for
/// `function`, the binary's name; none without a namespace.
pub fn init(namespace: Option<&str>, function: &str) {
    if let Some(namespace) = namespace {
        install(Emitter::stdout(namespace, function));
    }
}

/// The process's emitter: one that writes nothing while metrics are off.
pub fn emitter() -> &'static Emitter {
    static OFF: OnceLock<Emitter> = OnceLock::new();
    EMITTER.get().unwrap_or_else(|| {
        OFF.get_or_init(|| Emitter {
            namespace: "".into(),
            function: "".into(),
            sink: Sink::Off,
        })
    })
}

/// Whether CloudWatch takes `namespace` for custom metrics, as the template's
/// `MetricsNamespace` pattern says: 1 to 255 of `A-Z a-z 0-9 . - _ / # :`
/// (CloudWatch also allows spaces; not here), not starting with `AWS/`.
pub fn valid_namespace(namespace: &str) -> bool {
    (1..=255).contains(&namespace.len())
        && !namespace.starts_with("AWS/")
        && namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#' | ':'))
}

/// The invocation a metric belongs to: its ids go on the line as plain
/// members, so that a metric line can be found next to its log lines.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    pub request_id: String,
    pub xray_trace_id: Option<String>,
}

tokio::task_local! {
    static INVOCATION: Invocation;
}

/// Runs `work` as `invocation`: every metric it emits carries its ids.
/// (Not an `async fn`: that would hold `work` twice, once as its argument
/// and once in the scope, and handler futures are large.)
pub fn within<F: Future>(invocation: Invocation, work: F) -> impl Future<Output = F::Output> {
    INVOCATION.scope(invocation, work)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_follow_cloudwatchs_rules() {
        for good in [
            "RolleeConnect",
            "RolleeConnect/prod",
            "a.b-c_d/e#f:g",
            &"x".repeat(255),
        ] {
            assert!(valid_namespace(good), "{good}");
        }
        for bad in ["", "AWS/Lambda", "a b", "é", "a\nb", &"x".repeat(256)] {
            assert!(!valid_namespace(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_hooked_emitter_gets_whole_lines_and_the_invocations_ids() {
        let (emitter, lines) = testing::captured();
        assert_eq!(
            (emitter.namespace(), emitter.function()),
            ("Test/Namespace", "create-user")
        );
        let invocation = Invocation {
            request_id: "r-1".into(),
            xray_trace_id: None,
        };
        within(invocation, async { emitter.quota_rejected() }).await;
        emitter.quota_rejected();
        let lines = lines.lock().unwrap();
        assert_eq!(lines[0]["requestId"], "r-1");
        assert!(lines[0].get("xrayTraceId").is_none());
        assert!(lines[1].get("requestId").is_none());
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use std::sync::{Arc, Mutex};

    use super::Emitter;

    /// An emitter whose lines are kept, parsed, for the test to read.
    pub fn captured() -> (Emitter, Arc<Mutex<Vec<serde_json::Value>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = lines.clone();
        let emitter = Emitter::hook("Test/Namespace", "create-user", move |line| {
            assert!(line.ends_with('\n') && !line.trim_end().contains('\n'));
            kept.lock()
                .unwrap()
                .push(serde_json::from_str(line).unwrap());
        });
        (emitter, lines)
    }
}
