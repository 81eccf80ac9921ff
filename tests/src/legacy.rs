//! The original Claude Ops's SQLite database, built for tests the way the
//! original builds its own: its published migrations (written out in
//! `tests/fixtures/legacy/migrations/`) applied in order by the `sqlite3` CLI,
//! each recorded in goose's version table as its migration tool does, then
//! rows shaped like its own (`seed.sql`, or `seed-v4.sql` for a database from
//! before its escalation chains and memories).
//!
//! This module must not skip: without `sqlite3` (the Debian package `sqlite3`,
//! which `tests/setup.sh` installs) it panics and says so.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How many migrations the original has published.
pub const MIGRATIONS: usize = 7;

/// `tests/fixtures/legacy`.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/legacy")
}

/// Builds the database `path` from the original's first `migrations` migrations
/// and then the seed files of [`fixtures`] named in `seeds`. Panics on any
/// error of `sqlite3`.
pub fn build(path: &Path, migrations: usize, seeds: &[&str]) {
    let dir = fixtures();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("migrations"))
        .unwrap_or_else(|e| panic!("reading {:?}: {e}", dir.join("migrations")))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{e}")).path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert_eq!(files.len(), MIGRATIONS, "{files:?}");
    // As the original opens its database, and as goose keeps its versions.
    let mut script = String::from(
        "PRAGMA journal_mode = WAL;\n\
         CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY AUTOINCREMENT, \
         version_id INTEGER NOT NULL, is_applied INTEGER NOT NULL, \
         tstamp TIMESTAMP DEFAULT (datetime('now')));\n\
         INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, 1);\n",
    );
    for (n, file) in files.iter().take(migrations).enumerate() {
        let sql = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        script.push_str(&format!(
            "BEGIN;\n{sql}\nINSERT INTO goose_db_version (version_id, is_applied) VALUES ({}, 1);\nCOMMIT;\n",
            n + 1
        ));
    }
    for seed in seeds {
        let file = dir.join(seed);
        let sql = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        script.push_str(&sql);
        script.push('\n');
    }
    sqlite3(path, &script);
}

/// The original's full schema with the rows of `seed.sql`, at `dir/claude-ops.db`.
pub fn build_full(dir: &Path) -> PathBuf {
    let path = dir.join("claude-ops.db");
    build(&path, MIGRATIONS, &["seed.sql"]);
    path
}

/// Runs `script` through `sqlite3 -bail PATH`; panics naming what failed.
pub fn sqlite3(path: &Path, script: &str) {
    let mut child = Command::new("sqlite3")
        .arg("-bail")
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run sqlite3 ({e}): install the Debian package sqlite3 \
                 (tests/setup.sh does)"
            )
        });
    child
        .stdin
        .take()
        .unwrap_or_else(|| panic!("sqlite3 has no stdin"))
        .write_all(script.as_bytes())
        .unwrap_or_else(|e| panic!("writing to sqlite3: {e}"));
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for sqlite3: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "sqlite3 {path:?} failed ({}): {stderr}",
        output.status
    );
}
