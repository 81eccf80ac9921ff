//! What a scan of a program's options says on its own: options that could
//! expand to anything, options missing their value, output options.
//!
//! Why it exists: the network, HTTP, SQL and Redis readers share these
//! answers; keeping them here keeps those readers from importing one another.
//! What it must not do: know any particular program.

use crate::opts::Scanned;
use crate::paths::{Action, Env, write_target};
use crate::vocab::Category;

/// Options that could expand to anything, or an option missing its value.
pub(crate) fn wild(s: &Scanned, prog: &str) -> Option<Category> {
    if let Some(w) = s.wild {
        return Some(Category::unclear(format!(
            "`{}` could expand to options of `{prog}`",
            w.raw
        )));
    }
    s.missing_value
        .as_ref()
        .map(|o| Category::unclear(format!("`{prog} {o}` is missing its value")))
}

/// Output options whose value must be `-` or a sink such as `/dev/null`.
pub(crate) fn write_any(s: &Scanned, names: &str, env: &Env) -> Category {
    let mut out = Category::ReadOnly;
    for v in s.values(names) {
        if v.lit.as_deref() == Some("-") {
            continue;
        }
        if let Some(c) = v
            .word
            .and_then(|w| write_target(w, env, "writes to", Action::Write))
        {
            out = out.worst(c);
        }
    }
    out
}

/// Options that could expand to anything.
pub(crate) fn unclear_wild(s: &Scanned, prog: &str) -> Option<Category> {
    s.wild
        .map(|w| Category::unclear(format!("`{}` could expand to options of `{prog}`", w.raw)))
}
