//! Internal notes on a case and escalations to a supervisor: the text sealed under the case key,
//! the fact audited in the same transaction (`case.note_added`, `case.escalated`), never the text.

use crate::db::OptionalRow;
use crate::db::Row;
use crate::params;
use kyc_crypto::vault::{CaseKey, SealField};

use crate::timefmt::rfc3339;
use crate::Error;
use crate::{Snapshot, Store};
use kyc_domain::case::CaseSummary;
use kyc_domain::roles::{Permission, Role};

/// The longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 4000;

pub use kyc_domain::case::Note;

/// A note's text, checked: something to say, within [`MAX_NOTE_CHARS`], no control characters
/// but line breaks and tabs.
pub fn check_text(field: &str, text: &str) -> Result<String, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::BadRequest(format!(
            "{field}: write what the note says"
        )));
    }
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(Error::BadRequest(format!(
            "{field}: at most {MAX_NOTE_CHARS} characters"
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::BadRequest(format!(
            "{field}: control characters are not allowed"
        )));
    }
    Ok(text.to_string())
}

/// Whether an account of this (stored) role can take an escalated case: it decides and assigns.
fn takes_escalations(role: &str) -> bool {
    role.parse::<Role>()
        .is_ok_and(|r| r.may(Permission::Reassign) && r.may(Permission::Decide))
}

impl Store {
    /// Adds a note to case `id` by `by`; with `escalate_to`, the case (still pending) is also
    /// assigned to that supervisor or admin and the note says why. One transaction.
    pub fn add_note(
        &self,
        id: i64,
        by: &str,
        text: &str,
        escalate_to: Option<&str>,
    ) -> Result<CaseSummary, Error> {
        let text = check_text(
            if escalate_to.is_some() {
                "reason"
            } else {
                "text"
            },
            text,
        )?;
        self.write(|tx| {
            let status = crate::case_status(tx, id)?;
            if let Some(to) = escalate_to {
                if status != "pending" {
                    return Err(Error::AlreadyDecided(id.to_string()));
                }
                let role: Option<(String, Option<i64>)> = tx
                    .query_row(
                        "SELECT role, disabled_at FROM users WHERE name = ?1",
                        [to],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let supervisor = matches!(&role, Some((r, None)) if takes_escalations(r));
                if !supervisor {
                    return Err(Error::BadRequest(format!(
                        "to: {to:?} is not an active supervisor or admin"
                    )));
                }
                tx.execute(
                    "UPDATE cases SET assignee = ?2 WHERE id = ?1",
                    params![id, to],
                )?;
            }
            let key = self.case_key(tx, id)?;
            let kind = if escalate_to.is_some() {
                "escalation"
            } else {
                "note"
            };
            let note_id: i64 = tx.query_row(
                "INSERT INTO notes (case_id, kind, by_user, escalated_to, created_at, text_sealed) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                params![id, kind, by, escalate_to, self.now_ms(), crate::db::NO_BYTES],
                |r| r.get(0),
            )?;
            tx.execute(
                "UPDATE notes SET text_sealed = ?2 WHERE id = ?1",
                params![note_id, key.seal(SealField::Note(note_id), text.as_bytes())],
            )?;
            let (action, details) = match escalate_to {
                Some(to) => (
                    "case.escalated",
                    serde_json::json!({"to": to, "note": note_id}),
                ),
                None => ("case.note_added", serde_json::json!({"note": note_id})),
            };
            crate::audit::append(
                tx,
                self.vault(),
                self.now_ms(),
                by,
                action,
                Some(id),
                &details,
            )?;
            self.summary_in(tx, id)
        })
    }

    /// The notes of case `id`, oldest first ([`Snapshot::notes`]).
    pub fn notes(&self, id: i64) -> Result<Vec<Note>, Error> {
        self.snapshot(|s| s.notes(id))
    }

    /// The names of the active accounts a case can be escalated to (supervisors and admins).
    pub fn supervisors(&self) -> Result<Vec<String>, Error> {
        self.read(|c| {
            let rows = c.query_map(
                "SELECT name, role FROM users WHERE disabled_at IS NULL ORDER BY name",
                params![],
                |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
            )?;
            let mut names = Vec::new();
            for row in rows {
                let (name, role) = row;
                if takes_escalations(&role) {
                    names.push(name);
                }
            }
            Ok(names)
        })
    }
}

/// A case's notes (`?1`: its id), oldest first ([`note_from_row`]).
pub(crate) const NOTES_SQL: &str =
    "SELECT id, kind, by_user, escalated_to, created_at, text_sealed \
     FROM notes WHERE case_id = ?1 ORDER BY id";

/// A row of [`NOTES_SQL`], its text opened with the case's `key`.
pub(crate) fn note_from_row(key: &CaseKey, r: &Row) -> Result<Note, Error> {
    let id: i64 = r.get(0)?;
    let sealed: Vec<u8> = r.get(5)?;
    let text = crate::open_text(key, SealField::Note(id), &sealed)?;
    Ok(Note {
        id,
        kind: r.get(1)?,
        by: r.get(2)?,
        escalated_to: r.get(3)?,
        at: rfc3339(r.get(4)?),
        text,
    })
}

impl Snapshot<'_> {
    /// The notes of case `id`, oldest first.
    pub fn notes(&self, id: i64) -> Result<Vec<Note>, Error> {
        self.read(|c| {
            let key = self.case_key(id)?;
            c.query_map(NOTES_SQL, [id], |r| note_from_row(&key, r))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_must_say_something_within_bounds() {
        for (text, ok) in [
            ("", false),
            ("   \n ", false),
            ("Called the customer: the renewal is on its way.", true),
            ("line one\nline two\twith a tab", true),
            ("bell\u{7}", false),
        ] {
            assert_eq!(check_text("text", text).is_ok(), ok, "{text:?}");
        }
        assert!(check_text("text", &"x".repeat(MAX_NOTE_CHARS)).is_ok());
        let long = check_text("reason", &"x".repeat(MAX_NOTE_CHARS + 1)).unwrap_err();
        assert!(long.to_string().contains("reason"), "{long}");
    }
}
