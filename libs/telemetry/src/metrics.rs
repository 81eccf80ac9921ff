//! Prometheus metrics: the process's recorder, the names every part uses,
//! and the merge of workers' metrics into the control plane's one scrape.
//!
//! Labels are bounded: site, tier, trigger, status, kind, model, result,
//! worker; never a session id, a command or a free text.

use std::collections::BTreeMap;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Buckets of time histograms, in seconds (a store call's or a probe's
/// latency up to a session's duration).
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];
/// Buckets of cost histograms, in US dollars.
const DOLLARS: &[f64] = &[0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0];

/// What [`install`] could not do.
#[derive(Debug, thiserror::Error)]
#[error("the metrics recorder cannot be installed: {0}")]
pub struct MetricsError(String);

/// Installs the process's Prometheus recorder and names every metric the
/// process records (`describe`). The handle renders the exposition text.
pub fn install(describe: fn()) -> Result<PrometheusHandle, MetricsError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_usd".into()), DOLLARS))
        .map_err(|e| MetricsError(e.to_string()))?
        .install_recorder()
        .map_err(|e| MetricsError(e.to_string()))?;
    crate::names::describe_common();
    describe();
    let _ = INSTALLED.set(handle.clone());
    Ok(handle)
}

static INSTALLED: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();

/// The process's recorder, once [`install`]ed.
pub fn installed() -> Option<&'static PrometheusHandle> {
    INSTALLED.get()
}

/// The exposition text of `handle`, after the recorder's upkeep.
pub fn render(handle: &PrometheusHandle) -> String {
    handle.run_upkeep();
    handle.render()
}

/// Most a worker's exposition may weigh; more is refused whole.
pub const MAX_EXPOSITION: usize = 256 * 1024;

/// A metric family gathered from several sources.
#[derive(Debug, Default, Clone, PartialEq)]
struct Family {
    help: Option<String>,
    kind: Option<String>,
    samples: Vec<String>,
}

/// Why a worker's exposition was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExpositionError {
    #[error("the exposition is {0} bytes, over the {MAX_EXPOSITION}-byte limit")]
    TooLarge(usize),
    #[error("line {line}: {why}")]
    Line { line: usize, why: &'static str },
}

/// Metric families from several sources (the workers), each sample labelled
/// with its source, rendered as one exposition: one `# HELP` and `# TYPE`
/// per family, whatever the number of sources.
#[derive(Debug, Default, Clone)]
pub struct Merged {
    families: BTreeMap<String, Family>,
}

impl Merged {
    /// Adds one source's exposition text, each sample given `labels` (which
    /// must not appear in it). All or nothing: a bad line refuses the whole
    /// text.
    pub fn add(&mut self, text: &str, labels: &[(&str, &str)]) -> Result<(), ExpositionError> {
        if text.len() > MAX_EXPOSITION {
            return Err(ExpositionError::TooLarge(text.len()));
        }
        let extra: String = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect::<Vec<_>>()
            .join(",");
        let mut staged: BTreeMap<String, Family> = BTreeMap::new();
        let mut current: Option<String> = None;
        for (i, line) in text.lines().enumerate() {
            let bad = |why| ExpositionError::Line { line: i + 1, why };
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                let mut words = comment.trim_start().splitn(3, ' ');
                let (Some(keyword), Some(name)) = (words.next(), words.next()) else {
                    continue;
                };
                let rest = words.next().unwrap_or("").to_owned();
                match keyword {
                    "HELP" | "TYPE" => {
                        if !is_name(name) {
                            return Err(bad("a family name that is not a metric name"));
                        }
                        let family = staged.entry(name.to_owned()).or_default();
                        if keyword == "HELP" {
                            family.help = Some(rest);
                        } else {
                            if !matches!(
                                rest.as_str(),
                                "counter" | "gauge" | "histogram" | "summary" | "untyped"
                            ) {
                                return Err(bad("an unknown metric type"));
                            }
                            family.kind = Some(rest);
                            current = Some(name.to_owned());
                        }
                    }
                    _ => {}
                }
                continue;
            }
            let name_end = line
                .find(['{', ' '])
                .ok_or(bad("a sample without a value"))?;
            let name = &line[..name_end];
            if !is_name(name) {
                return Err(bad("a sample whose name is not a metric name"));
            }
            let rest = &line[name_end..];
            let sample = if let Some(body) = rest.strip_prefix('{') {
                let close = body
                    .rfind('}')
                    .ok_or(bad("labels without a closing brace"))?;
                let (inner, value) = body.split_at(close);
                let read = labels_of(inner).ok_or(bad("labels that cannot be read"))?;
                if read
                    .iter()
                    .any(|(key, _)| labels.iter().any(|(k, _)| k == key))
                {
                    return Err(bad("a label the control plane adds itself"));
                }
                let sep = if inner.trim().is_empty() || extra.is_empty() {
                    ""
                } else {
                    ","
                };
                format!("{name}{{{extra}{sep}{inner}{value}")
            } else if extra.is_empty() {
                line.to_owned()
            } else {
                format!("{name}{{{extra}}}{rest}")
            };
            let family = match &current {
                Some(f) if name == f || family_suffix(name, f) => f.clone(),
                _ => name.to_owned(),
            };
            staged.entry(family).or_default().samples.push(sample);
        }
        for (name, family) in staged {
            let into = self.families.entry(name).or_default();
            if into.kind.is_some() && family.kind.is_some() && into.kind != family.kind {
                continue; // Two sources disagree on the type: keep the first.
            }
            into.help = into.help.take().or(family.help);
            into.kind = into.kind.take().or(family.kind);
            into.samples.extend(family.samples);
        }
        Ok(())
    }

    /// Adds one gauge sample computed by the caller (not read from a text).
    pub fn gauge(&mut self, name: &str, value: f64, labels: &[(&str, &str)]) {
        let family = self.families.entry(name.to_owned()).or_default();
        family.kind.get_or_insert_with(|| "gauge".to_owned());
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        family.samples.push(if labels.is_empty() {
            format!("{name} {value}")
        } else {
            format!("{name}{{{}}} {value}", labels.join(","))
        });
    }

    /// The exposition text of every family, sorted by name.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, family) in &self.families {
            if family.samples.is_empty() {
                continue;
            }
            if let Some(help) = &family.help {
                out.push_str(&format!("# HELP {name} {help}\n"));
            }
            if let Some(kind) = &family.kind {
                out.push_str(&format!("# TYPE {name} {kind}\n"));
            }
            for sample in &family.samples {
                out.push_str(sample);
                out.push('\n');
            }
        }
        out
    }
}

fn family_suffix(sample: &str, family: &str) -> bool {
    sample
        .strip_prefix(family)
        .is_some_and(|s| matches!(s, "_bucket" | "_sum" | "_count"))
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `key="value",...` read into pairs; `None` when it is not that.
fn labels_of(inner: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim();
        if !is_name(key) || key.contains(':') {
            return None;
        }
        let after = rest[eq + 1..].trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => value.push(chars.next()?.1),
                '"' => break i,
                c => value.push(c),
            }
        };
        out.push((key.to_owned(), value));
        rest = after[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Some(out)
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serves `GET /metrics` (the process's own metrics) on `addr`, one HTTP/1
/// connection per task; anything else is 404. For a worker that should be
/// scraped directly (`CLAUDEOPS_METRICS_ADDR`).
pub async fn serve(addr: std::net::SocketAddr) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of descriptors, say: wait rather than spin.
                    tracing::warn!(%error, "the metrics listener cannot accept");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    continue;
                }
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req| async move { answer(&req) });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    Ok(bound)
}

fn answer<B>(
    req: &hyper::Request<B>,
) -> Result<hyper::Response<http_body_util::Full<bytes::Bytes>>, hyper::http::Error> {
    use http_body_util::Full;
    use hyper::{Method, Response, StatusCode};
    if req.method() == Method::GET && req.uri().path() == "/metrics" {
        let body = installed().map(render).unwrap_or_default();
        Response::builder()
            .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
            .body(Full::new(bytes::Bytes::from(body)))
    } else {
        Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(bytes::Bytes::from_static(b"only GET /metrics\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKER: &str = "\
# HELP claudeops_worker_tool_calls_total Tool calls.
# TYPE claudeops_worker_tool_calls_total counter
claudeops_worker_tool_calls_total{tool=\"Bash\",decision=\"allowed\"} 3
# TYPE claudeops_worker_sessions_running gauge
claudeops_worker_sessions_running 1
# TYPE claudeops_worker_probe_cycle_seconds histogram
claudeops_worker_probe_cycle_seconds_bucket{le=\"0.1\"} 2
claudeops_worker_probe_cycle_seconds_bucket{le=\"+Inf\"} 3
claudeops_worker_probe_cycle_seconds_sum 0.4
claudeops_worker_probe_cycle_seconds_count 3
";

    #[test]
    fn two_workers_make_one_family_each_with_their_labels() {
        let mut merged = Merged::default();
        merged
            .add(WORKER, &[("site", "home"), ("worker", "w1")])
            .unwrap_or_else(|e| panic!("{e}"));
        merged
            .add(WORKER, &[("site", "lab \"2\""), ("worker", "w2")])
            .unwrap_or_else(|e| panic!("{e}"));
        let text = merged.render();
        assert_eq!(
            text.matches("# TYPE claudeops_worker_tool_calls_total counter")
                .count(),
            1,
            "{text}"
        );
        assert!(text.contains(
            "claudeops_worker_tool_calls_total{site=\"home\",worker=\"w1\",tool=\"Bash\",decision=\"allowed\"} 3"
        ), "{text}");
        assert!(
            text.contains(
                "claudeops_worker_sessions_running{site=\"lab \\\"2\\\"\",worker=\"w2\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "claudeops_worker_probe_cycle_seconds_count{site=\"home\",worker=\"w1\"} 3"
            )
        );
        // The histogram's samples stay under their family's one TYPE line.
        let hist = text
            .find("# TYPE claudeops_worker_probe_cycle_seconds histogram")
            .unwrap_or_else(|| panic!("no histogram family: {text}"));
        let next_family = text[hist + 1..]
            .find("# TYPE")
            .map(|i| i + hist + 1)
            .unwrap_or(text.len());
        assert_eq!(
            text[hist..next_family].matches("_bucket{").count(),
            4,
            "{text}"
        );
    }

    #[test]
    fn a_source_without_labels_is_kept_as_it_is() {
        let mut merged = Merged::default();
        merged
            .add("# TYPE x counter\nx{reason=\"a\"} 2\ny 1\n", &[])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            merged.render(),
            "# TYPE x counter\nx{reason=\"a\"} 2\ny 1\n"
        );
    }

    #[test]
    fn computed_gauges_join_their_family() {
        let mut merged = Merged::default();
        merged.gauge("up", 1.0, &[("site", "a \"b\"")]);
        merged.gauge("up", 0.5, &[]);
        assert_eq!(
            merged.render(),
            "# TYPE up gauge\nup{site=\"a \\\"b\\\"\"} 1\nup 0.5\n"
        );
    }

    #[test]
    fn bad_expositions_are_refused_whole() {
        for (text, why) in [
            ("bad-name 1\n", "a sample whose name is not a metric name"),
            ("x{a=\"1\" 2\n", "labels without a closing brace"),
            ("x{a=1} 2\n", "labels that cannot be read"),
            (
                "x{site=\"other\"} 2\n",
                "a label the control plane adds itself",
            ),
            ("# TYPE x bogus\nx 1\n", "an unknown metric type"),
            ("x\n", "a sample without a value"),
        ] {
            let mut merged = Merged::default();
            merged
                .add("ok 1\n", &[("site", "a")])
                .unwrap_or_else(|e| panic!("{e}"));
            let err = merged
                .add(text, &[("site", "b")])
                .err()
                .unwrap_or_else(|| panic!("{text:?} was accepted"));
            assert!(
                matches!(err, ExpositionError::Line { why: w, .. } if w == why),
                "{text:?}: {err}"
            );
            assert_eq!(merged.render(), "ok{site=\"a\"} 1\n");
        }
        let huge = "x 1\n".repeat(MAX_EXPOSITION / 4 + 1);
        assert!(matches!(
            Merged::default().add(&huge, &[]),
            Err(ExpositionError::TooLarge(_))
        ));
    }
}
