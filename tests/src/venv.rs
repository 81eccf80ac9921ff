//! The tools the tests take from PyPI, in the venv `tests/setup.sh` makes
//! (`CLAUDEOPS_PYTHON` names its Python): the chat clients, Playwright with
//! axe-core, schemathesis. A missing venv or tool fails the test loudly.

use std::path::{Path, PathBuf};

/// The venv's Python.
pub fn python() -> String {
    std::env::var("CLAUDEOPS_PYTHON").unwrap_or_else(|_| {
        panic!(
            "CLAUDEOPS_PYTHON is not set: source tests/setup.sh (it makes the venv with the \
             chat clients, Playwright, axe-core and schemathesis)"
        )
    })
}

/// A command-line tool installed in the venv, beside its Python.
pub fn tool(name: &str) -> PathBuf {
    let bin = Path::new(&python()).with_file_name(name);
    assert!(
        bin.exists(),
        "{} is missing: source tests/setup.sh (it installs {name} into the venv)",
        bin.display()
    );
    bin
}
