//! The in-memory indexes of the stored perceptual hashes (the selfies', the document portraits';
//! built from the store at start, changed under its writer lock), and the constants both the
//! hashing and the index use. The hashing itself (decoding an image) is kyc-core's `phash`.
//!
//! The index is multi-index hashing: each hash is cut into eight bands of 16 bits and listed under
//! each band's value. Two hashes within a distance below 8 bits agree exactly in at least one
//! band (pigeonhole), so looking up a new hash's eight buckets and measuring each candidate finds
//! every match, none missed, without scanning the whole store.
//!
//! A portrait's 512-bit hash is indexed by its [`fold`] (its four quarters XORed): the folds of
//! two hashes are never further apart than the hashes, so the fold's index misses no match, and
//! the store measures each candidate's full hash (read from its sealed row) before it counts.

use std::collections::{HashMap, HashSet};

/// The image whose 128-bit hash finds a reused selfie.
pub const HASHED_IMAGE: &str = "selfie";

/// The image whose 512-bit hash finds a reused document photo (the portrait cropped from it).
pub const PORTRAIT: &str = "portrait_image";

/// The computation new hashes are stored as made by (`image_hashes.method`): 1 decoded the whole
/// image, 2 decodes a JPEG at a fraction of its size. Hashes of an earlier method are computed
/// again from the stored images (kyc-core's `rehash`), as the two differ by a few bits.
pub const HASH_METHOD: i64 = 2;

/// Largest Hamming distance (of 512 bits) at which two document portraits count as the same
/// photo: re-encoded copies measured up to 5, another document of the same person 8 or more
/// (kyc-core's `phash` has the table).
pub const PORTRAIT_MAX_DISTANCE: u32 = 6;

/// A 512-bit hash, most significant bit first.
pub type WideHash = [u128; 4];

/// The 128 bits a [`WideHash`] is indexed by: its quarters XORed (a bit differs in the fold only
/// where an odd number of the quarters' bits differ, so the fold's distance never exceeds the
/// hash's).
pub fn fold(h: &WideHash) -> u128 {
    h[0] ^ h[1] ^ h[2] ^ h[3]
}

/// Bits that differ between two wide hashes.
pub fn wide_distance(a: &WideHash, b: &WideHash) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// A wide hash as the 64 bytes that are sealed.
pub fn wide_to_bytes(h: &WideHash) -> Vec<u8> {
    h.iter().flat_map(|q| q.to_be_bytes()).collect()
}

/// A wide hash from its 64 bytes (None for another length).
pub fn wide_from_bytes(bytes: &[u8]) -> Option<WideHash> {
    if bytes.len() != 64 {
        return None;
    }
    let mut h = [0u128; 4];
    for (q, chunk) in h.iter_mut().zip(bytes.chunks_exact(16)) {
        *q = u128::from_be_bytes(chunk.try_into().ok()?);
    }
    Some(h)
}

/// Largest Hamming distance (of 128 bits) at which two selfies count as the same picture: a
/// re-encoded copy at 70 % of the size measured 1; the simulator's different (drawn, so unusually
/// alike) faces measured 0 once in 80,000 pairs and 3 or more otherwise.
pub const MAX_DISTANCE: u32 = 2;

/// One stored case's selfie hash, with a short form of its user's keyed tag (to tell another
/// user's case from the same user's retry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hashed {
    /// The case.
    pub case_id: i64,
    /// Its user's short key ([`user_key`]).
    pub user: u64,
    /// The selfie's hash.
    pub hash: u128,
}

/// The first 8 bytes of a user's keyed tag, as the index keeps it.
pub fn user_key(tag: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = tag.len().min(8);
    b[..n].copy_from_slice(&tag[..n]);
    u64::from_be_bytes(b)
}

/// An earlier case of another user with a hash within the index's distance of a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    /// The earlier case.
    pub case_id: i64,
    /// Bits that differ.
    pub distance: u32,
}

const BANDS: usize = 8;
const VALUES: usize = 1 << 16;
/// Hashes added since the last build are kept in small per-band maps; past this many, the index
/// is rebuilt into its flat arrays.
const REBUILD_AT: usize = 1 << 16;

/// The in-memory index of every stored case's hash of one image (see the module's text).
///
/// Laid out for a million hashes: per band, the positions of the hashes sorted by the band's
/// value (a counting sort) and where each value's run starts, so that a bucket is a slice and the
/// whole index is two flat arrays; hashes added since then are listed per band value in maps
/// (`recent`) until [`REBUILD_AT`] of them make a rebuild worth it. (They were compared one by
/// one: up to 65,536 comparisons per lookup, 17 % of the store thread's time while seeding.)
pub struct PhashIndex {
    /// Largest distance that matches ([`MAX_DISTANCE`] unless [`within`](PhashIndex::within)).
    max_distance: u32,
    entries: Vec<Hashed>,
    /// `entries[..built]` are in `starts` and `positions`.
    built: usize,
    /// For band `b` and value `v`: its run is `positions[b * built ..][starts[b * (VALUES + 1) + v]
    /// .. starts[b * (VALUES + 1) + v + 1]]`.
    starts: Vec<u32>,
    positions: Vec<u32>,
    /// For band `b`: the positions in `entries[built..]` by the band's value.
    recent: Vec<HashMap<u16, Vec<u32>>>,
    /// Erased cases: their entries stay in place but are never returned (gone at the next start).
    erased: HashSet<i64>,
    /// The highest case id indexed.
    newest: i64,
}

impl Default for PhashIndex {
    /// The same as [`PhashIndex::new`]: an empty index that matches within [`MAX_DISTANCE`].
    fn default() -> PhashIndex {
        PhashIndex::new()
    }
}

fn band(hash: u128, b: usize) -> usize {
    usize::from((hash >> (b * 16)) as u16)
}

impl PhashIndex {
    /// An empty index matching within [`MAX_DISTANCE`].
    pub fn new() -> PhashIndex {
        PhashIndex {
            max_distance: MAX_DISTANCE,
            entries: Vec::new(),
            built: 0,
            starts: Vec::new(),
            positions: Vec::new(),
            recent: vec![HashMap::new(); BANDS],
            erased: HashSet::new(),
            newest: 0,
        }
    }

    /// An index of `entries`, built at once (what a start does), matching within [`MAX_DISTANCE`].
    pub fn from_entries(entries: Vec<Hashed>) -> PhashIndex {
        let mut index = PhashIndex {
            newest: entries.iter().map(|h| h.case_id).max().unwrap_or(0),
            entries,
            ..PhashIndex::new()
        };
        index.rebuild();
        index
    }

    /// The same index matching within `max_distance` bits instead.
    ///
    /// # Panics
    /// If `max_distance` is 8 or more: the eight bands would no longer find every match.
    pub fn within(mut self, max_distance: u32) -> PhashIndex {
        assert!(
            max_distance < BANDS as u32,
            "a match must agree on one band"
        );
        self.max_distance = max_distance;
        self
    }

    /// How many hashes are indexed (erased ones included until the next start).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no hash.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The highest case id indexed (0 when none): cases after it are not in the index yet.
    pub fn newest(&self) -> i64 {
        self.newest
    }

    /// Adds a stored case's hash.
    pub fn insert(&mut self, h: Hashed) {
        self.newest = self.newest.max(h.case_id);
        assert!(
            self.entries.len() < u32::MAX as usize,
            "fewer than 2^32 indexed images"
        );
        let at = self.entries.len() as u32;
        self.entries.push(h);
        if self.entries.len() - self.built >= REBUILD_AT {
            self.rebuild();
            return;
        }
        for (b, recent) in self.recent.iter_mut().enumerate() {
            recent.entry(band(h.hash, b) as u16).or_default().push(at);
        }
    }

    /// Sorts every entry into the bands (a counting sort per band: linear in the entries).
    fn rebuild(&mut self) {
        let n = self.entries.len();
        let mut starts = vec![0u32; BANDS * (VALUES + 1)];
        let mut positions = vec![0u32; BANDS * n];
        for b in 0..BANDS {
            let starts = &mut starts[b * (VALUES + 1)..(b + 1) * (VALUES + 1)];
            for e in &self.entries {
                starts[band(e.hash, b) + 1] += 1;
            }
            for v in 0..VALUES {
                starts[v + 1] += starts[v];
            }
            let mut next = starts[..VALUES].to_vec();
            let positions = &mut positions[b * n..(b + 1) * n];
            for (at, e) in self.entries.iter().enumerate() {
                let slot = &mut next[band(e.hash, b)];
                positions[*slot as usize] = at as u32;
                *slot += 1;
            }
        }
        self.starts = starts;
        self.positions = positions;
        self.recent.iter_mut().for_each(HashMap::clear);
        self.built = n;
    }

    /// Forgets a case's hash (erasure).
    pub fn erase(&mut self, case_id: i64) {
        self.erased.insert(case_id);
    }

    /// Every case of a user other than `user` whose hash is within the index's distance of
    /// `hash`, nearest first (then newest), one match per case.
    pub fn find(&self, hash: u128, user: u64) -> Vec<Match> {
        let mut best: HashMap<i64, u32> = HashMap::new();
        let mut consider = |e: &Hashed| {
            let distance = (e.hash ^ hash).count_ones();
            if distance <= self.max_distance && e.user != user && !self.erased.contains(&e.case_id)
            {
                let d = best.entry(e.case_id).or_insert(distance);
                *d = (*d).min(distance);
            }
        };
        if self.built > 0 {
            for b in 0..BANDS {
                let v = b * (VALUES + 1) + band(hash, b);
                let run = self.starts[v] as usize..self.starts[v + 1] as usize;
                for &at in &self.positions[b * self.built..][run] {
                    consider(&self.entries[at as usize]);
                }
            }
        }
        for (b, recent) in self.recent.iter().enumerate() {
            for &at in recent.get(&(band(hash, b) as u16)).into_iter().flatten() {
                consider(&self.entries[at as usize]);
            }
        }
        let mut out: Vec<Match> = best
            .into_iter()
            .map(|(case_id, distance)| Match { case_id, distance })
            .collect();
        out.sort_by_key(|m| (m.distance, std::cmp::Reverse(m.case_id)));
        out
    }
}

/// The store's indexes, one per hashed image.
pub struct Indexes {
    /// Selfies ([`HASHED_IMAGE`]), within [`MAX_DISTANCE`].
    pub selfie: PhashIndex,
    /// Document portraits ([`PORTRAIT`]) by their [`fold`], within [`PORTRAIT_MAX_DISTANCE`].
    pub portrait: PhashIndex,
    /// Hashes of an earlier [`HASH_METHOD`] among those read in: the indexes are read again once
    /// they have been computed anew.
    pub stale: usize,
}

impl Indexes {
    /// Indexes of `selfies` and of the folds of `portraits`, built at once.
    pub fn from_entries(selfies: Vec<Hashed>, portraits: Vec<Hashed>) -> Indexes {
        Indexes {
            selfie: PhashIndex::from_entries(selfies),
            portrait: PhashIndex::from_entries(portraits).within(PORTRAIT_MAX_DISTANCE),
            stale: 0,
        }
    }

    /// The same as [`from_entries`](Indexes::from_entries), the two built at once on two threads.
    pub fn from_entries_side_by_side(selfies: Vec<Hashed>, portraits: Vec<Hashed>) -> Indexes {
        let (selfie, portrait) = std::thread::scope(|s| {
            let selfie = s.spawn(|| PhashIndex::from_entries(selfies));
            let portrait = PhashIndex::from_entries(portraits).within(PORTRAIT_MAX_DISTANCE);
            // A panic while building is the caller's, as it would be on this thread.
            let selfie = selfie
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (selfie, portrait)
        });
        Indexes {
            selfie,
            portrait,
            stale: 0,
        }
    }

    /// The highest case id either index holds: a case's hashes are stored together, so the cases
    /// after it are in neither.
    pub fn newest(&self) -> i64 {
        self.selfie.newest().max(self.portrait.newest())
    }

    /// Forgets a case's hashes (erasure).
    pub fn erase(&mut self, case_id: i64) {
        self.selfie.erase(case_id);
        self.portrait.erase(case_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear(entries: &[Hashed], hash: u128, user: u64) -> Vec<i64> {
        let mut ids: Vec<i64> = entries
            .iter()
            .filter(|e| e.user != user && (e.hash ^ hash).count_ones() <= MAX_DISTANCE)
            .map(|e| e.case_id)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    #[test]
    fn the_index_finds_exactly_what_a_linear_scan_finds() {
        // A deterministic spread: random hashes plus near copies at every distance 0..=6, the
        // flipped bits spread over bands so that no single band stays equal by accident.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut entries = Vec::new();
        let mut bases = Vec::new();
        for i in 0..50u32 {
            let base = (u128::from(next()) << 64) | u128::from(next());
            bases.push(base);
            for d in 0..=6u32 {
                let mut h = base;
                for bit in 0..d {
                    h ^= 1 << ((bit * 19 + i) % 128);
                }
                let e = Hashed {
                    case_id: i64::from(i * 100 + d),
                    user: u64::from(d % 2),
                    hash: h,
                };
                entries.push(e);
            }
        }
        for n in 0..2000 {
            let e = Hashed {
                case_id: 1_000_000 + n,
                user: 7,
                hash: (u128::from(next()) << 64) | u128::from(next()),
            };
            entries.push(e);
        }
        // Half of it built into the bands, the other half added since (the per-band maps): every
        // other near copy of each base in each half.
        let (older, newer): (Vec<Hashed>, Vec<Hashed>) =
            entries.iter().partition(|e| e.case_id % 2 == 0);
        let mut index = PhashIndex::from_entries(older);
        for e in newer {
            index.insert(e);
        }
        let built = PhashIndex::from_entries(entries.clone());
        let mut found = 0;
        for base in &bases {
            for user in [0, 1, 9] {
                let mut got: Vec<i64> = built.find(*base, user).iter().map(|m| m.case_id).collect();
                got.sort();
                assert_eq!(got, linear(&entries, *base, user), "all built at once");
                let mut got: Vec<i64> = index.find(*base, user).iter().map(|m| m.case_id).collect();
                got.sort();
                found += got.len();
                assert_eq!(got, linear(&entries, *base, user));
            }
        }
        assert!(found > 200, "the table must exercise matches: {found}");
    }

    #[test]
    fn a_wide_hash_indexed_by_its_fold_finds_every_match_a_linear_scan_finds() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut wide = || -> WideHash {
            let mut h = [0u128; 4];
            for q in &mut h {
                *q = (u128::from(next()) << 64) | u128::from(next());
            }
            h
        };
        let mut bases = Vec::new();
        let mut entries: Vec<(i64, WideHash)> = Vec::new();
        for i in 0..40u32 {
            let base = wide();
            bases.push(base);
            for d in 0..=10u32 {
                // Flipped bits spread over the quarters, some on the same position of two
                // quarters (they cancel in the fold: the fold is closer, never further).
                let mut h = base;
                for bit in 0..d {
                    let at = ((bit * 37 + i) % 128, (bit + i) % 4);
                    h[at.1 as usize] ^= 1 << at.0;
                }
                entries.push((i64::from(i * 100 + d), h));
            }
        }
        for n in 0..500 {
            entries.push((1_000_000 + n, wide()));
        }
        let index = PhashIndex::from_entries(
            entries
                .iter()
                .map(|(case_id, h)| Hashed {
                    case_id: *case_id,
                    user: 1,
                    hash: fold(h),
                })
                .collect(),
        )
        .within(PORTRAIT_MAX_DISTANCE);
        let mut found = 0;
        for base in &bases {
            let mut got: Vec<i64> = index
                .find(fold(base), 2)
                .iter()
                .filter(|m| {
                    let full = &entries.iter().find(|(id, _)| *id == m.case_id).unwrap().1;
                    wide_distance(full, base) <= PORTRAIT_MAX_DISTANCE
                })
                .map(|m| m.case_id)
                .collect();
            got.sort();
            let want: Vec<i64> = entries
                .iter()
                .filter(|(_, h)| wide_distance(h, base) <= PORTRAIT_MAX_DISTANCE)
                .map(|(id, _)| *id)
                .collect();
            found += got.len();
            assert_eq!(got, want);
        }
        assert_eq!(found, 40 * 7, "distances 0..=6 of every base");
        let h = bases[0];
        assert_eq!(wide_from_bytes(&wide_to_bytes(&h)), Some(h));
        assert_eq!(wide_from_bytes(&[0; 16]), None);
    }

    #[test]
    fn erased_and_same_user_cases_are_not_matches_and_nearest_comes_first() {
        let mut index = PhashIndex::new();
        for (case_id, user, hash) in [(1, 1, 0b11u128), (2, 2, 0b1), (3, 3, 0), (4, 4, 0b111)] {
            index.insert(Hashed {
                case_id,
                user,
                hash,
            });
        }
        let found: Vec<(i64, u32)> = index
            .find(0, 3)
            .iter()
            .map(|m| (m.case_id, m.distance))
            .collect();
        assert_eq!(found, vec![(2, 1), (1, 2)], "case 4 is 3 bits away");
        index.erase(2);
        let found: Vec<i64> = index.find(0, 3).iter().map(|m| m.case_id).collect();
        assert_eq!(found, vec![1]);
        let found: Vec<i64> = index.find(0, 1).iter().map(|m| m.case_id).collect();
        assert_eq!(found, vec![3], "case 1 is the same user's, case 2 erased");
    }
}
