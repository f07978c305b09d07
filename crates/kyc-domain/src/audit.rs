//! The audit trail's chain maths, pure: how an entry is linked to the one before it, and the
//! walk that checks a whole chain link by link. Each entry's link covers the previous link and
//! its own fields, length-prefixed; entries written since schema 13 are keyed (an HMAC under a
//! key derived from the master key, given here as a function), older ones plain SHA-256. The store
//! keeps the append-only table and feeds its rows, in id order, to [`ChainCheck`].

use sha2::{Digest, Sha256};

/// What verifying the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every link holds.
    Intact {
        /// How many entries were checked.
        entries: u64,
    },
    /// The first entry whose link does not hold.
    Broken {
        /// Its id.
        id: i64,
        /// What does not hold.
        reason: String,
    },
}

/// Which audit entries a page or an export holds (every field optional).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this actor's entries.
    pub actor: Option<String>,
    /// Only this action's entries.
    pub action: Option<String>,
    /// At or after (unix ms).
    pub from_ms: Option<i64>,
    /// Before (unix ms).
    pub to_ms: Option<i64>,
    /// Only this case's entries.
    pub case_id: Option<i64>,
}

/// The keyed MAC a chain's links use (the vault's, in the store).
pub type Mac<'a> = &'a dyn Fn(&[&[u8]]) -> Vec<u8>;

/// The fields of an entry as its link covers them.
pub fn fields(
    id: i64,
    at: i64,
    actor: &str,
    action: &str,
    case_id: Option<i64>,
    detail: &str,
) -> [String; 6] {
    [
        id.to_string(),
        at.to_string(),
        actor.to_string(),
        action.to_string(),
        case_id.map_or(String::new(), |c| c.to_string()),
        detail.to_string(),
    ]
}

/// An entry's link from before keyed links (schema < 13): SHA-256 over the previous link and the
/// fields, each length-prefixed (no two different entries share an encoding).
pub fn legacy_hash(prev: &[u8], fields: &[String; 6]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev);
    for part in fields {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().to_vec()
}

/// A keyed link: `mac` over the previous link and the fields; recomputing it needs the key.
pub fn keyed_hash(mac: Mac<'_>, prev: &[u8], fields: &[String; 6]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = vec![prev];
    parts.extend(fields.iter().map(|f| f.as_bytes()));
    mac(&parts)
}

/// One stored entry as the chain check reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Its id (1, 2, 3… with no gap).
    pub id: i64,
    /// When (unix ms).
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// The case, if any.
    pub case_id: Option<i64>,
    /// Its detail (JSON text).
    pub detail: String,
    /// The previous entry's link, as stored with this one.
    pub prev_hash: Vec<u8>,
    /// Its own link, as stored.
    pub hash: Vec<u8>,
    /// Whether it says it is keyed.
    pub keyed: bool,
}

/// Checks a chain one entry at a time, in id order: no entry missing, each linked to the one
/// before, keyed exactly from `keyed_from` on, and each link matching its content.
pub struct ChainCheck<'m> {
    keyed_from: i64,
    mac: Mac<'m>,
    prev: Vec<u8>,
    expected_id: i64,
}

impl<'m> ChainCheck<'m> {
    /// A check of a chain whose entries from `keyed_from` on are keyed with `mac`.
    pub fn new(keyed_from: i64, mac: Mac<'m>) -> ChainCheck<'m> {
        ChainCheck {
            keyed_from,
            mac,
            prev: vec![0u8; 32],
            expected_id: 1,
        }
    }

    /// Checks the next entry; the verdict naming it when its link does not hold.
    pub fn next(&mut self, e: Link) -> Result<(), Verdict> {
        let reason = if e.id != self.expected_id {
            Some(format!("entry {} is missing", self.expected_id))
        } else if e.prev_hash != self.prev {
            Some("its link to the previous entry does not match".to_string())
        } else if e.keyed != (e.id >= self.keyed_from) {
            Some(if e.keyed {
                "a keyed entry before keyed entries begin".to_string()
            } else {
                "an unkeyed entry where keyed entries begin (recomputed without the master key)"
                    .to_string()
            })
        } else {
            let f = fields(e.id, e.at, &e.actor, &e.action, e.case_id, &e.detail);
            let computed = if e.keyed {
                keyed_hash(self.mac, &self.prev, &f)
            } else {
                legacy_hash(&self.prev, &f)
            };
            (computed != e.hash).then(|| "its content does not match its hash (edited)".to_string())
        };
        if let Some(reason) = reason {
            return Err(Verdict::Broken { id: e.id, reason });
        }
        self.prev = e.hash;
        self.expected_id += 1;
        Ok(())
    }

    /// The verdict on everything checked so far.
    pub fn intact(&self) -> Verdict {
        Verdict::Intact {
            entries: (self.expected_id - 1) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in keyed MAC (the vault's is HMAC-SHA256 under a derived key).
    fn mac(parts: &[&[u8]]) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(b"key");
        for p in parts {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p);
        }
        h.finalize().to_vec()
    }

    /// A chain of `n` entries, keyed from `keyed_from` on, as the store writes it.
    fn chain(n: i64, keyed_from: i64) -> Vec<Link> {
        let mut prev = vec![0u8; 32];
        (1..=n)
            .map(|id| {
                let keyed = id >= keyed_from;
                let (actor, detail) = ("rita".to_string(), format!("{{\"i\":{id}}}"));
                let f = fields(id, 1000 + id, &actor, "case.viewed", Some(id), &detail);
                let hash = if keyed {
                    keyed_hash(&mac, &prev, &f)
                } else {
                    legacy_hash(&prev, &f)
                };
                let link = Link {
                    id,
                    at: 1000 + id,
                    actor,
                    action: "case.viewed".into(),
                    case_id: Some(id),
                    detail,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                    keyed,
                };
                prev = hash;
                link
            })
            .collect()
    }

    fn verdict(links: Vec<Link>, keyed_from: i64) -> Verdict {
        let mut check = ChainCheck::new(keyed_from, &mac);
        for l in links {
            if let Err(broken) = check.next(l) {
                return broken;
            }
        }
        check.intact()
    }

    fn broken_at(id: i64, reason: &str) -> Verdict {
        Verdict::Broken {
            id,
            reason: reason.into(),
        }
    }

    #[test]
    fn every_way_of_breaking_the_chain_is_named_at_its_first_entry() {
        type Tamper = fn(&mut Vec<Link>);
        let table: [(&str, Tamper, Verdict); 7] = [
            ("untouched", |_| {}, Verdict::Intact { entries: 6 }),
            ("an edited actor", |c| c[2].actor = "mallory".into(), broken_at(3, "its content does not match its hash (edited)")),
            ("a deleted middle entry", |c| { c.remove(3); }, broken_at(5, "entry 4 is missing")),
            ("an entry re-linked after a deletion", |c| { c.remove(3); c[3].id = 4; }, broken_at(4, "its link to the previous entry does not match")),
            ("an entry marked keyed too early", |c| c[1].keyed = true, broken_at(2, "a keyed entry before keyed entries begin")),
            (
                "the keyed part recomputed without the key",
                |c| {
                    let mut prev = c[3].prev_hash.clone();
                    for l in c.iter_mut().skip(3) {
                        l.keyed = false;
                        l.prev_hash = prev.clone();
                        l.hash = legacy_hash(&prev, &fields(l.id, l.at, &l.actor, &l.action, l.case_id, &l.detail));
                        prev = l.hash.clone();
                    }
                },
                broken_at(4, "an unkeyed entry where keyed entries begin (recomputed without the master key)"),
            ),
            ("a cut tail (the chain alone cannot tell: checkpoints do)", |c| c.truncate(4), Verdict::Intact { entries: 4 }),
        ];
        for (what, tamper, want) in table {
            let mut c = chain(6, 4);
            tamper(&mut c);
            assert_eq!(verdict(c, 4), want, "{what}");
        }
    }
}
