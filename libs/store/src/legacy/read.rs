//! Reading the original's SQLite file: read-only, in one snapshot, each value as
//! SQLite stored it.
//!
//! The schema is checked first, against the original's published migrations
//! (`internal/db/migrations/0000N_*.sql` of joestump/claude-ops): `sessions` and
//! `cooldown_actions` (its first migration) must be there with the columns
//! nothing can stand in for; `events` (migration 4) and `memories` (6) may be
//! missing, in a database from before them, and so may every column that later
//! migrations added. Tables and columns of newer versions are ignored. The file
//! is never written: a read-only connection, a transaction rolled back.

use std::io::Read;
use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqliteRow};
use sqlx::{Connection, Row, SqliteConnection, TypeInfo, ValueRef};

use super::{
    Cell, KNOWN_VERSION, LegacyCooldown, LegacyDatabase, LegacyError, LegacyEvent, LegacyMemory,
    LegacySession,
};

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// The columns a table must have for its rows to mean anything.
const REQUIRED: &[(&str, &[&str])] = &[
    ("sessions", &["id", "tier", "model", "status", "started_at"]),
    (
        "cooldown_actions",
        &["id", "service", "action_type", "timestamp", "success"],
    ),
];

/// Tables a database from before their migration lacks; when present, they need
/// these columns.
const OPTIONAL: &[(&str, &[&str])] = &[
    ("events", &["id", "level", "message", "created_at"]),
    ("memories", &["id", "category", "observation", "created_at"]),
];

/// Tables the original has that are not imported: the table, how to count its
/// rows, and why.
const LEFT_OUT: &[(&str, &str, &str)] = &[
    (
        "health_checks",
        "SELECT COUNT(*) FROM health_checks",
        "probes keep their own history here",
    ),
    (
        "config",
        "SELECT COUNT(*) FROM config",
        "set them again here (CLAUDEOPS_* variables or the config page)",
    ),
];

/// Reads every session, event, memory and cooldown action of the original's
/// database at `path`, in id order. Writes nothing.
pub async fn read(path: &Path) -> Result<LegacyDatabase, LegacyError> {
    let shown = path.display().to_string();
    check_header(path, &shown)?;
    let failed = |source: sqlx::Error| read_error(&shown, source);
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(failed)?;
    // One read transaction: one snapshot, even while the original still runs.
    let mut tx = conn.begin().await.map_err(failed)?;
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&mut *tx)
            .await
            .map_err(failed)?;
    let mut notes = Vec::new();
    let not_original = |what: String| LegacyError::NotOriginal {
        path: shown.clone(),
        what,
    };
    for (table, columns) in REQUIRED {
        if !tables.iter().any(|t| t == table) {
            return Err(not_original(format!("it has no table {table}")));
        }
        check_columns(&mut tx, table, columns, &not_original).await?;
    }
    let mut present = Vec::new();
    for (table, columns) in OPTIONAL {
        if tables.iter().any(|t| t == table) {
            check_columns(&mut tx, table, columns, &not_original).await?;
            present.push(*table);
        } else {
            notes.push(format!(
                "the original's database has no {table} table (a version from before it \
                 kept {table}): none imported"
            ));
        }
    }
    let version = schema_version(&mut tx, &tables).await.map_err(failed)?;
    if let Some(version) = version.filter(|v| *v > KNOWN_VERSION) {
        notes.push(format!(
            "the original's schema is at version {version}, newer than the {KNOWN_VERSION} \
             this importer knows: what its later versions added is not imported"
        ));
    }
    for (table, count, why) in LEFT_OUT {
        if tables.iter().any(|t| t == table) {
            let count: i64 = sqlx::query_scalar(*count)
                .fetch_one(&mut *tx)
                .await
                .map_err(failed)?;
            if count > 0 {
                notes.push(format!(
                    "{count} row(s) of the original's {table} table are not imported: {why}"
                ));
            }
        }
    }
    let sessions = rows(&mut tx, "SELECT * FROM sessions ORDER BY id", session)
        .await
        .map_err(failed)?;
    let cooldowns = rows(
        &mut tx,
        "SELECT * FROM cooldown_actions ORDER BY id",
        cooldown,
    )
    .await
    .map_err(failed)?;
    let events = if present.contains(&"events") {
        rows(&mut tx, "SELECT * FROM events ORDER BY id", event)
            .await
            .map_err(failed)?
    } else {
        Vec::new()
    };
    let memories = if present.contains(&"memories") {
        rows(&mut tx, "SELECT * FROM memories ORDER BY id", memory)
            .await
            .map_err(failed)?
    } else {
        Vec::new()
    };
    tx.rollback().await.map_err(failed)?;
    conn.close().await.map_err(failed)?;
    Ok(LegacyDatabase {
        path: path.to_path_buf(),
        version,
        sessions,
        events,
        memories,
        cooldowns,
        notes,
    })
}

/// Refuses what is not a SQLite file before SQLite is asked (which would create
/// a missing file, or answer an empty one with an empty database).
fn check_header(path: &Path, shown: &str) -> Result<(), LegacyError> {
    let not_sqlite = |detail: &str| LegacyError::NotSqlite {
        path: shown.to_owned(),
        detail: detail.to_owned(),
    };
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LegacyError::Missing {
                path: shown.to_owned(),
            });
        }
        Err(e) => return Err(read_error(shown, sqlx::Error::Io(e))),
    };
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(not_sqlite("it is a directory"));
    }
    let mut header = [0_u8; 16];
    let mut got = 0;
    while got < header.len() {
        match file.read(&mut header[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => {
                return Err(not_sqlite("it is a directory"));
            }
            Err(e) => return Err(read_error(shown, sqlx::Error::Io(e))),
        }
    }
    match got {
        0 => Err(not_sqlite("it is empty")),
        _ if &header != SQLITE_HEADER => Err(not_sqlite(
            "it does not begin with the SQLite header \"SQLite format 3\"",
        )),
        _ => Ok(()),
    }
}

/// SQLite's "file is not a database" (a damaged file) is `NotSqlite`; the rest
/// is `Read`.
fn read_error(shown: &str, source: sqlx::Error) -> LegacyError {
    const SQLITE_NOTADB: &str = "26";
    let not_a_database = source
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == SQLITE_NOTADB);
    if not_a_database {
        LegacyError::NotSqlite {
            path: shown.to_owned(),
            detail: "SQLite cannot read it: file is not a database".to_owned(),
        }
    } else {
        LegacyError::Read {
            path: shown.to_owned(),
            source,
        }
    }
}

async fn check_columns(
    conn: &mut SqliteConnection,
    table: &str,
    required: &[&str],
    not_original: &impl Fn(String) -> LegacyError,
) -> Result<(), LegacyError> {
    let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
        .bind(table)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| not_original(format!("its table {table} cannot be read: {e}")))?;
    if table == "sessions" && columns.iter().any(|c| c == "started_at_ms") {
        return Err(not_original(
            "it is a database of this control plane (its sessions have started_at_ms), \
             not of the original"
                .to_owned(),
        ));
    }
    match required
        .iter()
        .find(|c| !columns.iter().any(|have| have == *c))
    {
        Some(missing) => Err(not_original(format!(
            "its table {table} has no column {missing}"
        ))),
        None => Ok(()),
    }
}

/// The highest migration applied: goose's table, or the hand-rolled one the
/// original used before it.
async fn schema_version(
    conn: &mut SqliteConnection,
    tables: &[String],
) -> Result<Option<i64>, sqlx::Error> {
    if tables.iter().any(|t| t == "goose_db_version") {
        return sqlx::query_scalar("SELECT MAX(version_id) FROM goose_db_version WHERE is_applied")
            .fetch_one(&mut *conn)
            .await;
    }
    if tables.iter().any(|t| t == "schema_migrations") {
        return sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(&mut *conn)
            .await;
    }
    Ok(None)
}

async fn rows<T>(
    conn: &mut SqliteConnection,
    statement: &'static str,
    convert: fn(&SqliteRow) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, sqlx::Error> {
    let found = sqlx::query(statement).fetch_all(&mut *conn).await?;
    found.iter().map(convert).collect()
}

/// A column's value as stored; `Null` for a column the table lacks.
fn cell(row: &SqliteRow, column: &str) -> Result<Cell, sqlx::Error> {
    let Ok(raw) = row.try_get_raw(column) else {
        return Ok(Cell::Null);
    };
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    let kind = raw.type_info().name().to_owned();
    Ok(match kind.as_str() {
        "INTEGER" => Cell::Int(row.try_get_unchecked(column)?),
        "REAL" => Cell::Real(row.try_get_unchecked(column)?),
        "BLOB" => {
            let bytes: Vec<u8> = row.try_get_unchecked(column)?;
            Cell::Text(String::from_utf8_lossy(&bytes).into_owned())
        }
        _ => Cell::Text(row.try_get_unchecked(column)?),
    })
}

/// The row's id (an `INTEGER PRIMARY KEY`: always an integer).
fn id(row: &SqliteRow) -> Result<i64, sqlx::Error> {
    row.try_get("id")
}

fn session(row: &SqliteRow) -> Result<LegacySession, sqlx::Error> {
    Ok(LegacySession {
        id: id(row)?,
        tier: cell(row, "tier")?,
        model: cell(row, "model")?,
        prompt_file: cell(row, "prompt_file")?,
        status: cell(row, "status")?,
        started_at: cell(row, "started_at")?,
        ended_at: cell(row, "ended_at")?,
        exit_code: cell(row, "exit_code")?,
        log_file: cell(row, "log_file")?,
        context: cell(row, "context")?,
        response: cell(row, "response")?,
        cost_usd: cell(row, "cost_usd")?,
        num_turns: cell(row, "num_turns")?,
        duration_ms: cell(row, "duration_ms")?,
        trigger: cell(row, "trigger")?,
        prompt_text: cell(row, "prompt_text")?,
        parent_session_id: cell(row, "parent_session_id")?,
        summary: cell(row, "summary")?,
    })
}

fn event(row: &SqliteRow) -> Result<LegacyEvent, sqlx::Error> {
    Ok(LegacyEvent {
        id: id(row)?,
        session_id: cell(row, "session_id")?,
        level: cell(row, "level")?,
        service: cell(row, "service")?,
        message: cell(row, "message")?,
        created_at: cell(row, "created_at")?,
    })
}

fn memory(row: &SqliteRow) -> Result<LegacyMemory, sqlx::Error> {
    Ok(LegacyMemory {
        id: id(row)?,
        service: cell(row, "service")?,
        category: cell(row, "category")?,
        observation: cell(row, "observation")?,
        confidence: cell(row, "confidence")?,
        active: cell(row, "active")?,
        created_at: cell(row, "created_at")?,
        updated_at: cell(row, "updated_at")?,
        session_id: cell(row, "session_id")?,
    })
}

fn cooldown(row: &SqliteRow) -> Result<LegacyCooldown, sqlx::Error> {
    Ok(LegacyCooldown {
        id: id(row)?,
        service: cell(row, "service")?,
        action_type: cell(row, "action_type")?,
        timestamp: cell(row, "timestamp")?,
        success: cell(row, "success")?,
        tier: cell(row, "tier")?,
        error: cell(row, "error")?,
        session_id: cell(row, "session_id")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn database(dir: &Path, statements: &[&'static str]) -> std::path::PathBuf {
        let path = dir.join("legacy.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let mut conn = SqliteConnection::connect_with(&options)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for statement in statements {
            sqlx::query(*statement)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        conn.close().await.unwrap_or_else(|e| panic!("{e}"));
        path
    }

    async fn refused(path: &Path) -> String {
        match read(path).await {
            Ok(db) => panic!("read {path:?}: {db:?}"),
            Err(e) => e.to_string(),
        }
    }

    const OLDEST: &[&str] = &[
        "CREATE TABLE sessions (id INTEGER PRIMARY KEY AUTOINCREMENT, tier INTEGER NOT NULL, \
         model TEXT NOT NULL, prompt_file TEXT NOT NULL, status TEXT NOT NULL, \
         started_at TEXT NOT NULL, ended_at TEXT, exit_code INTEGER, log_file TEXT, context TEXT)",
        "CREATE TABLE cooldown_actions (id INTEGER PRIMARY KEY AUTOINCREMENT, service TEXT NOT NULL, \
         action_type TEXT NOT NULL, timestamp TEXT NOT NULL, success INTEGER NOT NULL, \
         tier INTEGER NOT NULL, error TEXT, session_id INTEGER)",
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)",
        "INSERT INTO schema_migrations VALUES (1)",
        "INSERT INTO sessions (tier, model, prompt_file, status, started_at) \
         VALUES ('2', 'sonnet', 'prompts/tier2.md', 'completed', '2026-01-02T03:04:05Z')",
        "INSERT INTO cooldown_actions (service, action_type, timestamp, success, tier) \
         VALUES ('web', 'restart', '2026-01-02T03:05:00Z', 1, 2)",
    ];

    #[tokio::test]
    async fn refuses_what_is_not_the_originals_database() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let missing = dir.path().join("nothing.db");
        assert!(refused(&missing).await.contains("no such file"));
        assert!(!missing.exists(), "reading must not create the file");

        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a database at all\n").unwrap_or_else(|e| panic!("{e}"));
        let said = refused(&text).await;
        assert!(said.contains("is not a SQLite database"), "{said}");

        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, "").unwrap_or_else(|e| panic!("{e}"));
        assert!(refused(&empty).await.contains("it is empty"));

        let damaged = dir.path().join("damaged.db");
        let mut bytes = SQLITE_HEADER.to_vec();
        bytes.extend(std::iter::repeat_n(0xa5_u8, 4096));
        std::fs::write(&damaged, bytes).unwrap_or_else(|e| panic!("{e}"));
        let said = refused(&damaged).await;
        assert!(said.contains("not a SQLite database"), "{said}");

        assert!(refused(dir.path()).await.contains("directory"));
    }

    #[tokio::test]
    async fn names_the_missing_table_or_column() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let other = database(dir.path(), &["CREATE TABLE notes (id INTEGER PRIMARY KEY)"]).await;
        let said = refused(&other).await;
        assert!(said.contains("it has no table sessions"), "{said}");
        std::fs::remove_file(&other).unwrap_or_else(|e| panic!("{e}"));

        let no_start = database(
            dir.path(),
            &[
                "CREATE TABLE sessions (id INTEGER PRIMARY KEY, tier INTEGER, model TEXT, status TEXT)",
                "CREATE TABLE cooldown_actions (id INTEGER PRIMARY KEY, service TEXT, \
                 action_type TEXT, timestamp TEXT, success INTEGER)",
            ],
        )
        .await;
        let said = refused(&no_start).await;
        assert!(
            said.contains("its table sessions has no column started_at"),
            "{said}"
        );
        std::fs::remove_file(&no_start).unwrap_or_else(|e| panic!("{e}"));

        let ours = database(
            dir.path(),
            &["CREATE TABLE sessions (id INTEGER PRIMARY KEY, started_at_ms INTEGER)"],
        )
        .await;
        let said = refused(&ours).await;
        assert!(said.contains("a database of this control plane"), "{said}");
        std::fs::remove_file(&ours).unwrap_or_else(|e| panic!("{e}"));

        let bad_events = database(
            dir.path(),
            &[
                OLDEST,
                &["CREATE TABLE events (id INTEGER PRIMARY KEY, text TEXT)"],
            ]
            .concat(),
        )
        .await;
        let said = refused(&bad_events).await;
        assert!(
            said.contains("its table events has no column level"),
            "{said}"
        );
    }

    #[tokio::test]
    async fn reads_the_oldest_schema_with_its_values_as_stored() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = database(dir.path(), OLDEST).await;
        let db = read(&path).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(db.schema_version(), Some(1));
        assert_eq!(db.sessions.len(), 1);
        let session = &db.sessions[0];
        // Written as text, stored by the column's affinity; a column the schema
        // lacks is Null.
        assert_eq!(session.tier, Cell::Int(2));
        assert_eq!(session.model, Cell::Text("sonnet".into()));
        assert_eq!(session.parent_session_id, Cell::Null);
        assert_eq!(session.cost_usd, Cell::Null);
        assert_eq!(db.cooldowns[0].success, Cell::Int(1));
        assert!(db.events.is_empty() && db.memories.is_empty());
        assert!(
            db.notes.iter().any(|n| n.contains("no events table")),
            "{:?}",
            db.notes
        );
        assert!(db.notes.iter().any(|n| n.contains("no memories table")));
    }
}
