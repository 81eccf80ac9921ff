//! Logs, traces and metrics for both binaries, set up in one call.
//!
//! - Logs: `tracing` lines on stderr, as text or (`CLAUDEOPS_LOG_FORMAT=json`)
//!   one JSON object per line carrying the trace and span ids.
//! - Traces: OpenTelemetry over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set
//!   ([`trace`]); off otherwise, at no cost beyond a branch.
//! - Metrics: the process's Prometheus recorder ([`metrics`], names in [`names`]).

pub mod logs;
pub mod metrics;
pub mod names;
pub mod trace;

use std::str::FromStr;

use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use metrics_exporter_prometheus::PrometheusHandle;
pub use opentelemetry::KeyValue;
pub use trace::{SpanRecord, TraceContext};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people: `tracing`'s compact text.
    #[default]
    Text,
    /// For log shippers: one JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("unknown log format {other:?} (text or json)")),
        }
    }
}

/// The `tracing` spans that become trace spans. Others (a worker's or a
/// link's span, which live as long as the process or the connection) only
/// label log lines: as spans they would make one endless trace.
pub const TRACED_SPANS: &[&str] = &["session", "cli", "action", "after_session", "verify"];

/// What [`init`] could not set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(transparent)]
    Trace(#[from] trace::TraceError),
    #[error(transparent)]
    Metrics(#[from] metrics::MetricsError),
    #[error("logging is already set up in this process")]
    Logging,
}

/// The process's telemetry; [`Telemetry::shutdown`] exports what is queued.
pub struct Telemetry {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
    /// Renders the process's own metrics.
    pub metrics: PrometheusHandle,
}

/// Sets up logs (`RUST_LOG`, else `default_filter`), traces and metrics.
/// Must run inside a tokio runtime.
pub fn init(
    service: &'static str,
    format: LogFormat,
    default_filter: &str,
    describe: fn(),
) -> Result<Telemetry, TelemetryError> {
    let metrics = metrics::install(describe)?;
    let provider = trace::install(service)?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let otel = provider.as_ref().map(|p| {
        use tracing_subscriber::Layer as _;
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("claudeops"))
            .with_tracked_inactivity(false)
            .with_threads(false)
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                !meta.is_span() || TRACED_SPANS.contains(&meta.name())
            }))
    });
    let (text, json) = match format {
        LogFormat::Text => (
            Some(tracing_subscriber::fmt::layer().with_writer(std::io::stderr)),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .event_format(logs::Json),
            ),
        ),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(otel)
        .with(text)
        .with(json)
        .try_init()
        .map_err(|_| TelemetryError::Logging)?;
    if provider.is_some() {
        tracing::info!(
            queue = trace::QUEUE,
            "traces are exported over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT)"
        );
    }
    Ok(Telemetry { provider, metrics })
}

impl Telemetry {
    /// Exports the spans still queued (at most 5 s) and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown_with_timeout(std::time::Duration::from_secs(5))
        {
            eprintln!("warning: traces still queued at exit were not all exported: {error}");
        }
    }
}
