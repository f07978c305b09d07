//! An open PostgreSQL transaction as the store's [`Connection`]: its start sent with its first
//! statement, the store's `?N` SQL rewritten to `$N`, prepared once per connection, rows read in
//! one exchange, paged through a cursor, or (handed out of the store) sent ahead by the server;
//! queries that do not wait on each other sent together.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use bytes::BytesMut;
use futures::TryStreamExt;
use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql, Type};
use tokio_postgres::{RowStream, Statement};

use super::conn::{Conn, Driver};
use crate::db::{Connection, Param, Row, Value};
use crate::{Error, Result};

/// Prepared statements kept per connection (the case list builds a few hundred shapes at most).
const STATEMENT_CACHE: usize = 512;

/// Rows fetched at first when a query's rows are streamed; each later fetch asks for twice as
/// many, up to [`MAX_BATCH`]: a short stream costs one exchange, a long one (a year's statistics,
/// 100,000 rows) a few dozen instead of hundreds, and memory stays bounded by the largest batch.
const BATCH: i32 = 256;
const MAX_BATCH: i32 = 8192;

/// Around a statement marked [`crate::db::ONE_PLAN`], in its exchange: its plan is the one made
/// once per connection (PostgreSQL's generic plan), not one made for each run's values; the
/// statements after it are planned as the server chooses again.
const ONE_PLAN_ON: &str = "SET LOCAL plan_cache_mode = force_generic_plan";
const ONE_PLAN_OFF: &str = "SET LOCAL plan_cache_mode = auto";

/// Rows read at a time from a query whose rows come ahead of their handing over
/// ([`Connection::rows_ahead`]).
const AHEAD_CHUNK: usize = 1024;

/// The store's `?N` placeholders as PostgreSQL's `$N`, outside quoted text.
fn dollar_params(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\'' => {
                quoted = !quoted;
                out.push(ch);
            }
            '?' if !quoted && chars.peek().is_some_and(|c| c.is_ascii_digit()) => out.push('$'),
            _ => out.push(ch),
        }
    }
    out
}

/// How a read starts: its snapshot is taken at its first statement, with which it goes out.
const READ_START: &str = "START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";

/// An open transaction: statements run on it, prepared once per connection.
pub(super) struct PgTx<'t> {
    client: &'t tokio_postgres::Client,
    /// Its connection's driver, which every statement waits on (one at a time: a statement in
    /// another's row callback runs between fetched batches, never while one is being fetched).
    driver: RefCell<&'t mut Driver>,
    statements: RefCell<&'t mut HashMap<String, Statement>>,
    writable: bool,
    /// The transaction's start while it waits to go out with the first statement.
    start: Cell<Option<&'static str>>,
    /// Started and not yet committed: dropped, it is rolled back.
    open: Cell<bool>,
}

impl<'t> PgTx<'t> {
    /// A read on `conn`, its statements prepared into (and found in) the connection's
    /// `statements`. Its start goes out with its first statement, in one exchange: were the
    /// start refused, that statement (a read's) ran alone, and the read fails.
    pub(super) fn read(
        conn: &'t mut Conn,
        statements: &'t mut HashMap<String, Statement>,
    ) -> PgTx<'t> {
        PgTx::on(conn, statements, READ_START, false)
    }

    /// A write on `conn`, started before anything else is sent: none of its statements can
    /// run outside the transaction.
    pub(super) fn write(
        conn: &'t mut Conn,
        statements: &'t mut HashMap<String, Statement>,
    ) -> Result<PgTx<'t>> {
        let t = PgTx::on(conn, statements, "BEGIN", true);
        t.wait(std::future::ready(()))?;
        Ok(t)
    }

    /// A transaction on `conn` that `start`s with its first exchange.
    fn on(
        conn: &'t mut Conn,
        statements: &'t mut HashMap<String, Statement>,
        start: &'static str,
        writable: bool,
    ) -> PgTx<'t> {
        let Conn { client, driver } = conn;
        PgTx {
            client,
            driver: RefCell::new(driver),
            statements: RefCell::new(statements),
            writable,
            start: Cell::new(Some(start)),
            open: Cell::new(false),
        }
    }

    /// Commits the transaction.
    pub(super) fn commit(self) -> Result<()> {
        self.wait(self.client.batch_execute("COMMIT"))??;
        self.open.set(false);
        Ok(())
    }

    /// `read`, of `sql`, on the plan made once when `sql` is marked [`crate::db::ONE_PLAN`]: the
    /// plan mode set around it in the same exchange.
    async fn planned<T>(
        &self,
        sql: &str,
        read: impl Future<Output = std::result::Result<T, postgres::Error>>,
    ) -> std::result::Result<T, postgres::Error> {
        if !sql.starts_with(crate::db::ONE_PLAN) {
            return read.await;
        }
        let (on, out, off) = futures::join!(
            self.client.batch_execute(ONE_PLAN_ON),
            read,
            self.client.batch_execute(ONE_PLAN_OFF)
        );
        on?;
        let out = out?;
        off?;
        Ok(out)
    }

    /// Runs `f` to its end on the transaction's connection.
    fn wait<T>(&self, f: impl Future<Output = T>) -> Result<T> {
        self.exchange(&mut **self.driver()?, f)
    }

    /// Runs `f` to its end on `driver` (the transaction's, borrowed), the transaction's start
    /// sent before it when it has not gone out yet.
    fn exchange<T>(&self, driver: &mut Driver, f: impl Future<Output = T>) -> Result<T> {
        let Some(start) = self.start.take() else {
            return Ok(driver.block_on(f));
        };
        self.open.set(true);
        // The start is polled first: its request goes out before `f`'s, in one write.
        let (started, out) =
            driver.block_on(futures::future::join(self.client.batch_execute(start), f));
        started?;
        Ok(out)
    }

    /// The connection's driver, while no statement holds it (one holds it while its rows are
    /// being fetched).
    fn driver(&self) -> Result<std::cell::RefMut<'_, &'t mut Driver>> {
        self.driver
            .try_borrow_mut()
            .map_err(|_| Error::Internal("a statement ran while rows were being fetched".into()))
    }

    fn statement(&self, sql: &str) -> Result<Statement> {
        let mut cache = self.statements.borrow_mut();
        cached(&mut cache, sql, |sql| {
            Ok(self.wait(self.client.prepare(sql))??)
        })
    }

    /// A count run under a statement time limit of `budget`: `limit` (ending with the limit's
    /// value, in ms) goes out with the count, in one exchange; then `after` when the count ran
    /// to its end, or `after_cancel` when the limit cut it short (None).
    fn count_limited(
        &self,
        sql: &str,
        params: &[Param<'_>],
        budget: Duration,
        limit: &str,
        after: Option<&str>,
        after_cancel: Option<&str>,
    ) -> Result<Option<i64>> {
        let st = self.statement(sql)?;
        let limit = format!("{limit}{}", budget.as_millis().max(1));
        let params = refs(params);
        let (limited, counted) = self.wait(async {
            futures::join!(
                self.client.batch_execute(&limit),
                self.client.query_one(&st, &params)
            )
        })?;
        limited?;
        let (n, then) = match counted {
            Ok(r) => (Some(count_of(&r)?), after),
            Err(e) if e.code() == Some(&SqlState::QUERY_CANCELED) => (None, after_cancel),
            Err(e) => return Err(e.into()),
        };
        if let Some(then) = then {
            self.wait(self.client.batch_execute(then))??;
        }
        Ok(n)
    }
}

/// Dropped, a transaction not committed (a read's end, or a write that failed) is rolled back:
/// its `ROLLBACK` (for a read, the same as a commit) is sent and not waited for; the
/// connection's next user reads its reply first. The pool sends it before the connection is put
/// back ([`super::PgBackend::with`]).
impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if self.open.get() {
            send_only(self.client.batch_execute("ROLLBACK"));
        }
    }
}

/// The cursor a query's rows are read through: one name per query text.
fn cursor_name(sql: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    sql.hash(&mut h);
    format!("kyc_rows_{:016x}", h.finish())
}

/// Sends a request nobody waits on: its future is polled once (which queues its request for
/// the connection's next write) and dropped (the connection reads and drops its reply).
fn send_only(request: impl Future<Output = std::result::Result<(), postgres::Error>>) {
    let _ = futures::FutureExt::now_or_never(request);
}

/// `sql` prepared once per connection: found in (or put into) its `cache`, else `prepare`d as
/// PostgreSQL's SQL.
fn cached(
    cache: &mut HashMap<String, Statement>,
    sql: &str,
    prepare: impl FnOnce(&str) -> Result<Statement>,
) -> Result<Statement> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    if cache.len() >= STATEMENT_CACHE {
        cache.clear();
    }
    let prepared = prepare(&dollar_params(sql))?;
    cache.insert(sql.to_string(), prepared.clone());
    Ok(prepared)
}

/// `sql` prepared on `conn`, once: found in (or put into) its `cache`.
pub(super) fn prepared(
    cache: &mut HashMap<String, Statement>,
    conn: &mut Conn,
    sql: &str,
) -> Result<Statement> {
    cached(cache, sql, |sql| Ok(conn.on(|c| c.prepare(sql))?))
}

/// The first `max` rows of `st` on `conn`, outside any transaction block.
pub(super) fn first_rows(
    conn: &mut Conn,
    st: &Statement,
    params: &[Param<'_>],
    max: usize,
) -> Result<Vec<postgres::Row>> {
    let params = refs(params);
    Ok(conn.on(|c| first_of(c.query_raw(st, params), max))?)
}

/// The first `max` rows of a query: bind, execute and sync in one message, the rows read as they
/// come; rows past `max` are left to the connection, which reads and drops them.
async fn first_of(
    rows: impl Future<Output = std::result::Result<RowStream, postgres::Error>>,
    max: usize,
) -> std::result::Result<Vec<postgres::Row>, postgres::Error> {
    take(std::pin::pin!(rows.await?).as_mut(), max).await
}

/// The next `max` rows of `rows` (fewer at its end).
async fn take(
    mut rows: std::pin::Pin<&mut RowStream>,
    max: usize,
) -> std::result::Result<Vec<postgres::Row>, postgres::Error> {
    let mut out = Vec::with_capacity(max.min(AHEAD_CHUNK));
    while out.len() < max {
        match rows.try_next().await? {
            Some(r) => out.push(r),
            None => break,
        }
    }
    Ok(out)
}

/// Hands `rows` to `each` as the store's rows.
pub(super) fn hand_over(
    rows: &[postgres::Row],
    each: &mut dyn FnMut(Row) -> Result<()>,
) -> Result<()> {
    for r in rows {
        each(row(r)?)?;
    }
    Ok(())
}

/// Hands `rows` to `each` until it says stop; whether it wants more.
fn hand_over_until(
    rows: &[postgres::Row],
    each: &mut dyn FnMut(Row) -> Result<bool>,
) -> Result<bool> {
    for r in rows {
        if !each(row(r)?)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The count in a count's one row.
fn count_of(r: &postgres::Row) -> Result<i64> {
    match row(r)?.0.first() {
        Some(Value::Int(n)) => Ok(*n),
        other => Err(Error::Internal(format!("a count read {other:?}"))),
    }
}

fn refs<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Connection for PgTx<'_> {
    fn run(&self, sql: &str, params: &[Param<'_>]) -> Result<usize> {
        let st = self.statement(sql)?;
        let changed = self.wait(self.client.execute(&st, &refs(params)))??;
        Ok(usize::try_from(changed).unwrap_or(usize::MAX))
    }

    fn rows(
        &self,
        sql: &str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(Row) -> Result<bool>,
    ) -> Result<()> {
        // A cursor (named after the query's text, so a FETCH prepared for it always reads the
        // same columns): statements may run between its batches.
        let cursor = cursor_name(sql);
        let declare = self.statement(&format!("DECLARE {cursor} NO SCROLL CURSOR FOR {sql}"))?;
        self.wait(self.client.execute(&declare, &refs(params)))??;
        let mut size = BATCH;
        let read = (|| loop {
            let fetch = self.statement(&format!("FETCH FORWARD {size} FROM {cursor}"))?;
            let batch = self.wait(self.client.query(&fetch, &[]))??;
            let more = batch.len() == size as usize;
            size = (size * 2).min(MAX_BATCH);
            if !hand_over_until(&batch, each)? || !more {
                return Ok(());
            }
        })();
        // Closed without waiting (it goes out with the next request), so the same query may
        // be read again in this transaction.
        send_only(self.client.batch_execute(&format!("CLOSE {cursor}")));
        read
    }

    fn rows_ahead(
        &self,
        sql: &str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(Row) -> Result<bool>,
    ) -> Result<()> {
        let st = self.statement(sql)?;
        // The connection is this stream's until its end: a statement from `each` fails.
        let mut driver = self.driver()?;
        let mut rows =
            Box::pin(self.exchange(&mut driver, self.client.query_raw(&st, refs(params)))??);
        loop {
            // The server goes on sending into the socket while a chunk is handed over.
            let chunk = driver.block_on(take(rows.as_mut(), AHEAD_CHUNK))?;
            // Stopped early, the rest are read and dropped by the connection.
            if !hand_over_until(&chunk, each)? || chunk.len() < AHEAD_CHUNK {
                return Ok(());
            }
        }
    }

    fn fetch(
        &self,
        sql: &str,
        params: &[Param<'_>],
        max: usize,
        each: &mut dyn FnMut(Row) -> Result<()>,
    ) -> Result<()> {
        let st = self.statement(sql)?;
        let params = refs(params);
        let read = first_of(self.client.query_raw(&st, params), max);
        let rows = self.wait(self.planned(sql, read))??;
        // The transaction is free again: `each` may run statements of its own.
        hand_over(&rows, each)
    }

    fn fetch_each(
        &self,
        queries: &[(&str, &[Param<'_>])],
        each: &mut dyn FnMut(usize, Row) -> Result<()>,
    ) -> Result<()> {
        let statements = queries
            .iter()
            .map(|(sql, _)| self.statement(sql))
            .collect::<Result<Vec<_>>>()?;
        let params: Vec<_> = queries.iter().map(|(_, p)| refs(p)).collect();
        // Each query sends its request when first polled: all of them go out before any reply
        // is read, and the replies come back in the same order.
        let results = self.wait(futures::future::join_all(
            statements
                .iter()
                .zip(&params)
                .zip(queries)
                .map(|((st, p), (sql, _))| {
                    let read = first_of(self.client.query_raw(st, p.iter().copied()), usize::MAX);
                    self.planned(sql, read)
                }),
        ))?;
        let all = results
            .into_iter()
            .collect::<std::result::Result<Vec<_>, _>>()?;
        // The transaction is free again: `each` may run statements of its own.
        for (i, rows) in all.iter().enumerate() {
            hand_over(rows, &mut |r| each(i, r))?;
        }
        Ok(())
    }

    fn count_within(
        &self,
        sql: &str,
        params: &[Param<'_>],
        budget: Duration,
    ) -> Result<Option<i64>> {
        // A cancelled statement aborts its transaction: the savepoint keeps the rest of it. The
        // savepoint and the time limit go in one exchange, and so do their undoing (a released
        // savepoint keeps its SET LOCAL: the limit is put back first).
        self.count_limited(
            sql,
            params,
            budget,
            "SAVEPOINT count_within; SET LOCAL statement_timeout = ",
            Some("SET LOCAL statement_timeout = DEFAULT; RELEASE SAVEPOINT count_within"),
            Some("ROLLBACK TO SAVEPOINT count_within; RELEASE SAVEPOINT count_within"),
        )
    }

    fn next_case_id(&self) -> Result<i64> {
        // A sequence: no lock, so a case is staged before the write lock is taken.
        crate::db::new_id(self, "SELECT nextval('case_ids')")
    }

    fn count_last_within(
        &self,
        sql: &str,
        params: &[Param<'_>],
        budget: Duration,
    ) -> Result<Option<i64>> {
        // Nothing follows: the limit need not be undone, and a cancelled count only ends a
        // transaction that had nothing more to do (it ends with a ROLLBACK anyway).
        let limit = "SET LOCAL statement_timeout = ";
        self.count_limited(sql, params, budget, limit, None, None)
    }

    fn put_blob(&self, case_id: i64, sealed: &[u8]) -> Result<()> {
        if !self.writable {
            return Err(Error::Internal(
                "blobs are written only in a write transaction".into(),
            ));
        }
        self.run(
            "INSERT INTO case_blobs (case_id, sealed) VALUES (?1, ?2)",
            &[Param::Int(case_id), Param::Bytes(sealed)],
        )?;
        Ok(())
    }

    fn drop_blob(&self, case_id: i64) -> Result<()> {
        if !self.writable {
            return Err(Error::Internal(
                "blobs are removed only in a write transaction".into(),
            ));
        }
        self.run(
            "DELETE FROM case_blobs WHERE case_id = ?1",
            &[Param::Int(case_id)],
        )?;
        Ok(())
    }
}

/// A row's columns as plain values; a type the store never selects is an error naming it.
fn row(r: &postgres::Row) -> Result<Row> {
    let mut out = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let ty = col.type_();
        let v = if *ty == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)?.map(Value::Int)
        } else if *ty == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)?
                .map(|n| Value::Int(n.into()))
        } else if *ty == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)?
                .map(|n| Value::Int(n.into()))
        } else if *ty == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)?.map(Value::Bool)
        } else if *ty == Type::FLOAT8 {
            r.try_get::<_, Option<f64>>(i)?.map(Value::Real)
        } else if *ty == Type::FLOAT4 {
            r.try_get::<_, Option<f32>>(i)?
                .map(|f| Value::Real(f.into()))
        } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) {
            r.try_get::<_, Option<String>>(i)?.map(Value::Text)
        } else if *ty == Type::BYTEA {
            r.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Bytes)
        } else {
            return Err(Error::Internal(format!(
                "column {} is of type {ty}, which the store does not read (cast it in the query)",
                col.name()
            )));
        };
        out.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(out))
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // One parameter kind binds to whichever column type the server inferred: booleans are
        // 0/1 integers in the schema (as in SQLite's), integers may meet INT4 functions.
        let int = |i: i64, out: &mut BytesMut| {
            if *ty == Type::INT8 {
                i.to_sql(ty, out)
            } else if *ty == Type::INT4 {
                i32::try_from(i)?.to_sql(ty, out)
            } else if *ty == Type::INT2 {
                i16::try_from(i)?.to_sql(ty, out)
            } else if *ty == Type::BOOL {
                (i != 0).to_sql(ty, out)
            } else if *ty == Type::FLOAT8 {
                (i as f64).to_sql(ty, out)
            } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
                i.to_string().to_sql(ty, out)
            } else {
                Err(format!("an integer cannot bind as {ty}").into())
            }
        };
        match *self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(i) => int(i, out),
            Param::Bool(b) => int(i64::from(b), out),
            Param::Real(f) => {
                if *ty == Type::FLOAT4 {
                    (f as f32).to_sql(ty, out)
                } else {
                    f.to_sql(ty, out)
                }
            }
            Param::Text(s) => s.to_sql(ty, out),
            Param::Bytes(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{query_alone, read, Backend};
    use crate::params;
    use crate::pg::{PgBackend, ScratchDatabase};

    /// Runs `check` on a backend of a scratch database of the test server (nothing when there
    /// is no server and none is required).
    fn on_a_backend(check: impl FnOnce(&dyn Backend)) {
        let Some(server) = ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG") else {
            return;
        };
        let db = ScratchDatabase::create(&server).expect("a scratch database");
        let (backend, _) = PgBackend::open(&db.target).expect("the backend opens");
        check(&backend);
        // The backend's connections close before the scratch database is dropped.
        drop(backend);
    }

    /// Runs `check` in a read transaction on a scratch database of the test server.
    fn in_a_read(check: impl FnOnce(&dyn Connection) -> Result<()>) {
        on_a_backend(|b| read(b, check).unwrap());
    }

    /// A query read alone runs outside any transaction block (the server's default isolation,
    /// not the snapshots' repeatable read; not read-only), hands over at most `max` rows, and
    /// leaves its connection ready for the next read.
    #[test]
    fn a_query_read_alone_runs_outside_a_transaction() {
        on_a_backend(|b| {
            let how = "SELECT current_setting('transaction_isolation') || ' ' || \
                       current_setting('transaction_read_only')";
            let alone = query_alone(b, how, params![], |r| r.get::<String>(0)).unwrap();
            assert_eq!(alone.as_deref(), Some("read committed off"));
            let snapshot = read(b, |c| c.query_row(how, params![], |r| r.get::<String>(0)));
            assert_eq!(snapshot.unwrap(), "repeatable read on");
            let mut seen = Vec::new();
            for _ in 0..3 {
                seen.clear();
                b.read_alone(
                    "SELECT n::int8 FROM generate_series(1, 10000) AS n",
                    &[],
                    3,
                    &mut |r| {
                        seen.push(r.get::<i64>(0)?);
                        Ok(())
                    },
                )
                .unwrap();
                assert_eq!(seen, [1, 2, 3]);
            }
            let none = query_alone(b, "SELECT 1::int8 WHERE false", params![], |r| {
                r.get::<i64>(0)
            });
            assert_eq!(none.unwrap(), None);
        });
    }

    /// A read does not wait for its end's reply, but its `ROLLBACK` is sent: the connection the
    /// pool keeps is not left inside a transaction, and the next read meets that reply first.
    #[test]
    fn a_read_ends_its_transaction_without_waiting_for_the_reply() {
        let Some(server) = ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG") else {
            return;
        };
        let db = ScratchDatabase::create(&server).expect("a scratch database");
        let (backend, _) = PgBackend::open(&db.target).expect("the backend opens");
        let states = || {
            db.as_admin(
                "SELECT state FROM pg_stat_activity WHERE application_name = 'kyc-desk' \
                 AND datname = current_database()",
            )
            .unwrap()
        };
        for n in 1..=3i64 {
            let read_n = read(&backend, |c| {
                c.query_row("SELECT ?1::int8", params![n], |r| r.get::<i64>(0))
            });
            assert_eq!(read_n.unwrap(), n, "each read meets its own rows");
            // The server ends the transaction as it reads the ROLLBACK: within moments.
            let mut seen = states();
            for _ in 0..200 {
                if !seen.is_empty() && seen.iter().all(|s| s == "idle") {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
                seen = states();
            }
            assert!(
                !seen.is_empty() && seen.iter().all(|s| s == "idle"),
                "the pool's connections: {seen:?}"
            );
        }
        drop(backend);
    }

    /// Queries read together hand each one's rows over whole, in their order, with their place.
    #[test]
    fn queries_read_together_come_back_each_whole_and_in_order() {
        in_a_read(|c| {
            let many = "SELECT n::int8 FROM generate_series(1, ?1::int8) AS n";
            let (five, none, two) = ([Param::Int(5)], [Param::Int(0)], [Param::Int(2)]);
            let mut got = Vec::new();
            c.fetch_each(
                &[(many, &five), (many, &none), (many, &two)],
                &mut |i, r| {
                    got.push((i, r.get::<i64>(0)?));
                    Ok(())
                },
            )?;
            assert_eq!(
                got,
                [(0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (2, 1), (2, 2)]
            );
            // A failed one fails them all, and says why.
            let wrong = c.fetch_each(&[(many, &five), ("SELECT nonsense", &[])], &mut |_, _| {
                Ok(())
            });
            assert!(
                matches!(&wrong, Err(Error::Storage(m)) if m.contains("nonsense")),
                "{wrong:?}"
            );
            Ok(())
        });
    }

    /// A statement marked to be planned once runs on the plan made once (the plan mode set
    /// around it), read alone or with others; the statements after it are planned as before.
    #[test]
    fn a_statement_marked_one_plan_runs_on_its_plan_made_once() {
        in_a_read(|c| {
            let mode = "SELECT current_setting('plan_cache_mode')";
            let marked = format!("{}{mode}", crate::db::ONE_PLAN);
            let read = |sql: &str| c.query_row(sql, params![], |r| r.get::<String>(0));
            assert_eq!(read(&marked)?, "force_generic_plan");
            assert_eq!(read(mode)?, "auto");
            let mut seen = Vec::new();
            c.fetch_each(&[(mode, &[]), (&marked, &[]), (mode, &[])], &mut |i, r| {
                seen.push((i, r.get::<String>(0)?));
                Ok(())
            })?;
            let want = [(0, "auto"), (1, "force_generic_plan"), (2, "auto")];
            assert_eq!(seen, want.map(|(i, m)| (i, m.to_string())));
            Ok(())
        });
    }

    /// Rows inserted with one statement ([`crate::db::tests::rows_go_in_with_one_statement_on`]).
    #[test]
    fn rows_go_in_with_one_statement() {
        on_a_backend(|b| {
            let check = &mut crate::db::tests::rows_go_in_with_one_statement_on;
            b.write(check, &mut || {}).unwrap()
        });
    }

    /// A count past its budget gives up without aborting the transaction; one within it leaves
    /// no time limit behind for the statements after it.
    #[test]
    fn a_count_gives_up_at_its_budget_and_leaves_no_limit_behind() {
        in_a_read(|c| {
            let slow = "SELECT count(*) FROM generate_series(1, 200000000)";
            assert_eq!(c.count_within(slow, &[], Duration::from_millis(5))?, None);
            let quick = "SELECT count(*) FROM generate_series(1, 1000)";
            assert_eq!(
                c.count_within(quick, &[], Duration::from_millis(50))?,
                Some(1000),
                "the transaction goes on after a count that gave up"
            );
            // Slower than the last count's budget: runs to its end.
            let slept: i64 = c.query_row("SELECT count(*) FROM pg_sleep(0.2)", params![], |r| {
                r.get(0)
            })?;
            assert_eq!(slept, 1);
            Ok(())
        });
    }

    /// A count read last, cut short at its budget, ends its read quietly (the read ends with a
    /// ROLLBACK anyway); within it, it counts.
    #[test]
    fn a_last_count_cut_short_ends_its_read_quietly() {
        in_a_read(|c| {
            let slow = "SELECT count(*) FROM generate_series(1, 200000000)";
            assert_eq!(
                c.count_last_within(slow, &[], Duration::from_millis(5))?,
                None
            );
            Ok(())
        });
        in_a_read(|c| {
            let quick = "SELECT count(*) FROM generate_series(1, 1000)";
            let n = c.count_last_within(quick, &[], Duration::from_millis(50))?;
            assert_eq!(n, Some(1000));
            Ok(())
        });
    }

    /// `fetch` hands over at most `max` rows, leaves the connection ready for the next statement
    /// whatever rows it did not read, and lets its callback run statements of its own.
    #[test]
    fn fetched_rows_stop_at_their_max_and_the_rest_are_dropped() {
        in_a_read(|c| {
            let many = "SELECT n::int8 FROM generate_series(1, 100000) AS n";
            let first = c.query_opt(many, params![], |r| r.get::<i64>(0))?;
            assert_eq!(first, Some(1));
            let doubled = c.query_map(
                "SELECT n::int8 FROM generate_series(1, 1000) AS n",
                params![],
                |r| {
                    let n: i64 = r.get(0)?;
                    c.query_row("SELECT ?1::int8 * 2", params![n], |r| r.get::<i64>(0))
                },
            )?;
            assert_eq!(doubled.len(), 1000);
            assert_eq!(doubled.iter().sum::<i64>(), 1000 * 1001);
            let none = c.query_opt("SELECT 1::int8 WHERE false", params![], |r| r.get::<i64>(0))?;
            assert_eq!(none, None);
            Ok(())
        });
    }

    /// A streamed query hands over every row once, in order, across batches that grow to
    /// [`MAX_BATCH`]; its callback may run statements of its own (another stream too), and may
    /// stop it early; the same query streams again in the same read.
    #[test]
    fn streamed_rows_come_whole_across_growing_batches() {
        in_a_read(|c| {
            let n = 3 * MAX_BATCH as i64 + 17;
            let sql = format!("SELECT n::int8 FROM generate_series(1, {n}) AS n");
            let (mut seen, mut in_order, mut checked, mut nested) = (0i64, true, 0, 0);
            let handed = c.for_each(&sql, params![], |r| {
                let v: i64 = r.get(0)?;
                in_order &= v == seen + 1;
                seen = v;
                if v % 5000 == 0 {
                    let twice: i64 =
                        c.query_row("SELECT ?1::int8 * 2", params![v], |r| r.get(0))?;
                    checked += usize::from(twice == 2 * v);
                }
                if v == 7 {
                    // Another stream, on a cursor of its own, within this one's.
                    let inner = "SELECT n::int8 FROM generate_series(1, 600) AS n";
                    nested = c.for_each(inner, params![], |_| Ok(true))?;
                }
                Ok(true)
            })?;
            assert_eq!((handed, seen, in_order), (n as u64, n, true));
            assert_eq!(checked, (n / 5000) as usize);
            assert_eq!(nested, 600);
            let stopped = c.for_each(&sql, params![], |r| Ok(r.get::<i64>(0)? < 10_001))?;
            assert_eq!(
                stopped, 10_001,
                "the row that said stop is handed over, no later one"
            );
            Ok(())
        });
    }

    /// Rows that come ahead of their handing over come whole, once, in order, across chunks;
    /// `each` may stop them, and a statement run from `each` fails without harming the read.
    #[test]
    fn rows_sent_ahead_come_whole_and_a_statement_among_them_fails() {
        in_a_read(|c| {
            let n = 3 * AHEAD_CHUNK as i64 + 17;
            let sql = format!("SELECT n::int8 FROM generate_series(1, {n}) AS n");
            let (mut seen, mut in_order) = (0i64, true);
            let handed = c.for_each_ahead(&sql, params![], |r| {
                let v: i64 = r.get(0)?;
                in_order &= v == seen + 1;
                seen = v;
                Ok(true)
            })?;
            assert_eq!((handed, seen, in_order), (n as u64, n, true));
            let stopped = c.for_each_ahead(&sql, params![], |r| Ok(r.get::<i64>(0)? < 10))?;
            assert_eq!(
                stopped, 10,
                "the row that said stop is the last handed over"
            );
            let nested = c.for_each_ahead(&sql, params![], |_| {
                c.query_row("SELECT 1::int8", params![], |r| r.get::<i64>(0))?;
                Ok(true)
            });
            assert!(
                matches!(&nested, Err(Error::Internal(m)) if m.contains("while rows were being fetched")),
                "{nested:?}"
            );
            // The read goes on: the rest of that stream is read and dropped first.
            let after: i64 = c.query_row("SELECT 42::int8", params![], |r| r.get(0))?;
            assert_eq!(after, 42);
            Ok(())
        });
    }

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(
            dollar_params("SELECT ?1, '?2', x FROM t WHERE a = ?12 AND b LIKE '\\' ESCAPE '\\'"),
            "SELECT $1, '?2', x FROM t WHERE a = $12 AND b LIKE '\\' ESCAPE '\\'"
        );
        assert_eq!(dollar_params("a ? b"), "a ? b");
    }
}
