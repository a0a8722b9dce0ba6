# Real Xtream-Codes clients and the XMLTV validator for dvbgate's tests (tests/xc-clients,
# tests/tests/xc.rs): the npm @iptv/xtream-api, PyPI pyxtream and m3u-ipytv in a venv
# (with PyPI prometheus_client, whose parser judges /metrics in tests/tests/metrics.rs),
# Debian's xmltv-util (tv_validate_file) and libxml2-utils (xmllint), and wrk for
# scripts/bench-xc. Sourced, not run:
#
#   . scripts/lib/xc-clients.sh
#   ensure_xc_clients      # installs what is missing
#   node tests/xc-clients/xtream-api.mjs --url http://127.0.0.1:8080 --user demo --pass demo
#   tests/xc-clients/.venv/bin/python tests/xc-clients/pyxtream_check.py --url ... --user ... --pass ...
#
# Needs root (or sudo) only when a Debian package is missing; npm and pip need their
# registries once, afterwards everything runs offline. When everything is in place it
# touches nothing and takes well under a second.

# shellcheck shell=bash

if ! declare -F need_packages >/dev/null; then
    # shellcheck source=scripts/lib/common.sh
    . "$(dirname "${BASH_SOURCE[0]}")/common.sh"
fi

DVBGATE_XC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/xc-clients" && pwd)"

# Oldest Node.js @iptv/xtream-api runs on: it calls the global fetch (Node 18).
DVBGATE_XC_NODE_MIN=18

ensure_xc_clients() {
    # tv_validate_file and xmllint judge /xmltv.php and /epg.xml; wrk is scripts/bench-xc's.
    need_packages xmltv-util libxml2-utils wrk
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        need_packages nodejs npm
    fi
    local v
    v="$(node --version 2>/dev/null | sed 's/^v//')"
    version_ge "${v:-0}" "$DVBGATE_XC_NODE_MIN" ||
        die "Node.js ${v:-?} is too old for tests/xc-clients (needs >= $DVBGATE_XC_NODE_MIN)"

    local lock="$DVBGATE_XC_DIR/package-lock.json"
    local stamp="$DVBGATE_XC_DIR/node_modules/.package-lock.json"
    # npm ci rewrites node_modules/.package-lock.json: newer than the lockfile exactly
    # when the install is up to date with it.
    if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
        step "installing tests/xc-clients' npm packages (npm ci)"
        (cd "$DVBGATE_XC_DIR" && npm ci --no-audit --no-fund --loglevel=error) ||
            die "npm ci failed in $DVBGATE_XC_DIR"
    fi

    # Debian's python3 has venv (and the ensurepip it needs) in a package of its own.
    command -v python3 >/dev/null 2>&1 || need_packages python3
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        need_packages python3-venv
    fi
    local venv="$DVBGATE_XC_DIR/.venv"
    local req="$DVBGATE_XC_DIR/requirements.txt"
    local pstamp="$venv/.requirements-installed"
    if [ ! -x "$venv/bin/python" ] || [ ! -f "$pstamp" ] || [ "$req" -nt "$pstamp" ]; then
        step "installing tests/xc-clients' Python packages (venv, pip install -r requirements.txt)"
        [ -x "$venv/bin/python" ] || python3 -m venv "$venv" ||
            die "python3 -m venv $venv failed"
        "$venv/bin/pip" install --quiet --disable-pip-version-check --require-virtualenv -r "$req" ||
            die "pip install -r $req failed"
        touch "$pstamp"
    fi
}
