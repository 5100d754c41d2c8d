//! A local stand-in for Rollee's sandbox API, for development and tests:
//! Rollee itself cannot be reached from our machines or CI.
//!
//! Published behaviour is reproduced as documented; everything Rollee does not
//! publish is marked `STAND-IN` where it is decided here, so that nobody
//! mistakes it for Rollee's behaviour. The markers [C] (confirmed by Rollee's
//! documentation or SDKs), [I] (inferred) and [?] (unpublished) are those of
//! docs/rollee.md, which lists each fact. Fault modes let a test make it slow,
//! rude or broken on demand.
//!
//! Where things are:
//! - this file: the [`Sandbox`] handle a test holds, [`Fault`], [`Recorded`]
//!   and the published constants;
//! - this file also makes the sandbox's JWTs ([`jwt`]);
//! - `api`: the Rollee API endpoints (users, sessions, refresh, token refresh)
//!   and `handle`, through which every request goes;
//! - `accounts`: the account endpoints (list, get, delete, reconnect,
//!   disconnect) and the changes to an account;
//! - `webhook_config`: the webhook endpoints of the API (`PUT`/`DELETE
//!   /webhooks/{type}`, `GET /webhooks`);
//! - `webhooks`: webhook deliveries (signing, retries, [`Delivery`],
//!   [`WebhookMode`]), and the STAND-IN decisions about them;
//! - `events`: the bodies of account, data-ready and Connect-page events;
//! - `connect`: the Connect page a link opens, with its stand-in account
//!   connection and reconnection;
//! - `control`: the `/_sandbox/` control endpoints (for `rollee-sandbox` run
//!   on its own);
//! - `world`: the state (users, sessions, accounts, JWTs, clock, faults,
//!   requests, webhooks and their deliveries);
//! - `response`: building responses, including the error body;
//! - `server`: [`spawn_server`], the HTTP loop, also used by the harness.

mod accounts;
mod api;
mod connect;
mod control;
mod events;
mod response;
mod server;
mod webhook_config;
mod webhooks;
mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use uuid::Uuid;

pub use server::spawn_server;
pub use webhooks::{DELIVERY_TIMEOUT, Delivery, WebhookMode};

use world::{SessionState, Shared, World};

/// The API's path prefix [C].
pub const API_PREFIX: &str = "/api/v0.5";
/// Connect links have the published shape `…/v0.4/session/<UUID>` [C]; here they point back at the sandbox.
pub const CONNECT_PREFIX: &str = "/v0.4/session/";
/// Default session lifetime [C].
pub const SESSION_LIFETIME: time::Duration = time::Duration::minutes(30);
/// STAND-IN: the lifetime of a JWT from `GET /token/refresh` is not published
/// ("a specific validity time period"); by default the sandbox's last 30 days.
pub const TOKEN_LIFETIME: time::Duration = time::Duration::days(30);
/// STAND-IN: the `datasource_id` of every account the Connect stand-in
/// connects (Rollee's data source ids are not published).
pub const SANDBOX_DATASOURCE_ID: Uuid = Uuid::from_u128(0x5a4db0c5_0000_4000_8000_000000000001);

/// A JWT as the sandbox issues them: three base64url parts, the payload
/// `{"iss": "rollee-sandbox", "exp": exp, "jti": <uuid>}`, a random signature.
/// STAND-IN: Rollee's claims are not published; the functions read only `exp`,
/// and cope with JWTs without one (the sandbox's default JWT is opaque).
pub fn jwt(exp: i64) -> String {
    let header = base64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = serde_json::json!({
        "iss": "rollee-sandbox",
        "exp": exp,
        "jti": Uuid::new_v4(),
    });
    let payload = base64url(payload.to_string().as_bytes());
    let signature = base64url(Uuid::new_v4().as_bytes());
    format!("{header}.{payload}.{signature}")
}

/// Unpadded base64url (RFC 4648 §5), as JWTs are written.
fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A way for the sandbox to misbehave on API calls (not on Connect pages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally, but only after this long.
    Delay(Duration),
    /// Read the request, then close the connection without an answer.
    Drop,
    /// 401, whatever the token.
    Unauthorized,
    /// 429, with `Retry-After: <seconds>` when given. STAND-IN: Rollee's 429 is not published.
    RateLimited(Option<u64>),
    /// 500. STAND-IN: Rollee's 5xx bodies are not published.
    ServerError,
    /// 200 with a body that is not JSON.
    MalformedJson,
}

/// One API request as the sandbox saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path without the API prefix (`/api/v0.3/token/refresh` whole).
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

/// A running sandbox on 127.0.0.1. Stops when dropped.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sandbox {
    /// Starts on a free port, accepting `token` as the Rollee JWT.
    pub async fn start(token: &str) -> std::io::Result<Self> {
        Self::bind("127.0.0.1:0".parse().map_err(std::io::Error::other)?, token).await
    }

    pub async fn bind(addr: SocketAddr, token: &str) -> std::io::Result<Self> {
        Self::bind_with_origin(addr, token, None).await
    }

    /// As [`Sandbox::bind`], with Connect links on `origin` (e.g.
    /// `http://10.0.2.2:9100`, how an emulator reaches it) instead of `http://<addr>`.
    pub async fn bind_with_origin(
        addr: SocketAddr,
        token: &str,
        origin: Option<String>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let origin = origin
            .map(|o| o.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{addr}"));
        let shared = Arc::new(Shared {
            world: Mutex::new(World {
                tokens: vec![token.to_owned()],
                ..World::default()
            }),
            origin,
            runtime: Handle::try_current().map_err(std::io::Error::other)?,
            delivered: Notify::new(),
        });
        let task = spawn_server(listener, shared.clone(), api::handle);
        Ok(Self { addr, shared, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base to configure as `ROLLEE_API_URL`.
    pub fn base_url(&self) -> String {
        format!("{}{API_PREFIX}", self.shared.origin)
    }

    /// From now on only `token` is accepted: the old JWT gets 401 (a rotation).
    pub fn accept_only(&self, token: &str) {
        self.shared.world().tokens = vec![token.to_owned()];
    }

    /// STAND-IN (not published): whether `GET /token/refresh` stops the JWT it
    /// was called with from working. Off by default: the old JWT keeps
    /// working, as it would until its expiry if Rollee does not revoke it.
    pub fn revoke_old_jwt_on_refresh(&self, revoke: bool) {
        self.shared.world().revoke_on_refresh = revoke;
    }

    /// JWTs issued from now on expire this long after the sandbox's now
    /// (default [`TOKEN_LIFETIME`]).
    pub fn set_jwt_lifetime(&self, lifetime: Duration) {
        let lifetime = time::Duration::try_from(lifetime).unwrap_or(time::Duration::MAX);
        self.shared.world().token_lifetime = lifetime;
    }

    /// Every JWT `GET /token/refresh` has issued, oldest first.
    pub fn issued_jwts(&self) -> Vec<String> {
        self.shared.world().issued.clone()
    }

    /// Misbehave on the next `times` API requests (`None`: until [`Sandbox::clear_faults`]).
    pub fn fail(&self, fault: Fault, times: Option<usize>) {
        let times = times.map(|n| n.max(1));
        self.shared.world().faults.push_back((fault, times));
    }

    /// Every API request from now on waits this long before it is answered
    /// (faults still apply after it).
    pub fn set_latency(&self, latency: Duration) {
        self.shared.world().latency = latency;
    }

    /// From now on `sessions/new` answers `status` (`None`: sessions again).
    pub fn refuse_new_sessions(&self, status: Option<u16>) {
        self.shared.world().new_session_refusal = status;
    }

    pub fn clear_faults(&self) {
        self.shared.world().faults.clear();
    }

    /// Moves the sandbox's clock forward, to expire sessions without waiting.
    pub fn advance_clock(&self, by: Duration) {
        let by = time::Duration::try_from(by).unwrap_or(time::Duration::MAX);
        let mut world = self.shared.world();
        world.clock_offset = world.clock_offset.saturating_add(by);
    }

    /// Every API request seen so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.world().recorded.clone()
    }

    /// A user's stored metadata, as Rollee would return it.
    pub fn metadata_of(&self, user: Uuid) -> Option<Map<String, Value>> {
        self.shared
            .world()
            .users
            .get(&user)
            .map(|u| u.metadata.clone())
    }

    /// Whether the Connect page of `session` would open now.
    pub fn session_is_valid(&self, session: Uuid) -> bool {
        matches!(
            self.shared.world().session_state(session),
            SessionState::Valid { .. }
        )
    }

    pub fn user_count(&self) -> usize {
        self.shared.world().users.len()
    }

    /// What the Connect page's button does: connects an account for the user
    /// of `session` and emits `create_account` then `connect_account`; for a
    /// reconnect session, reconnects its account and emits `connect_account`.
    /// Then the data-ready events and the `login` Connect-page event. The
    /// account; `None` (and no account) when the page would not open.
    pub fn connect_account(&self, session: Uuid) -> Option<Uuid> {
        connect::connect_account(&self.shared, session)
            .ok()
            .map(|(account, _)| account)
    }

    /// What `POST /accounts/{id}/reconnect` does: a new session of the
    /// account's user whose Connect page reconnects `account`. `None` for an
    /// unknown account.
    pub fn reconnect_session(&self, account: Uuid) -> Option<Uuid> {
        accounts::reconnect_session(&mut self.shared.world(), account)
    }

    /// What `POST /accounts/{id}/disconnect` does (and emits
    /// `disconnect_account`); false for an unknown account.
    pub fn disconnect_account(&self, account: Uuid) -> bool {
        let mut world = self.shared.world();
        accounts::disconnect_account(&self.shared, &mut world, account).is_some()
    }

    /// What `POST /_sandbox/accounts/{id}` does: sets what is given
    /// (`status: Some(None)` removes the status) and emits `update_account`;
    /// false for an unknown account.
    pub fn set_account(
        &self,
        account: Uuid,
        connected: Option<bool>,
        status: Option<Option<&str>>,
    ) -> bool {
        let status = status.map(|s| s.map(str::to_owned));
        let mut world = self.shared.world();
        accounts::set_account(&self.shared, &mut world, account, connected, status).is_some()
    }

    /// An account as `GET /accounts/{id}` answers it.
    pub fn account(&self, account: Uuid) -> Option<Value> {
        accounts::account_json(&self.shared.world(), account)
    }

    /// A user's accounts, oldest first (empty for an unknown user).
    pub fn accounts_of(&self, user: Uuid) -> Vec<Uuid> {
        accounts::accounts_of(&self.shared.world(), user).unwrap_or_default()
    }

    /// Whether `user` exists (not deleted).
    pub fn has_user(&self, user: Uuid) -> bool {
        self.shared.world().users.contains_key(&user)
    }

    /// Every webhook delivery attempt so far, in the order they ended.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.world().deliveries.clone()
    }

    /// Waits until at least `n` delivery attempts have ended, or `timeout`;
    /// returns every attempt so far either way.
    pub async fn wait_for_deliveries(&self, n: usize, timeout: Duration) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        loop {
            let ended = self.shared.delivered.notified();
            tokio::pin!(ended);
            // Registered before the count is read: no attempt can slip between.
            ended.as_mut().enable();
            {
                let world = self.shared.world();
                if world.deliveries.len() >= n {
                    return world.deliveries.clone();
                }
            }
            match deadline {
                Some(deadline) => {
                    if tokio::time::timeout_at(deadline, ended).await.is_err() {
                        return self.deliveries();
                    }
                }
                None => ended.await,
            }
        }
    }

    /// How events are delivered from now on (events already under way keep their mode).
    pub fn set_webhook_mode(&self, mode: WebhookMode) {
        self.shared.world().webhook_mode = mode;
    }

    /// Sends `body` as an event through the webhook registered for `kind`
    /// (`"users"`, `"accounts"`, `"endpoints"`, `"multi_endpoints"` or
    /// `"rollee_connect_events"`), with the same signing, retries and
    /// duplication as the sandbox's own events; returns once its deliveries
    /// have ended. Nothing is sent for another `kind`, or when that type is
    /// not registered or is disabled.
    pub async fn deliver(&self, kind: &str, body: Value) {
        let plan = {
            let world = self.shared.world();
            webhooks::kind(kind).and_then(|kind| webhooks::plan(&world, kind, &[body]))
        };
        if let Some(plan) = plan {
            webhooks::send(self.shared.clone(), plan).await;
        }
    }

    /// The registered webhooks, as `GET /webhooks` answers: type, url,
    /// method, headers, enabled, and whether signed (never the secret).
    pub fn webhooks(&self) -> Value {
        webhook_config::webhooks_json(&self.shared.world())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64url_is_rfc_4648_without_padding() {
        for (bytes, encoded) in [
            (&b""[..], ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"\xfb\xff\xbf", "-_-_"),
        ] {
            assert_eq!(super::base64url(bytes), encoded);
        }
        let jwt = super::jwt(1_900_000_000);
        assert_eq!(jwt.split('.').count(), 3);
        assert!(jwt.starts_with("eyJ"));
    }
}
