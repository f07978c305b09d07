//! A new case's history, read and written inside its insert transaction: other users' cases
//! with the same document number, selfie or document portrait (through the in-memory hash
//! indexes), the same user's earlier cases, the reuse flagged back on the earlier case, and the
//! new case's sealed image hashes.

use super::*;

/// What the store already holds about a new case's history, read in the insert transaction.
pub(super) struct History {
    /// Other users' cases with the same document number: (id, reference).
    document: Vec<(i64, String)>,
    /// Other users' cases with the same selfie (perceptual hash): (id, reference).
    selfie: Vec<(i64, String)>,
    /// Other users' cases with the same document portrait (perceptual hash): (id, reference).
    portrait: Vec<(i64, String)>,
    /// The same user's cases: (reference, status).
    earlier: Vec<(String, String)>,
}

impl History {
    pub(super) fn flags(&self) -> Vec<Flag> {
        let refs = |v: &[(i64, String)]| v.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>();
        kyc_domain::flag::history_flags(
            &refs(&self.document),
            &refs(&self.selfie),
            &refs(&self.portrait),
            &self.earlier,
        )
    }

    /// Flags the earlier cases back, naming the new case `reference`, and stores the new case's
    /// sealed image hashes.
    pub(super) fn record(
        &self,
        tx: &dyn Connection,
        (vault, now): (&Vault, i64),
        case_id: i64,
        reference: &str,
        sub: &Submission,
    ) -> Result<(), Error> {
        for (found, code) in [
            (&self.document, "document_reused"),
            (&self.selfie, "selfie_reused"),
            (&self.portrait, "portrait_reused"),
        ] {
            for (id, _) in found {
                flag_back(tx, (vault, now), *id, code, reference)?;
            }
        }
        let mut hashes: Vec<(&str, Vec<u8>)> = Vec::new();
        if let Some(hash) = sub.selfie_hash {
            hashes.push((
                crate::phash::HASHED_IMAGE,
                vault.seal_image_hash(case_id, hash),
            ));
        }
        if let Some(hash) = &sub.portrait_hash {
            let bytes = crate::phash::wide_to_bytes(hash);
            hashes.push((
                crate::phash::PORTRAIT,
                vault.seal_named_hash(case_id, crate::phash::PORTRAIT, &bytes),
            ));
        }
        let rows: Vec<crate::db::Param> = hashes
            .iter()
            .flat_map(|(image, sealed)| {
                [
                    crate::db::Param::Int(case_id),
                    crate::db::Param::Text(image),
                    crate::db::Param::Bytes(sealed),
                    crate::db::ToParam::to_param(&crate::phash::HASH_METHOD),
                ]
            })
            .collect();
        let head = "INSERT INTO image_hashes (case_id, image, sealed, method)";
        crate::db::insert_rows(tx, head, 4, &rows, "")?;
        Ok(())
    }
}

/// Most portrait candidates measured in full for one new case: a photo reused more often than
/// this is flagged on the nearest of them (by their folds) all the same.
const CANDIDATES: usize = 64;

/// The history of `sub` from the cases already stored (`hashes` are the indexes, read under the
/// writer lock like the rows).
pub(super) fn history_in(
    conn: &dyn Connection,
    vault: &Vault,
    hashes: &Indexes,
    sub: &Submission,
) -> Result<History, Error> {
    let user = vault.tag("user", &sub.user_id);
    let document: Vec<(i64, String)> = match sub.payload.document_number() {
        Some(number) => conn.query_map(
            "SELECT id, reference FROM cases WHERE document_tag = ?1 AND user_tag <> ?2 \
                 ORDER BY id DESC LIMIT 5",
            params![vault.tag("document", number), user],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?,
        None => Vec::new(),
    };
    let reference_of = |id: i64| {
        conn.query_opt("SELECT reference FROM cases WHERE id = ?1", [id], |r| {
            r.get::<String>(0)
        })
    };
    let mut selfie = Vec::new();
    if let Some(hash) = sub.selfie_hash {
        for m in hashes
            .selfie
            .find(hash, crate::phash::user_key(&user))
            .iter()
            .take(5)
        {
            if let Some(reference) = reference_of(m.case_id)? {
                selfie.push((m.case_id, reference));
            }
        }
    }
    let mut portrait = Vec::new();
    if let Some(hash) = &sub.portrait_hash {
        // The fold's matches are candidates (nearest fold first, at most CANDIDATES of them, each
        // one row read under the write lock): each counts once its full hash is as near.
        let mut near = Vec::new();
        for m in hashes
            .portrait
            .find(crate::phash::fold(hash), crate::phash::user_key(&user))
            .iter()
            .take(CANDIDATES)
        {
            if let Some(stored) = stored_portrait_hash(conn, vault, m.case_id)? {
                let distance = crate::phash::wide_distance(&stored, hash);
                if distance <= crate::phash::PORTRAIT_MAX_DISTANCE {
                    near.push((distance, std::cmp::Reverse(m.case_id)));
                }
            }
        }
        near.sort();
        for (_, std::cmp::Reverse(id)) in near.into_iter().take(5) {
            if let Some(reference) = reference_of(id)? {
                portrait.push((id, reference));
            }
        }
    }
    // A case without a user id (a custom template that has none) has no history of its own.
    let earlier: Vec<(String, String)> = if sub.user_id.is_empty() {
        Vec::new()
    } else {
        conn.query_map(
            "SELECT reference, status FROM cases WHERE user_tag = ?1 ORDER BY id DESC LIMIT 5",
            [user],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
    };
    Ok(History {
        document,
        selfie,
        portrait,
        earlier,
    })
}

/// Adds to an earlier case the reuse finding `code` naming the new case `reference` (merged into
/// its finding of that code if it has one), and audits it.
fn flag_back(
    tx: &dyn Connection,
    (vault, now): (&Vault, i64),
    case_id: i64,
    code: &str,
    reference: &str,
) -> Result<(), Error> {
    let (wrapped, sealed): (Vec<u8>, Vec<u8>) = tx.query_row(
        "SELECT case_keys.wrapped, cases.pii FROM cases JOIN case_keys ON case_keys.case_id = cases.id \
         WHERE cases.id = ?1",
        [case_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let key = vault.unwrap_case_key(case_id, &wrapped)?;
    let mut pii: Pii = open_json(&key, SealField::Pii, &sealed)?;
    let mut cases = vec![reference.to_string()];
    if let Some(at) = pii.flags.iter().position(|f| f.code == code) {
        let old = pii.flags.remove(at);
        cases.extend(old.cases.into_iter().filter(|c| c != reference));
        // The newest ten: the finding stays one readable line on a much-reused document.
        cases.truncate(10);
    }
    pii.flags.push(kyc_domain::flag::reuse_flag(code, &cases));
    tx.execute(
        "UPDATE cases SET pii = ?2, flags = ?3 WHERE id = ?1",
        params![
            case_id,
            seal_json(&key, SealField::Pii, &pii)?,
            flag_codes(&pii.flags)
        ],
    )?;
    insert_for_case(
        tx,
        "case_flags (code, case_id)",
        std::iter::once(db::Param::Text(code)),
        case_id,
    )?;
    crate::audit::append(
        tx,
        vault,
        now,
        "system",
        "case.flagged",
        Some(case_id),
        &serde_json::json!({"code": code, "by_case": reference}),
    )?;
    Ok(())
}

/// Reads every stored image hash into new indexes (at open on PostgreSQL, and again after a rehash
/// or a failed import; SQLite's open has a faster way of its own,
/// `migrate::load_hashes_in_parallel`). The users' tags come from their
/// index, not from the cases' rows (each row holds the sealed payload before its tag: reading the
/// tag there reads the whole row, which made the start grow with the store).
pub(super) fn load_hashes(conn: &dyn Connection, vault: &Vault) -> Result<Indexes, Error> {
    let mut users = std::collections::HashMap::new();
    conn.for_each(
        "SELECT id, user_tag FROM cases WHERE user_tag IS NOT NULL",
        params![],
        |r| {
            users.insert(
                r.get::<i64>(0)?,
                crate::phash::user_key(&r.get::<Vec<u8>>(1)?),
            );
            Ok(true)
        },
    )?;
    let (mut selfies, mut portraits) = (Vec::new(), Vec::new());
    conn.for_each(
        "SELECT case_id, image, sealed FROM image_hashes",
        params![],
        |r| {
            let case_id: i64 = r.get(0)?;
            let user = users
                .get(&case_id)
                .copied()
                .unwrap_or_else(|| crate::phash::user_key(&[]));
            let (image, sealed) = (r.get::<String>(1)?, r.get::<Vec<u8>>(2)?);
            let stored = (case_id, image.as_str(), sealed.as_slice(), user);
            take_hash(vault, stored, (&mut selfies, &mut portraits))?;
            Ok(true)
        },
    )?;
    let mut indexes = Indexes::from_entries(selfies, portraits);
    indexes.stale = stale_hashes(conn)?;
    Ok(indexes)
}

/// How many stored hashes an earlier [`HASH_METHOD`](crate::phash::HASH_METHOD) computed.
pub(crate) fn stale_hashes(conn: &dyn Connection) -> Result<usize, Error> {
    Ok(conn.query_row(
        "SELECT count(*) FROM image_hashes WHERE method = 1",
        params![],
        |r| r.get::<i64>(0),
    )? as usize)
}

/// The stored image hashes of the cases after `after` (another instance's, on a shared
/// database): the selfies', and the folds of the portraits'. Read on every new case, under the
/// write lock: one query whose rows come ahead (no cursor to open, page and close).
pub(super) fn hashes_after(
    conn: &dyn Connection,
    vault: &Vault,
    after: i64,
) -> Result<(Vec<Hashed>, Vec<Hashed>), Error> {
    let (mut selfies, mut portraits) = (Vec::new(), Vec::new());
    conn.for_each_ahead(
        "SELECT h.case_id, h.image, h.sealed, c.user_tag FROM image_hashes h \
         JOIN cases c ON c.id = h.case_id WHERE h.case_id > ?1",
        params![after],
        |r| {
            let case_id: i64 = r.get(0)?;
            let user = crate::phash::user_key(&r.get::<Option<Vec<u8>>>(3)?.unwrap_or_default());
            let (image, sealed) = (r.get::<String>(1)?, r.get::<Vec<u8>>(2)?);
            let stored = (case_id, image.as_str(), sealed.as_slice(), user);
            take_hash(vault, stored, (&mut selfies, &mut portraits))?;
            Ok(true)
        },
    )?;
    Ok((selfies, portraits))
}

/// One stored hash row (case, image, sealed hash, user key) opened into the selfies' or the
/// portraits' entries (a portrait's by its fold).
pub(crate) fn take_hash(
    vault: &Vault,
    (case_id, image, sealed, user): (i64, &str, &[u8], u64),
    (selfies, portraits): (&mut Vec<Hashed>, &mut Vec<Hashed>),
) -> Result<(), Error> {
    match image {
        crate::phash::HASHED_IMAGE => selfies.push(Hashed {
            case_id,
            user,
            hash: vault.open_image_hash(case_id, sealed)?,
        }),
        crate::phash::PORTRAIT => portraits.push(Hashed {
            case_id,
            user,
            hash: crate::phash::fold(&open_portrait_hash(vault, case_id, sealed)?),
        }),
        _ => {}
    }
    Ok(())
}

/// A stored case's portrait hash, opened (None when it has none).
fn stored_portrait_hash(
    conn: &dyn Connection,
    vault: &Vault,
    case_id: i64,
) -> Result<Option<crate::phash::WideHash>, Error> {
    let sealed = conn.query_opt(
        "SELECT sealed FROM image_hashes WHERE case_id = ?1 AND image = ?2",
        params![case_id, crate::phash::PORTRAIT],
        |r| r.get::<Vec<u8>>(0),
    )?;
    sealed
        .map(|s| open_portrait_hash(vault, case_id, &s))
        .transpose()
}

fn open_portrait_hash(
    vault: &Vault,
    case_id: i64,
    sealed: &[u8],
) -> Result<crate::phash::WideHash, Error> {
    let bytes = vault.open_named_hash(case_id, crate::phash::PORTRAIT, sealed)?;
    crate::phash::wide_from_bytes(&bytes).ok_or_else(|| {
        Error::Internal(format!(
            "case {case_id}: a portrait hash of {} bytes",
            bytes.len()
        ))
    })
}
