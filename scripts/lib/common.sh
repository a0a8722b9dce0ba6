# Shared by the scripts in scripts/: output, root, Debian packages, the Rust toolchain.
# Sourced, not run.

# Rust version the workspace needs (Cargo.toml: rust-version).
DVBGATE_MSRV="1.95"

step() {
    printf '\n==> %s\n' "$*"
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Runs a command as root: directly, or with sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "root is needed to run: $* (run as root or install sudo)"
    fi
}

# Installs the Debian/Ubuntu packages that are missing; updates the index only then.
need_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get: install them by hand"
        step "installing ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
}

# version_ge A B: true when version A >= version B (dotted numbers).
version_ge() {
    [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

# Makes `cargo` a toolchain recent enough for the workspace: the one on PATH (rustup), or
# Debian's rustc-web/cargo-web, or rustup installed from rustup.rs as a last resort. Also
# the C side of the build: libdvbv5 and its headers (firmware/dvbv5-sys, with bindgen's
# libclang and pkg-config), which every build of the daemon links.
ensure_rust() {
    need_packages gcc libc6-dev ca-certificates pkg-config libclang-dev libdvbv5-dev libudev-dev
    local v
    if command -v cargo >/dev/null 2>&1; then
        v="$(rustc --version 2>/dev/null | awk '{print $2}')"
        version_ge "${v:-0}" "$DVBGATE_MSRV" && return 0
    fi
    if [ -r /etc/debian_version ] && apt-cache show rustc-web >/dev/null 2>&1; then
        need_packages rustc-web cargo-web
        v="$(/usr/bin/rustc --version | awk '{print $2}')"
        if version_ge "$v" "$DVBGATE_MSRV"; then
            export PATH="/usr/bin:$PATH"
            return 0
        fi
    fi
    need_packages curl
    step "installing Rust with rustup (no packaged Rust >= $DVBGATE_MSRV found)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
}
