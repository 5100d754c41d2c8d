//! A local stand-in for the two AWS calls of the pre-traffic hook
//! (`deploy-check`), on one port (`AWS_ENDPOINT_URL`):
//!
//! - Lambda's `POST /2015-03-31/functions/{name}/invocations`: the payload is
//!   handed to a real function binary under its local Runtime API (by the
//!   name or version ARN it was registered under), and its answer returned
//!   as Lambda returns it (`X-Amz-Function-Error: Unhandled` for an error,
//!   including an init error); an unknown name gets Lambda's 404;
//! - CodeDeploy's `PutLifecycleEventHookExecutionStatus` (JSON 1.1 protocol,
//!   `X-Amz-Target`): the status is recorded for the test to read.
//!
//! moto 5.2.5 runs no Rust function without Docker and has no lifecycle
//! hook status in its CodeDeploy. Each request must carry a SigV4
//! `Authorization` for the right service and region, as AWS would require
//! (the signature itself is not recomputed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use crate::runtime_api::{Outcome, RuntimeApi};

/// A recorded `PutLifecycleEventHookExecutionStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookStatus {
    pub deployment_id: String,
    pub execution_id: String,
    pub status: String,
}

#[derive(Default)]
struct State {
    functions: HashMap<String, Arc<RuntimeApi>>,
    statuses: Vec<HookStatus>,
    /// Each request's target (function or CodeDeploy operation), in order.
    calls: Vec<String>,
}

struct Shared {
    state: Mutex<State>,
    region: String,
}

pub struct AwsStandIn {
    shared: Arc<Shared>,
    pub endpoint: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for AwsStandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl AwsStandIn {
    pub async fn start(region: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            region: region.to_owned(),
        });
        let server = rollee_sandbox::spawn_server(listener, shared.clone(), handle);
        Ok(Self {
            shared,
            endpoint,
            server,
        })
    }

    /// Invokes of `name` (a function name or a version ARN) go to `runtime`.
    pub fn register(&self, name: &str, runtime: Arc<RuntimeApi>) {
        self.state().functions.insert(name.to_owned(), runtime);
    }

    pub fn statuses(&self) -> Vec<HookStatus> {
        self.state().statuses.clone()
    }

    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            hyper::header::HeaderValue::from_str(v),
        ) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

fn decode(label: &str) -> String {
    let bytes = label.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request, …`
fn signed_for(request: &Request<Incoming>, region: &str, service: &str) -> bool {
    request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("AWS4-HMAC-SHA256 Credential=")
                && v.contains(&format!("/{region}/{service}/aws4_request"))
                && v.contains("Signature=")
        })
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Reply, hyper::Error> {
    let path = request.uri().path().to_owned();
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let service = if target.is_some() {
        "codedeploy"
    } else {
        "lambda"
    };
    if !signed_for(&request, &shared.region, service) {
        return Ok(reply(
            StatusCode::FORBIDDEN,
            &[("x-amzn-errortype", "MissingAuthenticationTokenException")],
            r#"{"message":"Missing or malformed SigV4 Authorization"}"#,
        ));
    }
    let body = request.into_body().collect().await?.to_bytes();
    if let Some(target) = target {
        shared
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .calls
            .push(target.clone());
        if target != "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus" {
            return Ok(reply(
                StatusCode::BAD_REQUEST,
                &[],
                r#"{"__type":"UnknownOperationException"}"#,
            ));
        }
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let field = |k: &str| json[k].as_str().unwrap_or_default().to_owned();
        let status = HookStatus {
            deployment_id: field("deploymentId"),
            execution_id: field("lifecycleEventHookExecutionId"),
            status: field("status"),
        };
        if status.deployment_id.is_empty()
            || !["Succeeded", "Failed"].contains(&status.status.as_str())
        {
            return Ok(reply(
                StatusCode::BAD_REQUEST,
                &[],
                r#"{"__type":"InvalidLifecycleEventHookExecutionStatusException"}"#,
            ));
        }
        let answer = serde_json::json!({ "lifecycleEventHookExecutionId": status.execution_id });
        shared
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .statuses
            .push(status);
        return Ok(reply(StatusCode::OK, &[], answer.to_string()));
    }
    let Some(name) = path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .map(decode)
    else {
        return Ok(reply(StatusCode::NOT_FOUND, &[], "{}"));
    };
    let runtime = {
        let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        state.calls.push(name.clone());
        state.functions.get(&name).cloned()
    };
    let Some(runtime) = runtime else {
        return Ok(reply(
            StatusCode::NOT_FOUND,
            &[("x-amzn-errortype", "ResourceNotFoundException")],
            serde_json::json!({"Type": "User", "message": format!("Function not found: {name}")})
                .to_string(),
        ));
    };
    let unhandled = [("x-amz-function-error", "Unhandled")];
    // A function that failed its init: Lambda answers with that error.
    if let Some(error) = runtime.init_error() {
        return Ok(reply(StatusCode::OK, &unhandled, error));
    }
    let timeout = Duration::from_secs(30);
    let outcome = match runtime.ready(timeout).await {
        Ok(_) => runtime.invoke(body, timeout).await,
        Err(e) => Err(e),
    };
    Ok(match outcome {
        Ok(Outcome::Response(body)) => reply(StatusCode::OK, &[], body),
        Ok(Outcome::Error(body)) => reply(StatusCode::OK, &unhandled, body),
        Err(e) => reply(
            StatusCode::OK,
            &unhandled,
            serde_json::json!({"errorType": "Sandbox.Timedout", "errorMessage": e}).to_string(),
        ),
    })
}
