//! Guards of the unauthenticated doors (sign-in, first-run setup, the OAuth2 token endpoint):
//! bounded in-memory throttles keyed by client address and by name-from-an-address, the
//! one-time setup code, and the rule that folds a flood of failed sign-ins into a bounded number
//! of audit entries. Pure bookkeeping: the caller passes the clock (milliseconds).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use rand::RngCore;
use subtle::ConstantTimeEq;

// The throttle rules live in kyc-domain (pure, the time passed in); this file keeps their state.
pub use kyc_domain::throttle::{Limit, Throttle, MAX_KEYS, PER_ADDRESS, PER_NAME};

/// The sign-in door: throttles by address and by (name, address), and the audit folding rule.
#[derive(Debug)]
pub struct LoginGuard {
    inner: Mutex<LoginState>,
}

#[derive(Debug)]
struct LoginState {
    by_address: Throttle<IpAddr>,
    by_name: Throttle<(String, IpAddr)>,
    /// (name, address) → (minute window start, failures in it not yet written to the audit).
    audit_windows: HashMap<(String, IpAddr), (i64, u64)>,
    /// Entries written in the current minute (all names and addresses), and that minute's start.
    written: (i64, u32),
    /// Failures past the per-minute cap of entries: written as one entry by the next flush.
    overflow: u64,
}

/// At most this many `login.failed` entries a minute, whatever the flood; the rest are counted
/// into one entry by the next flush.
const MAX_ENTRIES_PER_MINUTE: u32 = 120;

/// The throttling key of a client address: IPv4-mapped IPv6 as IPv4, and IPv6 by its /64 (one
/// machine can use every address of its network).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// What to record about a failed sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditNote {
    /// Write one `login.failed` entry now with this count (the failures folded into it).
    Write { count: u64 },
    /// Already recorded in this minute: counted, to be written with the next entry.
    Folded,
}

/// One audit entry per name and address per minute.
const AUDIT_WINDOW_MS: i64 = 60_000;

impl Default for LoginGuard {
    fn default() -> Self {
        Self::new(PER_ADDRESS, PER_NAME)
    }
}

impl LoginGuard {
    pub fn new(per_address: Limit, per_name: Limit) -> Self {
        LoginGuard {
            inner: Mutex::new(LoginState {
                by_address: Throttle::new(per_address),
                by_name: Throttle::new(per_name),
                audit_windows: HashMap::new(),
                written: (i64::MIN, 0),
                overflow: 0,
            }),
        }
    }

    /// The limits per address and per name from an address.
    pub fn limits(&self) -> (Limit, Limit) {
        let s = self.state();
        (s.by_address.limit(), s.by_name.limit())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LoginState> {
        // The state is counters only: a panic elsewhere cannot leave it inconsistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(seconds)` when this address, or this name from this address, must wait.
    pub fn check(&self, name: &str, addr: IpAddr, now: i64) -> Result<(), i64> {
        let addr = client_key(addr);
        let s = self.state();
        s.by_address.check(&addr, now)?;
        s.by_name.check(&(name.to_string(), addr), now)
    }

    /// Counts a failure; says whether to write an audit entry now.
    pub fn failed(&self, name: &str, addr: IpAddr, now: i64) -> AuditNote {
        let addr = client_key(addr);
        let mut guard = self.state();
        let s = &mut *guard;
        let key = (name.to_string(), addr);
        s.by_address.fail(&addr, now);
        s.by_name.fail(&key, now);
        if now.saturating_sub(s.written.0) >= AUDIT_WINDOW_MS {
            s.written = (now, 0);
        }
        if !s.audit_windows.contains_key(&key) && s.audit_windows.len() >= MAX_KEYS {
            // Full: count it into the overflow entry rather than forget anything.
            s.overflow += 1;
            return AuditNote::Folded;
        }
        let window = s.audit_windows.entry(key).or_insert((i64::MIN, 0));
        window.1 += 1;
        if now.saturating_sub(window.0) < AUDIT_WINDOW_MS {
            return AuditNote::Folded;
        }
        if s.written.1 >= MAX_ENTRIES_PER_MINUTE {
            // Past the cap: this one waits for the flush (its count stays in the window).
            window.0 = now;
            return AuditNote::Folded;
        }
        let count = window.1;
        *window = (now, 0);
        s.written.1 += 1;
        AuditNote::Write { count }
    }

    /// Failures folded into minutes that have ended and not yet written: (name, address, count),
    /// to be written now (called periodically, so the last minute of a flood is counted too;
    /// `i64::MAX` at shutdown writes everything). Failures past the table or the per-minute cap
    /// come as one entry named `*` with the unspecified address.
    pub fn flush(&self, now: i64) -> Vec<(String, IpAddr, u64)> {
        let mut s = self.state();
        let mut out = Vec::new();
        if s.overflow > 0 {
            out.push((
                "*".to_string(),
                IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                std::mem::take(&mut s.overflow),
            ));
        }
        s.audit_windows.retain(|(name, addr), (start, folded)| {
            if now.saturating_sub(*start) < AUDIT_WINDOW_MS {
                return true;
            }
            if *folded > 0 {
                out.push((name.clone(), *addr, *folded));
            }
            false
        });
        out
    }

    /// A successful sign-in clears that name's count from that address (not the address's).
    pub fn succeeded(&self, name: &str, addr: IpAddr) {
        self.state()
            .by_name
            .clear(&(name.to_string(), client_key(addr)));
    }

    /// Counts a failure of a door that has no names (setup code, OAuth2 client credentials).
    pub fn failed_anonymous(&self, addr: IpAddr, now: i64) {
        self.state().by_address.fail(&client_key(addr), now);
    }

    /// `Err(seconds)` while this address must wait at a door without names.
    pub fn check_anonymous(&self, addr: IpAddr, now: i64) -> Result<(), i64> {
        self.state().by_address.check(&client_key(addr), now)
    }
}

/// Crockford base32: no I, L, O, U; what people read aloud and type without mistakes.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 28 symbols of 5 bits: 140 bits.
const CODE_SYMBOLS: usize = 28;

/// The one-time code that `POST /api/setup` needs while no account exists: printed by the
/// process on its console and log, never stored, gone once the first account exists.
#[derive(Debug)]
pub struct SetupCode {
    code: Mutex<Option<String>>,
}

impl SetupCode {
    /// A fresh random code (140 bits).
    pub fn generate() -> Self {
        let mut raw = [0u8; CODE_SYMBOLS];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let code = raw
            .iter()
            .map(|b| CROCKFORD[(*b & 31) as usize] as char)
            .collect();
        SetupCode {
            code: Mutex::new(Some(code)),
        }
    }

    /// No code: setup is closed (accounts exist).
    pub fn closed() -> Self {
        SetupCode {
            code: Mutex::new(None),
        }
    }

    /// The code as printed: groups of four, e.g. `ABCD-EFGH-...`; `None` once closed.
    pub fn display(&self) -> Option<String> {
        let code = self.code.lock().unwrap_or_else(|p| p.into_inner());
        code.as_ref().map(|c| {
            c.as_bytes()
                .chunks(4)
                .map(|g| String::from_utf8_lossy(g).into_owned())
                .collect::<Vec<_>>()
                .join("-")
        })
    }

    /// Whether `typed` is the code (case, dashes and spaces ignored; O→0, I/L→1 as Crockford
    /// reads them), compared in constant time. Always false once closed.
    pub fn matches(&self, typed: &str) -> bool {
        let normal: String = typed
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            })
            .collect();
        let code = self.code.lock().unwrap_or_else(|p| p.into_inner());
        match code.as_deref() {
            Some(c) if normal.len() == c.len() => normal.as_bytes().ct_eq(c.as_bytes()).into(),
            _ => false,
        }
    }

    /// Forgets the code for good (the first account exists).
    pub fn close(&self) {
        *self.code.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    pub fn is_open(&self) -> bool {
        self.code
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn a_name_locked_from_one_address_still_signs_in_from_another() {
        let g = LoginGuard::default();
        for i in 0..5 {
            assert_eq!(g.check("ada", A, i), Ok(()));
            g.failed("ada", A, i);
        }
        assert_eq!(g.check("ada", A, 10), Err(60));
        assert_eq!(g.check("ada", B, 10), Ok(()), "the real user's machine");
        assert_eq!(g.check("bob", A, 10), Ok(()), "other names from A");
        assert_eq!(g.check("ada", A, 60_010), Ok(()), "the lock ends");
    }

    #[test]
    fn an_address_spraying_names_is_slowed_down() {
        let g = LoginGuard::default();
        for i in 0..20 {
            assert_eq!(g.check(&format!("n{i}"), A, i), Ok(()));
            g.failed(&format!("n{i}"), A, i);
        }
        assert!(g.check("fresh", A, 100).is_err());
        assert_eq!(g.check("fresh", B, 100), Ok(()));
    }

    #[test]
    fn failed_sign_ins_fold_into_one_audit_entry_per_name_address_and_minute() {
        let g = LoginGuard::new(
            Limit {
                max: u32::MAX,
                window_ms: 1,
                lock_ms: 0,
            },
            Limit {
                max: u32::MAX,
                window_ms: 1,
                lock_ms: 0,
            },
        );
        let notes: Vec<_> = (0..100).map(|i| g.failed("ada", A, i * 100)).collect();
        assert_eq!(notes[0], AuditNote::Write { count: 1 });
        assert!(notes[1..].iter().all(|n| *n == AuditNote::Folded));
        // The next minute's first failure carries what was folded.
        assert_eq!(g.failed("ada", A, 60_000), AuditNote::Write { count: 100 });
        assert_eq!(g.failed("ada", B, 60_001), AuditNote::Write { count: 1 });
        g.failed("ada", A, 60_002);
        g.failed("ada", A, 60_003);
        assert_eq!(g.flush(60_100), vec![]);
        assert_eq!(g.flush(120_000), vec![("ada".to_string(), A, 2)]);
        assert_eq!(g.flush(180_000), vec![], "written once");
        assert_eq!(g.failed("ada", A, 180_001), AuditNote::Write { count: 1 });
    }

    #[test]
    fn addresses_are_keyed_by_machine_not_by_spelling() {
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(client_key(mapped), A);
        let (x, y): (IpAddr, IpAddr) = (
            "2001:db8:1:2::1".parse().unwrap(),
            "2001:db8:1:2:ffff::9".parse().unwrap(),
        );
        assert_eq!(client_key(x), client_key(y), "one /64");
        assert_ne!(
            client_key(x),
            client_key("2001:db8:1:3::1".parse().unwrap())
        );
        let g = LoginGuard::default();
        for i in 0..5 {
            g.failed("ada", mapped, i);
        }
        assert!(
            g.check("ada", A, 10).is_err(),
            "the mapped spelling is the same machine"
        );
    }

    #[test]
    fn a_flood_of_names_writes_at_most_the_cap_then_one_overflow_entry() {
        let g = LoginGuard::new(
            Limit {
                max: u32::MAX,
                window_ms: 1,
                lock_ms: 0,
            },
            Limit {
                max: u32::MAX,
                window_ms: 1,
                lock_ms: 0,
            },
        );
        let writes = (0..1000)
            .filter(|i| matches!(g.failed(&format!("n{i}"), A, 1), AuditNote::Write { .. }))
            .count();
        assert_eq!(writes, MAX_ENTRIES_PER_MINUTE as usize);
        // At shutdown everything is written, the held-back names with their counts.
        let flushed = g.flush(i64::MAX);
        let total: u64 = flushed.iter().map(|(_, _, n)| n).sum();
        assert_eq!(total as usize + writes, 1000);
        assert!(g.flush(i64::MAX).is_empty());
    }

    #[test]
    fn setup_code_is_long_random_forgiving_and_closes() {
        let code = SetupCode::generate();
        let shown = code.display().unwrap();
        assert_eq!(shown.len(), 28 + 6);
        assert!(shown
            .chars()
            .all(|c| c == '-' || CROCKFORD.contains(&(c as u8))));
        assert!(code.matches(&shown));
        assert!(code.matches(&shown.to_lowercase().replace('-', " ")));
        assert!(!code.matches(&shown[..shown.len() - 1]));
        assert!(!code.matches(""));
        assert_ne!(SetupCode::generate().display(), code.display());
        code.close();
        assert!(!code.matches(&shown));
        assert_eq!(code.display(), None);
        assert!(!SetupCode::closed().matches(""));
    }
}
