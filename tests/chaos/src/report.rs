//! The results as JSON (every field of every run) and as one HTML page with a
//! table per model, self-contained (no script, no external style).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::score::Outcome;

/// A whole run of the suite.
#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    /// RFC 3339, UTC.
    pub date: String,
    pub runs: Vec<Run>,
}

/// One scenario run once, or the reason it could not be judged.
#[derive(Debug, Serialize, Deserialize)]
pub struct Run {
    pub scenario: String,
    pub model: crate::run::ModelKind,
    pub repeat: u32,
    pub outcome: Option<Outcome>,
    pub error: Option<String>,
}

impl Run {
    pub fn passed(&self) -> bool {
        self.outcome.as_ref().is_some_and(|o| o.passed)
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn secs(value: Option<f64>) -> String {
    value.map_or("–".to_owned(), |s| format!("{s:.1}"))
}

fn yes(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// Per scenario and model: pass@1 (the first run passed) and pass^k (all k did).
fn pass_rates(runs: &[&Run]) -> (bool, bool) {
    let first = runs
        .iter()
        .find(|r| r.repeat == 1)
        .is_some_and(|r| r.passed());
    let all = !runs.is_empty() && runs.iter().all(|r| r.passed());
    (first, all)
}

impl Report {
    pub fn html(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>Chaos suite: {date}</title>\n<style>\
             body{{font-family:system-ui,sans-serif;margin:2rem;color:#111}}\
             table{{border-collapse:collapse;margin-bottom:2rem}}\
             th,td{{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top}}\
             th{{background:#eee}} .pass{{color:#064}} .fail{{color:#a00;font-weight:bold}}\
             </style></head><body>\n<h1>Chaos suite</h1>\n<p>Run {date} (UTC). \
             Columns: <em>detect</em> and <em>fix</em> are seconds from the fault to the incident \
             and to the re-run probes passing; <em>violations</em> lists every change to what the \
             scenario protects (and every action a gate held that ran without a human's approval); \
             <em>refused</em> counts harmful attempts refused; an <em>approval</em> note is a gated \
             action, its decision and how long it waited.</p>\n",
            date = escape(&self.date)
        );
        let mut models: Vec<crate::run::ModelKind> = self.runs.iter().map(|r| r.model).collect();
        models.dedup();
        for model in models {
            let runs: Vec<&Run> = self.runs.iter().filter(|r| r.model == model).collect();
            let passed = runs.iter().filter(|r| r.passed()).count();
            let _ = write!(
                out,
                "<h2>Model: {model:?}</h2>\n<p>{passed} of {} runs passed.</p>\n<table>\
                 <thead><tr><th scope=\"col\">scenario</th><th scope=\"col\">run</th>\
                 <th scope=\"col\">result</th><th scope=\"col\">detect (s)</th>\
                 <th scope=\"col\">root cause</th><th scope=\"col\">repaired</th>\
                 <th scope=\"col\">verified</th><th scope=\"col\">fix (s)</th>\
                 <th scope=\"col\">sessions</th><th scope=\"col\">escalations</th>\
                 <th scope=\"col\">human</th><th scope=\"col\">cost ($)</th>\
                 <th scope=\"col\">refused</th><th scope=\"col\">violations and failures</th>\
                 </tr></thead><tbody>\n",
                runs.len()
            );
            for run in &runs {
                let _ = write!(
                    out,
                    "<tr><th scope=\"row\">{}</th><td>{}</td>",
                    escape(&run.scenario),
                    run.repeat
                );
                match (&run.outcome, &run.error) {
                    (Some(o), _) => {
                        let refused = o.attempts.iter().filter(|a| a.refused).count();
                        let notes: Vec<String> = o
                            .violations
                            .iter()
                            .map(|v| format!("violation: {v}"))
                            .chain(o.failures.iter().cloned())
                            .chain(o.approvals.iter().map(|a| format!("approval: {a}")))
                            .map(|t| escape(&t))
                            .collect();
                        let _ = writeln!(
                            out,
                            "<td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{}/{}</td><td>{}</td></tr>",
                            if o.passed { "pass" } else { "fail" },
                            if o.passed { "pass" } else { "fail" },
                            secs(o.detect_s),
                            o.root_cause_named.map_or("–", yes),
                            yes(o.repaired),
                            yes(o.verified),
                            secs(o.fix_s),
                            o.sessions,
                            o.escalations,
                            yes(o.human),
                            o.cost_usd,
                            refused,
                            o.attempts.len(),
                            notes.join("<br>")
                        );
                    }
                    (None, error) => {
                        let _ = writeln!(
                            out,
                            "<td class=\"fail\">error</td><td colspan=\"12\">{}</td></tr>",
                            escape(error.as_deref().unwrap_or("unknown"))
                        );
                    }
                }
            }
            out.push_str("</tbody></table>\n");
            let mut names: Vec<&str> = runs.iter().map(|r| r.scenario.as_str()).collect();
            names.dedup();
            if runs.iter().any(|r| r.repeat > 1) {
                out.push_str("<table><thead><tr><th scope=\"col\">scenario</th><th scope=\"col\">pass@1</th><th scope=\"col\">pass^k</th></tr></thead><tbody>\n");
                for name in names {
                    let mine: Vec<&Run> = runs
                        .iter()
                        .copied()
                        .filter(|r| r.scenario == name)
                        .collect();
                    let (first, all) = pass_rates(&mine);
                    let _ = writeln!(
                        out,
                        "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>",
                        escape(name),
                        yes(first),
                        yes(all)
                    );
                }
                out.push_str("</tbody></table>\n");
            }
        }
        out.push_str("</body></html>\n");
        out
    }
}
