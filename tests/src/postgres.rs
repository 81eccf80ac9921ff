//! A private, throw-away PostgreSQL server for tests, started from Debian's
//! `postgresql` package (`/usr/lib/postgresql/<newest>/bin`).
//!
//! [`PgServer::start`] runs `initdb` into a temporary directory, starts the server on
//! a free port of 127.0.0.1 only (its unix socket stays inside that directory), with
//! trust authentication and durability switched off for speed, and creates a
//! database. Dropping the value stops the server (`pg_ctl stop -m immediate`) and
//! removes the directory. A detached reaper process does the same if the test
//! process dies first, or never drops the server ([`PgServer::shared`]).
//!
//! PostgreSQL refuses to run as root; as root the server runs as the `postgres`
//! system user (`runuser`), owning the temporary directory.
//!
//! `CLAUDEOPS_TEST_DATABASE_URL=postgres://...` uses an existing server instead:
//! nothing is started, and databases made by [`PgServer::fresh_database`] are
//! dropped again (by a reaper too) when the value is dropped or the process exits.
//!
//! This module must not skip: when PostgreSQL is missing it panics and says what to
//! install. It must not touch the machine's own clusters (`/var/lib/postgresql`,
//! port 5432) and must not depend on the store crate (which uses it in its tests).
//! Every call blocks briefly on child processes, which is fine inside `#[tokio::test]`.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use tempfile::TempDir;

use crate::servers::free_port;

/// Names an existing server to use instead of starting one.
pub const DATABASE_URL_ENV: &str = "CLAUDEOPS_TEST_DATABASE_URL";

const INSTALL_HINT: &str =
    "install the Debian package `postgresql` (apt-get install -y postgresql)";
const START_ATTEMPTS: usize = 10;
const DEFAULT_DATABASE: &str = "claudeops";

/// A PostgreSQL server for one test binary (or one test): private, or the one
/// named by `CLAUDEOPS_TEST_DATABASE_URL`.
#[derive(Debug)]
pub struct PgServer {
    kind: Kind,
    /// Makes the names from `fresh_database` unique within this value.
    counter: AtomicU32,
}

#[derive(Debug)]
enum Kind {
    Private(Private),
    External(External),
}

#[derive(Debug)]
struct External {
    url: String,
    psql: PathBuf,
    /// Names of the databases made here, one a line, for the reaper to drop.
    created: Mutex<fs::File>,
    /// Drops the listed databases at EOF on its stdin (this process exits or drops
    /// the server), since a `shared()` server is never dropped.
    reaper: Option<Child>,
    _list: TempDir,
}

#[derive(Debug)]
struct Private {
    /// `None` once dropped.
    dir: Option<TempDir>,
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// Run server commands as the `postgres` user (we are root).
    as_postgres: bool,
    /// Holds the write end of the reaper's stdin; the reaper cleans up at EOF.
    reaper: Option<Child>,
}

impl PgServer {
    /// Starts a private server (or adopts `CLAUDEOPS_TEST_DATABASE_URL`) with an
    /// empty database, [`PgServer::url`]. Panics, saying why, when it cannot.
    pub fn start() -> PgServer {
        let kind = match std::env::var(DATABASE_URL_ENV) {
            Ok(url) if !url.trim().is_empty() => Kind::External(External::adopt(url.trim())),
            _ => Kind::Private(Private::start()),
        };
        PgServer {
            kind,
            counter: AtomicU32::new(0),
        }
    }

    /// One server for the whole test binary, started on first use. It is stopped by
    /// its reaper when the test process exits.
    pub fn shared() -> &'static PgServer {
        static SHARED: OnceLock<PgServer> = OnceLock::new();
        SHARED.get_or_init(PgServer::start)
    }

    /// A `postgres://` URL of the server's default database.
    pub fn url(&self) -> String {
        match &self.kind {
            Kind::Private(p) => p.url(DEFAULT_DATABASE),
            Kind::External(e) => e.url.clone(),
        }
    }

    /// The TCP port on 127.0.0.1 of a private server; `None` for an external one.
    pub fn port(&self) -> Option<u16> {
        match &self.kind {
            Kind::Private(p) => Some(p.port),
            Kind::External(_) => None,
        }
    }

    /// Stops a private server as an operator would (`pg_ctl stop -m fast`:
    /// sessions are ended, clients see their connections close), keeping its
    /// data and port until [`PgServer::start_again`]. For tests of a database
    /// that goes away; panics for an external server.
    pub fn stop(&self) {
        let p = self.private("stop");
        let out = p
            .server_command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(&p.data)
            .args(["-m", "fast", "-w", "-t", "60"])
            .stdout(Stdio::null())
            .output();
        check_output(out, "pg_ctl stop");
    }

    /// Starts a server stopped by [`PgServer::stop`] again on its port.
    pub fn start_again(&self) {
        let p = self.private("start_again");
        let root = p.dir.as_ref().map(TempDir::path);
        let log = root.map(|r| r.join("server.log")).unwrap_or_default();
        check_output(p.pg_ctl_start(p.port, &log), "pg_ctl start");
    }

    fn private(&self, what: &str) -> &Private {
        match &self.kind {
            Kind::Private(p) => p,
            Kind::External(_) => panic!("{what} needs a private server, not {DATABASE_URL_ENV}"),
        }
    }

    /// Creates a new, empty database and returns its URL. `name` is a prefix: a
    /// unique suffix is added, so tests may reuse names freely.
    pub fn fresh_database(&self, name: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let db = database_name(name, std::process::id(), n);
        match &self.kind {
            Kind::Private(p) => {
                p.psql(&format!("CREATE DATABASE \"{db}\""));
                p.url(&db)
            }
            Kind::External(e) => e.create(&db),
        }
    }
}

impl External {
    fn adopt(url: &str) -> External {
        let list = tempfile::Builder::new()
            .prefix("claudeops-pg-external-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let path = list.path().join("databases");
        let created = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot create {path:?}: {e}"));
        let psql = find_psql();
        let script = format!(
            "cat >/dev/null; while read -r db; do \
             {} -X -q -d \"$CLAUDEOPS_REAPER_URL\" \
             -c \"DROP DATABASE IF EXISTS \\\"$db\\\" WITH (FORCE)\"; \
             done < {}; rm -rf {}",
            shell_quote(&psql),
            shell_quote(&path),
            shell_quote(list.path())
        );
        // The URL may hold a password: pass it in the environment, not in argv.
        let reaper = reaper_command(&script)
            .env("CLAUDEOPS_REAPER_URL", url)
            .env("PGCONNECT_TIMEOUT", "10")
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the cleanup process: {e}"));
        External {
            url: url.to_owned(),
            psql,
            created: Mutex::new(created),
            reaper: Some(reaper),
            _list: list,
        }
    }

    fn create(&self, db: &str) -> String {
        let sql = format!("CREATE DATABASE \"{db}\"");
        let out = psql_command(&self.psql, &self.url, &sql).output();
        check_output(out, "psql (CREATE DATABASE on the external server)");
        let listed = match self.created.lock() {
            Ok(mut file) => writeln!(file, "{db}"),
            Err(_) => Ok(()),
        };
        if let Err(e) = listed {
            panic!("cannot note database {db} for cleanup: {e}");
        }
        with_database(&self.url, db)
    }
}

impl Drop for External {
    fn drop(&mut self) {
        if let Some(mut reaper) = self.reaper.take() {
            drop(reaper.stdin.take());
            let _ = reaper.wait();
        }
    }
}

impl Private {
    fn start() -> Private {
        let bin = find_bin_dir();
        let as_postgres = effective_uid() == Some(0);
        let parent = if as_postgres {
            // The postgres user must be able to reach the directory; root's own
            // TMPDIR may be private.
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let dir = tempfile::Builder::new()
            .prefix("claudeops-pg-")
            .tempdir_in(&parent)
            .unwrap_or_else(|e| panic!("cannot create a temporary directory in {parent:?}: {e}"));
        let root = dir.path().to_path_buf();
        let data = root.join("data");
        let sock = root.join("sock");
        if let Err(e) = fs::create_dir(&sock) {
            panic!("cannot create {sock:?}: {e}");
        }
        if as_postgres {
            let (uid, gid) = postgres_ids();
            for path in [&root, &sock] {
                if let Err(e) = std::os::unix::fs::chown(path, Some(uid), Some(gid)) {
                    panic!("cannot hand {path:?} to the postgres user: {e}");
                }
            }
        }

        let mut server = Private {
            dir: Some(dir),
            bin,
            data,
            port: 0,
            as_postgres,
            reaper: None,
        };
        server.reaper = Some(server.spawn_reaper(&root));
        server.initdb(&sock);
        server.start_on_free_port(&root);
        server.psql(&format!("CREATE DATABASE \"{DEFAULT_DATABASE}\""));
        server
    }

    fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// A command for a server program (`initdb`, `pg_ctl`), as `postgres` when root.
    fn server_command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut cmd = Command::new(runuser());
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        };
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir.path());
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    fn stop_command_line(&self) -> String {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = format!(
            "{} stop -D {} -m immediate -w -t 30",
            shell_quote(&pg_ctl),
            shell_quote(&self.data)
        );
        if self.as_postgres {
            format!(
                "{} -u postgres -- {stop}",
                shell_quote(Path::new(runuser()))
            )
        } else {
            stop
        }
    }

    /// A detached process that waits for EOF on its stdin, which comes when this
    /// process exits (or drops the server), then stops the server and removes `root`.
    fn spawn_reaper(&self, root: &Path) -> Child {
        // Retried for a while: if the test process died during initdb or pg_ctl start,
        // those keep running for a moment and may recreate files.
        let script = format!(
            "cat >/dev/null; for i in 1 2 3 4 5 6 7 8 9 10; do \
             {} >/dev/null 2>&1; rm -rf {root} 2>/dev/null; [ -e {root} ] || break; sleep 1; \
             done",
            self.stop_command_line(),
            root = shell_quote(root)
        );
        reaper_command(&script)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the cleanup process for {root:?}: {e}"))
    }

    fn initdb(&self, sock: &Path) {
        let out = self
            .server_command("initdb")
            .arg("-D")
            .arg(&self.data)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "-N",
            ])
            .output();
        check_output(out, "initdb");
        let conf = self.data.join("postgresql.conf");
        let settings = format!(
            "\n# claudeops test server\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             max_connections = 200\n\
             shared_buffers = 16MB\n\
             logging_collector = off\n",
            sock.display()
        );
        let appended = OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut f| f.write_all(settings.as_bytes()));
        if let Err(e) = appended {
            panic!("cannot configure the test server in {conf:?}: {e}");
        }
    }

    /// Starts the server on a port that was free a moment ago; another process may
    /// take it first, so a failure to bind is retried on a new port.
    fn start_on_free_port(&mut self, root: &Path) {
        let log = root.join("server.log");
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let log_before = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
            match self.pg_ctl_start(port, &log) {
                Ok(o) if o.status.success() => {
                    self.port = port;
                    return;
                }
                Ok(o) => {
                    let text = fs::read(&log).unwrap_or_default();
                    let start = usize::try_from(log_before).unwrap_or(0).min(text.len());
                    let fresh = String::from_utf8_lossy(&text[start..]).into_owned();
                    let port_taken = fresh.contains("could not bind")
                        || fresh.contains("Address already in use")
                        || fresh.contains("could not create any TCP/IP sockets");
                    if !port_taken {
                        panic!(
                            "pg_ctl start failed ({}): {}\nserver log:\n{fresh}",
                            o.status,
                            String::from_utf8_lossy(&o.stderr)
                        );
                    }
                }
                Err(e) => panic!("cannot run pg_ctl from {:?}: {e}; {INSTALL_HINT}", self.bin),
            }
        }
        panic!("no free port for the test PostgreSQL server after {START_ATTEMPTS} attempts");
    }

    /// `pg_ctl start` on `port`, waiting until the server accepts connections.
    fn pg_ctl_start(&self, port: u16, log: &Path) -> std::io::Result<Output> {
        self.server_command("pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(log)
            .args(["-w", "-t", "60", "-o"])
            .arg(format!("-p {port}"))
            .stdout(Stdio::null())
            .output()
    }

    /// Runs one statement as the superuser on the `postgres` database.
    fn psql(&self, sql: &str) {
        let admin = self.url("postgres");
        let out = psql_command(&self.bin.join("psql"), &admin, sql).output();
        check_output(out, "psql");
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        if self.port != 0 {
            // Best effort: the reaper retries if this fails.
            let _ = self
                .server_command("pg_ctl")
                .arg("stop")
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "-t", "30"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        drop(self.dir.take());
        if let Some(mut reaper) = self.reaper.take() {
            drop(reaper.stdin.take());
            let _ = reaper.wait();
        }
    }
}

/// `sh -c script` with a pipe on stdin, detached into its own session when `setsid`
/// is there, so a Ctrl-C to the test's process group does not kill it.
fn reaper_command(script: &str) -> Command {
    let mut cmd = if Path::new("/usr/bin/setsid").exists() {
        let mut cmd = Command::new("/usr/bin/setsid");
        cmd.args(["sh", "-c", script]);
        cmd
    } else {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    };
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir("/");
    cmd
}

fn psql_command(psql: &Path, url: &str, sql: &str) -> Command {
    let mut cmd = Command::new(psql);
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::null());
    cmd
}

fn check_output(out: std::io::Result<Output>, what: &str) {
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "{what} failed ({}):\n{}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("cannot run {what}: {e}; {INSTALL_HINT}"),
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has the server programs.
fn find_bin_dir() -> PathBuf {
    newest_bin_dir(Path::new("/usr/lib/postgresql"), &["initdb", "pg_ctl", "postgres", "psql"])
        .unwrap_or_else(|| {
            panic!("no PostgreSQL server under /usr/lib/postgresql/*/bin: {INSTALL_HINT}, or set {DATABASE_URL_ENV}")
        })
}

fn newest_bin_dir(base: &Path, programs: &[&str]) -> Option<PathBuf> {
    let entries = fs::read_dir(base).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = version_key(&name)?;
            let bin = entry.path().join("bin");
            programs
                .iter()
                .all(|p| bin.join(p).is_file())
                .then_some((version, bin))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bin)| bin)
}

/// "15" -> [15], "9.6" -> [9, 6]; anything else is not a version directory.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn find_psql() -> PathBuf {
    if let Some(bin) = newest_bin_dir(Path::new("/usr/lib/postgresql"), &["psql"]) {
        return bin.join("psql");
    }
    let in_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("psql"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file());
    in_path.unwrap_or_else(|| {
        panic!("{DATABASE_URL_ENV} is set but psql is missing: install the Debian package `postgresql-client`")
    })
}

fn runuser() -> &'static str {
    if Path::new("/usr/sbin/runuser").exists() {
        "/usr/sbin/runuser"
    } else {
        "runuser"
    }
}

/// The effective uid, from `/proc/self/status` (no unsafe libc call needed).
fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|euid| euid.parse().ok())
}

/// The `postgres` system user's uid and gid, which the Debian package creates.
fn postgres_ids() -> (u32, u32) {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                ["postgres", _, uid, gid, ..] => Some((uid.parse().ok()?, gid.parse().ok()?)),
                _ => None,
            }
        })
        .unwrap_or_else(|| {
            panic!(
                "running as root but there is no `postgres` user to run the server: {INSTALL_HINT}"
            )
        })
}

fn shell_quote(path: &Path) -> String {
    let text = path.display().to_string();
    assert!(!text.contains('\''), "unexpected quote in {text:?}");
    format!("'{text}'")
}

/// A valid, unique database name: `prefix_pid_n`, lower-case, at most 63 bytes.
fn database_name(prefix: &str, pid: u32, n: u32) -> String {
    let mut clean: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if !clean.starts_with(|c: char| c.is_ascii_lowercase()) {
        clean.insert_str(0, "db_");
    }
    let mut name = format!("{clean}_{pid}_{n}");
    name.truncate(63);
    name
}

/// `url` with its database (the path) replaced by `db`; the query is kept.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{db}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_in_urls() {
        let cases = [
            ("postgres://u:p@h:5/db", "x", "postgres://u:p@h:5/x"),
            (
                "postgres://h/db?sslmode=disable",
                "x",
                "postgres://h/x?sslmode=disable",
            ),
            ("postgres://h:5", "x", "postgres://h:5/x"),
            ("postgresql://h:5/?a=b", "x", "postgresql://h:5/x?a=b"),
        ];
        for (url, db, want) in cases {
            assert_eq!(with_database(url, db), want, "{url}");
        }
    }

    #[test]
    fn makes_valid_database_names() {
        assert_eq!(database_name("Store Tests", 7, 1), "store_tests_7_1");
        assert_eq!(database_name("1st", 7, 2), "db_1st_7_2");
        assert!(database_name(&"x".repeat(100), u32::MAX, u32::MAX).len() <= 63);
    }

    /// A private server answers on its URLs, and dropping it stops it and removes
    /// its directory (an external server is left alone).
    #[test]
    fn starts_serves_and_cleans_up() {
        let pg = PgServer::start();
        let a = pg.fresh_database("harness");
        let b = pg.fresh_database("harness");
        assert_ne!(a, b);
        let psql = find_psql();
        for url in [pg.url(), a, b] {
            check_output(
                psql_command(&psql, &url, "SELECT 1").output(),
                "psql SELECT 1",
            );
        }
        let Kind::Private(private) = &pg.kind else {
            return;
        };
        let dir = private.dir.as_ref().map(|d| d.path().to_path_buf());
        let port = private.port;
        assert!(url_is_loopback(&pg.url()), "{}", pg.url());
        drop(pg);
        assert!(dir.is_some_and(|d| !d.exists()), "directory removed");
        assert!(
            std::net::TcpStream::connect((std::net::Ipv4Addr::LOCALHOST, port)).is_err(),
            "server stopped"
        );
    }

    fn url_is_loopback(url: &str) -> bool {
        url.starts_with("postgres://postgres@127.0.0.1:")
    }

    #[test]
    fn finds_the_newest_complete_bin_dir() {
        let base = tempfile::tempdir().expect("temporary directory");
        assert_eq!(
            newest_bin_dir(base.path(), &["initdb"]),
            None,
            "nothing installed"
        );
        for (version, programs) in [("9.6", &["initdb"][..]), ("13", &["initdb"]), ("16", &[])] {
            let bin = base.path().join(version).join("bin");
            fs::create_dir_all(&bin).expect("mkdir");
            for p in programs {
                fs::write(bin.join(p), b"").expect("write");
            }
        }
        assert_eq!(
            newest_bin_dir(base.path(), &["initdb"]),
            Some(base.path().join("13/bin")),
            "16 lacks initdb"
        );
        assert_eq!(
            newest_bin_dir(&base.path().join("missing"), &["initdb"]),
            None
        );
    }

    #[test]
    fn orders_versions_numerically() {
        assert!(version_key("15") > version_key("9.6"));
        assert_eq!(version_key("main"), None);
    }
}
