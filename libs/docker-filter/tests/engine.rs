//! The filter against the real Docker Engine, driven by the real `docker`
//! and `docker-compose` CLIs (`DOCKER_HOST=unix://FILTER`) and by raw HTTP:
//! every read an observer uses works, every write is refused with the typed
//! action to use, and the container is unchanged afterwards. Tests that need
//! the Engine fail loudly without it.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use claudeops_docker_filter::{DockerFilter, ExecPolicy, FilterError, FilterPolicy, REFUSED_BY};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const ENGINE: &str = "/var/run/docker.sock";
const IMAGE: &str = "claudeops-test/empty";
/// Bounds every wait so that a hang fails the test instead of stalling it.
const PATIENCE: Duration = Duration::from_secs(15);

const SERVICE_SECRET: &str = "hunter2-service-canary";

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}{}x{nanos}", std::process::id())
}

/// The `docker` CLI against the real Engine socket.
fn docker_real(args: &[&str]) -> Output {
    ok(Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", format!("unix://{ENGINE}"))
        .env_remove("DOCKER_CONTEXT")
        .output())
}

/// The empty image the project's tests use, imported once (no registry here).
fn ensure_image() {
    static IMPORTED: Once = Once::new();
    assert!(
        Path::new(ENGINE).exists(),
        "the Docker Engine socket {ENGINE} is required for these tests"
    );
    IMPORTED.call_once(|| {
        if docker_real(&["image", "inspect", IMAGE]).status.success() {
            return;
        }
        let dir = ok(tempfile::tempdir());
        for sub in ["tmp", "etc", "proc", "sys", "dev"] {
            ok(std::fs::create_dir_all(dir.path().join(sub)));
        }
        let script = format!(
            "tar cf - -C {} . | docker -H unix://{ENGINE} import - {IMAGE}",
            dir.path().display()
        );
        let status = ok(Command::new("sh").args(["-c", &script]).status());
        assert!(status.success(), "importing {IMAGE} failed");
    });
}

/// A running container that prints `tick` five times a second, with the
/// host's programs mounted read-only; removed on drop.
struct Container {
    name: String,
}

impl Container {
    fn start(prefix: &str, labels: &[(&str, &str)]) -> Container {
        ensure_image();
        let name = unique(prefix);
        let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), name.clone()];
        for (host, inside) in [
            ("/usr", "/usr"),
            ("/usr/bin", "/bin"),
            ("/usr/lib", "/lib"),
            ("/usr/lib64", "/lib64"),
            ("/usr/sbin", "/sbin"),
        ] {
            if Path::new(host).exists() {
                args.push("-v".into());
                args.push(format!("{host}:{inside}:ro"));
            }
        }
        // A service password, as services keep them: never shown through the filter.
        args.push("-e".into());
        args.push(format!("FILTER_TEST_PASSWORD={SERVICE_SECRET}"));
        for (key, value) in labels {
            args.push("--label".into());
            args.push(format!("{key}={value}"));
        }
        args.push(IMAGE.into());
        for word in ["sh", "-c", "while true; do echo tick; sleep 0.2; done"] {
            args.push(word.into());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = docker_real(&refs);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Container { name }
    }

    /// What a write would change: running, start time, restart count, pause.
    fn state(&self) -> String {
        let out = docker_real(&[
            "inspect",
            "-f",
            "{{.State.Running}} {{.State.Paused}} {{.State.StartedAt}} {{.RestartCount}} {{.Name}}",
            &self.name,
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker_real(&["rm", "-f", &self.name]);
    }
}

/// A filter on a socket in its own temporary directory.
struct Rig {
    dir: tempfile::TempDir,
    socket: PathBuf,
    filter: Option<DockerFilter>,
}

struct Run {
    success: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Rig {
    fn new(policy: FilterPolicy) -> Rig {
        let dir = ok(tempfile::tempdir());
        let socket = dir.path().join("docker.sock");
        let filter = ok(DockerFilter::bind(&socket, Path::new(ENGINE), policy));
        Rig {
            dir,
            socket,
            filter: Some(filter),
        }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// A CLI (`docker`, `docker-compose`) through the filter, off the
    /// runtime's threads, with `stdin` as its input.
    async fn run(&self, program: &str, args: &[&str], stdin: &[u8]) -> Run {
        let mut command = Command::new(program);
        command
            .args(args)
            .env("DOCKER_HOST", self.host())
            .env_remove("DOCKER_CONTEXT")
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let stdin = stdin.to_vec();
        let out = ok(ok(tokio::task::spawn_blocking(move || {
            let mut child = command.spawn()?;
            if let Some(mut input) = child.stdin.take() {
                input.write_all(&stdin)?;
            }
            child.wait_with_output()
        })
        .await));
        Run {
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    async fn docker(&self, args: &[&str]) -> Run {
        self.run("docker", args, b"").await
    }

    fn counters(&self) -> claudeops_docker_filter::Counters {
        self.filter
            .as_ref()
            .map(DockerFilter::counters)
            .unwrap_or_default()
    }
}

fn refusing() -> FilterPolicy {
    FilterPolicy {
        exec: ExecPolicy::Refused,
    }
}

/// One HTTP/1.1 exchange on a Unix socket (`Connection: close`, read to the
/// end): the status code and everything after the status line.
async fn raw(socket: &Path, head: &str, body: &[u8]) -> (u16, String) {
    let mut stream = ok(tokio::net::UnixStream::connect(socket).await);
    let request = format!(
        "{head}\r\nHost: docker\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    ok(stream.write_all(request.as_bytes()).await);
    // The answer may come before the whole body is written: keep writing
    // whatever is accepted, as a real client would.
    let _ = stream.write_all(body).await;
    let mut answer = Vec::new();
    ok(ok(tokio::time::timeout(
        PATIENCE,
        stream.read_to_end(&mut answer),
    )
    .await));
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer to {head}: {answer}"));
    (status, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observers_reads_work_through_the_filter() {
    let project = unique("filterreads");
    let c = Container::start(
        "filter-reads-",
        &[
            ("com.docker.compose.project", &project),
            ("com.docker.compose.service", "app"),
            ("com.docker.compose.oneoff", "False"),
            ("com.docker.compose.container-number", "1"),
        ],
    );
    let rig = Rig::new(refusing());
    let name = c.name.as_str();
    let by_name = format!("name={name}");
    let by_container = format!("container={name}");
    let (success, env, stderr) = {
        let run = rig
            .docker(&["inspect", "-f", "{{json .Config.Env}}", name])
            .await;
        (run.success, run.stdout, run.stderr)
    };
    assert!(success, "{stderr}");
    assert!(
        !env.contains(SERVICE_SECRET),
        "the environment's values are hidden: {env}"
    );
    assert!(
        env.contains(&format!(
            "FILTER_TEST_PASSWORD={}",
            claudeops_docker_filter::HIDDEN
        )),
        "the names stay: {env}"
    );
    let real = docker_real(&["inspect", "-f", "{{json .Config.Env}}", name]);
    assert!(
        String::from_utf8_lossy(&real.stdout).contains(SERVICE_SECRET),
        "the real socket still shows it"
    );
    for (args, expected) in [
        (
            vec!["ps", "--filter", &by_name, "--format", "{{.Names}}"],
            name,
        ),
        (vec!["ps", "-a", "-s", "--filter", &by_name], name),
        (
            vec!["inspect", "-f", "{{.Name}} {{.State.Status}}", name],
            "running",
        ),
        (vec!["container", "inspect", "-f", "{{.Name}}", name], name),
        (vec!["logs", "--tail", "3", name], "tick"),
        (
            vec!["stats", "--no-stream", "--format", "{{.Name}}", name],
            name,
        ),
        (vec!["top", name], "while true"),
        (vec!["diff", name], ""),
        (vec!["version", "--format", "{{.Server.APIVersion}}"], "1."),
        (vec!["info", "--format", "{{.ServerVersion}}"], "."),
        (vec!["images", "--format", "{{.Repository}}"], IMAGE),
        (vec!["image", "inspect", "-f", "{{.Id}}", IMAGE], "sha256:"),
        (vec!["image", "history", IMAGE], "IMAGE"),
        (vec!["network", "ls"], "bridge"),
        (
            vec!["network", "inspect", "-f", "{{.Name}}", "bridge"],
            "bridge",
        ),
        (vec!["inspect", "-f", "{{.Name}}", "bridge"], "bridge"),
        (vec!["volume", "ls"], "DRIVER"),
        (vec!["system", "df"], "Images"),
        (
            vec![
                "events",
                "--since",
                "60s",
                "--until",
                "0s",
                "--filter",
                &by_container,
            ],
            "start",
        ),
    ] {
        let run = rig.docker(&args).await;
        assert!(
            run.success,
            "docker {args:?} through the filter: {}",
            run.stderr
        );
        assert!(
            run.stdout.contains(expected),
            "docker {args:?} should print {expected:?}: {}",
            run.stdout
        );
    }
    // `docker inspect` of an unknown name walks every object kind; the
    // hidden plugins must read as "not found", not as a refusal.
    let run = rig.docker(&["inspect", "no-such-object-filter-test"]).await;
    assert!(!run.success);
    assert!(run.stderr.contains("No such object"), "{}", run.stderr);

    let compose = "services:\n  app:\n    image: claudeops-test/empty\n";
    ok(std::fs::write(
        rig.dir.path().join("docker-compose.yml"),
        compose,
    ));
    let run = rig
        .run("docker-compose", &["-p", &project, "ps"], b"")
        .await;
    assert!(run.success, "docker-compose ps: {}", run.stderr);
    assert!(
        run.stdout.contains(name) && run.stdout.contains("Up"),
        "{}",
        run.stdout
    );

    let (status, answer) = raw(&rig.socket, "HEAD /_ping HTTP/1.1", b"").await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = raw(
        &rig.socket,
        &format!("GET /v1.41/containers/{name}/json HTTP/1.1"),
        b"",
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer.contains(&format!("\"Name\":\"/{name}\"")),
        "{answer}"
    );
    let (status, answer) = raw(&rig.socket, "GET /containers/json?all=1 HTTP/1.1", b"").await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains(name), "{answer}");

    let counters = rig.counters();
    assert!(counters.forwarded >= 25, "{counters:?}");
    assert!(
        counters
            .refusals
            .iter()
            .all(|r| r.status == 404 && r.path.contains("/plugins/")),
        "a read was refused: {counters:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_refused_with_the_action_to_use_and_change_nothing() {
    let project = unique("filterwrites");
    let c = Container::start(
        "filter-writes-",
        &[
            ("com.docker.compose.project", &project),
            ("com.docker.compose.service", "app"),
            ("com.docker.compose.oneoff", "False"),
            ("com.docker.compose.container-number", "1"),
        ],
    );
    let rig = Rig::new(refusing());
    let before = c.state();
    assert!(before.starts_with("true false "), "{before}");
    let name = c.name.as_str();
    let marker = unique("filter-should-not-exist-");
    let from = format!("{name}:/etc");
    let into = format!("{name}:/tmp");
    let copied = rig.dir.path().join("copied");
    ok(std::fs::write(&copied, "x"));
    let copied = copied.display().to_string();

    const RESTART: &str = "restart_container";
    const REDEPLOY: &str = "redeploy_service";
    for (args, pointer) in [
        (vec!["restart", name], RESTART),
        (vec!["stop", name], RESTART),
        (vec!["kill", name], RESTART),
        (vec!["start", name], RESTART),
        (vec!["pause", name], RESTART),
        (vec!["rm", "-f", name], REDEPLOY),
        (vec!["run", "--rm", IMAGE, "true"], REDEPLOY),
        (vec!["create", IMAGE, "true"], REDEPLOY),
        (vec!["pull", "registry.invalid/x"], REDEPLOY),
        (vec!["rename", name, &marker], REDEPLOY),
        (vec!["update", "--memory", "64m", name], REDEPLOY),
        (vec!["network", "create", &marker], REDEPLOY),
        (vec!["network", "rm", &marker], REDEPLOY),
        (vec!["volume", "create", &marker], REDEPLOY),
        (vec!["volume", "rm", &marker], REDEPLOY),
        (
            vec!["exec", name, "echo", "hi"],
            "CLAUDEOPS_DOCKER_EXEC_TIER",
        ),
        (vec!["cp", &from, "-"], "secrets"),
        (vec!["cp", &copied, &into], "secrets"),
        (vec!["export", name], "secrets"),
        (vec!["commit", name, &marker], "read-only"),
        (vec!["image", "rm", &marker], "read-only"),
        (vec!["tag", IMAGE, &marker], "read-only"),
        // The CLI prints only the status of a refused hijack.
        (vec!["attach", "--no-stdin", name], "403"),
    ] {
        let run = rig.docker(&args).await;
        assert!(!run.success, "docker {args:?} went through the filter");
        if pointer != "403" {
            assert!(
                run.stderr.contains(REFUSED_BY),
                "docker {args:?}: {}",
                run.stderr
            );
        }
        assert!(
            run.stderr.contains(pointer),
            "docker {args:?} should point to {pointer}: {}",
            run.stderr
        );
    }
    let run = rig
        .run(
            "docker",
            &["build", "-t", &marker, "-"],
            b"FROM claudeops-test/empty\n",
        )
        .await;
    assert!(!run.success, "docker build went through");
    assert!(run.stderr.contains(REDEPLOY), "{}", run.stderr);

    let compose = "services:\n  app:\n    image: claudeops-test/empty\n";
    ok(std::fs::write(
        rig.dir.path().join("docker-compose.yml"),
        compose,
    ));
    for command in [
        &["restart"][..],
        &["stop"],
        &["up", "-d"],
        &["down"],
        &["pull"],
    ] {
        let mut args = vec!["-p", project.as_str()];
        args.extend(command);
        // `docker-compose restart` and `stop` exit 0 even when every
        // container failed: the message and the unchanged state tell.
        let run = rig.run("docker-compose", &args, b"").await;
        assert!(
            run.stderr.contains(REFUSED_BY) && run.stderr.contains(REDEPLOY),
            "docker-compose {command:?}: {}",
            run.stderr
        );
    }

    assert_eq!(c.state(), before, "the container was changed");
    for kind in ["volume", "network", "image"] {
        let out = docker_real(&[kind, "inspect", &marker]);
        assert!(!out.status.success(), "a {kind} {marker} was made");
    }
    let counters = rig.counters();
    assert!(counters.refused >= 28, "{counters:?}");
    assert!(
        counters
            .refusals
            .iter()
            .any(|r| r.method == "POST" && r.path.ends_with(&format!("/containers/{name}/restart"))),
        "{counters:?}"
    );
    assert!(
        counters.refusals.iter().all(|r| !r.path.contains('?')),
        "{counters:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_judged_exec_runs_what_the_judge_allows_and_nothing_else() {
    let c = Container::start("filter-exec-", &[]);
    let judged: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let seen = judged.clone();
    let judge = Arc::new(move |argv: &[String]| {
        seen.lock()
            .unwrap_or_else(|e| panic!("{e}"))
            .push(argv.to_vec());
        match argv.first().map(String::as_str) {
            Some("echo" | "cat" | "false") => Ok(()),
            _ => Err(format!("`{}` is not allowed at this tier", argv.join(" "))),
        }
    });
    let rig = Rig::new(FilterPolicy {
        exec: ExecPolicy::Judged(judge),
    });
    let before = c.state();
    let name = c.name.as_str();

    let run = rig.docker(&["exec", name, "echo", "hi-from-exec"]).await;
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "hi-from-exec");
    // Input goes the other way through the hijacked stream.
    let run = rig
        .run("docker", &["exec", "-i", name, "cat"], b"piped-in\n")
        .await;
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "piped-in");
    // The exit code comes from the exec's inspect, forwarded too.
    let run = rig.docker(&["exec", name, "false"]).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    // A detached exec starts without a hijack.
    let run = rig.docker(&["exec", "-d", name, "echo", "detached"]).await;
    assert!(run.success, "{}", run.stderr);

    let run = rig.docker(&["exec", name, "touch", "/tmp/x"]).await;
    assert!(!run.success);
    assert!(run.stderr.contains(REFUSED_BY), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("`touch /tmp/x` is not allowed at this tier"),
        "{}",
        run.stderr
    );
    for flags in [
        &["-e", "X=1"][..],
        &["-e", "BASH_ENV=/dev/stdin"],
        &["-u", "0"],
        &["--privileged"],
        &["-w", "/tmp"],
    ] {
        let mut args = vec!["exec"];
        args.extend(flags);
        args.extend([name, "echo", "flagged"]);
        let run = rig.docker(&args).await;
        assert!(!run.success, "docker {args:?} went through");
        assert!(run.stderr.contains(REFUSED_BY), "{}", run.stderr);
    }
    // The Engine reads JSON keys without regard to case and keeps the last
    // of two: such a body must not run something other than what was judged.
    let exec_head =
        format!("POST /v1.41/containers/{name}/exec HTTP/1.1\r\nContent-Type: application/json");
    for body in [
        &br#"{"Cmd":["echo","decoy"],"cmd":["touch","/tmp/x"]}"#[..],
        br#"{"Cmd":["echo","decoy"],"env":["BASH_ENV=/tmp/x"]}"#,
        br#"{"Cmd":["echo","decoy"],"user":"0"}"#,
    ] {
        let (status, answer) = raw(&rig.socket, &exec_head, body).await;
        assert_eq!(status, 403, "{}: {answer}", String::from_utf8_lossy(body));
    }
    let (status, answer) = raw(&rig.socket, &exec_head, br#"{"cmd":["echo","lower"]}"#).await;
    assert_eq!(status, 201, "{answer}");
    let judged = judged.lock().unwrap_or_else(|e| panic!("{e}")).clone();
    assert!(judged.contains(&vec!["echo".to_owned(), "hi-from-exec".to_owned()]));
    assert!(judged.contains(&vec!["cat".to_owned()]));
    assert!(judged.contains(&vec!["echo".to_owned(), "lower".to_owned()]));
    assert!(
        !judged
            .iter()
            .any(|argv| argv.contains(&"flagged".to_owned()) || argv.contains(&"decoy".to_owned())),
        "an exec with flags reached the judge: {judged:?}"
    );

    // An exec created on the real socket cannot be started or read through
    // the filter, and stays unstarted.
    let (status, answer) = raw(
        Path::new(ENGINE),
        &format!("POST /v1.41/containers/{name}/exec HTTP/1.1\r\nContent-Type: application/json"),
        br#"{"Cmd":["echo","not-through-the-filter"],"AttachStdout":true}"#,
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let id: String = answer
        .split("\"Id\":\"")
        .nth(1)
        .map(|rest| rest.chars().take_while(char::is_ascii_hexdigit).collect())
        .unwrap_or_else(|| panic!("no exec id in {answer}"));
    for head in [
        format!(
            "POST /v1.41/exec/{id}/start HTTP/1.1\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp"
        ),
        format!("POST /v1.41/exec/{id}/start HTTP/1.1\r\nContent-Type: application/json"),
        format!("GET /v1.41/exec/{id}/json HTTP/1.1"),
        format!("POST /v1.41/exec/{id}/resize?h=10&w=10 HTTP/1.1"),
    ] {
        let body: &[u8] = if head.contains("start") {
            br#"{"Detach":true}"#
        } else {
            b""
        };
        let (status, answer) = raw(&rig.socket, &head, body).await;
        assert_eq!(status, 403, "{head}: {answer}");
        assert!(
            answer.contains("was not created through this session"),
            "{answer}"
        );
    }
    let (status, answer) = raw(
        Path::new(ENGINE),
        &format!("GET /v1.41/exec/{id}/json HTTP/1.1"),
        b"",
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer.contains("\"Pid\":0"),
        "the exec was started: {answer}"
    );
    assert_eq!(c.state(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_tricks_are_refused() {
    let c = Container::start("filter-tricks-", &[]);
    let rig = Rig::new(refusing());
    let before = c.state();
    let name = c.name.as_str();
    for head in [
        format!("POST /v1.41/containers/../containers/{name}/restart HTTP/1.1"),
        format!("POST /v1.41/containers/{name}/json/../restart HTTP/1.1"),
        format!("POST /v1.41/containers/{name}/%2e%2e/{name}/restart HTTP/1.1"),
        format!("GET /v1.41/containers/{name}/%2e%2e/json HTTP/1.1"),
        format!("POST /v1.41/containers/{name}%2frestart HTTP/1.1"),
        format!("POST /v1.41//containers/{name}/restart HTTP/1.1"),
        format!("POST //v1.41/containers/{name}/restart HTTP/1.1"),
        format!("POST /v1.41/containers/./{name}/restart HTTP/1.1"),
        format!("GET http://docker/v1.41/containers/{name}/json HTTP/1.1"),
        format!("POST http://docker/v1.41/containers/{name}/restart HTTP/1.1"),
        format!("GET /v1.41/containers/{name}/archive?path=/etc HTTP/1.1"),
        format!("HEAD /v1.41/containers/{name}/archive?path=/etc HTTP/1.1"),
        format!("GET /v1.41/containers/{name}/export HTTP/1.1"),
        format!("POST /v1.41/containers/{name}/attach?stream=1&stdin=1 HTTP/1.1"),
        format!("GET /v1.41/containers/{name}/attach/ws?stream=1 HTTP/1.1"),
        format!(
            "GET /v1.41/containers/{name}/logs?stdout=1 HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp"
        ),
        "GET /v1.41/secrets HTTP/1.1".to_owned(),
        "GET /v1.41/configs HTTP/1.1".to_owned(),
        "GET /v1.41/swarm HTTP/1.1".to_owned(),
        "GET /v1.41/plugins HTTP/1.1".to_owned(),
        "POST /session HTTP/1.1".to_owned(),
        "POST /grpc HTTP/1.1".to_owned(),
        "GET /v1.41/distribution/registry.invalid/x/json HTTP/1.1".to_owned(),
        "POST /v1.41/auth HTTP/1.1".to_owned(),
        "POST /v1.41/build HTTP/1.1".to_owned(),
        "PUT /v1.41/containers/x/archive?path=/ HTTP/1.1".to_owned(),
        "OPTIONS /v1.41/containers/json HTTP/1.1".to_owned(),
    ] {
        let (status, answer) = raw(&rig.socket, &head, b"").await;
        assert_eq!(status, 403, "{head}: {answer}");
        if !head.starts_with("HEAD") {
            assert!(answer.contains(REFUSED_BY), "{head}: {answer}");
            assert!(answer.contains("application/json"), "{head}: {answer}");
        }
    }
    // A refusal waits for the body, so a client sending one sees the message
    // rather than a broken pipe.
    let big = vec![b'x'; 4 * 1024 * 1024];
    let (status, answer) = raw(&rig.socket, "POST /v1.41/build?t=x HTTP/1.1", &big).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains(REFUSED_BY), "{answer}");
    // An exec request over the body limit is refused before it is judged.
    let mut huge = br#"{"Cmd":["echo","#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    let (status, _) = raw(
        &rig.socket,
        &format!("POST /v1.41/containers/{name}/exec HTTP/1.1\r\nContent-Type: application/json"),
        &huge,
    )
    .await;
    assert!(status == 413 || status == 403, "{status}");
    assert_eq!(c.state(), before, "the container was changed");
    assert!(rig.counters().refused >= 29, "{:?}", rig.counters());
    assert_eq!(rig.counters().forwarded, 0, "{:?}", rig.counters());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_live_and_end_with_the_filter() {
    let c = Container::start("filter-follow-", &[]);
    let mut rig = Rig::new(refusing());

    // A raw follow request...
    let stream = ok(tokio::net::UnixStream::connect(&rig.socket).await);
    let (read, mut write) = stream.into_split();
    let request = format!(
        "GET /v1.41/containers/{}/logs?stdout=1&follow=1&tail=0 HTTP/1.1\r\nHost: docker\r\n\r\n",
        c.name
    );
    ok(write.write_all(request.as_bytes()).await);
    let mut raw_follow = BufReader::new(read);
    let mut head = String::new();
    ok(ok(tokio::time::timeout(
        PATIENCE,
        raw_follow.read_line(&mut head),
    )
    .await));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // ...the CLI's `logs -f` and `events`...
    let spawn = |args: &[&str]| {
        ok(tokio::process::Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", rig.host())
            .env_remove("DOCKER_CONTEXT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn())
    };
    let mut logs = spawn(&["logs", "-f", "--tail", "0", &c.name]);
    let by_name = format!("container={}", c.name);
    let mut events = spawn(&["events", "--filter", &by_name, "--format", "{{.Action}}"]);
    let mut log_lines =
        BufReader::new(logs.stdout.take().unwrap_or_else(|| panic!("no stdout"))).lines();
    let mut event_lines =
        BufReader::new(events.stdout.take().unwrap_or_else(|| panic!("no stdout"))).lines();

    // ...all deliver fresh output while they are open.
    let mut ticks = 0;
    while ticks < 3 {
        let line = ok(tokio::time::timeout(PATIENCE, log_lines.next_line()).await);
        let line = ok(line).unwrap_or_else(|| panic!("docker logs -f ended early"));
        if line == "tick" {
            ticks += 1;
        }
    }
    let mut seen = Vec::new();
    let live = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains("tick") {
            let n = ok(raw_follow.read(&mut buf).await);
            assert!(n > 0, "the raw follow stream ended early");
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    assert!(
        live.is_ok(),
        "no live line: {}",
        String::from_utf8_lossy(&seen)
    );
    // The event stream is open once it answers; make events until one shows.
    let event = tokio::time::timeout(PATIENCE, async {
        loop {
            let name = c.name.clone();
            ok(
                tokio::task::spawn_blocking(move || docker_real(&["exec", "-d", &name, "true"]))
                    .await,
            );
            if let Ok(line) =
                tokio::time::timeout(Duration::from_millis(500), event_lines.next_line()).await
            {
                return ok(line);
            }
        }
    })
    .await;
    let event = ok(event).unwrap_or_else(|| panic!("docker events ended early"));
    assert!(event.starts_with("exec_"), "{event}");

    // Dropping the filter ends every stream and removes the socket.
    drop(rig.filter.take());
    assert!(!rig.socket.exists(), "the socket file is left behind");
    let ended = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match raw_follow.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the raw stream outlived its filter");
    let logs_ended = tokio::time::timeout(PATIENCE, logs.wait()).await;
    assert!(logs_ended.is_ok(), "docker logs -f outlived its filter");
    let events_ended = tokio::time::timeout(PATIENCE, events.wait()).await;
    assert!(events_ended.is_ok(), "docker events outlived its filter");
    let refused = tokio::net::UnixStream::connect(&rig.socket).await;
    assert!(refused.is_err(), "the filter still accepts connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_engine_is_a_bad_gateway() {
    let dir = ok(tempfile::tempdir());
    let socket = dir.path().join("filter.sock");
    let _filter = ok(DockerFilter::bind(
        &socket,
        &dir.path().join("absent.sock"),
        refusing(),
    ));
    let (status, answer) = raw(&socket, "GET /v1.41/version HTTP/1.1", b"").await;
    assert_eq!(status, 502, "{answer}");
    assert!(answer.contains("\"message\""), "{answer}");
    assert!(
        answer.contains("cannot reach the Docker Engine"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_is_private_and_never_replaces_a_file() {
    let dir = ok(tempfile::tempdir());
    let socket = dir.path().join("docker.sock");
    // A stale socket left by a crashed worker is replaced.
    drop(ok(std::os::unix::net::UnixListener::bind(&socket)));
    let filter = ok(DockerFilter::bind(&socket, Path::new(ENGINE), refusing()));
    assert_eq!(filter.path(), socket);
    let mode = ok(std::fs::metadata(&socket)).permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let leftovers: Vec<_> = ok(std::fs::read_dir(dir.path())).collect();
    assert_eq!(
        leftovers.len(),
        1,
        "a temporary socket is left: {leftovers:?}"
    );
    drop(filter);
    assert!(!socket.exists());

    let file = dir.path().join("not-a-socket");
    ok(std::fs::write(&file, "keep me"));
    match DockerFilter::bind(&file, Path::new(ENGINE), refusing()) {
        Err(FilterError::NotASocket { path }) => assert_eq!(path, file),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a file was replaced by the filter socket"),
    }
    assert_eq!(ok(std::fs::read_to_string(&file)), "keep me");
}
