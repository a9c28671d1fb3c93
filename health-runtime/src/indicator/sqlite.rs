use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::{DependencyError, HealthIndicator};
use crate::{Check, CheckError, CheckOutcome, IntoCheckOutcome as _};

/// An SQLite database shared by a handler and its health check: one connection behind a mutex,
/// used on the blocking pool.
///
/// The check runs its query (`SELECT 1` unless [`with_query`](Self::with_query) says otherwise)
/// and reports how long it took, in milliseconds. A database that is locked by another process
/// fails once the connection's busy timeout has passed ([`open`](Self::open) sets 1 s), so a
/// lock shows as a failure rather than as a hung check. A failed query is a
/// [`DependencyError::Query`] naming the database file and the query.
///
/// ```
/// use health_runtime::HealthIndicator;
/// use health_runtime::indicator::SqliteDatabase;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = SqliteDatabase::open_in_memory()?.with_query("SELECT count(*) FROM sqlite_master");
/// db.call(|conn| conn.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB)", ())).await??;
/// let outcome = db.check().await?;
/// assert_eq!(outcome.status(), health_runtime::Status::Healthy);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteDatabase {
    connection: Arc<Mutex<Connection>>,
    query: Arc<str>,
    /// The database file, or `:memory:`.
    target: Arc<str>,
}

/// Why [`SqliteDatabase::call`] could not run its closure: the blocking task did not complete
/// (the closure panicked, or the runtime is shutting down).
///
/// It is not a [`DependencyError`]: `call` runs the handler's own work, whose result (SQLite's
/// errors included) is the closure's to return; this error only says the task itself was lost.
/// A failed health check query is a [`DependencyError::Query`].
#[derive(Debug, thiserror::Error)]
#[error("the SQLite task failed: {0}")]
pub struct SqliteError(String);

impl SqliteDatabase {
    /// Opens (creating it if needed) the database file at `path`, with a busy timeout of 1 s.
    pub fn open(path: impl AsRef<Path>) -> rusqlite::Result<Self> {
        let connection = Connection::open(path)?;
        connection.busy_timeout(Duration::from_secs(1))?;
        Ok(Self::new(connection))
    }

    /// A private in-memory database, for tests and examples.
    pub fn open_in_memory() -> rusqlite::Result<Self> {
        Connection::open_in_memory().map(Self::new)
    }

    /// Wraps an open connection.
    pub fn new(connection: Connection) -> Self {
        let target = match connection.path() {
            Some(path) if !path.is_empty() => path.into(),
            _ => ":memory:".into(),
        };
        SqliteDatabase {
            connection: Arc::new(Mutex::new(connection)),
            query: "SELECT 1".into(),
            target,
        }
    }

    /// The query each check runs; its rows are read to the end and ignored. Choose one that
    /// touches the tables the service needs, e.g. `SELECT count(*) FROM kv`.
    #[must_use]
    pub fn with_query(mut self, query: impl Into<String>) -> Self {
        self.query = query.into().into();
        self
    }

    /// Locks the connection on the current thread. Prefer [`call`](Self::call) from async code.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolls back.
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn call<T, F>(&self, f: F) -> Result<T, SqliteError>
    where
        F: FnOnce(&mut Connection) -> T + Send + 'static,
        T: Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&mut this.lock()))
            .await
            .map_err(|error| SqliteError(error.to_string()))
    }

    /// Runs the check's query once on the blocking pool; returns how long it took, in
    /// milliseconds.
    pub async fn measure(&self) -> Result<f64, DependencyError> {
        let query = self.query.clone();
        let started = Instant::now();
        let failed = |message: String| DependencyError::Query {
            target: self.target.to_string(),
            query: self.query.to_string(),
            message,
        };
        self.call(move |conn| -> rusqlite::Result<()> {
            let mut statement = conn.prepare_cached(&query)?;
            let mut rows = statement.query(())?;
            while rows.next()?.is_some() {}
            Ok(())
        })
        .await
        .map_err(|error| failed(error.to_string()))?
        .map_err(|error| failed(error.to_string()))?;
        Ok(started.elapsed().as_secs_f64() * 1000.0)
    }

    /// A check named `name` running the query each time; its value is the query's time in
    /// milliseconds.
    #[track_caller]
    pub fn into_check(self, name: impl Into<String>) -> Check {
        super::check_of(name, self)
    }
}

impl HealthIndicator for SqliteDatabase {
    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        self.measure().await.into_check_outcome()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_query_names_the_database_and_the_query() {
        let db = SqliteDatabase::open_in_memory()
            .unwrap()
            .with_query("SELECT count(*) FROM missing");
        let error = db.measure().await.unwrap_err();
        assert!(matches!(error, DependencyError::Query { .. }), "{error}");
        assert_eq!(
            error.to_string(),
            "query `SELECT count(*) FROM missing` on `:memory:` failed: no such table: missing"
        );
        assert_eq!(db.check().await.unwrap_err().message(), error.to_string());
    }
}
