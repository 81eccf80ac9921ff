//! Throw-away servers from Debian's packages for tests: Redis, MariaDB and
//! dnsmasq, each on a free port of 127.0.0.1 with its files in a temporary
//! directory. Each guard kills its server (and removes the directory) on drop.
//!
//! Like the PostgreSQL harness, this module must not skip: a missing program
//! panics and says which package to install. It must not touch the machine's own
//! services (their ports, sockets or data directories). Calls block briefly on
//! child processes, which is fine inside `#[tokio::test]`.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const START_ATTEMPTS: usize = 5;
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A free TCP port on 127.0.0.1 (free a moment ago: callers retry on a clash).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free port on 127.0.0.1: {e}"))
}

/// The first of `candidates` that exists, or a panic naming the package.
fn program(candidates: &[&str], package: &str) -> PathBuf {
    let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for name in candidates {
        let direct = Path::new(name);
        if direct.is_absolute() && direct.is_file() {
            return direct.to_path_buf();
        }
        for dir in path_dirs
            .iter()
            .map(PathBuf::as_path)
            .chain([Path::new("/usr/sbin"), Path::new("/usr/bin")])
        {
            let full = dir.join(name);
            if full.is_file() {
                return full;
            }
        }
    }
    panic!(
        "{} is required for this test: install the Debian package `{package}` (apt-get install -y {package})",
        candidates.join(" or ")
    )
}

fn temp_dir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
}

fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A child process killed (and waited for) on drop.
#[derive(Debug)]
struct Guarded(Child);

impl Drop for Guarded {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `ready()` holds, failing when the child exits or time runs out.
/// `Ok(false)` means the child exited (e.g. its port was taken).
fn wait_ready(child: &mut Child, what: &str, log: &Path, ready: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if ready() {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not become ready within {READY_TIMEOUT:?}; its log:\n{}",
            log_of(log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn tcp_ready(port: u16) -> impl Fn() -> bool {
    move || TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
}

fn log_file(path: &Path) -> std::fs::File {
    std::fs::File::create(path).unwrap_or_else(|e| panic!("cannot create {path:?}: {e}"))
}

/// `redis-server` on 127.0.0.1, without persistence.
#[derive(Debug)]
pub struct RedisServer {
    pub port: u16,
    password: Option<String>,
    _child: Guarded,
    _dir: TempDir,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::start_with(None)
    }

    /// With `requirepass`.
    pub fn start_with_password(password: &str) -> RedisServer {
        RedisServer::start_with(Some(password))
    }

    fn start_with(password: Option<&str>) -> RedisServer {
        let bin = program(&["redis-server"], "redis-server");
        let dir = temp_dir("claudeops-redis-");
        let log = dir.path().join("redis.log");
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let mut cmd = Command::new(&bin);
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(dir.path())
                .arg("--logfile")
                .arg(&log);
            if let Some(pw) = password {
                cmd.args(["--requirepass", pw]);
            }
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {bin:?}: {e}"));
            if wait_ready(&mut child, "redis-server", &log, tcp_ready(port)) {
                return RedisServer {
                    port,
                    password: password.map(str::to_owned),
                    _child: Guarded(child),
                    _dir: dir,
                };
            }
        }
        panic!("redis-server did not start; its log:\n{}", log_of(&log));
    }

    /// `redis://[:password@]127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }
}

/// A private MariaDB server: `mariadb-install-db` into a temporary directory,
/// then `mariadbd` on a free port with its socket in that directory. A user
/// [`MariaDbServer::USER`] with password [`MariaDbServer::PASSWORD`] owns the
/// database [`MariaDbServer::DATABASE`].
#[derive(Debug)]
pub struct MariaDbServer {
    pub port: u16,
    pub socket: PathBuf,
    _child: Guarded,
    _dir: TempDir,
}

impl MariaDbServer {
    pub const USER: &'static str = "claudeops";
    pub const PASSWORD: &'static str = "claudeops-test-pw";
    pub const DATABASE: &'static str = "claudeops";

    pub fn start() -> MariaDbServer {
        let install = program(
            &["mariadb-install-db", "mysql_install_db"],
            "mariadb-server",
        );
        let server = program(&["mariadbd", "mysqld"], "mariadb-server");
        let client = program(&["mariadb", "mysql"], "mariadb-client");
        let dir = temp_dir("claudeops-mariadb-");
        let data = dir.path().join("data");
        let socket = dir.path().join("mysqld.sock");
        let log = dir.path().join("server.log");
        let user = current_user();
        let out = Command::new(&install)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--user={user}"))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {install:?}: {e}"));
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let mut child = Command::new(&server)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--socket={}", socket.display()))
                .arg(format!(
                    "--pid-file={}",
                    dir.path().join("mysqld.pid").display()
                ))
                .arg(format!("--port={port}"))
                .arg(format!("--user={user}"))
                .args([
                    "--bind-address=127.0.0.1",
                    "--skip-name-resolve",
                    "--innodb-buffer-pool-size=16M",
                    "--max-connections=50",
                ])
                .arg(format!("--log-error={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {server:?}: {e}"));
            let sock = socket.clone();
            if wait_ready(&mut child, "mariadbd", &log, || {
                sock.exists() && tcp_ready(port)()
            }) {
                let db = MariaDbServer {
                    port,
                    socket,
                    _child: Guarded(child),
                    _dir: dir,
                };
                db.admin(&client);
                return db;
            }
        }
        panic!("mariadbd did not start; its log:\n{}", log_of(&log));
    }

    fn admin(&self, client: &Path) {
        let sql = format!(
            "CREATE DATABASE {db}; \
             CREATE USER '{user}'@'%' IDENTIFIED BY '{pw}'; \
             GRANT ALL ON *.* TO '{user}'@'%'; FLUSH PRIVILEGES;",
            db = Self::DATABASE,
            user = Self::USER,
            pw = Self::PASSWORD
        );
        let out = Command::new(client)
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket.display()))
            .args(["-uroot", "-e", &sql])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {client:?}: {e}"));
        assert!(
            out.status.success(),
            "setting up the test database failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `mysql://USER:PASSWORD@127.0.0.1:PORT/DATABASE`.
    pub fn url(&self) -> String {
        format!(
            "mysql://{}:{}@127.0.0.1:{}/{}",
            Self::USER,
            Self::PASSWORD,
            self.port,
            Self::DATABASE
        )
    }
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        _ => "root".to_owned(),
    }
}

/// `dnsmasq` answering on 127.0.0.1 (UDP and TCP) from its command line only:
/// no resolv.conf, no hosts file, no config file.
#[derive(Debug)]
pub struct Dnsmasq {
    pub port: u16,
    _child: Guarded,
    _dir: TempDir,
}

impl Dnsmasq {
    /// `records` are dnsmasq options such as `--address=/app.test/192.0.2.123` or
    /// `--cname=www.app.test,app.test`.
    pub fn start(records: &[&str]) -> Dnsmasq {
        let bin = program(&["dnsmasq"], "dnsmasq");
        let dir = temp_dir("claudeops-dnsmasq-");
        let log = dir.path().join("dnsmasq.log");
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let mut child = Command::new(&bin)
                .args([
                    "--keep-in-foreground",
                    "--conf-file=/dev/null",
                    "--pid-file=",
                    "--listen-address=127.0.0.1",
                    "--bind-interfaces",
                    "--no-resolv",
                    "--no-hosts",
                    "--no-poll",
                    "--log-facility=-",
                ])
                .arg(format!("--port={port}"))
                .args(records)
                .stdin(Stdio::null())
                .stdout(log_file(&log))
                .stderr(log_file(&dir.path().join("dnsmasq.err")))
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {bin:?}: {e}"));
            if wait_ready(
                &mut child,
                "dnsmasq",
                &dir.path().join("dnsmasq.err"),
                tcp_ready(port),
            ) {
                return Dnsmasq {
                    port,
                    _child: Guarded(child),
                    _dir: dir,
                };
            }
        }
        panic!(
            "dnsmasq did not start; its output:\n{}",
            log_of(&dir.path().join("dnsmasq.err"))
        );
    }

    /// `dns://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("dns://127.0.0.1:{}", self.port)
    }
}
