//! The functions under test and what they are given: their release
//! `bootstrap`s, started the way Lambda starts them, the events each
//! invocation sends, and one checked invocation.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rollee_harness::runtime_api::Bootstrap;
use rollee_shared::flow;
use rollee_shared::request::Caller;
use rollee_shared::rollee::RolleeClient;
use rollee_shared::store::Store;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Error;
use crate::cold::ColdWork;
use crate::settings::{JWT, NAMESPACE, SECRET, TABLE, root};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Hello,
    CreateUser,
    NewSession,
    RefreshUrl,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Hello,
        Kind::CreateUser,
        Kind::NewSession,
        Kind::RefreshUrl,
    ];

    pub fn binary(self) -> &'static str {
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

// ------------------------------------------------------------------ binaries

pub fn bootstrap(kind: Kind) -> PathBuf {
    root()
        .join("target/lambda")
        .join(kind.binary())
        .join("bootstrap")
}

pub fn build(kind: Kind) -> Result<(), Error> {
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

/// Every function's `bootstrap` is there.
pub fn check_built() -> Result<(), Error> {
    for kind in Kind::ALL {
        if !bootstrap(kind).is_file() {
            return Err(format!(
                "{} is missing: run without --skip-build",
                bootstrap(kind).display()
            )
            .into());
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ processes

/// The variables every started function gets on top of Lambda's own.
pub struct Env {
    runtime_vars: Vec<(String, String)>,
    /// Whether the functions write their metric lines (METRICS_NAMESPACE).
    pub metrics: bool,
}

impl Env {
    /// Rollee at `api_url`; AWS at `aws_endpoint` (moto), but for the
    /// ownership table when `table` names another endpoint; `tls`: what
    /// the functions are given besides (`AWS_CA_BUNDLE`, `CONNECT_AT_INIT`).
    pub fn new(
        api_url: &str,
        aws_endpoint: &str,
        table: Option<&str>,
        extra: Vec<(String, String)>,
        metrics: bool,
    ) -> Env {
        let mut env = Env {
            metrics,
            runtime_vars: vec![
                ("ROLLEE_API_URL".into(), api_url.to_owned()),
                ("OWNERSHIP_TABLE".into(), TABLE.into()),
                // Each caller makes thousands of sessions a minute here.
                ("SESSIONS_PER_CALLER_PER_MINUTE".into(), "10000".into()),
                ("AWS_ENDPOINT_URL".into(), aws_endpoint.to_owned()),
                ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
                ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
                ("AWS_SESSION_TOKEN".into(), "testing".into()),
            ],
        };
        env.runtime_vars.extend(extra);
        if metrics {
            // As deployed (the lines go where the logs go).
            env.runtime_vars
                .push(("METRICS_NAMESPACE".into(), NAMESPACE.into()));
        }
        if let Some(endpoint) = table {
            // The SDK's service-specific override.
            env.runtime_vars
                .push(("AWS_ENDPOINT_URL_DYNAMODB".into(), endpoint.to_owned()));
        }
        env
    }
}

/// Where a started function gets its JWT.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum JwtFrom {
    /// Secrets Manager (moto), as deployed.
    Secret,
    /// `ROLLEE_TOKEN`: no secret to fetch, to see what init costs without it.
    Token,
}

/// Starts `kind`'s release bootstrap as Lambda would; with `capture`, its
/// output is kept for [`Bootstrap::stop`].
pub async fn start(
    kind: Kind,
    env: &Env,
    jwt: JwtFrom,
    extra: &[(&str, String)],
    capture: bool,
) -> Result<Bootstrap, Error> {
    let source = match jwt {
        JwtFrom::Secret => ("ROLLEE_SECRET_ID", SECRET),
        JwtFrom::Token => ("ROLLEE_TOKEN", JWT),
    };
    let mut vars: Vec<(&str, &str)> = env
        .runtime_vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    vars.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
    vars.push(source);
    let (path, name) = (bootstrap(kind), kind.binary());
    Ok(match jwt {
        JwtFrom::Secret => Bootstrap::start(&path, name, &vars, capture).await?,
        // The functions refuse ROLLEE_TOKEN where AWS_EXECUTION_ENV says they
        // run in Lambda: for the init without the secret, it is left out (it
        // changes nothing else the function does).
        JwtFrom::Token => Bootstrap::start_outside_lambda(&path, name, &vars, capture).await?,
    })
}

/// One invocation, checked: the API Gateway response the function returned.
pub async fn invoke(function: &Bootstrap, kind: Kind, event: &Value) -> Result<Value, String> {
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

/// What each invocation of a function needs: a caller (the `sub` of its
/// events) with its user to make sessions for, a chain of Connect URLs to
/// refresh; for `create-user`, a new caller each time, so that each
/// invocation creates a user.
pub struct Work {
    kind: Kind,
    template: Value,
    pub sub: String,
    pub user: Uuid,
    pub connect_url: Option<String>,
    /// Callers made up for `create-user` so far.
    created: usize,
}

impl Work {
    /// `sub`'s user, found or created through the table as the functions do.
    pub async fn new(
        kind: Kind,
        client: &RolleeClient,
        store: &Store,
        sub: String,
    ) -> Result<Work, Error> {
        let template = match kind {
            Kind::Hello | Kind::CreateUser => event("create-user")?,
            Kind::NewSession => event("new-session")?,
            Kind::RefreshUrl => event("refresh-url")?,
        };
        let found =
            flow::find_or_create_user(client, store, &Caller::new(&sub), Default::default())
                .await
                .map_err(|e| format!("{}: {}", e.detail, e.cause.unwrap_or_default()))?;
        Ok(Work {
            kind,
            template,
            sub,
            user: found.user_id,
            connect_url: Some(found.session.link.to_string()),
            created: 0,
        })
    }

    /// The next caller `create-user` has never seen.
    pub fn fresh_caller(&mut self) -> String {
        self.created += 1;
        format!("{}-{}", self.sub, self.created)
    }

    pub fn next_event(&mut self) -> Value {
        let mut e = self.template.clone();
        let sub = match self.kind {
            Kind::Hello => self.sub.clone(),
            Kind::CreateUser => self.fresh_caller(),
            Kind::NewSession | Kind::RefreshUrl => self.sub.clone(),
        };
        e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = sub.into();
        match self.kind {
            Kind::Hello | Kind::CreateUser => {}
            Kind::NewSession => {
                let user = self.user.to_string();
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
    pub fn record(&mut self, response: &Value) {
        if self.kind == Kind::RefreshUrl
            && let Some(body) = response["body"].as_str()
            && let Ok(body) = serde_json::from_str::<Value>(body)
        {
            self.connect_url = body["connect_url"].as_str().map(str::to_owned);
        }
    }
}

impl ColdWork for Work {
    fn event(&mut self) -> Result<Value, Error> {
        Ok(self.next_event())
    }

    fn check(&mut self, response: &Value) -> bool {
        self.record(response);
        response["statusCode"].as_u64() == Some(self.kind.expected_status())
    }
}
