#!/usr/bin/env bash
# Installs what the tests need, idempotently: Debian packages (PostgreSQL server
# binaries, apprise, docker-compose, dnsmasq, Redis, MariaDB, ansible-core, bubblewrap for the session sandbox) and the real `claude` CLI (cached outside the clone).
# Source it: it exports CLAUDEOPS_CLAUDE_BIN. Servers are started by the tests.
set -euo pipefail

# e2fsprogs: chattr, to make a database file immutable in the store fault tests.
# prometheus: a real server scrapes the control plane; promtool checks the shipped rules.
# prometheus-alertmanager: a real Alertmanager delivers alerts to the webhook.
# sqlite3: builds the original Claude Ops's database from its migrations for the import tests.
# chromium: the browser tests drive the dashboard in it (Playwright, below).
DEBIAN_PACKAGES=(postgresql apprise docker-compose dnsmasq redis-server mariadb-server ansible-core bubblewrap e2fsprogs python3 prometheus prometheus-alertmanager sqlite3 chromium)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
    echo "tests/setup.sh: installing ${missing[*]}" >&2
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# The chat tests drive the control plane with the real client libraries, the
# browser tests drive the dashboard with Playwright (on Debian's chromium: its own
# browser download is never used) and axe-core, and the OpenAPI test runs
# schemathesis against the served document, all from PyPI, in a venv cached
# outside the clone.
PYTHON_PACKAGES=(openai==3.60.0 ollama==0.6.3 playwright==1.65.3 axe-playwright-python==0.1.8 schemathesis==4.32.5)
venv="${XDG_CACHE_HOME:-$HOME/.cache}/claudeops/venv-chat"
if ! "$venv/bin/python" -c "import openai, ollama, playwright, axe_playwright_python, schemathesis" >/dev/null 2>&1 \
    || [[ "$(cat "$venv/.packages" 2>/dev/null)" != "${PYTHON_PACKAGES[*]}" ]]; then
    echo "tests/setup.sh: making $venv with ${PYTHON_PACKAGES[*]}" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${PYTHON_PACKAGES[@]}"
    echo "${PYTHON_PACKAGES[*]}" >"$venv/.packages"
fi
CLAUDEOPS_PYTHON="$venv/bin/python"
export CLAUDEOPS_PYTHON
CLAUDEOPS_CLAUDE_BIN="$("$here/install-claude-cli.sh" | tail -n 1)"
export CLAUDEOPS_CLAUDE_BIN
echo "tests/setup.sh: CLAUDEOPS_CLAUDE_BIN=$CLAUDEOPS_CLAUDE_BIN" >&2
