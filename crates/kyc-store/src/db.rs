//! The backend boundary: what the store's SQL runs on. A [`Backend`] gives read snapshots and
//! serialised write transactions over [`Connection`]s; a connection runs a statement with
//! [`Param`]s and hands back [`Row`]s of plain column values. The store's rules, sealing and SQL
//! are written once above it; a backend adds only its driver (SQLite: `sqlite.rs`), its
//! migrations and what its engine does differently (the [`Backend`] hooks). Nothing here knows a
//! case, a key or a rule: backends see sealed bytes and never plaintext.

use crate::{Error, Result};

/// One statement parameter, as every backend binds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Param<'a> {
    /// SQL NULL.
    Null,
    /// A 64-bit integer (every integer column is one).
    Int(i64),
    /// A boolean (SQLite stores 0/1).
    Bool(bool),
    /// A floating-point number.
    Real(f64),
    /// UTF-8 text.
    Text(&'a str),
    /// Bytes (sealed values, tags, hashes).
    Bytes(&'a [u8]),
}

/// An empty byte string, bound where an older column must hold one (engines spell its literal
/// differently).
pub const NO_BYTES: &[u8] = &[];

/// A value that binds as a [`Param`].
pub trait ToParam {
    /// The parameter it binds as.
    fn to_param(&self) -> Param<'_>;
}

macro_rules! int_params {
    ($($t:ty),*) => {$(
        impl ToParam for $t {
            fn to_param(&self) -> Param<'_> {
                Param::Int(*self as i64)
            }
        }
    )*};
}
// No u64 or usize: a value past i64::MAX would wrap (rusqlite refused it); callers convert.
int_params!(i64, i32, u32, u16, u8);

impl ToParam for bool {
    fn to_param(&self) -> Param<'_> {
        Param::Bool(*self)
    }
}
impl ToParam for f64 {
    fn to_param(&self) -> Param<'_> {
        Param::Real(*self)
    }
}
impl ToParam for str {
    fn to_param(&self) -> Param<'_> {
        Param::Text(self)
    }
}
impl ToParam for String {
    fn to_param(&self) -> Param<'_> {
        Param::Text(self)
    }
}
impl ToParam for [u8] {
    fn to_param(&self) -> Param<'_> {
        Param::Bytes(self)
    }
}
impl ToParam for Vec<u8> {
    fn to_param(&self) -> Param<'_> {
        Param::Bytes(self)
    }
}
impl<const N: usize> ToParam for [u8; N] {
    fn to_param(&self) -> Param<'_> {
        Param::Bytes(self)
    }
}
impl<T: ToParam + ?Sized> ToParam for &T {
    fn to_param(&self) -> Param<'_> {
        (**self).to_param()
    }
}
impl<T: ToParam> ToParam for Option<T> {
    fn to_param(&self) -> Param<'_> {
        match self {
            Some(v) => v.to_param(),
            None => Param::Null,
        }
    }
}
impl<T: ?Sized> ToParam for kyc_crypto::vault::Sealed<T> {
    fn to_param(&self) -> Param<'_> {
        Param::Bytes(self.as_bytes())
    }
}

/// A statement's parameters: `params![a, b]`, or an array of one type (`[id]`).
pub trait Params {
    /// The parameters in order.
    fn list(&self) -> Vec<Param<'_>>;
}
impl Params for &[&dyn ToParam] {
    fn list(&self) -> Vec<Param<'_>> {
        self.iter().map(|p| p.to_param()).collect()
    }
}
impl<T: ToParam, const N: usize> Params for [T; N] {
    fn list(&self) -> Vec<Param<'_>> {
        self.iter().map(|p| p.to_param()).collect()
    }
}

/// `params![a, b, …]`: mixed-type statement parameters.
#[macro_export]
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::db::ToParam]
    };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::db::ToParam),+] as &[&dyn $crate::db::ToParam]
    };
}

/// One column's value as a backend read it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (SQLite reads booleans as 0/1).
    Int(i64),
    /// A boolean (engines with a boolean type).
    Bool(bool),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
}

impl ToParam for Value {
    fn to_param(&self) -> Param<'_> {
        match self {
            Value::Null => Param::Null,
            Value::Int(i) => Param::Int(*i),
            Value::Bool(b) => Param::Bool(*b),
            Value::Real(f) => Param::Real(*f),
            Value::Text(t) => Param::Text(t),
            Value::Bytes(b) => Param::Bytes(b),
        }
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Bytes(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}
impl Params for &[Value] {
    fn list(&self) -> Vec<Param<'_>> {
        self.iter().map(|p| p.to_param()).collect()
    }
}

/// One result row: its columns' values, in the statement's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Column `i` as `T`; a type the column does not hold is an error naming the column.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self.0.get(i).ok_or_else(|| {
            Error::Internal(format!("no column {i} in a row of {}", self.0.len()))
        })?;
        T::from_value(v).ok_or_else(|| {
            Error::Internal(format!(
                "column {i} holds {v:?}, not {}",
                std::any::type_name::<T>()
            ))
        })
    }
}

/// A Rust value read from a column.
pub trait FromValue: Sized {
    /// The value, or None when the column's value is not one.
    fn from_value(v: &Value) -> Option<Self>;
}
impl FromValue for i64 {
    fn from_value(v: &Value) -> Option<i64> {
        match v {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }
}
macro_rules! narrow_ints {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Option<$t> {
                i64::from_value(v).and_then(|i| <$t>::try_from(i).ok())
            }
        }
    )*};
}
narrow_ints!(i32, u32, u16, u8, u64, usize);
impl FromValue for bool {
    fn from_value(v: &Value) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}
impl FromValue for f64 {
    fn from_value(v: &Value) -> Option<f64> {
        match v {
            Value::Real(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}
impl FromValue for String {
    fn from_value(v: &Value) -> Option<String> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Option<Vec<u8>> {
        match v {
            Value::Bytes(b) => Some(b.clone()),
            _ => None,
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Option<T>> {
        match v {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// A connection (or an open transaction on one): the one thing the store's SQL calls.
pub trait Connection {
    /// Runs a statement; returns the number of rows it changed.
    fn run(&self, sql: &str, params: &[Param<'_>]) -> Result<usize>;
    /// Runs a query and hands its rows to `each` one at a time until it returns false.
    fn rows(
        &self,
        sql: &str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(Row) -> Result<bool>,
    ) -> Result<()>;
    /// Runs a query and hands its first `max` rows to `each`: the rows [`rows`] would hand
    /// over, but a database server sends them in one exchange (no cursor to open and page
    /// through), all of them before the first is handed on. For results wanted whole.
    ///
    /// [`rows`]: Connection::rows
    fn fetch(
        &self,
        sql: &str,
        params: &[Param<'_>],
        max: usize,
        each: &mut dyn FnMut(Row) -> Result<()>,
    ) -> Result<()> {
        let mut n = 0;
        if max > 0 {
            self.rows(sql, params, &mut |row| {
                each(row)?;
                n += 1;
                Ok(n < max)
            })?;
        }
        Ok(())
    }
    /// [`rows`] for an `each` that runs no statement on this connection (rows handed out of the
    /// store): a database server sends them as it finds them, ahead of the ones being handed
    /// over, instead of a batch at a time when asked. A statement run from `each` fails.
    ///
    /// [`rows`]: Connection::rows
    fn rows_ahead(
        &self,
        sql: &str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(Row) -> Result<bool>,
    ) -> Result<()> {
        self.rows(sql, params, each)
    }
    /// Runs queries that do not wait on each other's rows and hands each one's rows, whole, to
    /// `each` with the query's place in `queries`, in that order. A database server gets them
    /// all in one exchange; an embedded one runs them one after another.
    fn fetch_each(
        &self,
        queries: &[(&str, &[Param<'_>])],
        each: &mut dyn FnMut(usize, Row) -> Result<()>,
    ) -> Result<()> {
        for (i, (sql, params)) in queries.iter().enumerate() {
            self.fetch(sql, params, usize::MAX, &mut |row| each(i, row))?;
        }
        Ok(())
    }
    /// Runs a query whose first column of its one row is a count, giving up (None) once it has
    /// run for `budget`: a count must not make a page slow.
    fn count_within(
        &self,
        sql: &str,
        params: &[Param<'_>],
        budget: std::time::Duration,
    ) -> Result<Option<i64>>;
    /// A new case's id, never one given before (an erased case's number stays used): the
    /// `case` counter, under the write lock. PostgreSQL's own comes from a sequence, without
    /// the lock (a number a failed transaction took is skipped, never given again).
    fn next_case_id(&self) -> Result<i64> {
        new_id(
            self,
            "UPDATE counters SET last = last + 1 WHERE name = 'case' RETURNING last",
        )
    }
    /// [`Connection::count_within`] as the last statement of its read: nothing runs on the
    /// transaction after it, so a count cut short needs no undoing (PostgreSQL: no savepoint).
    fn count_last_within(
        &self,
        sql: &str,
        params: &[Param<'_>],
        budget: std::time::Duration,
    ) -> Result<Option<i64>> {
        self.count_within(sql, params, budget)
    }
    /// Stores a case's sealed images (one blob per case), durable before the transaction's rows
    /// that point into it commit, and gone again if the transaction does not commit. Only inside
    /// a write transaction.
    fn put_blob(&self, _case_id: i64, _sealed: &[u8]) -> Result<()> {
        Err(Error::Internal(
            "blobs are written only in a write transaction".into(),
        ))
    }
    /// Removes a case's blob once the transaction has committed (erasure). Only inside a write
    /// transaction.
    fn drop_blob(&self, _case_id: i64) -> Result<()> {
        Err(Error::Internal(
            "blobs are removed only in a write transaction".into(),
        ))
    }
}

impl dyn Connection + '_ {
    /// Runs a statement; returns the number of rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize> {
        self.run(sql, &params.list())
    }

    /// The first row's `f`, or None when there is no row.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<Option<T>> {
        first_row(|each| self.fetch(sql, &params.list(), 1, each), f)
    }

    /// The first row's `f`; no row is [`Error::NoRow`].
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<T> {
        self.query_opt(sql, params, f)?.ok_or(Error::NoRow)
    }

    /// Every row's `f`, in order.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: impl Params,
        mut f: impl FnMut(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.fetch(sql, &params.list(), usize::MAX, &mut |row| {
            out.push(f(&row)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// [`for_each`](Self::for_each) for an `each` that runs no statement on this connection
    /// ([`Connection::rows_ahead`]).
    pub fn for_each_ahead(
        &self,
        sql: &str,
        params: impl Params,
        each: impl FnMut(&Row) -> Result<bool>,
    ) -> Result<u64> {
        counted(each, |each| self.rows_ahead(sql, &params.list(), each))
    }

    /// Hands rows to `each` one at a time (flat memory) until it returns false; returns how
    /// many it was handed.
    pub fn for_each(
        &self,
        sql: &str,
        params: impl Params,
        each: impl FnMut(&Row) -> Result<bool>,
    ) -> Result<u64> {
        counted(each, |each| self.rows(sql, &params.list(), each))
    }
}

/// Hands the rows `run` reads to `each`; returns how many it handed over.
fn counted(
    mut each: impl FnMut(&Row) -> Result<bool>,
    run: impl FnOnce(&mut dyn FnMut(Row) -> Result<bool>) -> Result<()>,
) -> Result<u64> {
    let mut n = 0;
    run(&mut |row| {
        n += 1;
        each(&row)
    })?;
    Ok(n)
}

/// `.optional()` on a [`query_row`](Connection::query_row) result: no row is `None`.
pub trait OptionalRow<T> {
    /// The row, None when there was none, or the error.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalRow<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRow) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A storage engine under the store: read snapshots, serialised write transactions, and what it
/// does after an erasure. Object-safe, so the store holds `Box<dyn Backend>`.
pub trait Backend: Send + Sync {
    /// Runs `f` on one read snapshot.
    fn read(&self, f: &mut dyn FnMut(&dyn Connection) -> Result<()>) -> Result<()>;
    /// Runs one query, alone, on a snapshot of its own, and hands its first `max` rows to
    /// `each` (all of them before the first is handed on). A database server runs it outside
    /// any transaction block, in one exchange (a transaction's start goes with its first
    /// statement, but its end costs a request more); one statement sees one snapshot either
    /// way. For a read of one statement that every request makes (the session check).
    fn read_alone(
        &self,
        sql: &str,
        params: &[Param<'_>],
        max: usize,
        each: &mut dyn FnMut(Row) -> Result<()>,
    ) -> Result<()> {
        self.read(&mut |c| c.fetch(sql, params, max, each))
    }
    /// Runs `f` in one write transaction, serialised with every other write (SQLite: `BEGIN
    /// IMMEDIATE`), committed when it returns Ok and rolled back when it fails; `committed` runs
    /// after the commit, still serialised (what the store keeps in memory follows the commit).
    fn write(
        &self,
        f: &mut dyn FnMut(&dyn Connection) -> Result<()>,
        committed: &mut dyn FnMut(),
    ) -> Result<()>;
    /// [`Backend::write`] with a first part, `stage`, that needs no serialising: where the
    /// engine can (PostgreSQL), it runs on the transaction before the write lock is taken, so
    /// the writes of several instances (and of one) stage at once; `f` then runs under the
    /// lock as any write. SQLite takes its lock first, as for any write.
    fn write_staged(
        &self,
        stage: &mut dyn FnMut(&dyn Connection) -> Result<()>,
        f: &mut dyn FnMut(&dyn Connection) -> Result<()>,
        committed: &mut dyn FnMut(),
    ) -> Result<()> {
        self.write(
            &mut |c| {
                stage(c)?;
                f(c)
            },
            committed,
        )
    }
    /// `len` bytes at `offset` of a case's blob, read on `c` (an open transaction of this
    /// backend) where the blob is in the database; a blob kept as a file needs none.
    fn read_blob(
        &self,
        c: Option<&dyn Connection>,
        case_id: i64,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>>;
    /// Where the engine keeps a case's blob in the database: how a statement that reads an
    /// `images` row (as `i`) reads that image's bytes with it, as (a join, a column: NULL for an
    /// inline image). None where the blob is a file ([`Backend::read_blob`] after the row).
    fn blob_in_row(&self) -> Option<(&'static str, &'static str)> {
        None
    }
    /// After erasures committed: make the erased bytes unreachable in the engine's own files
    /// (SQLite: truncate the WAL). Says what was done (codes the audit trail records), or None
    /// when readers held it back (retried later).
    fn after_erase(&self) -> Result<Option<Vec<&'static str>>>;
    /// After rows were copied in with their ids (`migrate-store`): the engine's own id sources
    /// continue after them (PostgreSQL's identity sequences; SQLite needs nothing).
    fn ids_follow_rows(&self, _c: &dyn Connection) -> Result<()> {
        Ok(())
    }
    /// Whether queries read together ([`Connection::fetch_each`]) cost one exchange (a
    /// database server) rather than the sum of their runs (an embedded engine): then a read
    /// whose rows are likely wanted is worth sending with the one that decides it.
    fn sends_together(&self) -> bool {
        false
    }
    /// `column` among the `ids` a subquery selects, as a condition: `IN`; a database server
    /// that plans a statement once for all its values ([`ONE_PLAN`]) is told the ids are few
    /// whatever they turn out to be (PostgreSQL: `= ANY(ARRAY(…))`, read by the index of
    /// `column` one id at a time, never a walk of it).
    fn id_among(&self, column: &str, ids: &str) -> String {
        format!("{column} IN ({ids})")
    }
    /// Whether the engine's planner starts a search from the matching ids (PostgreSQL, with its
    /// trigram indexes) rather than walking the queue in order testing each case (SQLite).
    fn search_starts_from_indexes(&self) -> bool {
        false
    }
    /// `column` compared by its text's code points, whatever the database's collation, so that
    /// a prefix's range (`>= text AND < text followed by the highest character`) holds exactly
    /// the values that begin with it (an ICU or glibc collation puts `twin-…` inside `Twin-…`'s
    /// range and ignores a control character). SQLite's default (BINARY) compares so already.
    fn in_code_point_order(&self, column: &str) -> String {
        column.to_string()
    }
    /// Whether other instances may share the database (and so hear [`announce`](Backend::announce)).
    fn shared(&self) -> bool {
        false
    }
    /// Takes the lock of a job only one instance should run at a time (a retention sweep), if no
    /// other instance holds it now; held until the returned value is dropped. PostgreSQL: a
    /// session advisory lock on a connection of its own. One process alone: always granted.
    fn try_job_lock(&self, _job: &str) -> Result<Option<Box<dyn std::any::Any + Send>>> {
        Ok(Some(Box::new(())))
    }
    /// Tells the other instances on the same database that something happened, one payload
    /// after another (PostgreSQL: `NOTIFY`, all in one statement). An embedded database has no
    /// other instance: nothing to do.
    fn announce(&self, _payloads: &[String]) -> Result<()> {
        Ok(())
    }
    /// Hands every announcement (`ListenerNote::Notice`: another instance's, this one's too,
    /// or the database's own) to `each`, from a thread of the backend's own, for as long as the process
    /// runs; says when the listener listens (at first, and back after a lost connection: what
    /// was announced meanwhile is missed) and when it lost its connection. An embedded database
    /// has none to hand.
    fn listen(&self, _each: Listener) -> Result<()> {
        Ok(())
    }
}

/// What a backend's listener hears ([`Backend::listen`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerNote<'a> {
    /// It listens: every announcement from now on reaches it.
    Listening,
    /// It lost its connection: announcements go unheard until it listens again.
    Lost,
    /// An announcement's payload.
    Notice(&'a str),
}

/// What a backend's listener hands what it hears to ([`Backend::listen`]).
pub type Listener = Box<dyn Fn(ListenerNote<'_>) + Send>;

/// Begins a statement whose plan does not depend on its values (its shape already says how it
/// is read: its ids first, from indexes): a database server may plan it once per connection
/// instead of for each run's values. A comment: an engine that plans every run ignores it.
pub(crate) const ONE_PLAN: &str = "/* one plan */ ";

/// Typed helpers over a [`Backend`]: a result out of its closures.
pub(crate) fn read<T>(b: &dyn Backend, f: impl FnOnce(&dyn Connection) -> Result<T>) -> Result<T> {
    let mut f = Some(f);
    let mut out = None;
    b.read(&mut |c| {
        if let Some(f) = f.take() {
            out = Some(f(c)?);
        }
        Ok(())
    })?;
    out.ok_or_else(|| Error::Internal("a read did not run".into()))
}

/// The id a statement that gives one (a counter or a sequence moved on) returns, on `c`.
pub(crate) fn new_id<C: Connection + ?Sized>(c: &C, sql: &str) -> Result<i64> {
    let mut id = None;
    c.fetch(sql, &[], 1, &mut |r| {
        id = Some(r.get(0)?);
        Ok(())
    })?;
    id.ok_or_else(|| Error::Internal(format!("no id from {sql}")))
}

/// Inserts rows of `width` parameters each (`params`, row after row) with one statement: `head`
/// is `INSERT INTO t (a, b)`, `tail` what follows the rows (` ON CONFLICT DO NOTHING`). A
/// database server gets them in one exchange instead of one each. Returns the rows inserted.
pub(crate) fn insert_rows(
    c: &dyn Connection,
    head: &str,
    width: usize,
    params: &[Param<'_>],
    tail: &str,
) -> Result<usize> {
    if params.is_empty() {
        return Ok(0);
    }
    if width == 0 || params.len() % width != 0 {
        return Err(Error::Internal(format!(
            "{} parameters are not rows of {width}",
            params.len()
        )));
    }
    let rows: Vec<String> = params
        .chunks(width)
        .enumerate()
        .map(|(r, row)| {
            let marks: Vec<String> = (1..=row.len())
                .map(|k| format!("?{}", r * width + k))
                .collect();
            format!("({})", marks.join(", "))
        })
        .collect();
    c.run(&format!("{head} VALUES {}{tail}", rows.join(", ")), params)
}

/// The first row of one query read alone ([`Backend::read_alone`]) as `f` makes it, or None.
pub(crate) fn query_alone<T>(
    b: &dyn Backend,
    sql: &str,
    params: impl Params,
    f: impl FnOnce(&Row) -> Result<T>,
) -> Result<Option<T>> {
    first_row(|each| b.read_alone(sql, &params.list(), 1, each), f)
}

/// `f` of the first row `fetch` hands over (asked for one), or None when it hands none.
fn first_row<T>(
    fetch: impl FnOnce(&mut dyn FnMut(Row) -> Result<()>) -> Result<()>,
    f: impl FnOnce(&Row) -> Result<T>,
) -> Result<Option<T>> {
    let mut first = None;
    fetch(&mut |row| {
        first = Some(row);
        Ok(())
    })?;
    first.as_ref().map(f).transpose()
}

/// [`write`] in two parts ([`Backend::write_staged`]): `stage`'s result goes to `f`.
pub(crate) fn write_staged<S, T>(
    b: &dyn Backend,
    stage: impl FnOnce(&dyn Connection) -> Result<S>,
    f: impl FnOnce(&dyn Connection, S) -> Result<T>,
    committed: impl FnOnce(&T),
) -> Result<T> {
    let mut stage = Some(stage);
    let staged = std::cell::RefCell::new(None);
    let f = |c: &dyn Connection| {
        let s = staged.borrow_mut().take();
        f(
            c,
            s.ok_or_else(|| Error::Internal("a write's stage did not run".into()))?,
        )
    };
    let mut stage = |c: &dyn Connection| {
        if let Some(stage) = stage.take() {
            *staged.borrow_mut() = Some(stage(c)?);
        }
        Ok(())
    };
    typed_write(f, committed, |f, done| b.write_staged(&mut stage, f, done))
}

/// See [`read`]; `committed` gets `f`'s result after the commit, still serialised.
pub(crate) fn write<T>(
    b: &dyn Backend,
    f: impl FnOnce(&dyn Connection) -> Result<T>,
    committed: impl FnOnce(&T),
) -> Result<T> {
    typed_write(f, committed, |f, done| b.write(f, done))
}

/// `f` and `committed` with their result, run by `run` (one of the backend's writes), which
/// takes them as the object-safe callbacks it calls.
fn typed_write<T>(
    f: impl FnOnce(&dyn Connection) -> Result<T>,
    committed: impl FnOnce(&T),
    run: impl FnOnce(&mut dyn FnMut(&dyn Connection) -> Result<()>, &mut dyn FnMut()) -> Result<()>,
) -> Result<T> {
    let mut f = Some(f);
    let mut committed = Some(committed);
    let out = std::cell::RefCell::new(None);
    run(
        &mut |c| {
            if let Some(f) = f.take() {
                *out.borrow_mut() = Some(f(c)?);
            }
            Ok(())
        },
        &mut || {
            if let (Some(done), Some(out)) = (committed.take(), out.borrow().as_ref()) {
                done(out);
            }
        },
    )?;
    out.into_inner()
        .ok_or_else(|| Error::Internal("a write did not run".into()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Rows inserted with one statement ([`insert_rows`]) on `c`, a write transaction of either
    /// engine: each row's parameters land in its own row, a conflict skips only its row, and
    /// parameters that are not whole rows are refused.
    pub(crate) fn rows_go_in_with_one_statement_on(c: &dyn Connection) -> Result<()> {
        c.run(
            "CREATE TEMP TABLE t (k bigint PRIMARY KEY, v text, b bytea)",
            &[],
        )?;
        let rows = [
            Param::Int(1),
            Param::Text("one"),
            Param::Bytes(b"\x01"),
            Param::Int(2),
            Param::Text("two"),
            Param::Bytes(&[]),
            Param::Int(1),
            Param::Text("again"),
            Param::Null,
        ];
        let (head, tail) = ("INSERT INTO t (k, v, b)", " ON CONFLICT DO NOTHING");
        assert_eq!(insert_rows(c, head, 3, &rows, tail)?, 2);
        let got = c.query_map("SELECT k, v, b FROM t ORDER BY k", params![], |r| {
            Ok((r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<Vec<u8>>(2)?))
        })?;
        assert_eq!(
            got,
            [
                (1, "one".to_string(), vec![1u8]),
                (2, "two".to_string(), vec![])
            ]
        );
        assert!(insert_rows(c, head, 2, &rows, tail).is_err());
        assert_eq!(insert_rows(c, head, 3, &[], tail)?, 0);
        Ok(())
    }

    #[test]
    fn values_read_as_the_types_the_store_asks_for() {
        let row = Row(vec![
            Value::Int(7),
            Value::Int(1),
            Value::Null,
            Value::Text("a".into()),
            Value::Bytes(vec![1, 2]),
            Value::Int(-1),
        ]);
        assert_eq!(row.get::<i64>(0).unwrap(), 7);
        assert!(row.get::<bool>(1).unwrap());
        assert_eq!(row.get::<Option<String>>(2).unwrap(), None);
        assert_eq!(row.get::<String>(3).unwrap(), "a");
        assert_eq!(row.get::<Vec<u8>>(4).unwrap(), vec![1, 2]);
        assert!(row.get::<u32>(5).is_err(), "a negative is no u32");
        assert!(row.get::<String>(0).is_err(), "an integer is no text");
        assert!(row.get::<i64>(9).is_err(), "no such column");
        assert!(
            row.get::<Option<i64>>(9).is_err(),
            "no such column, even optional"
        );
        let p = params![1i64, "x", None::<i64>, true];
        let list: Vec<Param> = p.list();
        assert_eq!(
            list,
            [
                Param::Int(1),
                Param::Text("x"),
                Param::Null,
                Param::Bool(true)
            ]
        );
    }
}
