//! The throttle rules of the unauthenticated doors, pure: failures per key in a sliding window,
//! a lock after too many, and a bound on how many keys are remembered whatever an attacker sends.
//! The caller passes the time (milliseconds) and keeps the state (kyc-core's `guard`).

use std::collections::HashMap;

/// How many keys a throttle remembers at most; past that the stalest are forgotten (memory stays
/// bounded whatever an attacker sends).
pub const MAX_KEYS: usize = 4096;

/// Limits for one kind of key: `max` failures within `window_ms` lock the key for `lock_ms`
/// after its latest failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Failures that lock the key.
    pub max: u32,
    /// The window they are counted in (ms).
    pub window_ms: i64,
    /// How long the key stays locked after its latest failure (ms).
    pub lock_ms: i64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Failures counted since `since` (the window's start).
    failures: u32,
    since: i64,
    last: i64,
}

/// Failure counts per key in a sliding window, bounded in size.
#[derive(Debug)]
pub struct Throttle<K> {
    limit: Limit,
    entries: HashMap<K, Entry>,
}

impl<K: std::hash::Hash + Eq + Clone> Throttle<K> {
    /// An empty throttle with these limits.
    pub fn new(limit: Limit) -> Self {
        Throttle {
            limit,
            entries: HashMap::new(),
        }
    }

    /// Its limits.
    pub fn limit(&self) -> Limit {
        self.limit
    }

    /// `Err(seconds to wait)` while `key` is locked.
    pub fn check(&self, key: &K, now: i64) -> Result<(), i64> {
        match self.entries.get(key) {
            Some(e) if e.failures >= self.limit.max && now - e.last < self.limit.lock_ms => {
                Err((e.last + self.limit.lock_ms - now + 999) / 1000)
            }
            _ => Ok(()),
        }
    }

    /// Counts a failure of `key`.
    pub fn fail(&mut self, key: &K, now: i64) {
        let limit = self.limit;
        if !self.entries.contains_key(key) && self.entries.len() >= MAX_KEYS {
            self.forget_stale(now);
        }
        let e = self.entries.entry(key.clone()).or_insert(Entry {
            failures: 0,
            since: now,
            last: now,
        });
        let locked_out = e.failures >= limit.max && now - e.last >= limit.lock_ms;
        if now - e.since > limit.window_ms || locked_out {
            *e = Entry {
                failures: 0,
                since: now,
                last: now,
            };
        }
        e.failures += 1;
        e.last = now;
    }

    /// Forgets `key` (a success).
    pub fn clear(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// How many keys it remembers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it remembers no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops entries that no longer matter; if all still matter, the one idle longest.
    fn forget_stale(&mut self, now: i64) {
        let limit = self.limit;
        self.entries
            .retain(|_, e| now - e.last < limit.window_ms.max(limit.lock_ms));
        if self.entries.len() >= MAX_KEYS {
            if let Some(k) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last)
                .map(|(k, _)| k.clone())
            {
                self.entries.remove(&k);
            }
        }
    }
}

impl Limit {
    /// How far back failures can matter to a check now: a key's count starts at most a window
    /// before its latest failure, and that failure locks for at most `lock_ms`.
    pub fn horizon_ms(&self) -> i64 {
        self.window_ms.saturating_add(self.lock_ms)
    }

    /// The check of one key whose failures (unix ms, oldest first) are all that is known, e.g.
    /// as several instances recorded them in a shared database: the same rule as a [`Throttle`]
    /// that saw those failures. `Err(seconds to wait)` while the key is locked.
    pub fn check_failures(&self, failures: &[i64], now: i64) -> Result<(), i64> {
        let mut t = Throttle::new(*self);
        for at in failures {
            t.fail(&(), *at);
        }
        t.check(&(), now)
    }
}

/// Per address: many failures from one machine (any names) slow that machine down.
pub const PER_ADDRESS: Limit = Limit {
    max: 20,
    window_ms: 60_000,
    lock_ms: 60_000,
};
/// Per name from one address: guessing one account's password; the same name from another
/// address is not affected, so a flood cannot lock the real user out.
pub const PER_NAME: Limit = Limit {
    max: 5,
    window_ms: 15 * 60_000,
    lock_ms: 60_000,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_stay_bounded() {
        let mut t = Throttle::new(PER_ADDRESS);
        for i in 0..(MAX_KEYS as u32 * 3) {
            t.fail(&i, 0);
        }
        assert!(t.len() <= MAX_KEYS);
    }

    #[test]
    fn a_key_locks_after_its_limit_and_unlocks_after_the_lock() {
        let limit = Limit {
            max: 3,
            window_ms: 10_000,
            lock_ms: 5_000,
        };
        let mut t = Throttle::new(limit);
        for now in [0, 1_000, 2_000] {
            assert_eq!(t.check(&"ip", now), Ok(()));
            t.fail(&"ip", now);
        }
        assert_eq!(t.check(&"ip", 2_500), Err(5), "seconds to wait, rounded up");
        assert_eq!(
            t.check(&"other", 2_500),
            Ok(()),
            "another key is not affected"
        );
        assert_eq!(t.check(&"ip", 7_000), Ok(()), "the lock ends");
        t.fail(&"ip", 7_000);
        assert_eq!(
            t.check(&"ip", 7_001),
            Ok(()),
            "a failure after the lock starts a new count"
        );
        t.clear(&"ip");
        assert!(t.is_empty());
    }

    #[test]
    fn failures_read_back_lock_exactly_as_the_live_throttle_does() {
        let limit = Limit {
            max: 3,
            window_ms: 10_000,
            lock_ms: 5_000,
        };
        let table: &[(&[i64], i64, Result<(), i64>)] = &[
            (&[], 0, Ok(())),
            (&[0, 1_000], 1_500, Ok(())),
            (&[0, 1_000, 2_000], 2_500, Err(5)),
            (&[0, 1_000, 2_000], 7_000, Ok(())),
            // Spread wider than the window: the count started again.
            (&[0, 1_000, 11_000], 11_500, Ok(())),
            (&[0, 11_000, 12_000, 13_000], 13_001, Err(5)),
        ];
        for (failures, now, expected) in table {
            let mut live = Throttle::new(limit);
            for at in *failures {
                live.fail(&"k", *at);
            }
            assert_eq!(live.check(&"k", *now), *expected, "{failures:?} at {now}");
            assert_eq!(
                limit.check_failures(failures, *now),
                *expected,
                "{failures:?} at {now}"
            );
        }
        assert_eq!(limit.horizon_ms(), 15_000);
    }
}
