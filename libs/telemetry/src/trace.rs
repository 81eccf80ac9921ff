//! Traces: the OTLP pipeline, the W3C trace context that crosses the link, and
//! spans recorded with the times they really had.
//!
//! Two kinds of span reach the exporter:
//! - `tracing` spans (through `tracing-opentelemetry`): a worker's session, its
//!   CLI run, a probe cycle. They start and end with the code that holds them.
//! - **records** ([`SpanRecord`]): spans whose ids are chosen before they start
//!   and whose times are known only afterwards, or outlive a process. An
//!   escalation chain and its sessions are records: their ids are stored with
//!   the session, so the worker's spans join them while they run, and a
//!   restart of the control plane does not orphan them. A model turn and a tool
//!   call are records too: their times come from the CLI's stream-json lines.
//!
//! Both go through one bounded queue ([`Exporting`]): when the collector is slow
//! or gone, spans beyond the queue are dropped and counted
//! (`claudeops_trace_spans_dropped_total`), and nothing waits on it.

use std::borrow::Cow;
use std::fmt;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{
    IdGenerator, RandomIdGenerator, Sampler, SamplingDecision, ShouldSample, SpanData, SpanEvents,
    SpanExporter, SpanLinks, SpanProcessor,
};

/// Spans waiting for export; beyond this they are dropped and counted.
pub const QUEUE: usize = 2048;
/// Spans per export call.
const BATCH: usize = 512;
/// A batch is sent once its spans weigh about this much encoded: a
/// collector's default limit on one message is 4 MiB.
const BATCH_BYTES: usize = 1024 * 1024;
/// How long spans wait for a batch to fill.
const DELAY: Duration = Duration::from_secs(1);
/// One export may take this long; then its spans count as dropped.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Events kept per span; the rest are counted as dropped on the span.
pub const MAX_EVENTS: usize = 512;

/// Counter of spans that never reached the collector (queue full or export failed).
pub const DROPPED: &str = "claudeops_trace_spans_dropped_total";
/// Counter of spans the collector accepted.
pub const EXPORTED: &str = "claudeops_trace_spans_exported_total";

/// A span's place in a trace: what a W3C `traceparent` carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub sampled: bool,
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.traceparent())
    }
}

/// A `traceparent` that cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>): {0:?}")]
pub struct BadTraceparent(pub String);

impl TraceContext {
    /// A new trace: fresh ids, and the configured sampler's decision for it.
    pub fn new_root(name: &str) -> Self {
        let ids = RandomIdGenerator::default();
        let trace_id = ids.new_trace_id();
        let sampled = pipeline().is_some_and(|p| p.sample_root(trace_id, name));
        TraceContext {
            trace_id,
            span_id: ids.new_span_id(),
            sampled,
        }
    }

    /// A new span id in the same trace, with the same decision.
    pub fn child(&self) -> Self {
        TraceContext {
            span_id: new_span_id(),
            ..*self
        }
    }

    /// `00-<trace id>-<span id>-<flags>`.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id,
            self.span_id,
            u8::from(self.sampled)
        )
    }

    /// Reads a `traceparent`. Version `00` only; an all-zero id is invalid.
    pub fn parse(text: &str) -> Result<Self, BadTraceparent> {
        let bad = || BadTraceparent(text.chars().take(80).collect());
        let parts: Vec<&str> = text.trim().split('-').collect();
        let [version, trace, span, flags] = parts[..] else {
            return Err(bad());
        };
        let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
        if version != "00" || !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) {
            return Err(bad());
        }
        let trace_id = TraceId::from_hex(trace).map_err(|_| bad())?;
        let span_id = SpanId::from_hex(span).map_err(|_| bad())?;
        let flags = u8::from_str_radix(flags, 16).map_err(|_| bad())?;
        if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
            return Err(bad());
        }
        Ok(TraceContext {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    /// As the remote parent of a `tracing` span (`OpenTelemetrySpanExt::set_parent`).
    pub fn as_remote_parent(&self) -> opentelemetry::Context {
        opentelemetry::Context::new().with_remote_span_context(self.span_context(true))
    }

    fn span_context(&self, remote: bool) -> SpanContext {
        let flags = if self.sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        SpanContext::new(
            self.trace_id,
            self.span_id,
            flags,
            remote,
            TraceState::default(),
        )
    }

    /// The context of an OpenTelemetry span, if it has a valid one.
    pub fn of(cx: &opentelemetry::Context) -> Option<Self> {
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid().then(|| TraceContext {
            trace_id: sc.trace_id(),
            span_id: sc.span_id(),
            sampled: sc.is_sampled(),
        })
    }
}

/// A fresh span id.
fn new_span_id() -> SpanId {
    RandomIdGenerator::default().new_span_id()
}

/// A span whose ids and times are known: recorded whole, at its end.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    pub name: Cow<'static, str>,
    pub context: TraceContext,
    pub parent: Option<SpanId>,
    pub kind: SpanKind,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<KeyValue>,
    /// Timestamped events inside the span (e.g. a probe's attempts); the first
    /// [`MAX_EVENTS`] are kept.
    pub events: Vec<(Cow<'static, str>, SystemTime, Vec<KeyValue>)>,
    /// `Some(description)` marks the span failed.
    pub error: Option<String>,
}

impl SpanRecord {
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        context: TraceContext,
        parent: Option<SpanId>,
        start: SystemTime,
        end: SystemTime,
    ) -> Self {
        SpanRecord {
            name: name.into(),
            context,
            parent,
            kind: SpanKind::Internal,
            start,
            end: end.max(start),
            attributes: Vec::new(),
            events: Vec::new(),
            error: None,
        }
    }

    pub fn attr(mut self, key: &'static str, value: impl Into<opentelemetry::Value>) -> Self {
        self.attributes.push(KeyValue::new(key, value));
        self
    }

    /// Sends the span to the exporter, if tracing is on and its trace is sampled.
    pub fn record(self) {
        if !self.context.sampled {
            return;
        }
        let Some(pipeline) = pipeline() else {
            return;
        };
        let mut events = SpanEvents::default();
        events.dropped_count =
            u32::try_from(self.events.len().saturating_sub(MAX_EVENTS)).unwrap_or(u32::MAX);
        events.events = self
            .events
            .into_iter()
            .take(MAX_EVENTS)
            .map(|(name, at, attributes)| opentelemetry::trace::Event::new(name, at, attributes, 0))
            .collect();
        let status = match self.error {
            Some(description) => Status::error(description),
            None => Status::Unset,
        };
        pipeline.queue.push(SpanData {
            span_context: self.context.span_context(false),
            parent_span_id: self.parent.unwrap_or(SpanId::INVALID),
            parent_span_is_remote: false,
            span_kind: self.kind,
            name: self.name,
            start_time: self.start,
            end_time: self.end,
            attributes: self.attributes,
            dropped_attributes_count: 0,
            events,
            links: SpanLinks::default(),
            status,
            instrumentation_scope: scope(),
        });
    }
}

fn scope() -> InstrumentationScope {
    static SCOPE: OnceLock<InstrumentationScope> = OnceLock::new();
    SCOPE
        .get_or_init(|| {
            InstrumentationScope::builder("claudeops")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build()
        })
        .clone()
}

/// The running pipeline, once [`install`]ed.
pub(crate) struct Pipeline {
    pub(crate) queue: Arc<Queue>,
    sampler: Sampler,
}

static PIPELINE: OnceLock<Pipeline> = OnceLock::new();

fn pipeline() -> Option<&'static Pipeline> {
    PIPELINE.get()
}

/// Whether spans are exported at all.
pub fn enabled() -> bool {
    PIPELINE.get().is_some()
}

impl Pipeline {
    fn sample_root(&self, trace_id: TraceId, name: &str) -> bool {
        let decision = self
            .sampler
            .should_sample(None, trace_id, name, &SpanKind::Internal, &[], &[])
            .decision;
        decision == SamplingDecision::RecordAndSample
    }
}

/// The sampler `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` name
/// (`parentbased_always_on` when unset), as the SDK reads them.
fn sampler_from_env() -> Sampler {
    let ratio = || {
        std::env::var("OTEL_TRACES_SAMPLER_ARG")
            .ok()
            .and_then(|a| a.trim().parse::<f64>().ok())
            .filter(|r| (0.0..=1.0).contains(r))
            .unwrap_or(1.0)
    };
    match std::env::var("OTEL_TRACES_SAMPLER")
        .as_deref()
        .map(str::trim)
    {
        Ok("always_off") => Sampler::AlwaysOff,
        Ok("always_on") => Sampler::AlwaysOn,
        Ok("traceidratio") => Sampler::TraceIdRatioBased(ratio()),
        Ok("parentbased_always_off") => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        Ok("parentbased_traceidratio") => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio())))
        }
        _ => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
    }
}

/// Whether the environment asks for traces: an OTLP endpoint is set and the
/// SDK is not disabled.
pub fn wanted() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.trim() == "true");
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// What [`install`] found wrong.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("the OTLP exporter cannot be built: {0}")]
    Exporter(String),
    #[error("tracing is already set up in this process")]
    Twice,
}

/// Builds the OTLP exporter from the standard `OTEL_*` variables, the
/// provider over our bounded queue, and makes it the process's pipeline.
/// Must run inside a tokio runtime (the exports run on it). `None` when the
/// environment asks for no traces.
pub fn install(
    service: &'static str,
) -> Result<Option<opentelemetry_sdk::trace::SdkTracerProvider>, TraceError> {
    if !wanted() {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .build()
        .map_err(|e| TraceError::Exporter(e.to_string()))?;
    let resource = Resource::builder()
        .with_service_name(
            std::env::var("OTEL_SERVICE_NAME")
                .ok()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| service.to_owned()),
        )
        .build();
    let processor = Exporting::start(
        exporter,
        resource.clone(),
        tokio::runtime::Handle::current(),
    );
    let sampler = sampler_from_env();
    PIPELINE
        .set(Pipeline {
            queue: processor.queue.clone(),
            sampler: sampler.clone(),
        })
        .map_err(|_| TraceError::Twice)?;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(sampler)
        .with_resource(resource)
        .build();
    Ok(Some(provider))
}

/// The bounded queue between every span's end and the exporter thread.
pub(crate) struct Queue {
    tx: SyncSender<SpanData>,
    control: Mutex<std::sync::mpsc::Sender<Control>>,
}

impl Queue {
    /// Never blocks: a full queue drops the span and counts it.
    pub(crate) fn push(&self, span: SpanData) {
        match self.tx.try_send(span) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                metrics::counter!(DROPPED, "reason" => "queue_full").increment(1);
            }
        }
    }

    /// Exports what is queued; waits at most `within`.
    fn flush(&self, within: Duration, then_stop: bool) -> OTelSdkResult {
        let (done, wait) = std::sync::mpsc::channel();
        let msg = if then_stop {
            Control::Stop(done)
        } else {
            Control::Flush(done)
        };
        let sent = self
            .control
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("poisoned".into()))?
            .send(msg);
        if sent.is_err() {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        wait.recv_timeout(within)
            .map_err(|_| OTelSdkError::Timeout(within))
    }
}

enum Control {
    Flush(std::sync::mpsc::Sender<()>),
    Stop(std::sync::mpsc::Sender<()>),
}

/// A span processor over one bounded queue and one exporter thread. Spans of
/// unsampled traces are not queued. (The SDK's batch processor drops spans
/// on a full queue too, but does not say how many; this one counts them.)
pub(crate) struct Exporting {
    queue: Arc<Queue>,
}

impl fmt::Debug for Exporting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Exporting")
    }
}

impl Exporting {
    fn start<E: SpanExporter + 'static>(
        mut exporter: E,
        resource: Resource,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        exporter.set_resource(&resource);
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let (control_tx, control_rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("otlp-export".into())
            .spawn(move || export_loop(exporter, rx, control_rx, runtime));
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the trace export thread; spans are dropped");
        }
        Exporting {
            queue: Arc::new(Queue {
                tx,
                control: Mutex::new(control_tx),
            }),
        }
    }
}

fn export_loop<E: SpanExporter>(
    exporter: E,
    rx: Receiver<SpanData>,
    control: Receiver<Control>,
    runtime: tokio::runtime::Handle,
) {
    let mut batch: Vec<SpanData> = Vec::with_capacity(BATCH);
    let mut weight = 0usize;
    let mut due = Instant::now() + DELAY;
    let send = |batch: &mut Vec<SpanData>, weight: &mut usize| {
        *weight = 0;
        if batch.is_empty() {
            return;
        }
        let spans = std::mem::replace(batch, Vec::with_capacity(BATCH));
        let n = spans.len() as u64;
        let result = runtime
            .block_on(async { tokio::time::timeout(EXPORT_TIMEOUT, exporter.export(spans)).await });
        match result {
            Ok(Ok(())) => metrics::counter!(EXPORTED).increment(n),
            Ok(Err(error)) => {
                metrics::counter!(DROPPED, "reason" => "export_failed").increment(n);
                tracing::debug!(%error, spans = n, "trace export failed");
            }
            Err(_) => {
                metrics::counter!(DROPPED, "reason" => "export_timeout").increment(n);
                tracing::debug!(spans = n, "trace export timed out");
            }
        }
    };
    loop {
        let wait = due
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        match rx.recv_timeout(wait) {
            Ok(span) => {
                weight += encoded_size(&span);
                batch.push(span);
                if batch.len() >= BATCH || weight >= BATCH_BYTES {
                    send(&mut batch, &mut weight);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                send(&mut batch, &mut weight);
                return;
            }
        }
        if Instant::now() >= due {
            send(&mut batch, &mut weight);
            due = Instant::now() + DELAY;
        }
        while let Ok(msg) = control.try_recv() {
            while let Ok(span) = rx.try_recv() {
                weight += encoded_size(&span);
                batch.push(span);
                if batch.len() >= BATCH || weight >= BATCH_BYTES {
                    send(&mut batch, &mut weight);
                }
            }
            send(&mut batch, &mut weight);
            match msg {
                Control::Flush(done) => {
                    let _ = done.send(());
                }
                Control::Stop(done) => {
                    let _ = done.send(());
                    return;
                }
            }
        }
    }
}

/// About how many bytes a span takes encoded (names, values, ids, times).
fn encoded_size(span: &SpanData) -> usize {
    let attributes = |kvs: &[KeyValue]| -> usize {
        kvs.iter()
            .map(|kv| kv.key.as_str().len() + kv.value.as_str().len() + 8)
            .sum()
    };
    64 + span.name.len()
        + attributes(&span.attributes)
        + span
            .events
            .iter()
            .map(|e| 24 + e.name.len() + attributes(&e.attributes))
            .sum::<usize>()
}

impl SpanProcessor for Exporting {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.queue.push(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.queue.flush(EXPORT_TIMEOUT, false)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.queue.flush(timeout, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_reads_back() {
        let cx = TraceContext {
            trace_id: TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736")
                .unwrap_or_else(|e| panic!("{e}")),
            span_id: SpanId::from_hex("00f067aa0ba902b7").unwrap_or_else(|e| panic!("{e}")),
            sampled: true,
        };
        assert_eq!(
            cx.traceparent(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert_eq!(TraceContext::parse(&cx.traceparent()), Ok(cx));
        let unsampled = TraceContext {
            sampled: false,
            ..cx
        };
        assert_eq!(TraceContext::parse(&unsampled.traceparent()), Ok(unsampled));
    }

    #[test]
    fn bad_traceparents_are_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(TraceContext::parse(bad).is_err(), "{bad:?} was read");
        }
    }

    #[test]
    fn a_child_keeps_the_trace_and_decision() {
        let root = TraceContext {
            trace_id: TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736")
                .unwrap_or_else(|e| panic!("{e}")),
            span_id: SpanId::from_hex("00f067aa0ba902b7").unwrap_or_else(|e| panic!("{e}")),
            sampled: false,
        };
        let child = root.child();
        assert_eq!(child.trace_id, root.trace_id);
        assert_ne!(child.span_id, root.span_id);
        assert!(!child.sampled);
    }
}
