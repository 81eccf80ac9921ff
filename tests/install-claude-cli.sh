#!/usr/bin/env bash
# Installs the real `claude` CLI (Claude Code) without npm, for the tests.
#
# The native CLI ships inside PyPI's `claude-agent-sdk` wheel. This script
# downloads that wheel once into a cache outside the clone, unpacks only the
# bundled binary, checks that it runs, and prints its absolute path as the last
# line of stdout. Running it again does nothing but print the path.
#
# Usage: tests/install-claude-cli.sh        (then: export CLAUDEOPS_CLAUDE_BIN=<last line>)
set -euo pipefail

SDK_VERSION="0.2.184"
CLI_VERSION="2.1.327"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/claudeops"
WHEEL_DIR="$CACHE_DIR/wheel"
INSTALL_DIR="$CACHE_DIR/claude-$CLI_VERSION"
BIN="$INSTALL_DIR/claude"
MEMBER="claude_agent_sdk/_bundled/claude"

log() { echo "install-claude-cli: $*" >&2; }

# The binary is only accepted when it runs and reports the pinned version.
check_version() {
    local out
    out="$("$BIN" --version 2>/dev/null)" || return 1
    [[ "$out" == "$CLI_VERSION"* ]]
}

find_wheel() {
    compgen -G "$WHEEL_DIR/claude_agent_sdk-$SDK_VERSION-*.whl" | head -n 1 || true
}

download_wheel() {
    local pip
    if command -v pip3 >/dev/null 2>&1; then pip=(pip3); else pip=(python3 -m pip); fi
    mkdir -p "$WHEEL_DIR"
    log "downloading claude-agent-sdk==$SDK_VERSION into $WHEEL_DIR"
    "${pip[@]}" download --quiet --no-deps --only-binary=:all: \
        --platform manylinux_2_17_x86_64 \
        "claude-agent-sdk==$SDK_VERSION" -d "$WHEEL_DIR" >&2
}

# Unpacks only the bundled binary, through a temporary file so that an
# interrupted run never leaves a half-written `claude` behind.
extract_binary() {
    local wheel="$1" tmp
    mkdir -p "$INSTALL_DIR"
    tmp="$(mktemp "$INSTALL_DIR/claude.XXXXXX")"
    log "extracting $MEMBER from $(basename "$wheel")"
    if command -v unzip >/dev/null 2>&1; then
        unzip -p "$wheel" "$MEMBER" >"$tmp"
    else
        python3 - "$wheel" "$MEMBER" "$tmp" <<'PY'
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:4]
with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out, 1 << 20)
PY
    fi
    chmod 0755 "$tmp"
    mv -f "$tmp" "$BIN"
}

main() {
    if [[ -x "$BIN" ]] && check_version; then
        echo "$BIN"
        return 0
    fi
    local wheel
    wheel="$(find_wheel)"
    if [[ -z "$wheel" ]]; then
        download_wheel
        wheel="$(find_wheel)"
    fi
    if [[ -z "$wheel" ]]; then
        log "no claude-agent-sdk $SDK_VERSION wheel found in $WHEEL_DIR after download"
        exit 1
    fi
    extract_binary "$wheel"
    if ! check_version; then
        log "$BIN does not report version $CLI_VERSION: $("$BIN" --version 2>&1 || true)"
        exit 1
    fi
    log "installed $("$BIN" --version)"
    echo "$BIN"
}

main "$@"
