//! The placeholders a Gatus-style condition names in square brackets
//! (`[STATUS]`, `[BODY]`, `[RUNNING]`, ...): the vocabulary shared by the kinds
//! (which fill them) and the conditions (which read them). Parsing and evaluating
//! conditions stays in `claudeops-probe`, beside the observations they judge.

use std::fmt;

/// A value a probe attempt can report, named in square brackets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// HTTP status code.
    Status,
    /// Time the attempt took, in milliseconds.
    ResponseTime,
    /// Response body (HTTP), answers (DNS), INFO text (Redis), version (SQL).
    Body,
    /// Whether the connection (and the kind's basic exchange) succeeded.
    Connected,
    /// Time left before the peer's certificate expires, in milliseconds.
    CertificateExpiration,
    /// DNS response code name, e.g. `NOERROR`, `NXDOMAIN`.
    DnsRcode,
    /// The IP address connected to, or the first address a DNS answer held.
    Ip,
    /// Container: running.
    Running,
    /// Container: the engine's state (`running`, `restarting`, `exited`, ...).
    State,
    /// Container: health status (`healthy`, `unhealthy`, `starting`, `none`).
    Health,
    /// Container: restarts so far.
    RestartCount,
    /// Container: killed by the kernel's out-of-memory killer.
    OomKilled,
    /// Container: exit code of the last run.
    ExitCode,
    /// Container: restarting, or its restart count rose since the last attempt.
    CrashLoop,
}

/// Every placeholder with its written name.
pub const PLACEHOLDERS: &[(&str, Placeholder)] = &[
    ("STATUS", Placeholder::Status),
    ("RESPONSE_TIME", Placeholder::ResponseTime),
    ("BODY", Placeholder::Body),
    ("CONNECTED", Placeholder::Connected),
    ("CERTIFICATE_EXPIRATION", Placeholder::CertificateExpiration),
    ("DNS_RCODE", Placeholder::DnsRcode),
    ("IP", Placeholder::Ip),
    ("RUNNING", Placeholder::Running),
    ("STATE", Placeholder::State),
    ("HEALTH", Placeholder::Health),
    ("RESTART_COUNT", Placeholder::RestartCount),
    ("OOM_KILLED", Placeholder::OomKilled),
    ("EXIT_CODE", Placeholder::ExitCode),
    ("CRASH_LOOP", Placeholder::CrashLoop),
];

impl Placeholder {
    pub fn name(self) -> &'static str {
        PLACEHOLDERS
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("?", |(n, _)| n)
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.name())
    }
}
