//! The example web app's origin under `make dev`: serves `examples/web/` and
//! forwards the API's routes to `cargo lambda watch`, so that the page and the
//! API share one origin and the browser needs no CORS locally (deployed, API
//! Gateway's CORS settings, `CorsAllowedOrigins`, do that job).
//!
//! `WEB_ADDR` (default 127.0.0.1:9400), `WEB_ROOT` (default examples/web),
//! `WEB_CLIENT` (default clients/typescript/dist: the TypeScript client's
//! compiled ESM, served at `/clients/typescript/dist/`, where the page's
//! relative import finds it both here and on a static host serving the
//! repository), `WEB_API` (default http://127.0.0.1:9000), `WEB_CALLER` (the
//! caller the functions assume, shown by the page; default dev-user).
//!
//! `GET /_dev/config.json` tells the page it runs locally. Any other path is
//! a file of `WEB_ROOT`; `POST /users…`, `POST /sessions/…` and
//! `POST /webhooks/rollee` are forwarded, as API Gateway would: a request to
//! the first two without an `Authorization: Bearer` token, or with a JWT
//! whose `exp` has passed, gets the authorizer's 401 (the signature is not
//! verified: there is no identity provider locally; a token that is no JWT
//! is let through), other requests API Gateway's 404 body.
//!
//! Two callers locally: a `Bearer dev-caller:<sub>` token acts as caller
//! `<sub>` (forwarded as `X-Dev-Caller-Sub`, which only functions run with
//! DEV_CALLER_SUB, i.e. never deployed ones, read); any other token acts as
//! `WEB_CALLER`. This is how `make smoke` checks ownership against make dev.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use rollee_shared::http::{Timeouts, client};
use rollee_shared::token::Jwt;

struct Web {
    root: PathBuf,
    client: PathBuf,
    api: String,
    caller: String,
    http: reqwest::Client,
}

type Reply = Response<Full<Bytes>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let addr: SocketAddr = var("WEB_ADDR", "127.0.0.1:9400").parse()?;
    let web = Arc::new(Web {
        root: PathBuf::from(var("WEB_ROOT", "examples/web")),
        client: PathBuf::from(var("WEB_CLIENT", "clients/typescript/dist")),
        api: var("WEB_API", "http://127.0.0.1:9000")
            .trim_end_matches('/')
            .to_owned(),
        caller: var("WEB_CALLER", "dev-user"),
        // `cargo lambda watch` compiles a function on its first call: allow for it.
        http: client(Timeouts {
            connect: Duration::from_secs(2),
            attempt: Duration::from_secs(600),
        })?,
    });
    if !web.root.join("index.html").is_file() {
        return Err(format!("no index.html in {}", web.root.display()).into());
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let _server = rollee_sandbox::spawn_server(listener, web, handle);
    tokio::signal::ctrl_c().await?;
    Ok(())
}

async fn handle(web: Arc<Web>, request: Request<Incoming>) -> Result<Reply, std::io::Error> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let api_route = path == "/users"
        || path.starts_with("/users/")
        || path.starts_with("/sessions/")
        || path.starts_with("/accounts/");
    Ok(match (&parts.method, path.as_str()) {
        (&Method::GET, "/_dev/config.json") => reply(
            StatusCode::OK,
            "application/json",
            serde_json::json!({ "mode": "local", "caller": web.caller }).to_string(),
        ),
        (&Method::GET, _) | (&Method::DELETE, _) if api_route => {
            if !authorized(&parts.headers) {
                return Ok(reply(
                    StatusCode::UNAUTHORIZED,
                    "application/json",
                    r#"{"message":"Unauthorized"}"#,
                ));
            }
            forward(&web, &parts, Bytes::new()).await
        }
        (&Method::POST, _) if api_route || path == "/webhooks/rollee" => {
            // The webhook route has no authorizer: it checks its own header.
            if api_route && !authorized(&parts.headers) {
                // What API Gateway's JWT authorizer answers without a token.
                return Ok(reply(
                    StatusCode::UNAUTHORIZED,
                    "application/json",
                    r#"{"message":"Unauthorized"}"#,
                ));
            }
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            forward(&web, &parts, body).await
        }
        (&Method::GET | &Method::HEAD, _) => match path.strip_prefix(CLIENT_PATH) {
            Some(rest) => file(&web.client, rest).await,
            None => file(&web.root, &path).await,
        },
        _ => not_found(),
    })
}

/// The request to `cargo lambda watch`, and its answer back.
async fn forward(web: &Web, parts: &hyper::http::request::Parts, body: Bytes) -> Reply {
    let target = format!(
        "{}{}",
        web.api,
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    // API Gateway hands a body that is not UTF-8 text to the function
    // base64-encoded; `cargo lambda watch` decides by the content type alone
    // and answers a non-UTF-8 `application/json` body with its own 500 before
    // any function runs. Marked binary here, it reaches the function as in AWS.
    let binary = std::str::from_utf8(&body).is_err();
    let mut request = web.http.request(parts.method.clone(), target).body(body);
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        request = request.header(header::AUTHORIZATION, value.clone());
    }
    if let Some(sub) = dev_caller(&parts.headers) {
        request = request.header(rollee_shared::request::DEV_CALLER_HEADER, sub);
    }
    if binary {
        request = request.header(header::CONTENT_TYPE, "application/octet-stream");
    } else if let Some(value) = parts.headers.get(header::CONTENT_TYPE) {
        request = request.header(header::CONTENT_TYPE, value.clone());
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(e) => {
            return reply(
                StatusCode::BAD_GATEWAY,
                "application/json",
                serde_json::json!({ "message": format!("make dev: the functions did not answer: {e}") })
                    .to_string(),
            );
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut out = Response::new(Full::new(bytes));
    *out.status_mut() = status;
    for name in [
        header::CONTENT_TYPE,
        header::CACHE_CONTROL,
        header::RETRY_AFTER,
    ] {
        if let Some(value) = headers.get(&name) {
            out.headers_mut().insert(name, value.clone());
        }
    }
    out
}

/// Where the page finds the TypeScript client.
const CLIENT_PATH: &str = "/clients/typescript/dist/";

/// API Gateway's JWT authorizer needs a `Bearer` token and refuses one whose
/// `exp` has passed; its signature is not verified here (there is no
/// identity provider locally), and a token that is no JWT is let through.
fn authorized(headers: &hyper::HeaderMap) -> bool {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if token.is_empty() {
        return false;
    }
    let expired = Jwt::new(token)
        .expires_at()
        .is_some_and(|exp| exp <= time::OffsetDateTime::now_utc());
    !expired
}

/// The caller a `Bearer dev-caller:<sub>` token names, locally.
fn dev_caller(headers: &hyper::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer dev-caller:"))
        .filter(|sub| !sub.trim().is_empty())
}

/// A file under `root`; no path leaves it.
async fn file(root: &Path, path: &str) -> Reply {
    let relative = match path.trim_start_matches('/') {
        "" => "index.html",
        other => other,
    };
    let relative = Path::new(relative);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return not_found();
    }
    let content_type = match relative.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    match tokio::fs::read(root.join(relative)).await {
        Ok(bytes) => {
            let mut r = reply(StatusCode::OK, content_type, bytes);
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        Err(_) => not_found(),
    }
}

/// What API Gateway answers for a path or method that is no route.
fn not_found() -> Reply {
    reply(
        StatusCode::NOT_FOUND,
        "application/json",
        r#"{"message":"Not Found"}"#,
    )
}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}
