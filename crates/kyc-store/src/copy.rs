//! Moving a whole store to PostgreSQL (`kyc-desk migrate-store`): every row as it is stored,
//! sealed bytes untouched (the master key and its salt go along in `meta`), each case's images
//! as its blob, in one write transaction on an empty destination, read from one snapshot of the
//! source. Nothing is opened or re-sealed, so the audit chain arrives link for link.

use crate::db::{self, Backend, Connection};
use crate::pg::{PgBackend, PgTarget};
use crate::{Error, Store};

/// Every table and its columns, parents before children. `meta` and `counters` replace what the
/// destination's schema put there; every other table must arrive empty.
const TABLES: &[(&str, &str)] = &[
    ("meta", "key, value"),
    ("counters", "name, last"),
    (
        "users",
        "name, role, password_hash, created_at, disabled_at, must_change_password, last_login_at",
    ),
    (
        "sessions",
        "token_sha256, user_name, created_at, expires_at",
    ),
    (
        "cases",
        "id, reference, requester_id, user_id, app_id, body_sha256, received_at, status, \
         holder_name, document_number, document_type, flags, raw_json, answer_result, answer_at, \
         answer_by, answer_user_id, pii, raw, document_tag, user_tag, answer_user, assignee, model, \
         hold_until, decided_at, decided_by",
    ),
    ("case_keys", "case_id, wrapped"),
    (
        "images",
        "case_id, name, mime, width, height, bytes, sealed, file_offset, file_len",
    ),
    (
        "decisions",
        "id, case_id, decision, reasons, comment, by_kind, by_user, decided_at, rule, \
         link_user_id, final, comment_sealed, link_sealed",
    ),
    (
        "deliveries",
        "id, case_id, event, body, status, attempts, next_at, last_status, last_error, \
         created_at, delivered_at, body_sealed",
    ),
    (
        "audit",
        "id, at, actor, action, case_id, detail, prev_hash, hash, keyed",
    ),
    ("search_tags", "tag, case_id"),
    ("case_flags", "code, case_id"),
    ("pending_erasures", "case_id, reference, requested_at"),
    ("image_hashes", "case_id, image, sealed, method"),
    (
        "notes",
        "id, case_id, kind, by_user, escalated_to, created_at, text_sealed",
    ),
    ("sign_in_failures", "key, at"),
];

/// What a copy moved: rows per table, and the images' blobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Each table's name and how many rows it copied, in [`TABLES`] order.
    pub rows: Vec<(&'static str, u64)>,
    /// Cases whose images were copied as a blob.
    pub blobs: u64,
}

impl Store {
    /// Copies this store into the PostgreSQL database `target`, which must hold no case, account
    /// or audit entry yet (its schema is created if needed). The copy is opened afterwards with
    /// the same master key as this store (so the same key file, or the same passphrase).
    pub fn copy_to_postgres(&self, target: &PgTarget) -> Result<CopyReport, Error> {
        let (dest, _) = PgBackend::open(target)?;
        self.copy_to(&dest)
    }

    fn copy_to(&self, dest: &dyn Backend) -> Result<CopyReport, Error> {
        let source = self.db.as_ref();
        db::read(source, |src| {
            db::write(
                dest,
                |to| {
                    for table in ["cases", "audit", "users"] {
                        let n: i64 = to.query_row(
                            &format!("SELECT count(*) FROM {table}"),
                            crate::params![],
                            |r| r.get(0),
                        )?;
                        if n > 0 {
                            return Err(Error::BadRequest(format!(
                                "the destination already holds data ({n} rows in {table}): \
                                 migrate into an empty database"
                            )));
                        }
                    }
                    let mut rows = Vec::new();
                    for (table, cols) in TABLES {
                        rows.push((*table, copy_table(src, to, table, cols)?));
                    }
                    let blobs = copy_blobs(source, src, to)?;
                    dest.ids_follow_rows(to)?;
                    Ok(CopyReport { rows, blobs })
                },
                |_| {},
            )
        })
    }
}

fn copy_table(
    src: &dyn Connection,
    to: &dyn Connection,
    table: &str,
    cols: &str,
) -> Result<u64, Error> {
    let n = cols.split(',').count();
    let marks: Vec<String> = (1..=n).map(|i| format!("?{i}")).collect();
    let mut insert = format!("INSERT INTO {table} ({cols}) VALUES ({})", marks.join(", "));
    match table {
        // The destination's schema wrote its own: the source's replace them.
        "meta" => insert += " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        "counters" => insert += " ON CONFLICT (name) DO UPDATE SET last = excluded.last",
        _ => {}
    }
    src.for_each(
        &format!("SELECT {cols} FROM {table}"),
        crate::params![],
        |row| {
            to.execute(&insert, row.0.as_slice())?;
            Ok(true)
        },
    )
}

/// Each case's sealed images, read from the source's blob and written as the destination's.
fn copy_blobs(
    source: &dyn Backend,
    src: &dyn Connection,
    to: &dyn Connection,
) -> Result<u64, Error> {
    let mut blobs = 0;
    src.for_each(
        "SELECT case_id, MAX(file_offset + file_len) FROM images \
         WHERE file_len IS NOT NULL GROUP BY case_id ORDER BY case_id",
        crate::params![],
        |row| {
            let (id, len): (i64, i64) = (row.get(0)?, row.get(1)?);
            let len = u64::try_from(len).map_err(|_| Error::Internal("image length".into()))?;
            to.put_blob(id, &source.read_blob(Some(src), id, 0, len)?)?;
            blobs += 1;
            Ok(true)
        },
    )?;
    Ok(blobs)
}
