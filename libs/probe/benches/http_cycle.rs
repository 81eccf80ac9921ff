//! One probe cycle of 1,000 HTTP probes against a loopback server, each on a fresh
//! connection: cycle wall time (median and max over several cycles) and the
//! process's peak resident memory.
//!
//! The server runs in a child process (this binary again, in server mode), so
//! the peak memory measured is the prober's alone.
//!
//! ```text
//! cargo bench -p claudeops-probe --bench http_cycle
//! ```
//! `PROBE_BENCH_PROBES`, `PROBE_BENCH_CYCLES` and `PROBE_BENCH_CONCURRENCY` change
//! the defaults (1000, 10, 64). `PROBE_BENCH_BARE=1` measures a bare reqwest loop
//! (same server, same fresh connections, no probe machinery) for comparison.
//! The prober runs on tokio's multi-thread runtime (`TOKIO_WORKER_THREADS` sets
//! its threads); the server on a single thread.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use claudeops_probe::{ProbeSpec, Prober};

const SERVE_ENV: &str = "CLAUDEOPS_PROBE_BENCH_SERVE";

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::var_os(SERVE_ENV).is_some() {
        serve();
        return;
    }
    let probes = setting("PROBE_BENCH_PROBES", 1000);
    let cycles = setting("PROBE_BENCH_CYCLES", 10);
    let concurrency = setting("PROBE_BENCH_CONCURRENCY", 64);

    let exe = std::env::current_exe().expect("own path");
    let mut server = Command::new(exe)
        .env(SERVE_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server process");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("server stdout"))
        .read_line(&mut line)
        .expect("server port");
    let port: u16 = line.trim().parse().expect("a port number");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bare = std::env::var_os("PROBE_BENCH_BARE").is_some();
    let (user_before, sys_before) = cpu_ms();
    let times = if bare {
        runtime.block_on(bare_cycles(port, probes, cycles, concurrency))
    } else {
        runtime.block_on(prober_cycles(port, probes, cycles, concurrency))
    };
    // Warm-up cycle included: an average over cycles + 1.
    let (user_after, sys_after) = cpu_ms();
    let per_cycle = |before: f64, after: f64| (after - before) / (cycles as f64 + 1.0);
    let (user, sys) = (
        per_cycle(user_before, user_after),
        per_cycle(sys_before, sys_after),
    );
    drop(server.stdin.take());
    let _ = server.wait();

    let mut sorted = times.clone();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    let max = sorted[sorted.len() - 1];
    let peak = peak_rss_kib();
    println!(
        "http_cycle{}: {probes} probes, concurrency {concurrency}, {cycles} cycles: median {:.1} ms, max {:.1} ms; prober CPU per cycle {:.0} ms ({:.0} user, {:.0} system); peak RSS {:.1} MB",
        if bare { " (bare reqwest loop)" } else { "" },
        median.as_secs_f64() * 1000.0,
        max.as_secs_f64() * 1000.0,
        user + sys,
        user,
        sys,
        peak as f64 / 1024.0
    );
}

async fn prober_cycles(
    port: u16,
    probes: usize,
    cycles: usize,
    concurrency: usize,
) -> Vec<Duration> {
    let specs: Vec<ProbeSpec> = (0..probes)
        .map(|i| ProbeSpec {
            name: format!("bench-{i}"),
            url: format!("http://127.0.0.1:{port}/health/{i}"),
            conditions: vec![
                "[STATUS] == 200".to_owned(),
                "[BODY].status == UP".to_owned(),
            ],
            interval: Some(Duration::from_secs(1)),
            timeout: Some(Duration::from_secs(5)),
            ..ProbeSpec::default()
        })
        .collect();
    let (prober, errors) = Prober::new(&specs);
    assert!(errors.is_empty(), "{errors:?}");
    let mut prober = prober.with_concurrency(concurrency);
    let mut times = Vec::with_capacity(cycles);
    // One cycle to warm up (client, TLS roots, allocator), then the measured ones.
    for cycle in 0..=cycles {
        let start = Instant::now();
        let base = tokio::time::Instant::now() + Duration::from_secs(3600 * cycle as u64);
        let report = prober.run_due(base).await;
        let took = start.elapsed();
        assert_eq!(report.attempts.len(), probes, "every probe ran");
        let failed: Vec<_> = report.attempts.iter().filter(|a| !a.ok).collect();
        assert!(
            failed.is_empty(),
            "{} failed, e.g. {:?}",
            failed.len(),
            failed.first()
        );
        if cycle > 0 {
            times.push(took);
        }
    }
    times
}

/// The same requests without the prober: a floor to compare with.
async fn bare_cycles(port: u16, probes: usize, cycles: usize, concurrency: usize) -> Vec<Duration> {
    use futures_util::StreamExt;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let mut times = Vec::with_capacity(cycles);
    for cycle in 0..=cycles {
        let start = Instant::now();
        let ok = futures_util::stream::iter(0..probes)
            .map(|i| {
                let client = client.clone();
                async move {
                    let url = format!("http://127.0.0.1:{port}/health/{i}");
                    match client.get(url).send().await {
                        Ok(r) => r.status().is_success() && r.text().await.is_ok(),
                        Err(_) => false,
                    }
                }
            })
            .buffer_unordered(concurrency)
            .filter(|ok| std::future::ready(*ok))
            .count()
            .await;
        assert_eq!(ok, probes);
        if cycle > 0 {
            times.push(start.elapsed());
        }
    }
    times
}

/// User and system CPU time of this process so far, in ms (from /proc/self/stat,
/// in clock ticks of 10 ms).
fn cpu_ms() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) * 10.0, ticks(12) * 10.0)
}

/// VmHWM from /proc/self/status, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Server mode: answer `{"status":"UP"}` on 127.0.0.1 until stdin closes, on one
/// thread, leaving the other core to the prober. A minimal HTTP/1.1 responder
/// (read the request head, write a fixed response, close), so the server is not
/// what the cycle measures.
fn serve() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
content-length: 15\r\nconnection: close\r\n\r\n{\"status\":\"UP\"}";
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("addr").port());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut head = Vec::with_capacity(512);
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = stream.write_all(RESPONSE).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        // The parent closes stdin when it is done (or dies).
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await;
    });
}
