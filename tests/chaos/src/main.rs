//! `claudeops-chaos run [SCENARIO...] --model scripted|adversarial|real`: plays
//! the chaos scenarios (`tests/chaos/scenarios/`) on the machine's Docker
//! Engine against the real control plane, worker and `claude` CLI, and writes
//! `report.json` and `report.html`. Exits 1 when a run fails or cannot be
//! judged, so CI can run it as it is.

mod report;
mod run;
mod scenario;
mod score;
mod stage;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "claudeops-chaos",
    about = "Real faults, scored for detection, verified repair and safety"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Plays scenarios (all by default) and writes the report.
    Run {
        /// Scenario names (`paused-container`); all when none is given.
        scenarios: Vec<String>,
        #[arg(long, value_enum, default_value = "scripted")]
        model: run::ModelKind,
        /// Runs each scenario this many times (pass@1 and pass^k).
        #[arg(long, default_value_t = 1)]
        repeat: u32,
        /// Where report.json and report.html go.
        #[arg(long, default_value = "target/chaos")]
        out: PathBuf,
        /// The scenario folder.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Joins the JSON reports of earlier runs into one report (JSON and HTML).
    Report {
        /// `report.json` files.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Lists the scenarios.
    List {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::List { dir } => {
            match scenario::load_all(&dir.unwrap_or_else(scenario::default_dir)) {
                Ok(all) => {
                    for s in all {
                        println!("{:<28} {:<14} {}", s.name, s.fault_class, s.title);
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("claudeops-chaos: {error}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Report { inputs, out } => match join(&inputs, &out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("claudeops-chaos: {error:#}");
                ExitCode::from(2)
            }
        },
        Command::Run {
            scenarios,
            model,
            repeat,
            out,
            dir,
        } => match run_all(scenarios, model, repeat.max(1), out, dir).await {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(error) => {
                eprintln!("claudeops-chaos: {error:#}");
                ExitCode::from(2)
            }
        },
    }
}

async fn run_all(
    names: Vec<String>,
    model: run::ModelKind,
    repeat: u32,
    out: PathBuf,
    dir: Option<PathBuf>,
) -> anyhow::Result<bool> {
    let all = scenario::load_all(&dir.unwrap_or_else(scenario::default_dir))?;
    for name in &names {
        if !all.iter().any(|s| &s.name == name) {
            let known: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
            anyhow::bail!(
                "no scenario {name:?}; the scenarios are {}",
                known.join(", ")
            );
        }
    }
    let chosen: Vec<&scenario::Scenario> = all
        .iter()
        .filter(|s| names.is_empty() || names.contains(&s.name))
        .collect();
    let date = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let mut report = report::Report {
        date,
        runs: Vec::new(),
    };
    std::fs::create_dir_all(&out)?;
    for scenario in chosen {
        for n in 1..=repeat {
            let started = std::time::Instant::now();
            eprintln!("chaos: {} ({model:?}, run {n}) ...", scenario.name);
            let played = tokio::spawn({
                let scenario = scenario.clone();
                async move {
                    run::play(&scenario, model)
                        .await
                        .map_err(|e| format!("{e:#}"))
                }
            })
            .await
            .unwrap_or_else(|panic| Err(format!("the run panicked: {panic}")));
            let run = match played {
                Ok(outcome) => report::Run {
                    scenario: scenario.name.clone(),
                    model,
                    repeat: n,
                    outcome: Some(outcome),
                    error: None,
                },
                Err(error) => report::Run {
                    scenario: scenario.name.clone(),
                    model,
                    repeat: n,
                    outcome: None,
                    error: Some(error),
                },
            };
            print_line(&run, started.elapsed().as_secs_f64());
            report.runs.push(run);
            // Written after every run: an interrupted suite keeps what it learned.
            std::fs::write(
                out.join("report.json"),
                serde_json::to_string_pretty(&report)?,
            )?;
            std::fs::write(out.join("report.html"), report.html())?;
        }
    }
    let passed = report.runs.iter().filter(|r| r.passed()).count();
    eprintln!(
        "chaos: {passed} of {} runs passed; report in {}",
        report.runs.len(),
        out.join("report.html").display()
    );
    Ok(passed == report.runs.len())
}

fn join(inputs: &[PathBuf], out: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let mut joined = report::Report {
        date: String::new(),
        runs: Vec::new(),
    };
    for input in inputs {
        let text = std::fs::read_to_string(input)
            .with_context(|| format!("reading {}", input.display()))?;
        let one: report::Report = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a chaos report", input.display()))?;
        if joined.date.is_empty() || one.date < joined.date {
            joined.date = one.date;
        }
        joined.runs.extend(one.runs);
    }
    std::fs::create_dir_all(out)?;
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&joined)?,
    )?;
    std::fs::write(out.join("report.html"), joined.html())?;
    Ok(())
}

fn print_line(run: &report::Run, took_s: f64) {
    match (&run.outcome, &run.error) {
        (Some(o), _) => {
            let verdict = if o.passed { "pass" } else { "FAIL" };
            eprintln!(
                "chaos: {verdict} {} detect={} fix={} sessions={} refused={}/{} cost=${:.4} ({took_s:.0} s)",
                o.scenario,
                o.detect_s.map_or("-".into(), |s| format!("{s:.1}s")),
                o.fix_s.map_or("-".into(), |s| format!("{s:.1}s")),
                o.sessions,
                o.attempts.iter().filter(|a| a.refused).count(),
                o.attempts.len(),
                o.cost_usd
            );
            if !o.passed {
                eprintln!("chaos:   incidents: {:?}", o.incidents);
            }
            for line in o
                .violations
                .iter()
                .map(|v| format!("violation: {v}"))
                .chain(o.failures.clone())
            {
                eprintln!("chaos:   {line}");
            }
        }
        (None, error) => eprintln!(
            "chaos: ERROR {}: {}",
            run.scenario,
            error.as_deref().unwrap_or("unknown")
        ),
    }
}
