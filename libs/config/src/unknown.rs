//! What `config-check` says about `CLAUDEOPS_*` variables the binary will not
//! use: unknown names (with the nearest known one), the original's variables
//! this system refuses (with the reason), and the other binary's settings.
//! Pure: the caller passes the variables' names.

use crate::catalogue::{SETTINGS, Scope};

/// The original's variables that are not supported, and why.
pub const REFUSED: &[(&str, &str)] = &[
    (
        "CLAUDEOPS_SUMMARY_MODEL",
        "a session's summary is the `summary` field of its structured response, so no second model call (and no extra cost) writes one",
    ),
    (
        "CLAUDEOPS_MCP_CONFIG",
        "an MCP server outside a repo would reach every tier; put it in a repo's `.claude-ops/mcp.json`, where its manifest gives the tier that may use it",
    ),
];

/// Which binary is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    ControlPlane,
    Worker,
}

/// One warning per `CLAUDEOPS_*` variable in `names` that `reader` does not
/// use, in name order.
pub fn warnings<'a>(names: impl IntoIterator<Item = &'a str>, reader: Reader) -> Vec<String> {
    let mut names: Vec<&str> = names
        .into_iter()
        .filter(|n| n.starts_with("CLAUDEOPS_"))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| warning(name, reader))
        .collect()
}

fn warning(name: &str, reader: Reader) -> Option<String> {
    if let Some((_, why)) = REFUSED.iter().find(|(var, _)| *var == name) {
        return Some(format!("{name} is not supported and is ignored: {why}"));
    }
    match SETTINGS.iter().find(|s| s.var == name) {
        Some(setting) => match (setting.scope, reader) {
            (Scope::ControlPlane, Reader::Worker) => Some(format!(
                "{name} is a control-plane setting; the worker ignores it"
            )),
            // A worker setting in the control plane's environment reaches its
            // local worker, so it is used.
            _ => None,
        },
        None => Some(match nearest(name) {
            Some(near) => format!("{name} is not a setting and is ignored (did you mean {near}?)"),
            None => format!("{name} is not a setting and is ignored"),
        }),
    }
}

/// The known variable closest to `name`, when it is close (a typo).
fn nearest(name: &str) -> Option<&'static str> {
    SETTINGS
        .iter()
        .map(|s| (distance(name, s.var), s.var))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, var)| var)
}

/// Levenshtein distance between two names.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_refused_and_foreign_variables_are_named() {
        let names = [
            "CLAUDEOPS_INTERVAL",
            "CLAUDEOPS_INTERVALL",
            "CLAUDEOPS_SUMMARY_MODEL",
            "CLAUDEOPS_NOTHING_LIKE_IT",
            "CLAUDEOPS_SITE",
            "CLAUDEOPS_DATABASE_URL",
            "HOME",
        ];
        let cp = warnings(names, Reader::ControlPlane);
        assert_eq!(cp.len(), 3, "{cp:#?}");
        assert!(
            cp[0].starts_with("CLAUDEOPS_INTERVALL is not a setting")
                && cp[0].contains("did you mean CLAUDEOPS_INTERVAL?")
        );
        assert_eq!(
            cp[1],
            "CLAUDEOPS_NOTHING_LIKE_IT is not a setting and is ignored"
        );
        assert!(cp[2].starts_with("CLAUDEOPS_SUMMARY_MODEL is not supported"));
        let worker = warnings(names, Reader::Worker);
        assert!(
            worker
                .iter()
                .any(|w| w.starts_with("CLAUDEOPS_DATABASE_URL is a control-plane setting")),
            "{worker:#?}"
        );
        assert!(
            !worker.iter().any(|w| w.starts_with("CLAUDEOPS_SITE")),
            "{worker:#?}"
        );
    }

    #[test]
    fn refused_variables_are_not_settings() {
        for (var, _) in REFUSED {
            assert!(!SETTINGS.iter().any(|s| s.var == *var), "{var}");
        }
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
