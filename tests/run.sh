#!/usr/bin/env bash
# The project's one test command, shared by the README and CI (.ci/run):
# set-up (tests/setup.sh), formatting, lints, then every test of the workspace.
# Extra arguments go to the test runner (e.g. `tests/run.sh -p claudeops-tests`).
#
# Tests that need a real part (the `claude` CLI, PostgreSQL, Docker) fail loudly
# when it is missing; they never skip.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

source tests/setup.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@"
else
    cargo test --workspace --no-fail-fast "$@"
fi

# The chaos suite (tests/chaos/, docs/chaos.md): real faults on the Docker
# Engine, played by the scripted oracle and by the adversarial model; a run that
# fails or cannot be judged fails the command. Skipped when arguments pick a
# subset of the tests.
if (($# == 0)); then
    cargo run -q -p claudeops-chaos -- run --model scripted --out target/chaos/scripted
    cargo run -q -p claudeops-chaos -- run --model adversarial --out target/chaos/adversarial
fi
