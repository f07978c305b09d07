//! One pooled PostgreSQL connection, driven on the thread that uses it: the driver's client and
//! its connection task, polled together while the caller waits. Statements that do not wait on
//! each other's rows go out together (one exchange), and a request nobody waits on (a read's
//! `ROLLBACK`) is sent at once without waiting for its reply.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Socket};

/// The connection's task: reads replies, writes requests; ends when the connection does.
type Task = Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send>>;

/// Drives one connection's task on the caller's thread.
pub(super) struct Driver {
    rt: tokio::runtime::Runtime,
    /// None once the connection has ended.
    task: Option<Task>,
}

/// A client and the driver of its connection.
pub(super) struct Conn {
    pub(super) client: Client,
    pub(super) driver: Driver,
}

impl Driver {
    /// Runs `f` to its end, driving the connection meanwhile (one task: whatever `f` sends is
    /// written at the next turn, its replies read as they come).
    pub(super) fn block_on<T>(&mut self, f: impl Future<Output = T>) -> T {
        let task = &mut self.task;
        let mut f = std::pin::pin!(f);
        self.rt.block_on(std::future::poll_fn(|cx| {
            drive(task, cx);
            f.as_mut().poll(cx)
        }))
    }

    /// Writes what was asked without waiting for its reply (the next [`Driver::block_on`]
    /// reads and drops that reply before its own).
    pub(super) fn flush(&mut self) {
        self.block_on(std::future::ready(()));
    }
}

/// One turn of the connection's task.
fn drive(task: &mut Option<Task>, cx: &mut Context<'_>) {
    if let Some(t) = task {
        if let Poll::Ready(ended) = t.as_mut().poll(cx) {
            if let Err(e) = ended {
                tracing::debug!(error = %e, "postgres: a connection ended");
            }
            *task = None;
        }
    }
}

impl Conn {
    /// Connects with `config` over `tls`.
    pub(super) fn connect<T>(config: &tokio_postgres::Config, tls: T) -> crate::Result<Conn>
    where
        T: MakeTlsConnect<Socket> + 'static + Send,
        T::TlsConnect: Send,
        T::Stream: Send + 'static,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| crate::Error::Storage(format!("postgres: cannot connect: {e}")))?;
        let (client, connection) = rt
            .block_on(config.connect(tls))
            .map_err(super::cannot_connect)?;
        Ok(Conn {
            client,
            driver: Driver {
                rt,
                task: Some(Box::pin(connection)),
            },
        })
    }

    /// Runs what `f` asks of the client to its end.
    pub(super) fn on<'a, F: Future + 'a>(
        &'a mut self,
        f: impl FnOnce(&'a Client) -> F,
    ) -> F::Output {
        let Conn { client, driver } = self;
        driver.block_on(f(client))
    }

    /// Whether the connection is still open, once what the server sent meanwhile is read (a
    /// server that ended it while it was idle, on a restart or a failover, said so then).
    pub(super) fn still_open(&mut self) -> bool {
        // A yield turns the runtime's I/O driver once without waiting: the socket's news comes
        // in, and the connection's task reads it.
        self.driver.block_on(async {
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
        });
        !self.is_closed()
    }

    /// Whether the connection has ended (the server cut it, or it failed).
    pub(super) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}
