//! The CSV exports, streamed in chunks: decisions in a date range (no personal data beyond the
//! ids Ditto ID sent) and the audit trail as filtered (ids, actions and their details, never
//! personal data); spreadsheet formula prefixes are neutralised.

use crate::error::CoreError;
use kyc_domain::time::rfc3339;
use kyc_store::Store;

/// Header row of the decisions CSV.
pub const COLUMNS: &[&str] = &[
    "decided_at",
    "reference",
    "requester_id",
    "user_id",
    "decision",
    "final",
    "decided_by",
    "reviewer",
    "reasons",
    "rule",
    "linked_user_id",
    "received_at",
    "seconds_to_decision",
    "ditto_answer",
    "ditto_answered_by",
    "ditto_answered_at",
];

/// Bytes per chunk handed to the sink.
const CHUNK: usize = 64 * 1024;

/// How many decisions fall in `[from_ms, to_ms)`.
pub fn count(store: &Store, from_ms: i64, to_ms: i64) -> Result<u64, CoreError> {
    Ok(store.decision_count(from_ms, to_ms)?)
}

/// The CSV writer's output, taken in chunks while it keeps writing.
#[derive(Clone, Default)]
struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl Shared {
    fn len(&self) -> usize {
        self.0.borrow().len()
    }
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.0.borrow_mut())
    }
}

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A CSV written row by row and handed to a sink in chunks of about [`CHUNK`] bytes, until the
/// sink hangs up (returns false).
struct Chunked<S: FnMut(Vec<u8>) -> bool> {
    out: Shared,
    w: csv::Writer<Shared>,
    sink: S,
    open: bool,
}

fn csv_err(e: csv::Error) -> CoreError {
    CoreError::Internal(format!("csv: {e}"))
}

impl<S: FnMut(Vec<u8>) -> bool> Chunked<S> {
    fn new(header: &[&str], sink: S) -> Result<Self, CoreError> {
        let out = Shared::default();
        let mut w = csv::Writer::from_writer(out.clone());
        w.write_record(header).map_err(csv_err)?;
        Ok(Chunked {
            out,
            w,
            sink,
            open: true,
        })
    }

    /// Writes one row (formula prefixes neutralised); false once the sink has hung up.
    fn row(&mut self, record: &[String]) -> Result<bool, CoreError> {
        self.w
            .write_record(record.iter().map(|v| cell(v).into_owned()))
            .map_err(csv_err)?;
        if self.out.len() >= CHUNK {
            self.w.flush()?;
            self.open = (self.sink)(self.out.take());
        }
        Ok(self.open)
    }

    /// Hands over what is left.
    fn finish(mut self) -> Result<(), CoreError> {
        self.w.flush()?;
        let rest = self.out.take();
        if self.open && !rest.is_empty() {
            (self.sink)(rest);
        }
        Ok(())
    }
}

/// A cell a spreadsheet could run as a formula gets a leading `'` (OWASP CSV injection): every
/// cell starting with `=`, `+`, `-`, `@`, tab or carriage return, whatever follows.
fn cell(v: &str) -> std::borrow::Cow<'_, str> {
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}").into()
    } else {
        v.into()
    }
}

/// Writes the CSV (header first) to `sink` in chunks; stops early when `sink` returns false.
/// Returns the number of decision rows written.
pub fn decisions_csv(
    store: &Store,
    from_ms: i64,
    to_ms: i64,
    sink: impl FnMut(Vec<u8>) -> bool,
) -> Result<u64, CoreError> {
    let mut csv = Chunked::new(COLUMNS, sink)?;
    let n = store.decisions_each(from_ms, to_ms, |d| {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let record = [
            rfc3339(d.decided_at),
            d.reference,
            d.requester_id,
            d.user_id,
            d.decision,
            d.is_final.to_string(),
            d.by_kind,
            opt(d.by_user),
            d.reasons.join(" "),
            opt(d.rule),
            opt(d.linked_user_id),
            rfc3339(d.received_at),
            format!(
                "{:.3}",
                (d.decided_at - d.received_at).max(0) as f64 / 1000.0
            ),
            d.answer_result.map(|b| b.to_string()).unwrap_or_default(),
            opt(d.answer_by),
            d.answer_at.map(rfc3339).unwrap_or_default(),
        ];
        csv.row(&record)
    })?;
    csv.finish()?;
    Ok(n)
}

/// Header row of the audit trail CSV.
pub const AUDIT_COLUMNS: &[&str] = &[
    "id",
    "at",
    "actor",
    "action",
    "case_id",
    "reference",
    "detail",
];

/// Writes the audit entries `filter` selects, oldest first, as CSV (header first) to `sink` in
/// chunks; stops early when `sink` returns false. Returns the number of entries written.
pub fn audit_csv(
    store: &Store,
    filter: &kyc_domain::audit::AuditFilter,
    sink: impl FnMut(Vec<u8>) -> bool,
) -> Result<u64, CoreError> {
    let mut csv = Chunked::new(AUDIT_COLUMNS, sink)?;
    let n = store.audit_each(filter, |e| {
        let record = [
            e.id.to_string(),
            e.at,
            e.actor,
            e.action,
            e.case_id.map(|i| i.to_string()).unwrap_or_default(),
            e.reference.unwrap_or_default(),
            e.detail.to_string(),
        ];
        csv.row(&record)
    })?;
    csv.finish()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formulas_are_neutralised_and_phone_numbers_kept() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
        // A digit after the sign is no safer: `-2+3+cmd|...` runs as a formula.
        assert_eq!(cell("-2+3+cmd|' /C calc'!A0"), "'-2+3+cmd|' /C calc'!A0");
        assert_eq!(cell("+37120000000"), "'+37120000000");
        assert_eq!(cell("\tx"), "'\tx");
        assert_eq!(cell("\rx"), "'\rx");
        assert_eq!(cell("anna@example.com"), "anna@example.com");
    }
}
