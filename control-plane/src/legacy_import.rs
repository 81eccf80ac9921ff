//! `import-legacy PATH [--site SITE]`: the original Claude Ops's history
//! (sessions, events, memories, cooldown actions) into the store, and what was
//! done, in words for the operator.
//!
//! The original's file is read whole, and checked, before the store is opened,
//! so a wrong path or a file that is not the original's changes nothing here.
//! The reading and every write are the store's (`claudeops_store::legacy`,
//! `Store::import_legacy`); this module only orders the steps and renders the
//! report.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use claudeops_core::SiteName;
use claudeops_store::legacy::{LegacyDatabase, LegacyKind, LegacyReport, SkipReason};

use crate::clock::now_ms;
use crate::config::Config;

/// Imports the original's database at `path` into `site` and returns the report
/// to print.
pub async fn run(config: &Config, path: &Path, site: &SiteName) -> anyhow::Result<String> {
    let legacy = claudeops_store::legacy::read(path).await?;
    let store = crate::open_store(config).await?;
    let result = store.import_legacy(&legacy, site, now_ms()).await;
    store.close().await;
    let report = result.context(
        "the import stopped; what it wrote so far stays, and running it again skips that \
         and goes on",
    )?;
    Ok(render(&legacy, &report))
}

/// The report: a line per kind, then each skipped row with why (rows imported
/// before as id ranges), then what was adjusted.
pub fn render(legacy: &LegacyDatabase, report: &LegacyReport) -> String {
    let mut out = String::new();
    let version = legacy.schema_version().map_or_else(String::new, |v| {
        format!(" (the original's schema version {v})")
    });
    let _ = writeln!(
        out,
        "imported {}{version} into site {}",
        legacy.path().display(),
        report.site
    );
    let mut total = (0, 0, 0);
    for t in &report.tallies {
        let _ = writeln!(
            out,
            "  {:<18}{:>4} taken, {} already imported, {} skipped (of {})",
            format!("{}:", t.kind.plural()),
            t.taken,
            t.already,
            t.refused,
            t.read
        );
        total = (total.0 + t.taken, total.1 + t.already, total.2 + t.refused);
    }
    let _ = writeln!(
        out,
        "  {:<18}{:>4} taken, {} already imported, {} skipped",
        "in all:", total.0, total.1, total.2
    );
    let refused: Vec<_> = report
        .skipped
        .iter()
        .filter(|s| !matches!(s.reason, SkipReason::AlreadyImported { .. }))
        .collect();
    if !refused.is_empty() {
        let _ = writeln!(out, "skipped:");
        for s in refused {
            let _ = writeln!(out, "  {} #{}: {}", s.kind.noun(), s.legacy_id, s.reason);
        }
    }
    let mut already = String::new();
    for kind in LegacyKind::ALL {
        let ids: Vec<i64> = report
            .skipped
            .iter()
            .filter(|s| s.kind == kind && matches!(s.reason, SkipReason::AlreadyImported { .. }))
            .map(|s| s.legacy_id)
            .collect();
        if !ids.is_empty() {
            let _ = writeln!(already, "  {} {}", kind.plural(), ranges(ids));
        }
    }
    if !already.is_empty() {
        let _ = writeln!(out, "skipped, imported before:");
        out.push_str(&already);
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "notes:");
        for note in &report.notes {
            match (note.kind, note.legacy_id) {
                (Some(kind), Some(id)) => {
                    let _ = writeln!(out, "  {} #{id}: {}", kind.noun(), note.text);
                }
                _ => {
                    let _ = writeln!(out, "  {}", note.text);
                }
            }
        }
    }
    out
}

/// `#1-#4, #7, #9-#10` for the ids 1, 2, 3, 4, 7, 9, 10.
fn ranges(mut ids: Vec<i64>) -> String {
    ids.sort_unstable();
    ids.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let start = ids[i];
        let mut end = start;
        while i + 1 < ids.len() && ids[i + 1] == end + 1 {
            i += 1;
            end = ids[i];
        }
        parts.push(if start == end {
            format!("#{start}")
        } else {
            format!("#{start}-#{end}")
        });
        i += 1;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_compact() {
        assert_eq!(ranges(vec![10, 1, 2, 3, 4, 7, 9]), "#1-#4, #7, #9-#10");
        assert_eq!(ranges(vec![5]), "#5");
        assert_eq!(ranges(vec![]), "");
    }
}
