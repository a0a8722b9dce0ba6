# A real browser for dvbgate's tests: Debian's Chromium, driven by playwright-core from
# tests/browser (see tests/browser/README.md). Sourced, not run:
#
#   . scripts/lib/browser.sh
#   ensure_browser            # installs what is missing, exports DVBGATE_CHROMIUM
#   node tests/browser/play-hls.mjs http://127.0.0.1:8080/.../index.m3u8
#
# Needs root (or sudo) only when a Debian package is missing; when everything is in place
# it touches nothing and takes well under a second. `npm ci` needs the npm registry once;
# afterwards everything runs offline.

# shellcheck shell=bash

if ! declare -F need_packages >/dev/null; then
    # shellcheck source=scripts/lib/common.sh
    . "$(dirname "${BASH_SOURCE[0]}")/common.sh"
fi

DVBGATE_BROWSER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/browser" && pwd)"

# Oldest Node.js the pinned playwright-core runs on (its package.json "engines"); Debian
# bookworm's own nodejs package is 18.
DVBGATE_NODE_MIN=18

# Installs Debian's chromium, Node.js and npm when missing, installs tests/browser's
# locked npm packages when node_modules is missing or older than package-lock.json, and
# exports DVBGATE_CHROMIUM: the browser binary (tests/browser/lib/launch.mjs reads it).
ensure_browser() {
    need_packages chromium
    # A Node.js from elsewhere (NodeSource's, which brings its own npm and conflicts with
    # Debian's npm package) is as good as Debian's: ask for the commands, not the packages.
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        need_packages nodejs npm
    fi
    local v
    v="$(node --version 2>/dev/null | sed 's/^v//')"
    version_ge "${v:-0}" "$DVBGATE_NODE_MIN" ||
        die "Node.js ${v:-?} is too old for tests/browser (needs >= $DVBGATE_NODE_MIN)"

    local lock="$DVBGATE_BROWSER_DIR/package-lock.json"
    local stamp="$DVBGATE_BROWSER_DIR/node_modules/.package-lock.json"
    # npm ci rewrites node_modules/.package-lock.json, so it is newer than the lockfile
    # exactly when the install is up to date with it.
    if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
        step "installing tests/browser's npm packages (npm ci)"
        (cd "$DVBGATE_BROWSER_DIR" && npm ci --no-audit --no-fund --loglevel=error) ||
            die "npm ci failed in $DVBGATE_BROWSER_DIR"
    fi

    # The real binary, not Debian's /usr/bin/chromium wrapper, which adds switches of its
    # own from /etc/chromium.d (extensions, GPU rasterization) to the ones the tests set.
    local bin
    for bin in /usr/lib/chromium/chromium /usr/bin/chromium; do
        if [ -x "$bin" ]; then
            export DVBGATE_CHROMIUM="$bin"
            return 0
        fi
    done
    die "package chromium is installed but no chromium binary was found"
}
