//! The single writer: a dedicated thread owns the [`Store`] (and so its connection) and runs the
//! jobs sent to it over a channel. Jobs that queue up while one group commits are run together
//! in the next transaction, each inside its own savepoint, so hundreds of concurrent readings
//! cost a handful of commits while a failing job still rolls back alone. A job's caller learns
//! its result only after the transaction holding it has committed.
//!
//! [`Writer`] is a cheap, cloneable handle; async callers `await` their job without blocking the
//! runtime. The thread ends once every handle is dropped; [`WriterThread::join`] waits for it,
//! so the connection closes cleanly.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::{Store, StoreError};

/// The most jobs committed in one transaction.
const MAX_GROUP: usize = 256;

type Output = Result<Box<dyn Any + Send>, StoreError>;
/// A job's work, typed by what it returns.
type Work<T> = Box<dyn FnOnce(&mut Store) -> Result<T, StoreError> + Send>;

struct Job {
    run: Box<dyn FnOnce(&mut Store) -> Output + Send>,
    reply: oneshot::Sender<Output>,
    /// Run alone and outside any transaction (it manages its own).
    alone: bool,
}

/// A handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

/// The writer thread itself, to wait for after the last [`Writer`] is dropped.
#[derive(Debug)]
pub struct WriterThread(std::thread::JoinHandle<()>);

impl WriterThread {
    /// Waits (blocking) until the thread has finished its jobs and closed the database.
    pub fn join(self) {
        let _ = self.0.join();
    }
}

impl Store {
    /// Moves the store into its writer thread.
    pub fn into_writer(self) -> Result<(Writer, WriterThread), StoreError> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("iching-store".into())
            .spawn(move || run(self, rx))
            .map_err(|_| StoreError::WriterGone)?;
        Ok((Writer { tx }, WriterThread(thread)))
    }
}

impl Writer {
    /// Runs `f` on the writer thread, inside a transaction, and returns its result once that
    /// transaction has committed (or its error, with `f`'s writes rolled back).
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        self.send(Box::new(move |store: &mut Store| f(store)), false)
            .await
    }

    /// Runs `f` on the writer thread alone, outside any transaction (`f` begins and commits
    /// its own), with the store to change: what changes the key itself.
    pub async fn call_alone<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        self.send(Box::new(f), true).await
    }

    async fn send<T: Send + 'static>(&self, f: Work<T>, alone: bool) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            run: Box::new(move |store| f(store).map(|v| Box::new(v) as Box<dyn Any + Send>)),
            reply,
            alone,
        };
        self.tx.send(job).map_err(|_| StoreError::WriterGone)?;
        let value = rx.await.map_err(|_| StoreError::WriterGone)??;
        value
            .downcast::<T>()
            .map(|v| *v)
            .map_err(|_| StoreError::WriterGone)
    }
}

fn run(mut store: Store, rx: mpsc::Receiver<Job>) {
    let mut next = None;
    while let Some(first) = next.take().or_else(|| rx.recv().ok()) {
        // A key changed by another process meanwhile is followed before anything is read or
        // written, so nothing is shown as damaged and nothing is sealed with a key gone by.
        if let Err(e) = store.follow_key_change() {
            let _ = first.reply.send(Err(e));
            continue;
        }
        if first.alone {
            let out = catch_unwind(AssertUnwindSafe(|| (first.run)(&mut store)))
                .unwrap_or(Err(StoreError::WriterGone));
            let _ = first.reply.send(out);
            continue;
        }
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                // Runs after this group commits.
                Ok(job) if job.alone => {
                    next = Some(job);
                    break;
                }
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit_group(&mut store, group);
    }
}

fn commit_group(store: &mut Store, group: Vec<Job>) {
    // A read-only store still reads through the writer; its writes fail inside.
    let begin = if store.read_only() {
        "BEGIN"
    } else {
        "BEGIN IMMEDIATE"
    };
    // Begun, and only then compared: a key change another process made while this waited for
    // the write lock is followed before the group runs (checked before the lock, it could
    // commit in between).
    let begun = store.step(begin).and_then(|()| {
        if store.key_check_changed()? {
            let _ = store.conn.execute_batch("ROLLBACK");
            store.follow_key_change()?;
            store.step(begin)?;
        }
        Ok(())
    });
    if let Err(e) = begun {
        for job in group {
            let _ = job.reply.send(Err(e.clone()));
        }
        return;
    }
    let mut done = Vec::with_capacity(group.len());
    for job in group {
        let out = if let Err(e) = store.step("SAVEPOINT job") {
            Err(e)
        } else {
            let out = catch_unwind(AssertUnwindSafe(|| (job.run)(&mut *store)))
                .unwrap_or(Err(StoreError::WriterGone));
            let end = if out.is_ok() {
                store.step("RELEASE job")
            } else {
                store.exec("ROLLBACK TO job; RELEASE job")
            };
            match end {
                Ok(()) => out,
                Err(e) => Err(e),
            }
        };
        done.push((job.reply, out));
    }
    let commit = store.step("COMMIT");
    if let Err(e) = &commit {
        let _ = store.conn.execute_batch("ROLLBACK");
        for (reply, _) in done {
            let _ = reply.send(Err(e.clone()));
        }
        return;
    }
    for (reply, out) in done {
        let _ = reply.send(out);
    }
}
