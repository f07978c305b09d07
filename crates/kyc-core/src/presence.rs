//! Who has which case open right now: each reviewer's open case sends a heartbeat, a closed case
//! says so, and a viewer not heard from for [`TTL_MS`] is forgotten (a lost connection). Kept in
//! memory; on a shared database the other instances' reviewers arrive as notices (the desk passes
//! them on); every change is published to the live events.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use tokio::sync::watch;

/// A viewer not heard from for this long is gone (the UI beats every 3 s; the sweep runs every
/// second, so a viewer disappears within 9 s of its last beat).
pub const TTL_MS: i64 = 8_000;
/// How many cases one account can be present on at once (several tabs); the oldest gives way.
pub const MAX_CASES_PER_VIEWER: usize = 4;

/// Case id → the names viewing it, sorted.
pub type Viewers = BTreeMap<i64, Vec<String>>;

pub struct Presence {
    /// (case, name) → last heartbeat, unix ms.
    seen: Mutex<HashMap<(i64, String), i64>>,
    published: watch::Sender<Viewers>,
}

impl Default for Presence {
    fn default() -> Self {
        Presence {
            seen: Mutex::default(),
            published: watch::Sender::new(Viewers::new()),
        }
    }
}

impl Presence {
    /// `name` has case `case` open (a heartbeat).
    pub fn touch(&self, case: i64, name: &str, now: i64) {
        let mut seen = self.lock();
        let fresh = seen.insert((case, name.to_string()), now).is_none();
        if fresh {
            let mut theirs: Vec<(i64, i64)> = seen
                .iter()
                .filter(|((_, n), _)| n == name)
                .map(|((c, _), at)| (*at, *c))
                .collect();
            if theirs.len() > MAX_CASES_PER_VIEWER {
                theirs.sort_unstable();
                for (_, c) in &theirs[..theirs.len() - MAX_CASES_PER_VIEWER] {
                    seen.remove(&(*c, name.to_string()));
                }
            }
            self.publish(&seen);
        }
    }

    /// `name` closed case `case`.
    pub fn leave(&self, case: i64, name: &str) {
        let mut seen = self.lock();
        if seen.remove(&(case, name.to_string())).is_some() {
            self.publish(&seen);
        }
    }

    /// `name` signed out: present nowhere.
    pub fn leave_all(&self, name: &str) {
        let mut seen = self.lock();
        let before = seen.len();
        seen.retain(|(_, n), _| n != name);
        if seen.len() != before {
            self.publish(&seen);
        }
    }

    /// Forgets viewers not heard from for [`TTL_MS`].
    pub fn expire(&self, now: i64) {
        let mut seen = self.lock();
        let before = seen.len();
        seen.retain(|_, at| now - *at < TTL_MS);
        if seen.len() != before {
            self.publish(&seen);
        }
    }

    /// Who views what now.
    pub fn viewers(&self) -> Viewers {
        self.published.borrow().clone()
    }

    /// Changes of [`Presence::viewers`], for the live events.
    pub fn watch(&self) -> watch::Receiver<Viewers> {
        self.published.subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(i64, String), i64>> {
        // The map holds no invariant a panic elsewhere could break halfway.
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, seen: &HashMap<(i64, String), i64>) {
        let mut viewers = Viewers::new();
        for (case, name) in seen.keys() {
            viewers.entry(*case).or_default().push(name.clone());
        }
        for names in viewers.values_mut() {
            names.sort();
        }
        self.published.send_replace(viewers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &Presence, case: i64) -> Vec<String> {
        p.viewers().get(&case).cloned().unwrap_or_default()
    }

    #[test]
    fn viewers_come_beat_leave_and_fade() {
        let p = Presence::default();
        let mut changes = p.watch();
        p.touch(7, "rita", 0);
        p.touch(7, "ada", 1_000);
        assert_eq!(names(&p, 7), ["ada", "rita"]);
        assert!(changes.has_changed().unwrap());
        changes.mark_unchanged();
        // A heartbeat of someone already there is no news.
        p.touch(7, "rita", 5_000);
        assert!(!changes.has_changed().unwrap());
        // ada stopped beating at 1 s: gone once TTL has passed; rita beat at 5 s, still there.
        p.expire(1_000 + TTL_MS - 1);
        assert_eq!(names(&p, 7), ["ada", "rita"]);
        p.expire(1_000 + TTL_MS);
        assert_eq!(names(&p, 7), ["rita"]);
        p.leave(7, "rita");
        assert!(p.viewers().is_empty());
        assert!(changes.has_changed().unwrap());
    }

    #[test]
    fn one_account_is_present_on_a_bounded_number_of_cases_and_nowhere_after_signing_out() {
        let p = Presence::default();
        for case in 1..=10 {
            p.touch(case, "mallory", case);
        }
        p.touch(3, "rita", 20);
        let v = p.viewers();
        let mallory: Vec<i64> = v
            .iter()
            .filter(|(_, n)| n.contains(&"mallory".to_string()))
            .map(|(c, _)| *c)
            .collect();
        assert_eq!(mallory, [7, 8, 9, 10], "the newest {MAX_CASES_PER_VIEWER}");
        p.leave_all("mallory");
        assert_eq!(p.viewers(), Viewers::from([(3, vec!["rita".to_string()])]));
    }
}
