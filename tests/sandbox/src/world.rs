//! The sandbox's state: users, sessions, accounts, accepted JWTs, its clock,
//! the faults and requests of the API calls, and the webhooks with their
//! deliveries.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio::runtime::Handle;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::webhooks::{Delivery, WebhookMode};
use crate::{Fault, Recorded};

#[derive(Debug)]
pub(crate) struct UserRecord {
    pub(crate) created_at: OffsetDateTime,
    pub(crate) metadata: Map<String, Value>,
    /// The user's latest session.
    pub(crate) session: Uuid,
}

#[derive(Debug)]
pub(crate) struct SessionRecord {
    pub(crate) user: Uuid,
    pub(crate) expires_at: OffsetDateTime,
    /// Replaced by a refresh.
    pub(crate) revoked: bool,
    /// The account a reconnect session (`POST /accounts/{id}/reconnect`)
    /// reconnects; `None`: the Connect page connects a new account.
    pub(crate) account: Option<Uuid>,
    /// STAND-IN: the `tracking_id` of the session's Connect-page events, one per session.
    pub(crate) tracking: Uuid,
    /// When its Connect page was first opened (on the sandbox's clock): the
    /// start of the `duration` of its Connect-page events.
    pub(crate) opened_at: Option<OffsetDateTime>,
}

/// An account made by the Connect stand-in.
#[derive(Debug)]
pub(crate) struct AccountRecord {
    pub(crate) user: Uuid,
    pub(crate) datasource: Uuid,
    pub(crate) connected: bool,
    pub(crate) created_at: OffsetDateTime,
    /// STAND-IN: `"connected"` or `"disconnected"`, unless `POST
    /// /_sandbox/accounts/{id}` set another (or removed it: `None`, the field
    /// is then left out of the account).
    pub(crate) status: Option<String>,
    /// STAND-IN: when it last changed (connected, reconnected, disconnected, set).
    pub(crate) updated_at: OffsetDateTime,
}

/// A webhook as registered with `PUT /webhooks/{type}`.
#[derive(Debug, Clone)]
pub(crate) struct WebhookConfig {
    pub(crate) url: String,
    /// In the order of the registered object (its keys sorted).
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) secret: Option<String>,
    pub(crate) enabled: bool,
}

#[derive(Debug)]
pub(crate) struct World {
    /// The JWTs the API accepts.
    pub(crate) tokens: Vec<String>,
    /// Every JWT `GET /token/refresh` issued, oldest first.
    pub(crate) issued: Vec<String>,
    /// The `exp` of an issued JWT: the sandbox's now plus this.
    pub(crate) token_lifetime: time::Duration,
    /// A token refresh stops the JWT it was called with from working.
    pub(crate) revoke_on_refresh: bool,
    pub(crate) users: HashMap<Uuid, UserRecord>,
    pub(crate) sessions: HashMap<Uuid, SessionRecord>,
    pub(crate) clock_offset: time::Duration,
    /// Added to every API request before it is answered.
    pub(crate) latency: Duration,
    /// Faults to apply, oldest first; `Some(n)`: for the next n API requests.
    pub(crate) faults: VecDeque<(Fault, Option<usize>)>,
    pub(crate) recorded: Vec<Recorded>,
    /// `sessions/new` answers this status instead of a session.
    pub(crate) new_session_refusal: Option<u16>,
    pub(crate) accounts: HashMap<Uuid, AccountRecord>,
    /// By type: `"users"`, `"accounts"`, `"endpoints"`, `"multi_endpoints"`
    /// or `"rollee_connect_events"`.
    pub(crate) webhooks: BTreeMap<&'static str, WebhookConfig>,
    pub(crate) webhook_mode: WebhookMode,
    /// Every delivery attempt, in the order they ended.
    pub(crate) deliveries: Vec<Delivery>,
}

impl Default for World {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            issued: Vec::new(),
            token_lifetime: crate::TOKEN_LIFETIME,
            revoke_on_refresh: false,
            users: HashMap::new(),
            sessions: HashMap::new(),
            clock_offset: time::Duration::ZERO,
            latency: Duration::ZERO,
            faults: VecDeque::new(),
            recorded: Vec::new(),
            new_session_refusal: None,
            accounts: HashMap::new(),
            webhooks: BTreeMap::new(),
            webhook_mode: WebhookMode::default(),
            deliveries: Vec::new(),
        }
    }
}

/// Whether a session's Connect page would let its user in now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionState {
    Valid {
        user: Uuid,
        expires_at: OffsetDateTime,
        /// The account a reconnect session reconnects.
        account: Option<Uuid>,
    },
    /// Replaced by a refresh.
    Replaced,
    Expired,
    Unknown,
}

impl World {
    pub(crate) fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc().saturating_add(self.clock_offset)
    }

    pub(crate) fn session_state(&self, session: Uuid) -> SessionState {
        match self.sessions.get(&session) {
            None => SessionState::Unknown,
            Some(s) if s.revoked => SessionState::Replaced,
            Some(s) if s.expires_at <= self.now() => SessionState::Expired,
            Some(s) => SessionState::Valid {
                user: s.user,
                expires_at: s.expires_at,
                account: s.account,
            },
        }
    }

    pub(crate) fn next_fault(&mut self) -> Option<Fault> {
        let (fault, remaining) = self.faults.front_mut()?;
        let fault = fault.clone();
        if let Some(n) = remaining {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.faults.pop_front();
            }
        }
        Some(fault)
    }
}

/// What every request handler gets: the world behind its lock, the
/// sandbox's own origin (for Connect links), the runtime webhook deliveries
/// run on, and a signal for each delivery attempt that ends.
pub(crate) struct Shared {
    pub(crate) world: Mutex<World>,
    pub(crate) origin: String,
    pub(crate) runtime: Handle,
    pub(crate) delivered: Notify,
}

impl Shared {
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        // A test that panicked while holding the lock must not hide the next failure.
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
