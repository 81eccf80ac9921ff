//! Starting Chromium for one session: its flags, its sandbox, the DevTools
//! pipe, and the refusing proxy behind its allow-list.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use super::origins::AllowList;
use crate::sandbox::{Sandbox, Session};

/// The hidden subcommand that moves the DevTools pipe to fds 3 and 4 and
/// becomes the browser.
pub const PIPE_SUBCOMMAND: &str = "cdp-pipe";

/// The browser's command line, without the program.
pub fn chromium_flags(profile: &Path, no_sandbox: bool, allowed: &AllowList) -> Vec<OsString> {
    let mut flags: Vec<OsString> = [
        "--headless",
        "--remote-debugging-pipe",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-sync",
        "--disable-breakpad",
        "--disable-crash-reporter",
        "--disable-client-side-phishing-detection",
        "--disable-domain-reliability",
        "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,InterestFeedContentSuggestions,NetworkPrediction",
        "--disable-dev-shm-usage",
        "--no-pings",
        "--password-store=basic",
        "--use-mock-keychain",
        "--mute-audio",
        "--hide-scrollbars",
        "--window-size=1280,800",
        // No UDP around the proxy, no speculative lookups or connections.
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        "--dns-prefetch-disable",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let mut profile_flag = OsString::from("--user-data-dir=");
    profile_flag.push(profile);
    flags.push(profile_flag);
    // Names resolve only for the allowed hosts: a lookup elsewhere fails
    // before it leaves the machine.
    let mut rules = String::from("--host-resolver-rules=MAP * ~NOTFOUND");
    for host in allowed.hosts() {
        rules.push_str(", EXCLUDE ");
        rules.push_str(&host);
    }
    flags.push(OsString::from(rules));
    if no_sandbox {
        flags.push(OsString::from("--no-sandbox"));
    }
    flags.push(OsString::from("about:blank"));
    flags
}

/// The command that runs the browser for a session: through the session
/// sandbox when there is one (the profile is its one writable directory),
/// and always through `helper cdp-pipe`, which hands the pipe over.
pub fn command(
    sandbox: &Sandbox,
    helper: &Path,
    chromium: &Path,
    profile: &Path,
    allowed: &AllowList,
) -> (PathBuf, Vec<OsString>) {
    // Chromium's own sandbox needs namespaces the session sandbox does not
    // give, and refuses to run as root: the session sandbox is its sandbox
    // then (no state dir, no secrets, no Docker, an unprivileged user).
    let root = nix::unistd::geteuid().is_root();
    let no_sandbox = root || matches!(sandbox, Sandbox::Bwrap { .. });
    let mut inner = vec![OsString::from(PIPE_SUBCOMMAND), OsString::from("--")];
    inner.push(chromium.as_os_str().to_owned());
    inner.extend(chromium_flags(profile, no_sandbox, allowed));
    let session = Session::bare(profile.to_path_buf(), vec![helper.to_path_buf()]);
    match sandbox.wrap(&session, helper, &inner) {
        Some(wrapped) => wrapped,
        None => (helper.to_path_buf(), inner),
    }
}

/// `claudeops-worker cdp-pipe -- PROGRAM ARGS...`: the worker's pipe ends
/// arrive as stdin and stdout; they become fds 3 and 4 (what
/// `--remote-debugging-pipe` reads and writes), stdin becomes /dev/null and
/// stdout the stderr, and PROGRAM runs.
pub fn pipe_main(args: &[OsString]) -> ExitCode {
    use std::os::fd::AsFd;
    use std::os::unix::process::CommandExt;
    let [sep, program, rest @ ..] = args else {
        eprintln!("usage: claudeops-worker cdp-pipe -- PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    if sep != "--" {
        eprintln!("usage: claudeops-worker cdp-pipe -- PROGRAM [ARGS...]");
        return ExitCode::from(2);
    }
    // F_DUPFD gives the lowest free fd at or above the one asked for, and
    // without close-on-exec: 3 and 4 are free in a process just started.
    let dup = |fd: std::os::fd::BorrowedFd<'_>, at: i32| {
        nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD(at))
    };
    let read = dup(std::io::stdin().as_fd(), 3);
    let write = dup(std::io::stdout().as_fd(), 4);
    if read != Ok(3) || write != Ok(4) {
        eprintln!("claudeops-worker cdp-pipe: fds 3 and 4 are not free ({read:?}, {write:?})");
        return ExitCode::from(126);
    }
    let stderr = match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => fd,
        Err(error) => {
            eprintln!("claudeops-worker cdp-pipe: {error}");
            return ExitCode::from(126);
        }
    };
    let error = std::process::Command::new(program)
        .args(rest)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(stderr))
        .exec();
    eprintln!("claudeops-worker cdp-pipe: cannot start {program:?}: {error}");
    ExitCode::from(126)
}

/// A listener that answers every connection with 403 and closes it: the
/// browser context's proxy, so a request that bypasses interception still
/// reaches nothing but the allowed origins.
pub async fn refusing_proxy() -> std::io::Result<(u16, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let task = tokio::spawn(async move {
        const ANSWER: &[u8] = b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 49\r\nConnection: close\r\n\r\nClaude Ops: this origin is not an allowed origin\n";
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.write_all(ANSWER).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok((port, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_is_started_through_the_pipe_helper() {
        let (program, args) = command(
            &Sandbox::Off,
            Path::new("/usr/bin/claudeops-worker"),
            Path::new("/usr/bin/chromium"),
            Path::new("/state/browser/7"),
            &AllowList::parse(&["https://app.example:8443".to_owned()]).unwrap_or_default(),
        );
        assert_eq!(program, Path::new("/usr/bin/claudeops-worker"));
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(&args[..3], &["cdp-pipe", "--", "/usr/bin/chromium"]);
        assert!(args.contains(&"--remote-debugging-pipe".to_owned()));
        assert!(args.contains(&"--user-data-dir=/state/browser/7".to_owned()));
        assert!(
            !args
                .iter()
                .any(|a| a.starts_with("--remote-debugging-port"))
        );
    }

    #[tokio::test]
    async fn the_proxy_refuses_everything() {
        use tokio::io::AsyncReadExt;
        let (port, task) = refusing_proxy().await.unwrap_or_else(|e| panic!("{e}"));
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        stream
            .write_all(b"CONNECT evil.invalid:443 HTTP/1.1\r\n\r\n")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        assert_eq!(answer.split("\r\n\r\n").nth(1).map(str::len), Some(49));
        task.abort();
    }
}
