//! `docker://NAME`: a container's state from the Docker Engine: running, health,
//! restarts (a crash loop is `restarting`, or a restart count that rose since the
//! last attempt), OOM kill and exit code, with its last log lines as evidence.

use crate::docker::{Docker, DockerError};
use crate::observation::{ContainerFacts, Observation};
use crate::probe::{Ctx, Probe, SpecError};

/// Log lines kept as evidence.
const LOG_LINES: usize = 20;

#[derive(Debug)]
pub(crate) struct DockerTarget {
    pub container: String,
    pub docker: Docker,
}

pub(crate) fn compile(ctx: &mut Ctx<'_>, url: &str) -> Result<DockerTarget, SpecError> {
    let name = url
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'))
        .unwrap_or_default();
    let valid = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid {
        return Err(ctx.error(
            "url",
            format!("`{name}` is not a container name or id; write `docker://NAME`"),
        ));
    }
    let docker = Docker::from_env().map_err(|e| ctx.error("url", e.to_string()))?;
    Ok(DockerTarget {
        container: name.to_owned(),
        docker,
    })
}

pub(crate) async fn observe(t: &DockerTarget, probe: &Probe) -> Observation {
    let details = match t.docker.inspect(&t.container).await {
        Ok(d) => d,
        Err(DockerError::NotFound(_)) => {
            let mut obs = Observation::failed(format!("container `{}` not found", t.container));
            obs.connected = true;
            return obs;
        }
        Err(e) => return Observation::failed(e.to_string()),
    };
    let s = &details.state;
    let crash_loop = {
        let mut memory = probe.memory();
        let rose = memory
            .restart_count
            .is_some_and(|before| details.restart_count > before);
        memory.restart_count = Some(details.restart_count);
        s.restarting || rose
    };
    let facts = ContainerFacts {
        // A paused container is "running" to the engine, yet answers nothing.
        running: s.running && !s.restarting && s.status != "paused",
        state: s.status.clone(),
        health: s.health.clone(),
        restart_count: details.restart_count,
        oom_killed: s.oom_killed,
        exit_code: s.exit_code,
        crash_loop,
    };
    let mut summary = vec![s.status.clone()];
    if s.health != "none" {
        summary.push(s.health.clone());
    }
    summary.push(format!("{} restarts", details.restart_count));
    if crash_loop {
        summary.push("crash-looping".to_owned());
    }
    if s.oom_killed {
        summary.push("oom-killed".to_owned());
    }
    if !s.running || s.exit_code != 0 {
        summary.push(format!("exit code {}", s.exit_code));
    }
    if !s.error.is_empty() {
        summary.push(format!("error: {}", s.error));
    }
    let mut evidence = format!(
        "container: {} ({})\nimage: {}\nstate: {} (started {}, finished {})\nhealth: {} (failing streak {})\nrestarts: {} (policy {})\noom-killed: {}\nexit code: {}\n",
        details.name,
        details.id.chars().take(12).collect::<String>(),
        details.image,
        s.status,
        s.started_at,
        s.finished_at,
        s.health,
        s.failing_streak,
        details.restart_count,
        details.restart_policy,
        s.oom_killed,
        s.exit_code,
    );
    if let Some(out) = &s.health_output {
        evidence.push_str(&format!(
            "last health check: {}\n",
            crate::attempt::one_line(out, 200)
        ));
    }
    match t.docker.logs(&details.id, LOG_LINES, details.tty).await {
        Ok(lines) => {
            evidence.push_str("logs:\n");
            // Keep the newest lines when the evidence runs long.
            let room = crate::attempt::EVIDENCE_LIMIT.saturating_sub(evidence.len());
            evidence.push_str(&crate::attempt::tail(&lines.join("\n"), room));
        }
        Err(e) => evidence.push_str(&format!("logs unavailable: {e}\n")),
    }
    Observation {
        connected: true,
        container: Some(facts),
        summary: format!("container {}: {}", t.container, summary.join(", ")),
        evidence,
        ..Observation::default()
    }
}
