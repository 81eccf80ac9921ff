//! Real containers for tests, on the machine's Docker Engine, with no registry:
//! an empty image is imported once (`claudeops-test/empty`), and containers run
//! the host's own programs through read-only bind mounts of `/usr` and friends.
//!
//! Every container and volume made here carries a unique name and is removed on
//! drop. A missing Docker Engine fails the test loudly.

use std::process::Command;
use std::sync::OnceLock;

pub const IMAGE: &str = "claudeops-test/empty";

fn docker(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("docker is required for this test (the Docker Engine and CLI): {e}")
        });
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

/// Runs a docker command that must succeed; returns its stdout.
pub fn must(args: &[&str]) -> String {
    let (ok, stdout, stderr) = docker(args);
    assert!(ok, "docker {args:?} failed: {stderr}");
    stdout
}

/// Imports the empty base image once per process (and once per machine).
pub fn ensure_image() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let (exists, _, _) = docker(&["image", "inspect", IMAGE]);
        if exists {
            return;
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for sub in ["tmp", "etc", "proc", "sys", "dev"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap_or_else(|e| panic!("{e}"));
        }
        let script = format!(
            "tar cf - -C {} . | docker import - {IMAGE}",
            dir.path().display()
        );
        let status = Command::new("sh")
            .args(["-c", &script])
            .status()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(status.success(), "importing {IMAGE} failed");
    });
}

/// The bind mounts that make the host's programs usable inside the empty image.
pub fn host_mounts() -> Vec<String> {
    let mut args = Vec::new();
    for (host, inside) in [
        ("/usr", "/usr"),
        ("/usr/bin", "/bin"),
        ("/usr/lib", "/lib"),
        ("/usr/lib64", "/lib64"),
        ("/usr/sbin", "/sbin"),
        ("/etc/ssl", "/etc/ssl"),
    ] {
        if std::path::Path::new(host).exists() {
            args.push("-v".to_owned());
            args.push(format!("{host}:{inside}:ro"));
        }
    }
    args
}

/// The Compose tool: the `docker compose` plugin if there is one, else
/// `docker-compose`, as (program, leading arguments).
pub fn compose_program() -> (&'static str, Vec<&'static str>) {
    static PLUGIN: OnceLock<bool> = OnceLock::new();
    let plugin = *PLUGIN.get_or_init(|| {
        Command::new("docker")
            .args(["compose", "version"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if plugin {
        ("docker", vec!["compose"])
    } else {
        ("docker-compose", Vec::new())
    }
}

/// A unique name for a test object.
pub fn unique(prefix: &str) -> String {
    let n: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!("{prefix}-{}-{:x}", std::process::id(), n & 0xffff_ffff)
}

/// A container that counts its own starts on the host: each start appends a
/// line to a file in a temporary directory, so a test sees how often it was
/// (re)started without asking Docker.
pub struct CountingContainer {
    pub container: Container,
    dir: tempfile::TempDir,
}

impl CountingContainer {
    /// Runs `sleep infinity` in a container named from `prefix`, with `options`.
    pub fn run(prefix: &str, options: &[&str]) -> CountingContainer {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
        let mount = format!("{}:/data", dir.path().display());
        let mut all = vec!["-v", mount.as_str()];
        all.extend_from_slice(options);
        let container = Container::run(
            prefix,
            &all,
            &[
                "sh",
                "-c",
                "echo start >> /data/starts; exec sleep infinity",
            ],
        );
        CountingContainer { container, dir }
    }

    /// How many times the container has started so far.
    pub fn starts(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("starts"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }
}

/// A container removed (with `-f`) on drop.
pub struct Container {
    pub name: String,
}

impl Container {
    /// `docker run -d` of the empty image with the host mounts, extra options and
    /// a command, e.g. `&["sleep", "infinity"]`.
    pub fn run(prefix: &str, options: &[&str], command: &[&str]) -> Container {
        ensure_image();
        let name = unique(prefix);
        let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), name.clone()];
        args.extend(host_mounts());
        args.extend(options.iter().map(|s| (*s).to_owned()));
        args.push(IMAGE.to_owned());
        args.extend(command.iter().map(|s| (*s).to_owned()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        must(&refs);
        Container { name }
    }

    /// `docker inspect -f TEMPLATE`.
    pub fn inspect(&self, template: &str) -> String {
        must(&["inspect", "-f", template, &self.name])
    }

    pub fn restart_count(&self) -> i64 {
        self.inspect("{{.RestartCount}}").parse().unwrap_or(-1)
    }

    pub fn started_at(&self) -> String {
        self.inspect("{{.State.StartedAt}}")
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.name]);
    }
}

/// A named volume removed on drop.
pub struct Volume {
    pub name: String,
}

impl Volume {
    pub fn create(prefix: &str) -> Volume {
        let name = unique(prefix);
        must(&["volume", "create", &name]);
        Volume { name }
    }

    pub fn exists(&self) -> bool {
        docker(&["volume", "inspect", &self.name]).0
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = docker(&["volume", "rm", "-f", &self.name]);
    }
}
