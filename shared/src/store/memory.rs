//! The ownership table in memory ([`MemoryTable`]): the same items, keys
//! and conditions as [`super::Store`], for unit tests of the flows and handlers.

use std::collections::HashMap;
use std::sync::Mutex;

use uuid::Uuid;

use super::lifecycle::AccountOwner;
use super::table::Table;
use super::{
    CLAIM_LEASE, CallerRecord, Check, Gate, Hints, SESSION_RECORD_LIFETIME, SessionRecord,
    StoreError, UserRecord, now,
};

/// One item of the in-memory table, by the same keys the DynamoDB table uses.
#[derive(Debug, Clone)]
enum Item {
    Claimed {
        claim: Uuid,
        lease_until: u64,
    },
    Owner {
        user_id: Uuid,
    },
    User {
        sub: String,
        erasing: bool,
    },
    Session {
        sub: String,
        user_id: Uuid,
        expires_at: u64,
    },
    Account {
        sub: String,
        user_id: Uuid,
    },
    Quota {
        n: u32,
    },
}

impl Item {
    /// The Rollee user it names, as [`Table::items_of_user`] finds it: not
    /// the user's own item (the erasure's mark, deleted last).
    fn user_id(&self) -> Option<Uuid> {
        match self {
            Item::Owner { user_id }
            | Item::Session { user_id, .. }
            | Item::Account { user_id, .. } => Some(*user_id),
            Item::User { .. } | Item::Claimed { .. } | Item::Quota { .. } => None,
        }
    }
}

/// The ownership table in memory: the same items and conditions as
/// [`super::Store`], no DynamoDB. `failing` makes every call fail, as a table that
/// is down does.
#[derive(Debug)]
pub struct MemoryTable {
    items: Mutex<HashMap<String, Item>>,
    sessions_per_minute: u32,
    failing: std::sync::atomic::AtomicBool,
    hints: Hints,
}

impl MemoryTable {
    pub fn new(sessions_per_minute: u32) -> Self {
        Self {
            items: Mutex::new(HashMap::new()),
            sessions_per_minute,
            failing: false.into(),
            hints: Hints::default(),
        }
    }

    /// From now on every call fails (`true`) or works again (`false`).
    pub fn fail(&self, failing: bool) {
        self.failing
            .store(failing, std::sync::atomic::Ordering::SeqCst);
    }

    /// Every key held, sorted: what a test checks an erasure against.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.lock().keys().cloned().collect();
        keys.sort();
        keys
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Item>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The items, or the failure of a table that is down.
    fn items(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Item>>, StoreError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError(
                "the in-memory table is failing on purpose".into(),
            ));
        }
        Ok(self.lock())
    }
}

impl Table for MemoryTable {
    async fn caller(&self, sub: &str) -> Result<CallerRecord, StoreError> {
        Ok(match self.items()?.get(&format!("caller#{sub}")) {
            None => CallerRecord::Unknown,
            Some(Item::Owner { user_id }) => CallerRecord::Owner { user_id: *user_id },
            Some(Item::Claimed { lease_until, .. }) => CallerRecord::Claimed {
                lease_until: *lease_until,
            },
            Some(_) => CallerRecord::Claimed { lease_until: 0 },
        })
    }
    async fn claim(&self, sub: &str, claim: Uuid) -> Result<bool, StoreError> {
        let mut items = self.items()?;
        let key = format!("caller#{sub}");
        let now = now();
        let free = match items.get(&key) {
            None => true,
            Some(Item::Claimed { lease_until, .. }) => *lease_until < now,
            Some(_) => false,
        };
        if free {
            let lease_until = now + CLAIM_LEASE.as_secs();
            items.insert(key, Item::Claimed { claim, lease_until });
        }
        Ok(free)
    }
    async fn release(&self, sub: &str, claim: Uuid) -> Result<(), StoreError> {
        let mut items = self.items()?;
        let key = format!("caller#{sub}");
        if matches!(items.get(&key), Some(Item::Claimed { claim: held, .. }) if *held == claim) {
            items.remove(&key);
        }
        Ok(())
    }
    async fn complete(
        &self,
        sub: &str,
        claim: Uuid,
        user_id: Uuid,
        session: Option<Uuid>,
    ) -> Result<(), StoreError> {
        let mut items = self.items()?;
        let key = format!("caller#{sub}");
        if !matches!(items.get(&key), Some(Item::Claimed { claim: held, .. }) if *held == claim) {
            return Err(StoreError(
                "the transaction was cancelled: the claim is not held".into(),
            ));
        }
        items.insert(key, Item::Owner { user_id });
        items.insert(format!("user#{user_id}"), user_item(sub));
        if let Some(session) = session {
            items.insert(format!("session#{session}"), session_item(sub, user_id));
        }
        Ok(())
    }
    async fn adopt(&self, sub: &str, user_id: Uuid) -> Result<(), StoreError> {
        let mut items = self.items()?;
        items.insert(format!("user#{user_id}"), user_item(sub));
        items
            .entry(format!("caller#{sub}"))
            .or_insert(Item::Owner { user_id });
        Ok(())
    }
    async fn forget_user(&self, sub: &str, user_id: Uuid) -> Result<(), StoreError> {
        let mut items = self.items()?;
        let key = format!("caller#{sub}");
        if matches!(items.get(&key), Some(Item::Owner { user_id: held }) if *held == user_id) {
            items.remove(&key);
            let user = format!("user#{user_id}");
            if !matches!(items.get(&user), Some(Item::User { erasing: true, .. })) {
                items.remove(&user);
            }
        }
        Ok(())
    }
    async fn user(&self, user_id: Uuid) -> Result<Option<UserRecord>, StoreError> {
        Ok(match self.items()?.get(&format!("user#{user_id}")) {
            Some(Item::User { sub, erasing }) => Some(UserRecord {
                sub: sub.clone(),
                erasing: *erasing,
            }),
            _ => None,
        })
    }
    async fn session(&self, session: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        Ok(match self.items()?.get(&format!("session#{session}")) {
            Some(Item::Session {
                sub,
                user_id,
                expires_at,
            }) if *expires_at > now() => Some(SessionRecord {
                sub: sub.clone(),
                user_id: *user_id,
            }),
            _ => None,
        })
    }
    async fn record_session(
        &self,
        sub: &str,
        user_id: Uuid,
        session: Uuid,
    ) -> Result<(), StoreError> {
        self.items()?
            .insert(format!("session#{session}"), session_item(sub, user_id));
        Ok(())
    }
    async fn count_session(&self, sub: &str) -> Result<Result<(), u64>, StoreError> {
        let mut items = self.items()?;
        let now = now();
        let key = format!("quota#{sub}#{}", now / 60);
        let entry = items.entry(key).or_insert(Item::Quota { n: 0 });
        Ok(match entry {
            Item::Quota { n } if *n < self.sessions_per_minute => {
                *n += 1;
                Ok(())
            }
            _ => Err(60 - now % 60),
        })
    }
    async fn owner_of_account(&self, account: Uuid) -> Result<Option<AccountOwner>, StoreError> {
        Ok(match self.items()?.get(&format!("account#{account}")) {
            Some(Item::Account { sub, user_id }) => Some(AccountOwner {
                sub: sub.clone(),
                user_id: *user_id,
            }),
            _ => None,
        })
    }
    async fn record_accounts(
        &self,
        sub: &str,
        user_id: Uuid,
        accounts: &[Uuid],
    ) -> Result<(), StoreError> {
        let mut items = self.items()?;
        for account in accounts {
            let item = Item::Account {
                sub: sub.to_owned(),
                user_id,
            };
            items.insert(format!("account#{account}"), item);
        }
        Ok(())
    }
    async fn record_account(
        &self,
        sub: &str,
        user_id: Uuid,
        account: Uuid,
    ) -> Result<(), StoreError> {
        self.record_accounts(sub, user_id, &[account]).await
    }
    async fn begin_erasure(&self, sub: &str, user_id: Uuid) -> Result<bool, StoreError> {
        let mut items = self.items()?;
        let key = format!("user#{user_id}");
        match items.get(&key) {
            Some(Item::User { sub: owner, .. }) if owner != sub => Ok(false),
            _ => {
                let item = Item::User {
                    sub: sub.to_owned(),
                    erasing: true,
                };
                items.insert(key, item);
                Ok(true)
            }
        }
    }
    async fn items_of_user(&self, user_id: Uuid) -> Result<Vec<String>, StoreError> {
        let items = self.items()?;
        let mut keys: Vec<String> = items
            .iter()
            .filter(|(_, item)| item.user_id() == Some(user_id))
            .map(|(key, _)| key.clone())
            .collect();
        keys.sort();
        Ok(keys)
    }
    async fn delete_items(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut items = self.items()?;
        for key in keys {
            items.remove(key);
        }
        Ok(())
    }
    async fn end_erasure(&self, user_id: Uuid) -> Result<(), StoreError> {
        self.items()?.remove(&format!("user#{user_id}"));
        Ok(())
    }
    async fn gate(&self, sub: &str, check: Check) -> Result<Gate, StoreError> {
        // As the transaction: the owner checked, then the quota counted, or nothing.
        let owner = match check {
            Check::User(user_id) => match self.items()?.get(&format!("user#{user_id}")) {
                Some(Item::User {
                    sub: owner,
                    erasing,
                }) => Some(owner == sub && !erasing),
                _ => None,
            },
            Check::Session { session, user_id } => {
                match self.items()?.get(&format!("session#{session}")) {
                    Some(Item::Session {
                        sub: owner,
                        user_id: user,
                        expires_at,
                    }) => Some(owner == sub && *user == user_id && *expires_at > now()),
                    _ => None,
                }
            }
        };
        match owner {
            None => Ok(Gate::Unknown),
            Some(false) => {
                // Over the quota wins, as in DynamoDB's answer (the first reason).
                match self.peek_quota(sub)? {
                    Some(wait) => Ok(Gate::OverQuota(wait)),
                    None => Ok(Gate::Closed),
                }
            }
            Some(true) => Ok(match self.count_session(sub).await? {
                Ok(()) => Gate::Open,
                Err(wait) => Gate::OverQuota(wait),
            }),
        }
    }
    fn hints(&self) -> &Hints {
        &self.hints
    }
}

impl MemoryTable {
    /// `Some(seconds to wait)` when `sub` has no session left this minute.
    fn peek_quota(&self, sub: &str) -> Result<Option<u64>, StoreError> {
        let now = now();
        let full = matches!(
            self.items()?.get(&format!("quota#{sub}#{}", now / 60)),
            Some(Item::Quota { n }) if *n >= self.sessions_per_minute
        );
        Ok(full.then_some(60 - now % 60))
    }
}

fn user_item(sub: &str) -> Item {
    Item::User {
        sub: sub.to_owned(),
        erasing: false,
    }
}

fn session_item(sub: &str, user_id: Uuid) -> Item {
    Item::Session {
        sub: sub.to_owned(),
        user_id,
        expires_at: now() + SESSION_RECORD_LIFETIME.as_secs(),
    }
}
