//! The store under the faults an operator's bad day brings: the SQLite file
//! made read-only (immutable, so that root is refused too) and writable again,
//! write-locked by another process, deleted or replaced while in use; a
//! PostgreSQL server stopped and started again. Each case uses a real file or
//! a private server of its own.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use claudeops_core::SiteName;
use claudeops_core::event::{EventLevel, NewEvent};
use claudeops_store::{Store, StoreError};
use claudeops_tests::postgres::PgServer;
use claudeops_tests::sqlite::WriteLock;

struct SqliteFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
    url: String,
}

fn sqlite_file() -> SqliteFile {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("claudeops.db");
    let url = format!("sqlite://{}", path.display());
    SqliteFile {
        _dir: dir,
        path,
        url,
    }
}

fn event(message: &str) -> NewEvent {
    NewEvent {
        ts_ms: 1_000,
        site: SiteName::new("home").expect("site"),
        session_id: None,
        level: EventLevel::Info,
        service: None,
        message: message.to_owned(),
    }
}

/// `chattr +i` or `-i`: an immutable file refuses writes even to root, as a
/// read-only file refuses them to anyone else.
fn immutable(path: &Path, on: bool) {
    let flag = if on { "+i" } else { "-i" };
    let status = std::process::Command::new("chattr")
        .arg(flag)
        .arg(path)
        .status()
        .unwrap_or_else(|e| panic!("running chattr (e2fsprogs): {e}"));
    assert!(status.success(), "chattr {flag} {path:?} failed");
}

/// Lifts the immutable flag even when the test fails, so the temporary
/// directory can be removed.
struct Immutable<'a>(&'a Path);

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        immutable(self.0, false);
    }
}

/// Writes `n` events, `wide` at a time; how many failed.
async fn write_events(store: &Arc<dyn Store>, n: usize, wide: usize) -> usize {
    let mut failed = 0;
    let numbers: Vec<usize> = (0..n).collect();
    for chunk in numbers.chunks(wide) {
        let writes = chunk.iter().map(|&i| {
            let store = store.clone();
            tokio::spawn(async move { store.insert_event(&event(&format!("write {i}"))).await })
        });
        for write in writes.collect::<Vec<_>>() {
            if !matches!(write.await, Ok(Ok(_))) {
                failed += 1;
            }
        }
    }
    failed
}

/// SQLite opens a connection read-only, silently, when the file is not
/// writable at that moment, and such a connection stays read-only. None may
/// be pooled: once the file is writable again, every write must succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_succeed_again_once_a_read_only_file_is_writable() {
    let file = sqlite_file();
    let store = claudeops_store::open(&file.url).await.expect("open");
    store.readiness(1).await.expect("ready");
    {
        let _lift = Immutable(&file.path);
        immutable(&file.path, true);
        // More writes at once than the pool has connections: it opens new
        // ones while the file is read-only.
        write_events(&store, 16, 16).await;
    }
    let failed = write_events(&store, 256, 16).await;
    assert_eq!(failed, 0, "writes failed after the file was writable again");
    store.readiness(2).await.expect("ready again");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_locked_database_is_not_ready_until_the_lock_goes() {
    let file = sqlite_file();
    let store = claudeops_store::open(&file.url).await.expect("open");
    // Another process holds the write lock for longer than the busy timeout.
    let lock = WriteLock::hold(&file.path, Duration::from_secs(8));
    let error = store.readiness(1).await.expect_err("ready while locked");
    assert!(matches!(error, StoreError::NotReady(_)), "{error}");
    assert!(error.to_string().contains("locked"), "{error}");
    assert!(error.is_unavailable());
    tokio::task::spawn_blocking(move || lock.released())
        .await
        .expect("join");
    store
        .readiness(2)
        .await
        .expect("ready once the lock is gone");
    store.close().await;
}

#[tokio::test]
async fn a_deleted_database_is_lost_and_nothing_writes_a_new_file() {
    let file = sqlite_file();
    let store = claudeops_store::open(&file.url).await.expect("open");
    store.insert_event(&event("before")).await.expect("write");
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", file.path.display()));
        let _ = std::fs::remove_file(path);
    }
    let error = store
        .readiness(1)
        .await
        .expect_err("ready without its file");
    assert!(matches!(error, StoreError::Lost(_)), "{error}");
    assert!(
        error.to_string().contains("was deleted while in use"),
        "{error}"
    );
    // Every call is refused from now on, and none creates a new, empty file.
    let write = store.insert_event(&event("after")).await;
    assert!(write.is_err(), "a write into a lost database succeeded");
    assert!(write.err().is_some_and(|e| e.is_unavailable()));
    assert!(store.get_session(1).await.is_err());
    assert!(!file.path.exists(), "a new database file was created");
    let again = store.readiness(2).await.expect_err("still lost");
    assert!(matches!(again, StoreError::Lost(_)), "{again}");
}

#[tokio::test]
async fn a_replaced_database_is_lost() {
    let file = sqlite_file();
    let store = claudeops_store::open(&file.url).await.expect("open");
    let other = sqlite_file();
    let replacement = claudeops_store::open(&other.url).await.expect("open other");
    replacement.close().await;
    std::fs::rename(&other.path, &file.path).expect("replace");
    let error = store.readiness(1).await.expect_err("ready on another file");
    assert!(
        error.to_string().contains("was replaced by another file"),
        "{error}"
    );
    assert!(store.insert_event(&event("after")).await.is_err());
}

#[tokio::test]
async fn a_schema_this_binary_does_not_know_is_not_ready() {
    let file = sqlite_file();
    let store = claudeops_store::open(&file.url).await.expect("open");
    // A newer control plane migrated the same file further.
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3,sys\n\
             c=sqlite3.connect(sys.argv[1])\n\
             c.execute(\"INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99999, 'future', 1, x'00', 0)\")\n\
             c.commit()",
        )
        .arg(&file.path)
        .status()
        .expect("python3");
    assert!(status.success());
    let error = store
        .readiness(1)
        .await
        .expect_err("ready on a newer schema");
    assert!(
        error
            .to_string()
            .contains("the schema is at version 99999, newer than this binary's"),
        "{error}"
    );
    store.close().await;
}

/// A server that goes away: not ready while it is down, ready again by
/// itself (no restart of the store) once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_server_stopped_and_started_again_is_ready_again() {
    let server = PgServer::start();
    let url = server.fresh_database("faults");
    let store = claudeops_store::open(&url).await.expect("open");
    store.insert_event(&event("before")).await.expect("write");

    server.stop();
    // Not ready, whether it says so at once or does not answer in time.
    let down = tokio::time::timeout(Duration::from_secs(3), store.readiness(1)).await;
    if let Ok(answer) = down {
        let error = answer.expect_err("ready with the server down");
        assert!(error.is_unavailable(), "{error}");
    }

    server.start_again();
    let back = Instant::now();
    loop {
        match store.readiness(2).await {
            Ok(()) => break,
            Err(error) => assert!(
                back.elapsed() < Duration::from_secs(30),
                "not ready 30 s after the server came back: {error}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "ready again {} ms after the server accepted connections",
        back.elapsed().as_millis()
    );
    store
        .insert_event(&event("after"))
        .await
        .expect("write after");
    store.close().await;
}
