//! What this process has learnt from the table, kept as hints so that a warm
//! request can skip a read: the user a caller owns (from its `caller#` item)
//! and the user of a session this process recorded (its `session#` item).
//!
//! A hint is never trusted on its own: the flow that uses one puts it in the
//! condition of the transaction that counts the caller's quota
//! ([`super::Table::gate`]), which DynamoDB checks against the item itself.
//! A stale hint (an erased user, a session of another caller) fails that
//! condition, is forgotten, and the request reads the item as it would have
//! without the hint, so a hint saves one table call and can grant nothing.
//!
//! Each map holds at most [`CAPACITY`] entries and is emptied when full: a
//! warm function mostly serves the callers of its last few minutes, and an
//! emptied map costs each of them one read.

use std::collections::HashMap;
use std::sync::Mutex;

use uuid::Uuid;

/// Entries per map before it is emptied: at most about 300 KB of callers
/// (a `sub` is up to [`crate::request::MAX_SUB_BYTES`] bytes) and 40 KB of sessions.
pub const CAPACITY: usize = 1024;

#[derive(Debug, Default)]
pub struct Hints {
    owners: Mutex<HashMap<String, Uuid>>,
    sessions: Mutex<HashMap<Uuid, Uuid>>,
}

impl Hints {
    /// The user `sub` owned when this process last read or wrote its `caller#`.
    pub fn owner(&self, sub: &str) -> Option<Uuid> {
        lock(&self.owners).get(sub).copied()
    }

    pub fn set_owner(&self, sub: &str, user_id: Uuid) {
        insert(&self.owners, sub.to_owned(), user_id);
    }

    pub fn forget_owner(&self, sub: &str) {
        lock(&self.owners).remove(sub);
    }

    /// The user of `session`, when this process recorded it.
    pub fn session(&self, session: Uuid) -> Option<Uuid> {
        lock(&self.sessions).get(&session).copied()
    }

    pub fn set_session(&self, session: Uuid, user_id: Uuid) {
        insert(&self.sessions, session, user_id);
    }

    pub fn forget_session(&self, session: Uuid) {
        lock(&self.sessions).remove(&session);
    }
}

fn lock<K, V>(map: &Mutex<HashMap<K, V>>) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
    // A panic elsewhere while holding it leaves a map that is still valid.
    map.lock().unwrap_or_else(|p| p.into_inner())
}

fn insert<K: std::hash::Hash + Eq, V>(map: &Mutex<HashMap<K, V>>, key: K, value: V) {
    let mut map = lock(map);
    if map.len() >= CAPACITY && !map.contains_key(&key) {
        map.clear();
    }
    map.insert(key, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_is_kept_replaced_and_forgotten() {
        let hints = Hints::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(hints.owner("sub"), None);
        hints.set_owner("sub", a);
        assert_eq!(hints.owner("sub"), Some(a));
        hints.set_owner("sub", b);
        assert_eq!(hints.owner("sub"), Some(b));
        hints.forget_owner("sub");
        assert_eq!(hints.owner("sub"), None);

        let session = Uuid::new_v4();
        hints.set_session(session, a);
        assert_eq!(hints.session(session), Some(a));
        hints.forget_session(session);
        assert_eq!(hints.session(session), None);
    }

    #[test]
    fn a_full_map_is_emptied_before_a_new_entry() {
        let hints = Hints::default();
        let user = Uuid::new_v4();
        for i in 0..CAPACITY {
            hints.set_owner(&format!("caller-{i}"), user);
        }
        assert_eq!(hints.owner("caller-0"), Some(user));
        // A known key is replaced in place; a new one empties the map first.
        hints.set_owner("caller-0", user);
        assert_eq!(hints.owner(&format!("caller-{}", CAPACITY - 1)), Some(user));
        hints.set_owner("one more", user);
        assert_eq!(hints.owner("caller-0"), None);
        assert_eq!(hints.owner("one more"), Some(user));
        assert_eq!(lock(&hints.owners).len(), 1);
    }
}
