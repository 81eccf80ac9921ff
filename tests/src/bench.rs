//! What the bench binaries share.

use std::time::Duration;

/// How many runs a bench makes: `RUNS` from the environment, else `default`.
pub fn runs(default: usize) -> usize {
    std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(default)
}

/// Prints `name: n=… p50=… ms p95=… ms max=… ms` for the samples (sorted in place).
pub fn report(name: &str, samples: &mut [Duration]) {
    if samples.is_empty() {
        println!("{name}: no samples");
        return;
    }
    samples.sort_unstable();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name}: n={} p50={:.1} ms p95={:.1} ms max={:.1} ms",
        samples.len(),
        pick(0.5).as_secs_f64() * 1000.0,
        pick(0.95).as_secs_f64() * 1000.0,
        pick(1.0).as_secs_f64() * 1000.0,
    );
}
