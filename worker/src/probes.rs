//! Native probes on the worker: discovery every `CLAUDEOPS_DISCOVERY_INTERVAL`
//! (repos under `CLAUDEOPS_REPOS_DIR` and the local Docker Engine's containers),
//! each probe on its own interval, every attempt reported to the control plane, and
//! an immediate re-run when the control plane asks (to verify a fix).
//!
//! Runs beside the link, whether or not the control plane is reachable: a report
//! made while disconnected is dropped, since the next one carries each probe's
//! state again. The inventory is kept by the link and sent again on every connect.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use tokio::time::Instant;

use claudeops_core::health::ProbeAttempt;
use claudeops_core::inventory::{Inventory, Problem};
use claudeops_core::link::{FromWorker, ProbeReport, ProbeSet, ReprobeRequest, ReprobeResult};
use claudeops_core::probe::{Health, ProbeKind, ProbeSpec, Source};
use claudeops_discovery::{ContainerInfo, PublishedPort};
use claudeops_probe::docker::{ContainerSummary, Docker};
use claudeops_probe::{Attempt, Prober, SpecError};
use tokio::sync::mpsc;

use crate::config::WorkerConfig;
use crate::link::LinkCommand;

/// Results per report message, so one message stays small.
const REPORT_BATCH: usize = 250;

/// What the link hands the probe loop from the control plane.
#[derive(Debug)]
pub enum ProbeCommand {
    /// Run these probes now and answer.
    Reprobe(ReprobeRequest),
    /// The site's probes added from the dashboard, replacing the last set.
    Set(ProbeSet),
}

/// The specs of a probe set from the control plane; one that does not parse is
/// left out with a warning (the control plane checked each before storing it).
pub fn ui_specs(set: &ProbeSet) -> Vec<ProbeSpec> {
    set.probes
        .iter()
        .filter_map(|json| match serde_json::from_str::<ProbeSpec>(json) {
            Ok(mut spec) => {
                spec.source = Source::Builtin;
                Some(spec)
            }
            Err(error) => {
                tracing::warn!(%error, "a dashboard probe from the control plane does not parse; skipped");
                None
            }
        })
        .collect()
}

/// The probes to run: the repo-defined ones, then the dashboard ones whose name no
/// repo probe has. Returns the names of the dashboard probes left out for a clash.
pub fn merge(repo: &[ProbeSpec], ui: &[ProbeSpec]) -> (Vec<ProbeSpec>, Vec<String>) {
    let taken: HashSet<&str> = repo.iter().map(|s| s.name.as_str()).collect();
    let mut all = repo.to_vec();
    let mut clashes = Vec::new();
    for spec in ui {
        if taken.contains(spec.name.as_str()) {
            clashes.push(spec.name.clone());
        } else {
            all.push(spec.clone());
        }
    }
    (all, clashes)
}

/// The probe kind's name from a spec's URL scheme, as reported and shown.
pub fn kind_of(spec: &ProbeSpec) -> &'static str {
    ProbeKind::from_url(&spec.url).map_or("unknown", ProbeKind::name)
}

/// One attempt as the control plane records it, with the probe's state after it.
fn attempt_record(attempt: Attempt, kind: &str, health: Option<Health>) -> ProbeAttempt {
    let at_ms = attempt
        .at
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    ProbeAttempt {
        probe: attempt.probe,
        service: attempt.service,
        kind: kind.to_owned(),
        ok: attempt.ok,
        latency_ms: i64::try_from(attempt.latency.as_millis()).unwrap_or(i64::MAX),
        message: attempt.message,
        // Evidence matters for failures; a passing attempt's body is noise.
        evidence: if attempt.ok {
            String::new()
        } else {
            attempt.evidence
        },
        at_ms,
        state: health.unwrap_or(Health::Unknown),
    }
}

/// A spec that did not compile, as an inventory problem naming its file and line.
fn spec_problem(error: &SpecError, specs: &[ProbeSpec]) -> Problem {
    let source = specs
        .iter()
        .find(|s| s.name == error.probe)
        .map(|s| s.source.clone());
    let (path, line) = match source {
        Some(Source::File { path, line }) => (path, Some(line)),
        Some(Source::Container { name }) => (format!("container:{name}"), None),
        _ => (format!("probe {}", error.probe), None),
    };
    Problem {
        path,
        line,
        message: format!("probe {}: {}: {}", error.probe, error.field, error.problem),
    }
}

fn container_info(c: &ContainerSummary) -> ContainerInfo {
    ContainerInfo {
        name: c.name.trim_start_matches('/').to_owned(),
        id: c.id.clone(),
        image: c.image.clone(),
        state: c.state.clone(),
        labels: c.labels.clone(),
        ports: c
            .ports
            .iter()
            .map(|p| PublishedPort {
                private: p.private,
                public: p.public,
                protocol: p.protocol.clone(),
                ip: p.ip.clone(),
            })
            .collect(),
        compose_project: None,
        compose_service: None,
        // The list endpoint shows a healthcheck only through the status text.
        has_healthcheck: c.status.contains("health"),
    }
}

/// Whether a container carries `selector` (`KEY` or `KEY=VALUE`); no selector
/// selects every container.
/// One probe cycle as a trace of its own (a root span), its attempts as
/// events: a cycle of a thousand probes is one span, not a thousand.
pub fn cycle_span(
    started: std::time::SystemTime,
    took: std::time::Duration,
    attempts: &[ProbeAttempt],
) -> claudeops_telemetry::SpanRecord {
    let down = attempts.iter().filter(|a| !a.ok).count();
    let mut span = claudeops_telemetry::SpanRecord::new(
        "probe cycle",
        claudeops_telemetry::TraceContext::new_root("probe cycle"),
        None,
        started,
        started + took,
    )
    .attr("claudeops.probes", attempts.len() as i64)
    .attr("claudeops.probes_down", down as i64);
    let kept = claudeops_telemetry::trace::MAX_EVENTS;
    if attempts.len() > kept {
        span = span.attr(
            "claudeops.attempts_not_recorded",
            (attempts.len() - kept) as i64,
        );
    }
    // What failed first: a span keeps only its first events.
    let (failed, passed): (Vec<&ProbeAttempt>, Vec<&ProbeAttempt>) =
        attempts.iter().partition(|a| !a.ok);
    span.events = failed
        .into_iter()
        .chain(passed)
        .take(claudeops_telemetry::trace::MAX_EVENTS)
        .map(|a| {
            (
                std::borrow::Cow::Borrowed("attempt"),
                UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(a.at_ms).unwrap_or(0)),
                vec![
                    claudeops_telemetry::KeyValue::new("claudeops.probe", a.probe.clone()),
                    claudeops_telemetry::KeyValue::new("claudeops.probe.kind", a.kind.clone()),
                    claudeops_telemetry::KeyValue::new("claudeops.probe.ok", a.ok),
                    claudeops_telemetry::KeyValue::new("claudeops.probe.latency_ms", a.latency_ms),
                ],
            )
        })
        .collect();
    if down > 0 {
        span.error = Some(format!("{down} of {} probes down", attempts.len()));
    }
    span
}

pub fn has_label(c: &ContainerSummary, selector: Option<&str>) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    match selector.split_once('=') {
        Some((key, value)) => c.labels.get(key.trim()).is_some_and(|v| v == value.trim()),
        None => c.labels.contains_key(selector.trim()),
    }
}

/// The containers discovery should see: every live one (with the label, when one
/// is set), and every one this worker has seen live before (so a container that
/// crashed and exited keeps its probe, and its incident, instead of vanishing from
/// the inventory).
pub fn containers_to_watch(
    all: &[ContainerSummary],
    selector: Option<&str>,
    seen: &mut HashSet<String>,
) -> Vec<ContainerInfo> {
    let mut out = Vec::new();
    for c in all.iter().filter(|c| has_label(c, selector)) {
        let name = c.name.trim_start_matches('/').to_owned();
        let live = matches!(c.state.as_str(), "running" | "restarting" | "paused");
        if live {
            seen.insert(name.clone());
        }
        if live || seen.contains(&name) {
            out.push(container_info(c));
        }
    }
    out
}

pub struct ProbeLoop {
    repos_dir: PathBuf,
    docker: Option<Docker>,
    interval: std::time::Duration,
    out: mpsc::Sender<LinkCommand>,
    reprobes: mpsc::Receiver<ProbeCommand>,
    prober: Prober,
    /// The repo-defined (and container) probes of the last discovery.
    repo_specs: Vec<ProbeSpec>,
    /// The dashboard probes of the last set, and its version.
    ui_specs: Vec<ProbeSpec>,
    ui_version: u64,
    kinds: HashMap<String, &'static str>,
    seen: HashSet<String>,
    container_label: Option<String>,
    last_inventory: String,
    docker_problem: Option<String>,
}

impl ProbeLoop {
    pub fn new(
        config: &WorkerConfig,
        out: mpsc::Sender<LinkCommand>,
        reprobes: mpsc::Receiver<ProbeCommand>,
    ) -> ProbeLoop {
        let (docker, docker_problem) = if config.discover_containers {
            match Docker::from_env() {
                Ok(d) => (Some(d), None),
                Err(e) => (None, Some(e.to_string())),
            }
        } else {
            (None, None)
        };
        ProbeLoop {
            repos_dir: config.repos_dir.clone(),
            docker,
            interval: config.discovery_interval(),
            out,
            reprobes,
            prober: Prober::new(&[])
                .0
                .with_concurrency(config.probe_concurrency),
            repo_specs: Vec::new(),
            ui_specs: Vec::new(),
            ui_version: 0,
            kinds: HashMap::new(),
            seen: HashSet::new(),
            container_label: config.container_label.clone(),
            last_inventory: String::new(),
            docker_problem,
        }
    }

    pub async fn run(mut self) {
        let mut discovery = tokio::time::interval(self.interval);
        discovery.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let next = self.prober.next_due();
            let due = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = discovery.tick() => self.rediscover().await,
                () = due => {
                    let started = std::time::SystemTime::now();
                    let clock = Instant::now();
                    let report = self.prober.run_due(clock).await;
                    let took = clock.elapsed();
                    metrics::histogram!(claudeops_telemetry::names::WORKER_PROBE_CYCLE)
                        .record(took.as_secs_f64());
                    let records = self.records(report.attempts);
                    if claudeops_telemetry::trace::enabled() {
                        cycle_span(started, took, &records).record();
                    }
                    self.report(records).await;
                }
                command = self.reprobes.recv() => match command {
                    Some(ProbeCommand::Reprobe(request)) => self.reprobe(request).await,
                    Some(ProbeCommand::Set(set)) => self.take_set(set).await,
                    None => return,
                },
            }
        }
    }

    async fn rediscover(&mut self) {
        let mut problems = Vec::new();
        let containers = match &self.docker {
            Some(docker) => match docker.list_containers(true).await {
                Ok(all) => {
                    containers_to_watch(&all, self.container_label.as_deref(), &mut self.seen)
                }
                Err(e) => {
                    problems.push(format!("the Docker Engine did not answer: {e}"));
                    Vec::new()
                }
            },
            None => {
                if let Some(p) = &self.docker_problem {
                    problems.push(format!("no Docker Engine to discover containers from: {p}"));
                }
                Vec::new()
            }
        };
        let repos = self.repos_dir.clone();
        let inventory =
            tokio::task::spawn_blocking(move || claudeops_discovery::discover(&repos, &containers))
                .await;
        let mut inventory: Inventory = match inventory {
            Ok(inventory) => inventory,
            Err(error) => {
                tracing::error!(%error, "discovery failed; keeping the probes as they were");
                return;
            }
        };
        self.repo_specs = inventory.probes.clone();
        let (all, _) = self.merged();
        let errors = self.prober.replace(&all);
        for error in &errors {
            inventory.problems.push(spec_problem(error, &all));
        }
        inventory
            .problems
            .extend(crate::workspace::mcp_problems(&inventory.repos));
        for p in problems {
            inventory.problems.push(Problem::new("docker", None, p));
        }
        self.kinds = all.iter().map(|s| (s.name.clone(), kind_of(s))).collect();
        let names: Vec<String> = self.prober.states().into_iter().map(|(n, _)| n).collect();
        metrics::gauge!(claudeops_telemetry::names::WORKER_PROBES).set(names.len() as f64);
        match inventory.to_json() {
            Ok(json) if json != self.last_inventory => {
                tracing::info!(
                    probes = names.len(),
                    services = inventory.services.len(),
                    problems = inventory.problems.len(),
                    "discovery found a new inventory"
                );
                self.last_inventory = json.clone();
                let _ = self.out.send(LinkCommand::Inventory(json)).await;
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "could not encode the inventory"),
        }
        let set = ProbeReport {
            attempts: Vec::new(),
            complete_set: true,
            probe_names: names,
        };
        self.send(FromWorker::Probes(set)).await;
    }

    /// The repo probes and the dashboard probes together, warning once per clash.
    fn merged(&self) -> (Vec<ProbeSpec>, Vec<String>) {
        let (all, clashes) = merge(&self.repo_specs, &self.ui_specs);
        for name in &clashes {
            tracing::warn!(probe = %name, "a repo probe has the name of a dashboard probe; the repo's runs");
        }
        (all, clashes)
    }

    /// A new set of dashboard probes: run it beside the repo probes from now on,
    /// and tell the control plane the whole set of names.
    async fn take_set(&mut self, set: ProbeSet) {
        if set.version < self.ui_version {
            return;
        }
        self.ui_version = set.version;
        self.ui_specs = ui_specs(&set);
        tracing::info!(
            probes = self.ui_specs.len(),
            version = set.version,
            "the control plane sent the dashboard probes"
        );
        let (all, _) = self.merged();
        for error in self.prober.replace(&all) {
            tracing::warn!(probe = %error.probe, field = %error.field, problem = %error.problem, "a probe does not compile");
        }
        self.kinds = all.iter().map(|s| (s.name.clone(), kind_of(s))).collect();
        let names: Vec<String> = self.prober.states().into_iter().map(|(n, _)| n).collect();
        metrics::gauge!(claudeops_telemetry::names::WORKER_PROBES).set(names.len() as f64);
        let set = ProbeReport {
            attempts: Vec::new(),
            complete_set: true,
            probe_names: names,
        };
        self.send(FromWorker::Probes(set)).await;
    }

    fn records(&self, attempts: Vec<Attempt>) -> Vec<ProbeAttempt> {
        attempts
            .into_iter()
            .map(|a| {
                let kind = self.kinds.get(&a.probe).copied().unwrap_or("unknown");
                let health = self.prober.health(&a.probe);
                attempt_record(a, kind, health)
            })
            .collect()
    }

    async fn report(&mut self, mut results: Vec<ProbeAttempt>) {
        if results.is_empty() {
            return;
        }
        while !results.is_empty() {
            let rest = results.split_off(results.len().min(REPORT_BATCH));
            let batch = std::mem::replace(&mut results, rest);
            let report = ProbeReport {
                attempts: batch,
                complete_set: false,
                probe_names: Vec::new(),
            };
            self.send(FromWorker::Probes(report)).await;
        }
    }

    async fn reprobe(&mut self, request: ReprobeRequest) {
        let known: Vec<&str> = request
            .probes
            .iter()
            .map(String::as_str)
            .filter(|n| self.prober.health(n).is_some())
            .collect();
        let unknown: Vec<String> = request
            .probes
            .iter()
            .filter(|n| self.prober.health(n).is_none())
            .cloned()
            .collect();
        tracing::info!(request = request.request_id, probes = ?known, "re-running probes for the control plane");
        let report = self.prober.run_now(&known).await;
        let attempts = self.records(report.attempts);
        let answer = ReprobeResult {
            request_id: request.request_id,
            attempts,
            unknown,
        };
        self.send(FromWorker::Reprobed(answer)).await;
    }

    async fn send(&self, msg: FromWorker) {
        let _ = self.out.send(LinkCommand::Send(msg)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn spec(url: &str) -> ProbeSpec {
        serde_json::from_value(serde_json::json!({"name": "x", "url": url}))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn named(name: &str, url: &str) -> ProbeSpec {
        serde_json::from_value(serde_json::json!({"name": name, "url": url}))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn dashboard_probes_run_beside_repo_probes_and_the_repo_wins_a_clash() {
        let repo = vec![
            named("web", "http://127.0.0.1:1/"),
            named("db", "tcp://127.0.0.1:5432"),
        ];
        let set = ProbeSet {
            probes: vec![
                r#"{"name":"web","url":"http://192.0.2.1/"}"#.to_owned(),
                r#"{"name":"extra","url":"tcp://127.0.0.1:9","interval":"15s"}"#.to_owned(),
                "not json".to_owned(),
                r#"{"name":"bad","url":"http://x","nope":1}"#.to_owned(),
            ],
            version: 3,
        };
        let ui = ui_specs(&set);
        assert_eq!(
            ui.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["web", "extra"],
            "a spec that does not parse is left out"
        );
        assert_eq!(ui[1].interval(), std::time::Duration::from_secs(15));
        assert_eq!(ui[1].source, Source::Builtin);
        let (all, clashes) = merge(&repo, &ui);
        assert_eq!(clashes, ["web"]);
        assert_eq!(
            all.iter()
                .map(|s| (s.name.as_str(), s.url.as_str()))
                .collect::<Vec<_>>(),
            [
                ("web", "http://127.0.0.1:1/"),
                ("db", "tcp://127.0.0.1:5432"),
                ("extra", "tcp://127.0.0.1:9")
            ]
        );
        let (only_ui, none) = merge(&[], &ui);
        assert!(none.is_empty());
        assert_eq!(only_ui.len(), 2);
    }

    #[test]
    fn a_condition_gatus_rejects_is_a_problem_at_its_file_and_line() {
        let mut bad = named("web", "http://127.0.0.1:1/");
        bad.conditions = vec!["[STATUS] === 200".into()];
        bad.source = Source::File {
            path: "homelab/.claude-ops/probes/web.yaml".into(),
            line: 7,
        };
        let error = match claudeops_probe::Probe::compile(&bad) {
            Ok(_) => panic!("`===` compiled"),
            Err(error) => error,
        };
        let problem = spec_problem(&error, &[bad]);
        assert_eq!(problem.path, "homelab/.claude-ops/probes/web.yaml");
        assert_eq!(problem.line, Some(7));
        assert!(
            problem.message.contains("conditions[0]")
                && problem.message.contains("`===` is not an operator"),
            "{}",
            problem.message
        );
    }

    #[test]
    fn kinds_from_schemes() {
        for (url, kind) in [
            ("https://a/b", "http"),
            ("HTTP://a", "http"),
            ("tcp://a:1", "tcp"),
            ("tls://a:443", "tls"),
            ("dns://127.0.0.1:53", "dns"),
            ("docker://web", "docker"),
            ("postgresql://u@h/db", "postgres"),
            ("redis://h:6379", "redis"),
            ("mariadb://h/db", "mysql"),
            ("ftp://h", "unknown"),
        ] {
            assert_eq!(kind_of(&spec(url)), kind, "{url}");
        }
    }

    fn summary(name: &str, state: &str) -> ContainerSummary {
        ContainerSummary {
            name: format!("/{name}"),
            id: format!("id-{name}"),
            image: "img".to_owned(),
            state: state.to_owned(),
            status: "Up 3 minutes (healthy)".to_owned(),
            labels: BTreeMap::new(),
            ports: Vec::new(),
        }
    }

    #[test]
    fn a_container_seen_live_stays_watched_after_it_exits() {
        let mut seen = HashSet::new();
        let first = containers_to_watch(
            &[summary("web", "running"), summary("old", "exited")],
            None,
            &mut seen,
        );
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].name, "web");
        assert!(first[0].has_healthcheck);
        let later = containers_to_watch(
            &[summary("web", "exited"), summary("old", "exited")],
            None,
            &mut seen,
        );
        assert_eq!(later.len(), 1, "web crashed: still watched, old never was");
        assert_eq!(later[0].name, "web");
    }

    #[test]
    fn a_label_selects_containers() {
        let mut labelled = summary("a", "running");
        labelled
            .labels
            .insert("claudeops.test".to_owned(), "t1".to_owned());
        let plain = summary("b", "running");
        for (selector, a, b) in [
            (None, true, true),
            (Some("claudeops.test"), true, false),
            (Some("claudeops.test=t1"), true, false),
            (Some("claudeops.test=t2"), false, false),
        ] {
            assert_eq!(has_label(&labelled, selector), a, "{selector:?}");
            assert_eq!(has_label(&plain, selector), b, "{selector:?}");
        }
        let mut seen = HashSet::new();
        let watched = containers_to_watch(&[labelled, plain], Some("claudeops.test"), &mut seen);
        assert_eq!(watched.len(), 1);
    }

    #[test]
    fn passing_attempts_carry_no_evidence() {
        let attempt = |ok| Attempt {
            probe: "p".to_owned(),
            service: "s".to_owned(),
            ok,
            latency: std::time::Duration::from_millis(12),
            message: "m".to_owned(),
            evidence: "body".to_owned(),
            at: UNIX_EPOCH + std::time::Duration::from_secs(5),
        };
        let up = attempt_record(attempt(true), "http", Some(Health::Up));
        assert_eq!(
            (up.evidence.as_str(), up.latency_ms, up.at_ms),
            ("", 12, 5_000)
        );
        assert_eq!(up.state, Health::Up);
        let down = attempt_record(attempt(false), "http", Some(Health::Down));
        assert_eq!(down.evidence, "body");
        assert_eq!(down.state, Health::Down);
    }

    #[test]
    fn a_cycle_is_one_span_with_its_failures_first() {
        let attempt = |probe: &str, ok| {
            let mut a = attempt_record(
                Attempt {
                    probe: probe.to_owned(),
                    service: "s".to_owned(),
                    ok,
                    latency: std::time::Duration::from_millis(3),
                    message: "m".to_owned(),
                    evidence: String::new(),
                    at: UNIX_EPOCH + std::time::Duration::from_secs(5),
                },
                "tcp",
                None,
            );
            a.kind = "tcp".into();
            a
        };
        let started = UNIX_EPOCH + std::time::Duration::from_secs(5);
        let attempts = [attempt("a", true), attempt("b", false), attempt("c", true)];
        let span = cycle_span(started, std::time::Duration::from_millis(40), &attempts);
        assert_eq!(span.name, "probe cycle");
        assert_eq!(span.parent, None, "a cycle is a trace of its own");
        assert_eq!(span.end, started + std::time::Duration::from_millis(40));
        assert_eq!(span.events.len(), 3, "one event per attempt");
        let first_probe = span.events[0]
            .2
            .iter()
            .find(|kv| kv.key.as_str() == "claudeops.probe")
            .map(|kv| kv.value.to_string());
        assert_eq!(first_probe.as_deref(), Some("b"), "the failure comes first");
        assert_eq!(span.error.as_deref(), Some("1 of 3 probes down"));
    }
}
