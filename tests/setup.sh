#!/usr/bin/env bash
# Installs what the tests need, idempotently: Debian packages (PostgreSQL server
# binaries, apprise, docker-compose, dnsmasq, Redis, MariaDB, ansible-core, bubblewrap for the session sandbox) and the real `claude` CLI (cached outside the clone).
# Source it: it exports CLAUDEOPS_CLAUDE_BIN. Servers are started by the tests.
set -euo pipefail

# e2fsprogs: chattr, to make a database file immutable in the store fault tests.
# prometheus: a real server scrapes the control plane; promtool checks the shipped rules.
DEBIAN_PACKAGES=(postgresql apprise docker-compose dnsmasq redis-server mariadb-server ansible-core bubblewrap e2fsprogs python3 prometheus)

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
CLAUDEOPS_CLAUDE_BIN="$("$here/install-claude-cli.sh" | tail -n 1)"
export CLAUDEOPS_CLAUDE_BIN
echo "tests/setup.sh: CLAUDEOPS_CLAUDE_BIN=$CLAUDEOPS_CLAUDE_BIN" >&2
