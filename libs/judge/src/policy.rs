//! The decision for a whole command line at a tier, and the sentence the model
//! reads when it is refused.
//!
//! Why it exists: the hook needs one answer (allow or deny) and one reason,
//! though a line may start many programs. The line is allowed only when every
//! part is allowed at the tier; otherwise the worst part is named.
//! What it must not do: allow anything when parsing failed or nothing was
//! found, or suggest a way around a rule in its reason.

#[cfg(test)]
use crate::ast::SimpleCommand;
#[cfg(test)]
use crate::error::ParseError;
use crate::parse::parse;
use crate::unwrap::{Finding, analyze};
use crate::vocab::{Category, Context, Decision, Verdict};
use claudeops_core::Tier;

/// Judges `command` for a session at `tier`.
pub fn judge(command: &str, tier: Tier, ctx: &Context) -> Verdict {
    let script = match parse(command) {
        Ok(script) => script,
        Err(e) => {
            let category = Category::Unparseable {
                reason: e.to_string(),
            };
            let reason = format!(
                "The command was refused because it could not be parsed with confidence ({e}); {}.",
                allows(tier, ctx.dry_run)
            );
            return Verdict {
                decision: Decision::Deny,
                reason,
                categories: vec![category],
            };
        }
    };
    let findings = analyze(&script, ctx);
    let categories: Vec<Category> = findings.iter().map(|f| f.category.clone()).collect();
    if findings.is_empty() {
        let reason = "The command was refused because it contains no command to run.".to_owned();
        return Verdict {
            decision: Decision::Deny,
            reason,
            categories,
        };
    }
    let refused = findings
        .iter()
        .enumerate()
        .filter(|(_, f)| !allowed(&f.category, tier, ctx.dry_run))
        .max_by_key(|(i, f)| (f.category.severity(), std::cmp::Reverse(*i)))
        .map(|(_, f)| f);
    match refused {
        Some(finding) => Verdict {
            decision: Decision::Deny,
            reason: refusal(finding, tier, ctx.dry_run),
            categories,
        },
        None => Verdict {
            decision: Decision::Allow,
            reason: approval(&findings, tier, ctx.dry_run),
            categories,
        },
    }
}

/// The programs a command line would start, after unwrapping `ssh`, `sudo`,
/// `bash -c`, `xargs`, `docker exec`, `find -exec` and the like. A wrapper
/// that could not be unwrapped is returned as it is.
#[cfg(test)]
pub(crate) fn simple_commands(command: &str) -> Result<Vec<SimpleCommand>, ParseError> {
    let script = parse(command)?;
    let findings = analyze(&script, &Context::default());
    Ok(findings
        .into_iter()
        .filter(|f| f.is_command)
        .map(|f| f.command)
        .collect())
}

fn allowed(category: &Category, tier: Tier, dry_run: bool) -> bool {
    match category.min_tier() {
        Some(_) if dry_run => *category == Category::ReadOnly,
        Some(min) => min <= tier,
        None => false,
    }
}

/// What the tier allows, as the end of a sentence.
fn allows(tier: Tier, dry_run: bool) -> String {
    if dry_run {
        return "dry run allows only read-only commands".to_owned();
    }
    let what = match tier {
        Tier::Observe => "only read-only commands",
        Tier::Investigate => {
            "read-only commands, container and service restarts, file-permission fixes, notifications and `find -exec`"
        }
        Tier::Remediate => {
            "read-only commands, restarts, file-permission fixes, notifications, `find -exec`, redeployments and container recreation"
        }
    };
    format!("Tier {} allows {what}", tier.number())
}

/// The offending part, short enough for one sentence.
fn quoted(part: &str) -> String {
    const MAX: usize = 120;
    let part = part.trim();
    if part.chars().count() <= MAX {
        return format!("`{part}`");
    }
    let cut: String = part.chars().take(MAX).collect();
    format!("`{cut}...`")
}

fn place(f: &Finding) -> String {
    match (&f.command.container, &f.command.host) {
        (Some(c), _) => format!(" (in container {c})"),
        (None, Some(h)) => format!(" (on {h})"),
        (None, None) => String::new(),
    }
}

fn refusal(f: &Finding, tier: Tier, dry_run: bool) -> String {
    let part = quoted(&f.part);
    let at = place(f);
    let allows = allows(tier, dry_run);
    match &f.category {
        Category::Never { reason } => {
            format!("{part}{at} was refused because {reason} is never allowed at any tier.")
        }
        Category::Unknown { program } if program.contains(['$', '`', '<']) => format!(
            "The program name {} is not a literal word, so it is not on the list of commands Claude Ops allows; {allows}.",
            quoted(program)
        ),
        Category::Unknown { program } => {
            format!(
                "{} is not on the list of commands Claude Ops allows; {allows}.",
                quoted(program)
            )
        }
        Category::Write { what } => {
            format!("{part}{at} was refused because it {what}, which no tier allows; {allows}.")
        }
        Category::Unclear { reason } => {
            format!("{part}{at} was refused because {reason}; {allows}.")
        }
        Category::Unparseable { reason } => {
            format!("{part}{at} was refused because {reason}; {allows}.")
        }
        other => {
            let kind = describe(other);
            match other.min_tier() {
                Some(min) if !dry_run => format!(
                    "{part}{at} is {kind}, which needs Tier {}; {allows}.",
                    min.number()
                ),
                _ => format!("{part}{at} is {kind}, and {allows}."),
            }
        }
    }
}

fn describe(category: &Category) -> String {
    match category {
        Category::ReadOnly => "read-only".to_owned(),
        Category::Restart { target } => format!("a restart of {}", quoted(target)),
        Category::FilePermissions { target } => {
            format!("a permission change on {}", quoted(target))
        }
        Category::Notify => "a notification".to_owned(),
        Category::Exec { what } => format!("a search that {what}"),
        Category::Redeploy { target } => format!("a redeployment of {}", quoted(target)),
        Category::Recreate { target } => format!("a container recreation of {}", quoted(target)),
        Category::Write { what } => format!("a write ({what})"),
        Category::Unknown { program } => format!("an unknown program {}", quoted(program)),
        Category::Unclear { reason }
        | Category::Unparseable { reason }
        | Category::Never { reason } => reason.clone(),
    }
}

fn approval(findings: &[Finding], tier: Tier, dry_run: bool) -> String {
    let mut kinds: Vec<&str> = Vec::new();
    for f in findings {
        let kind = match f.category {
            Category::ReadOnly => "read-only",
            Category::Restart { .. } => "restart",
            Category::FilePermissions { .. } => "file-permission fix",
            Category::Notify => "notification",
            Category::Exec { .. } => "find -exec",
            Category::Redeploy { .. } => "redeployment",
            Category::Recreate { .. } => "container recreation",
            _ => continue,
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    let mode = if dry_run { " in dry run" } else { "" };
    format!(
        "Allowed at Tier {}{mode}: {}.",
        tier.number(),
        kinds.join(", ")
    )
}
