//! The sessions an instance on a shared database checked lately, kept only while its listener
//! hears every change to accounts and sessions: a request's session check then costs no exchange
//! with the database. Fails closed: not listening (an embedded database, a listener not started,
//! cut, or not back yet), nothing is kept and every check reads the database; a change heard, a
//! change made here, or the listener's loss or return forgets everything kept; and a check read
//! while any of those happened is not kept (its generation is gone).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use kyc_domain::account::User;

/// At most this many sessions are kept (past it, all are forgotten: the next checks read them).
const MAX_KEPT: usize = 10_000;
/// A kept session is read again after this long, whatever was heard (ms): a bound on what a
/// change the listener never heard (a bug, a lost notice) could leave standing.
const MAX_AGE_MS: i64 = 10_000;

/// The sessions kept, by their token's hash.
#[derive(Default)]
pub(crate) struct SessionCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Whether the listener hears every change now.
    live: bool,
    /// Moves on whenever what is kept is forgotten: a check read before cannot be kept.
    generation: u64,
    kept: HashMap<Vec<u8>, Kept>,
}

struct Kept {
    user: User,
    /// When the session ends (unix ms).
    expires_at: i64,
    /// When it was read (unix ms).
    read_at: i64,
}

/// Where a check that reads the database started: what it read may be kept only if nothing was
/// forgotten since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Generation(u64);

impl SessionCache {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The account of the session kept under `key`, if it is kept, has not ended at `now` and
    /// is not too old.
    pub(crate) fn get(&self, key: &[u8], now: i64) -> Option<User> {
        let inner = self.inner();
        let kept = inner.kept.get(key).filter(|_| inner.live)?;
        (now < kept.expires_at && now - kept.read_at < MAX_AGE_MS).then(|| kept.user.clone())
    }

    /// Where a check that reads the database starts; None while nothing may be kept.
    pub(crate) fn generation(&self) -> Option<Generation> {
        let inner = self.inner();
        inner.live.then_some(Generation(inner.generation))
    }

    /// Keeps what a check read, if nothing was forgotten since it started (`seen`).
    pub(crate) fn keep(
        &self,
        key: Vec<u8>,
        user: User,
        expires_at: i64,
        now: i64,
        seen: Generation,
    ) {
        let mut inner = self.inner();
        if !inner.live || inner.generation != seen.0 {
            return;
        }
        if inner.kept.len() >= MAX_KEPT {
            inner.kept.clear();
        }
        let kept = Kept {
            user,
            expires_at,
            read_at: now,
        };
        inner.kept.insert(key, kept);
    }

    /// Forgets everything kept (an account or a session changed).
    pub(crate) fn forget_all(&self) {
        let mut inner = self.inner();
        inner.generation += 1;
        inner.kept.clear();
    }

    /// The listener hears every change from now on (`true`), or no longer does (`false`):
    /// either way what was kept is forgotten (what changed while it was away was not heard).
    pub(crate) fn listening(&self, live: bool) {
        let mut inner = self.inner();
        inner.live = live;
        inner.generation += 1;
        inner.kept.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kyc_domain::roles::Role;

    fn user(name: &str) -> User {
        User {
            name: name.into(),
            role: Role::Reviewer,
            must_change_password: false,
        }
    }

    /// Kept while listening, until it ends or grows old; never kept otherwise.
    #[test]
    fn a_session_is_kept_only_while_every_change_is_heard() {
        let cache = SessionCache::default();
        assert_eq!(
            cache.generation(),
            None,
            "not listening: nothing may be kept"
        );
        cache.listening(true);
        let g = cache.generation().unwrap();
        cache.keep(b"k".to_vec(), user("rita"), 10_000, 1_000, g);
        assert_eq!(cache.get(b"k", 1_001).unwrap().name, "rita");
        assert!(cache.get(b"other", 1_001).is_none());
        assert!(cache.get(b"k", 10_000).is_none(), "the session has ended");
        let cache_old = SessionCache::default();
        cache_old.listening(true);
        let g = cache_old.generation().unwrap();
        cache_old.keep(b"k".to_vec(), user("rita"), i64::MAX, 0, g);
        assert!(cache_old.get(b"k", MAX_AGE_MS - 1).is_some());
        assert!(
            cache_old.get(b"k", MAX_AGE_MS).is_none(),
            "read again once old"
        );
        cache.listening(false);
        assert!(cache.get(b"k", 1_001).is_none(), "the listener is gone");
        cache.keep(b"k".to_vec(), user("rita"), 10_000, 1_000, g);
        assert!(cache.get(b"k", 1_001).is_none());
    }

    /// A change forgets what was kept, and what a check read before it is not kept.
    #[test]
    fn a_check_read_before_a_change_is_not_kept() {
        let cache = SessionCache::default();
        cache.listening(true);
        let before = cache.generation().unwrap();
        cache.keep(b"a".to_vec(), user("rita"), 10_000, 0, before);
        cache.forget_all();
        assert!(cache.get(b"a", 1).is_none(), "forgotten");
        cache.keep(b"b".to_vec(), user("sam"), 10_000, 0, before);
        assert!(cache.get(b"b", 1).is_none(), "read before the change");
        let after = cache.generation().unwrap();
        assert_ne!(before, after);
        cache.keep(b"b".to_vec(), user("sam"), 10_000, 0, after);
        assert!(cache.get(b"b", 1).is_some());
        // The listener's return forgets too (what changed while it was away went unheard).
        cache.listening(true);
        assert!(cache.get(b"b", 1).is_none());
        cache.keep(b"c".to_vec(), user("sam"), 10_000, 0, after);
        assert!(cache.get(b"c", 1).is_none());
    }

    /// Past its bound, what is kept is forgotten before more is kept.
    #[test]
    fn what_is_kept_is_bounded() {
        let cache = SessionCache::default();
        cache.listening(true);
        let g = cache.generation().unwrap();
        for i in 0..=MAX_KEPT {
            cache.keep(i.to_le_bytes().to_vec(), user("rita"), 10_000, 0, g);
        }
        assert_eq!(cache.inner().kept.len(), 1);
        assert!(cache.get(&MAX_KEPT.to_le_bytes(), 1).is_some());
    }
}
