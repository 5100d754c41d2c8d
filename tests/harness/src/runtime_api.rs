//! A local Lambda Runtime API (the `2018-06-01` interface a `provided.al2023`
//! function polls), so that a release `bootstrap` can be run exactly the way
//! Lambda runs it: the test queues an event, the function fetches it with
//! `GET …/invocation/next` and posts its answer back.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use uuid::Uuid;

const PREFIX: &str = "/2018-06-01/runtime/";

/// What the function answered to one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `POST …/invocation/{id}/response`: the body.
    Response(Bytes),
    /// `POST …/invocation/{id}/error`: the body (an error object).
    Error(Bytes),
}

struct Pending {
    id: String,
    event: Bytes,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Pending>,
    waiting: HashMap<String, oneshot::Sender<Outcome>>,
    /// When each `GET …/next` arrived: the first one marks the end of init.
    polls: Vec<Instant>,
    init_error: Option<Bytes>,
}

struct Shared {
    state: Mutex<State>,
    queued: Notify,
    polled: Notify,
    function_arn: String,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A Runtime API on 127.0.0.1. Stops when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuntimeApi {
    pub async fn start(function_name: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            queued: Notify::new(),
            polled: Notify::new(),
            function_arn: format!("arn:aws:lambda:eu-west-1:123456789012:function:{function_name}"),
        });
        let task = rollee_sandbox::spawn_server(listener, shared.clone(), handle);
        Ok(Self { addr, shared, task })
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Waits for the function's first `GET …/next` (the end of its init), or
    /// an init error, or `timeout`. Returns when the first poll arrived.
    pub async fn ready(&self, timeout: Duration) -> Result<Instant, String> {
        self.poll(1, timeout).await
    }

    /// Waits for the function's `n`th `GET …/next` (the 2nd: it finished
    /// its first invocation), or an init error, or `timeout`. Returns when
    /// that poll arrived.
    pub async fn poll(&self, n: usize, timeout: Duration) -> Result<Instant, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.polled.notified();
            {
                let state = self.shared.state();
                if let Some(error) = &state.init_error {
                    return Err(format!("init error: {}", String::from_utf8_lossy(error)));
                }
                if let Some(nth) = state.polls.get(n.saturating_sub(1)) {
                    return Ok(*nth);
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(format!("no GET …/invocation/next within {timeout:?}"));
            }
        }
    }

    /// Queues `event`, waits for the function's answer.
    pub async fn invoke(
        &self,
        event: impl Into<Bytes>,
        timeout: Duration,
    ) -> Result<Outcome, String> {
        let id = Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.shared.state();
            state.waiting.insert(id.clone(), tx);
            state.queue.push_back(Pending {
                id: id.clone(),
                event: event.into(),
            });
        }
        self.shared.queued.notify_one();
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => Err(format!("invocation {id}: the runtime API dropped it")),
            Err(_) => {
                self.shared.state().waiting.remove(&id);
                Err(format!("invocation {id}: no answer within {timeout:?}"))
            }
        }
    }

    pub fn init_error(&self) -> Option<String> {
        self.shared
            .state()
            .init_error
            .as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

/// The environment Lambda gives a `provided.al2023` function (less the
/// credentials and the function's own variables, which the caller adds).
pub fn lambda_environment(
    function_name: &str,
    runtime_api: &str,
    memory_mb: u32,
) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function_name}"),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/28/[$LATEST]0123456789abcdef".to_owned(),
        ),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".to_owned()),
        ("AWS_REGION", "eu-west-1".to_owned()),
        ("AWS_DEFAULT_REGION", "eu-west-1".to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned()),
        ("TZ", ":UTC".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A function's `bootstrap`, started the way Lambda starts it: a clean
/// environment with Lambda's variables, and a Runtime API of its own.
pub struct Bootstrap {
    child: Child,
    pub runtime: Arc<RuntimeApi>,
    spawned: Instant,
    /// Drain the function's stdout and stderr as it writes (a full pipe would
    /// block it), when captured.
    readers: Vec<std::thread::JoinHandle<Vec<u8>>>,
}

impl Drop for Bootstrap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bootstrap {
    /// Starts `path` as function `name`, with `vars` on top of Lambda's
    /// variables. With `capture`, its output is kept for [`Bootstrap::stop`].
    pub async fn start(
        path: &Path,
        name: &str,
        vars: &[(&str, &str)],
        capture: bool,
    ) -> std::io::Result<Bootstrap> {
        Self::spawn(path, name, vars, capture, true).await
    }

    /// As [`Bootstrap::start`], less `AWS_EXECUTION_ENV`: a function run by
    /// `cargo lambda watch`, where local-development settings are allowed.
    pub async fn start_outside_lambda(
        path: &Path,
        name: &str,
        vars: &[(&str, &str)],
        capture: bool,
    ) -> std::io::Result<Bootstrap> {
        Self::spawn(path, name, vars, capture, false).await
    }

    async fn spawn(
        path: &Path,
        name: &str,
        vars: &[(&str, &str)],
        capture: bool,
        in_lambda: bool,
    ) -> std::io::Result<Bootstrap> {
        let runtime = Arc::new(RuntimeApi::start(name).await?);
        let output = || {
            if capture {
                Stdio::piped()
            } else {
                Stdio::null()
            }
        };
        let mut command = Command::new(path);
        command
            .env_clear()
            .envs(
                lambda_environment(name, &runtime.address(), 128)
                    .into_iter()
                    .filter(|(k, _)| in_lambda || k != "AWS_EXECUTION_ENV"),
            )
            .envs(vars.iter().copied())
            .stdout(output())
            .stderr(output());
        let spawned = Instant::now();
        let mut child = command.spawn()?;
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(drain(out));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(drain(err));
        }
        Ok(Bootstrap {
            child,
            runtime,
            spawned,
            readers,
        })
    }

    /// Spawn → the first `GET …/invocation/next`: the function's init.
    pub async fn init(&self, timeout: Duration) -> Result<Duration, String> {
        let first_poll = self.runtime.ready(timeout).await?;
        Ok(first_poll.duration_since(self.spawned))
    }

    /// One invocation; the function's response as JSON (for `lambda_http`: the
    /// API Gateway response with `statusCode` and `body`).
    pub async fn invoke(
        &self,
        event: &serde_json::Value,
        timeout: Duration,
    ) -> Result<serde_json::Value, String> {
        self.runtime.ready(timeout).await?;
        match self.runtime.invoke(event.to_string(), timeout).await? {
            Outcome::Response(body) => {
                serde_json::from_slice(&body).map_err(|e| format!("response is not JSON: {e}"))
            }
            Outcome::Error(body) => Err(format!(
                "function error: {}",
                String::from_utf8_lossy(&body)
            )),
        }
    }

    /// The function's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The CPU time the process has used so far, user and system, summed
    /// over its threads (`/proc/<pid>/task/*/schedstat`, in nanoseconds:
    /// `/proc/<pid>/stat` counts in clock ticks of 10 ms, coarser than a
    /// whole init). A thread that already exited is not counted: the
    /// functions' threads (one, or tokio's workers) live as long as they do.
    pub fn cpu_time(&self) -> Option<Duration> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.child.id())).ok()?;
        let mut total = 0u64;
        for task in tasks {
            let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
            total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
        }
        Some(Duration::from_nanos(total))
    }

    /// Peak resident memory so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Stops the function; what it wrote, if captured.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut text = Vec::new();
        for reader in std::mem::take(&mut self.readers) {
            text.extend(reader.join().unwrap_or_default());
        }
        String::from_utf8_lossy(&text).into_owned()
    }
}

fn drain(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

type Reply = Response<Full<Bytes>>;

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Reply, std::convert::Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let Some(path) = parts.uri.path().strip_prefix(PREFIX) else {
        return Ok(status(StatusCode::NOT_FOUND));
    };
    let segments: Vec<&str> = path.split('/').collect();
    Ok(match (&parts.method, segments.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => next(&shared).await,
        (&Method::POST, ["invocation", id, "response"]) => {
            finish(&shared, id, Outcome::Response(body))
        }
        (&Method::POST, ["invocation", id, "error"]) => finish(&shared, id, Outcome::Error(body)),
        (&Method::POST, ["init", "error"]) => {
            shared.state().init_error = Some(body);
            shared.polled.notify_waiters();
            status(StatusCode::ACCEPTED)
        }
        _ => status(StatusCode::NOT_FOUND),
    })
}

async fn next(shared: &Shared) -> Reply {
    {
        shared.state().polls.push(Instant::now());
    }
    shared.polled.notify_waiters();
    let pending = loop {
        let notified = shared.queued.notified();
        if let Some(p) = shared.state().queue.pop_front() {
            break p;
        }
        notified.await;
    };
    let deadline = SystemTime::now()
        .checked_add(Duration::from_secs(25))
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let mut reply = Response::new(Full::new(pending.event));
    let headers = reply.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", pending.id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        shared.function_arn.clone(),
    );
    set(
        "lambda-runtime-trace-id",
        format!("Root=1-{}", Uuid::new_v4().simple()),
    );
    set("content-type", "application/json".to_owned());
    reply
}

fn finish(shared: &Shared, id: &str, outcome: Outcome) -> Reply {
    match shared.state().waiting.remove(id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            status(StatusCode::ACCEPTED)
        }
        None => status(StatusCode::BAD_REQUEST),
    }
}

fn status(code: StatusCode) -> Reply {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = code;
    r
}
