//! What the functions call, as they reach it: over TLS by default, with a
//! CA made for the run ([`rollee_harness::tls`]) that the functions trust
//! through `AWS_CA_BUNDLE`, as a deployed function meets Rollee, Secrets
//! Manager and DynamoDB over TLS; or plain HTTP (`--tls off`), as before
//! issue 23 and as `make dev` runs.
//!
//! Each local server (moto, the sandbox, the table and bus stand-ins) keeps
//! serving plain HTTP; a TLS front in this process terminates TLS before
//! it, so the servers' own figures do not change with the setting.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;

use rollee_harness::tls::{LocalCa, TlsFront};
use rollee_sandbox::Sandbox;
use rollee_shared::http;
use rollee_shared::rollee::ClientOptions;

use crate::Error;
use crate::settings::root;

pub struct Upstreams {
    ca: Option<LocalCa>,
    fronts: Mutex<Vec<TlsFront>>,
    /// An HTTP client that trusts the run's CA, for the benchmark's own calls.
    pub http: reqwest::Client,
}

impl Upstreams {
    pub fn new(tls: bool) -> Result<Upstreams, Error> {
        let ca = if tls {
            Some(LocalCa::new(&root().join("target/bench-tls"))?)
        } else {
            None
        };
        let http = client(ca.as_ref())?;
        Ok(Upstreams {
            ca,
            fronts: Mutex::new(Vec::new()),
            http,
        })
    }

    /// The URL the functions are given for the plain server at `plain`:
    /// `https://` a TLS front before it, or `http://` it.
    pub async fn expose(&self, plain: SocketAddr) -> Result<String, Error> {
        let Some(ca) = &self.ca else {
            return Ok(format!("http://{plain}"));
        };
        let front = ca.front(plain).await?;
        let url = front.url();
        self.fronts
            .lock()
            .expect("no panic while holding the fronts")
            .push(front);
        Ok(url)
    }

    /// The Rollee sandbox, its API and its Connect links on the origin the
    /// functions reach it at (a TLS front, or itself).
    pub async fn sandbox(&self, jwt: &str) -> Result<Sandbox, Error> {
        let any: SocketAddr = "127.0.0.1:0".parse()?;
        let Some(ca) = &self.ca else {
            return Ok(Sandbox::bind(any, jwt).await?);
        };
        let listener = tokio::net::TcpListener::bind(any).await?;
        let origin = format!("https://{}", listener.local_addr()?);
        let sandbox = Sandbox::bind_with_origin(any, jwt, Some(origin)).await?;
        let front = ca.front_on(listener, sandbox.addr());
        self.fronts
            .lock()
            .expect("no panic while holding the fronts")
            .push(front);
        Ok(sandbox)
    }

    /// As [`Upstreams::expose`], for a server known by its `http://` URL.
    pub async fn expose_url(&self, plain: &str) -> Result<String, Error> {
        let rest = plain
            .strip_prefix("http://")
            .ok_or_else(|| format!("not a plain http URL: {plain}"))?;
        let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
        let exposed = self.expose(host.parse()?).await?;
        Ok(if path.is_empty() {
            exposed
        } else {
            format!("{exposed}/{path}")
        })
    }

    /// What a function is given to trust the CA: `AWS_CA_BUNDLE`, or nothing.
    pub fn vars(&self) -> Vec<(String, String)> {
        self.bundle()
            .map(|b| vec![("AWS_CA_BUNDLE".to_owned(), b.display().to_string())])
            .unwrap_or_default()
    }

    pub fn bundle(&self) -> Option<&Path> {
        self.ca.as_ref().map(LocalCa::bundle)
    }

    /// A new client trusting the CA: a new connection pool, so its first
    /// call pays the connection (and handshake) a cold start pays.
    pub fn fresh_client(&self) -> Result<reqwest::Client, Error> {
        client(self.ca.as_ref())
    }
}

fn client(ca: Option<&LocalCa>) -> Result<reqwest::Client, Error> {
    let roots: Vec<_> = ca.map(LocalCa::certificate).into_iter().collect();
    Ok(http::client_with_roots(
        ClientOptions::default().timeouts(),
        &roots,
    )?)
}
