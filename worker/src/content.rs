//! The agent content shipped inside the worker binary: tier prompts and the runbook
//! (and, as they are written, checks and playbooks). Embedding keeps the worker one
//! file that needs nothing else installed beside it.

use claudeops_core::Tier;

pub const RUNBOOK: &str = include_str!("../../prompts/runbook.md");

pub fn tier_prompt(tier: Tier) -> &'static str {
    match tier {
        Tier::Observe => include_str!("../../prompts/tier1-observe.md"),
        Tier::Investigate => include_str!("../../prompts/tier2-investigate.md"),
        Tier::Remediate => include_str!("../../prompts/tier3-remediate.md"),
    }
}

/// Fills `{{name}}` placeholders; unknown ones are left as they are.
pub fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in vars {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholders() {
        assert_eq!(fill("a {{x}} {{y}}", &[("x", "1")]), "a 1 {{y}}");
        for tier in Tier::ALL {
            assert!(tier_prompt(tier).contains("{{site}}"));
        }
    }
}
