//! History pages: a probe's and a service's uptime and response times, the
//! public status page, and the embeddable badges. The charts are inline SVG
//! drawn here, server-side, from the view models (no script, no CDN).

use minijinja::context;
use serde::Serialize;

use crate::model::{IncidentView, Layout, ProbeView};
use crate::{Ui, UiError};

/// Uptime over one window ("24 h", "7 d", "30 d"); `None` without attempts.
#[derive(Debug, Clone, Serialize)]
pub struct UptimeView {
    pub window: String,
    pub percent: Option<f64>,
    pub attempts: i64,
}

/// The attempts of one hour or UTC day.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RollupView {
    pub start_ms: i64,
    pub attempts: i64,
    pub successes: i64,
    pub mean_ms: i64,
    pub min_ms: i64,
    pub max_ms: i64,
}

/// `GET /probes/{site}/{name}`.
#[derive(Debug, Clone, Serialize)]
pub struct ProbePage {
    pub layout: Layout,
    pub now_ms: i64,
    /// The probe, its latest attempts oldest first in `history`.
    pub probe: ProbeView,
    pub uptime: Vec<UptimeView>,
    /// Hourly rollups of the last 7 days, oldest first.
    pub hourly: Vec<RollupView>,
    /// Daily rollups of the last 30 days, oldest first.
    pub daily: Vec<RollupView>,
    /// Days before the certificate expires (negative once expired), for
    /// certificate probes.
    pub certificate_days_left: Option<i64>,
    /// The service's open incident, if any.
    pub incidents: Vec<IncidentView>,
}

/// One probe of a service, with its uptime.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceProbe {
    pub probe: ProbeView,
    pub uptime: Vec<UptimeView>,
}

/// `GET /services/{site}/{service}`.
#[derive(Debug, Clone, Serialize)]
pub struct ServicePage {
    pub layout: Layout,
    pub now_ms: i64,
    pub site: String,
    pub service: String,
    /// `up`, `down` or `unknown`: the worst of its probes.
    pub state: String,
    pub uptime: Vec<UptimeView>,
    pub daily: Vec<RollupView>,
    pub probes: Vec<ServiceProbe>,
    /// Its recent incidents, newest first.
    pub incidents: Vec<IncidentView>,
}

/// One service on a public status page: names and numbers only.
#[derive(Debug, Clone, Serialize)]
pub struct StatusService {
    pub name: String,
    pub state: String,
    pub since_ms: i64,
    pub uptime: Vec<UptimeView>,
    pub daily: Vec<RollupView>,
}

/// `GET /status/{slug}`: public, so it carries no message, address, path or
/// session, only what is up, since when, and the uptime.
#[derive(Debug, Clone, Serialize)]
pub struct StatusPage {
    pub version: String,
    pub title: String,
    pub now_ms: i64,
    /// `up`, `down` or `unknown`: the worst of its services.
    pub state: String,
    pub services: Vec<StatusService>,
    /// Services with an open incident, and since when.
    pub open_incidents: Vec<(String, i64)>,
}

const CHART_W: f64 = 720.0;
const CHART_H: f64 = 160.0;
const CHART_PAD_LEFT: f64 = 48.0;
const CHART_PAD: f64 = 12.0;

/// A response-time chart over hourly means: the line, the axis labels, and a
/// text summary for screen readers.
#[derive(Debug, Serialize)]
struct LatencyChart {
    width: f64,
    height: f64,
    line: String,
    area: String,
    /// The points themselves, when few enough to mark (a lone hour shows).
    dots: Vec<(String, String)>,
    max_ms: i64,
    mean_ms: i64,
    y_top: f64,
    y_bottom: f64,
    x_left: f64,
    x_right: f64,
    /// (x, label) per day boundary.
    ticks: Vec<(String, String)>,
    summary: String,
}

fn latency_chart(hourly: &[RollupView], now_ms: i64) -> Option<LatencyChart> {
    let used: Vec<&RollupView> = hourly.iter().filter(|r| r.attempts > 0).collect();
    if used.is_empty() {
        return None;
    }
    let span_ms = 7 * 86_400_000;
    let start = now_ms - span_ms;
    let max_ms = used.iter().map(|r| r.mean_ms).max().unwrap_or(0).max(1);
    let (left, right) = (CHART_PAD_LEFT, CHART_W - CHART_PAD);
    let (top, bottom) = (CHART_PAD, CHART_H - 24.0);
    let x =
        |at: i64| left + (right - left) * ((at - start).clamp(0, span_ms) as f64 / span_ms as f64);
    let y = |ms: i64| bottom - (bottom - top) * (ms.clamp(0, max_ms) as f64 / max_ms as f64);
    let points: Vec<(f64, f64)> = used
        .iter()
        .map(|r| (x(r.start_ms + 1_800_000), y(r.mean_ms)))
        .collect();
    let dots = if points.len() <= 48 {
        points
            .iter()
            .map(|(x, y)| (format!("{x:.1}"), format!("{y:.1}")))
            .collect()
    } else {
        Vec::new()
    };
    let line = points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ");
    let area = match (points.first(), points.last()) {
        (Some(first), Some(last)) => format!(
            "{:.1},{bottom:.1} {line} {:.1},{bottom:.1}",
            first.0, last.0
        ),
        _ => String::new(),
    };
    let day = 86_400_000;
    let ticks = (1..=7)
        .map(|d| {
            let at = (start / day + d) * day;
            (format!("{:.1}", x(at)), crate::filters::utc_day(at))
        })
        .filter(|(tx, _)| tx.parse::<f64>().is_ok_and(|v| v <= right))
        .collect();
    let attempts: i64 = used.iter().map(|r| r.attempts).sum();
    let mean_ms = used.iter().map(|r| r.mean_ms * r.attempts).sum::<i64>() / attempts.max(1);
    let peak = used.iter().map(|r| r.max_ms).max().unwrap_or(0);
    Some(LatencyChart {
        width: CHART_W,
        height: CHART_H,
        line,
        area,
        dots,
        max_ms,
        mean_ms,
        y_top: top,
        y_bottom: bottom,
        x_left: left,
        x_right: right,
        ticks,
        summary: format!(
            "Response time over the last 7 days, hourly means: {mean_ms} ms on average, hourly means up to {max_ms} ms, slowest attempt {peak} ms, {attempts} attempts."
        ),
    })
}

/// The latest attempts as a row of bars, each with its own tooltip.
#[derive(Debug, Serialize)]
struct Beats {
    width: f64,
    height: f64,
    bars: Vec<Beat>,
    up: usize,
    down: usize,
}

#[derive(Debug, Serialize)]
struct Beat {
    x: String,
    w: String,
    ok: bool,
    title: String,
}

fn beats(probe: &ProbeView) -> Option<Beats> {
    if probe.history.is_empty() {
        return None;
    }
    let n = probe.history.len() as f64;
    let slot = CHART_W / n.max(30.0);
    let bars = probe
        .history
        .iter()
        .enumerate()
        .map(|(i, h)| Beat {
            x: format!("{:.1}", CHART_W - slot * (n - i as f64)),
            w: format!("{:.1}", (slot * 0.7).max(1.0)),
            ok: h.ok,
            title: format!(
                "{} · {} · {} ms",
                crate::filters::utc_minute(h.at_ms),
                if h.ok { "up" } else { "down" },
                h.latency_ms
            ),
        })
        .collect();
    let up = probe.history.iter().filter(|h| h.ok).count();
    Some(Beats {
        width: CHART_W,
        height: 28.0,
        bars,
        up,
        down: probe.history.len() - up,
    })
}

/// A strip of days, each coloured by its uptime.
#[derive(Debug, Serialize)]
struct Days {
    width: f64,
    height: f64,
    days: Vec<Day>,
    summary: String,
}

#[derive(Debug, Serialize)]
struct Day {
    x: String,
    w: String,
    class: &'static str,
    title: String,
}

/// The class of a day (or window) by its uptime.
fn uptime_class(attempts: i64, successes: i64) -> &'static str {
    if attempts == 0 {
        return "none";
    }
    let share = successes as f64 / attempts as f64;
    if share >= 0.999 {
        "up"
    } else if share >= 0.95 {
        "partial"
    } else {
        "down"
    }
}

fn days(daily: &[RollupView], now_ms: i64) -> Days {
    const N: i64 = 30;
    let day = 86_400_000;
    let today = now_ms.div_euclid(day) * day;
    let slot = CHART_W / N as f64;
    let days: Vec<Day> = (0..N)
        .map(|i| {
            let start = today - (N - 1 - i) * day;
            let found = daily.iter().find(|r| r.start_ms == start);
            let (attempts, successes) = found.map_or((0, 0), |r| (r.attempts, r.successes));
            let title = if attempts == 0 {
                format!("{}: no data", crate::filters::utc_day(start))
            } else {
                format!(
                    "{}: {:.2}% up ({successes} of {attempts} attempts)",
                    crate::filters::utc_day(start),
                    successes as f64 * 100.0 / attempts as f64
                )
            };
            Day {
                x: format!("{:.1}", slot * i as f64),
                w: format!("{:.1}", slot - 2.0),
                class: uptime_class(attempts, successes),
                title,
            }
        })
        .collect();
    let bad = days
        .iter()
        .filter(|d| d.class == "down" || d.class == "partial")
        .count();
    Days {
        width: CHART_W,
        height: 28.0,
        summary: format!("The last 30 days: {bad} with failures."),
        days,
    }
}

impl Ui {
    /// `GET /probes/{site}/{name}`.
    pub fn probe(&self, page: &ProbePage) -> Result<String, UiError> {
        let ctx = context! {
            layout => &page.layout,
            now_ms => page.now_ms,
            p => &page.probe,
            uptime => &page.uptime,
            chart => latency_chart(&page.hourly, page.now_ms),
            beats => beats(&page.probe),
            days => days(&page.daily, page.now_ms),
            certificate_days_left => page.certificate_days_left,
            incidents => &page.incidents,
        };
        self.render("probe.html", ctx)
    }

    /// `GET /services/{site}/{service}`.
    pub fn service(&self, page: &ServicePage) -> Result<String, UiError> {
        let probes: Vec<_> = page
            .probes
            .iter()
            .map(|p| context! { p => &p.probe, uptime => &p.uptime, beats => beats(&p.probe) })
            .collect();
        let ctx = context! {
            layout => &page.layout,
            now_ms => page.now_ms,
            site => &page.site,
            service => &page.service,
            state => &page.state,
            uptime => &page.uptime,
            days => days(&page.daily, page.now_ms),
            probes => probes,
            incidents => &page.incidents,
        };
        self.render("service.html", ctx)
    }

    /// `GET /status/{slug}`.
    pub fn status(&self, page: &StatusPage) -> Result<String, UiError> {
        let services: Vec<_> = page
            .services
            .iter()
            .map(|s| context! { s => s, days => days(&s.daily, page.now_ms) })
            .collect();
        let ctx = context! {
            version => &page.version,
            title => &page.title,
            now_ms => page.now_ms,
            state => &page.state,
            services => services,
            open_incidents => &page.open_incidents,
        };
        self.render("status.html", ctx)
    }
}

/// The colour of a badge's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadgeColor {
    Green,
    Yellow,
    Red,
    Grey,
}

/// A flat badge (label, value), as shields.io draws them: for READMEs and
/// Homepage. Text is escaped; widths follow the text's length.
pub fn badge_svg(label: &str, value: &str, color: BadgeColor) -> String {
    let fill = match color {
        BadgeColor::Green => "#2e7d32",
        BadgeColor::Yellow => "#8a6d00",
        BadgeColor::Red => "#c62828",
        BadgeColor::Grey => "#555f6b",
    };
    // Verdana 11px averages about 7px a character; 10px padding each side.
    let width = |text: &str| 7 * text.chars().count().min(64) as u32 + 10;
    let (lw, vw) = (width(label), width(value));
    let total = lw + vw;
    let (label, value) = (xml_escape(label), xml_escape(value));
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{label}: {value}"><title>{label}: {value}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{vw}" height="20" fill="{fill}"/><rect width="{total}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11"><text x="{lx}" y="14">{label}</text><text x="{vx}" y="14">{value}</text></g></svg>"##,
        lx = lw / 2,
        vx = lw + vw / 2,
    )
}

fn xml_escape(text: &str) -> String {
    text.chars()
        .take(64)
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c if c.is_control() => String::new(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badges_escape_their_text_and_size_to_it() {
        let svg = badge_svg("web<script>", "up & \"running\"", BadgeColor::Green);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("web&lt;script&gt;") && svg.contains("up &amp; &quot;running&quot;"));
        assert!(svg.contains("#2e7d32"));
        let short = badge_svg("a", "b", BadgeColor::Grey);
        let long = badge_svg("a much longer label", "b", BadgeColor::Grey);
        let width = |s: &str| {
            s.split("width=\"")
                .nth(1)
                .and_then(|w| w.split('"').next())
                .and_then(|w| w.parse::<u32>().ok())
                .unwrap_or(0)
        };
        assert!(width(&long) > width(&short) + 100);
    }

    #[test]
    fn days_are_coloured_by_uptime() {
        let day = 86_400_000;
        let now = 100 * day + 5;
        let r = |start_ms, attempts, successes| RollupView {
            start_ms,
            attempts,
            successes,
            mean_ms: 10,
            min_ms: 1,
            max_ms: 20,
        };
        let strip = days(
            &[
                r(100 * day, 1000, 1000),
                r(99 * day, 100, 97),
                r(98 * day, 10, 1),
            ],
            now,
        );
        assert_eq!(strip.days.len(), 30);
        let classes: Vec<&str> = strip.days.iter().rev().take(4).map(|d| d.class).collect();
        assert_eq!(classes, ["up", "partial", "down", "none"]);
        assert!(
            strip.days[29].title.contains("100.00% up"),
            "{}",
            strip.days[29].title
        );
        assert_eq!(strip.summary, "The last 30 days: 2 with failures.");
    }

    #[test]
    fn the_chart_spans_seven_days_and_says_what_it_shows() {
        let hour = 3_600_000;
        let now = 1_000 * hour;
        let r = |start_ms, mean_ms| RollupView {
            start_ms,
            attempts: 60,
            successes: 60,
            mean_ms,
            min_ms: mean_ms / 2,
            max_ms: mean_ms * 2,
        };
        assert!(latency_chart(&[], now).is_none());
        let chart = latency_chart(&[r(now - 100 * hour, 40), r(now - hour, 80)], now)
            .unwrap_or_else(|| panic!("a chart"));
        assert_eq!(chart.max_ms, 80);
        assert_eq!(chart.mean_ms, 60);
        assert_eq!(chart.line.split(' ').count(), 2);
        assert!(
            chart.summary.contains("60 ms on average"),
            "{}",
            chart.summary
        );
        assert!(
            chart.summary.contains("slowest attempt 160 ms"),
            "{}",
            chart.summary
        );
        assert!(!chart.ticks.is_empty());
    }
}
