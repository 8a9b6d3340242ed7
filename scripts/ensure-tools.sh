#!/usr/bin/env bash
# Installs what Signet's build and tests need, skipping every step that is already satisfied.
# Safe to run again and again (make runs it before build, run, test and e2e); works under CI=true
# with no stdin. Prints one line per step: "have X" or "installing X".
#
# Nothing here downloads from outside the package registries: cargo-leptos is built with
# `no_downloads`, so it uses the wasm-bindgen and wasm-opt found on PATH (see the last line printed),
# and Playwright drives Debian's Chromium instead of downloading a browser of its own.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

CARGO_LEPTOS_VERSION=0.3.10
NODE_MAJOR_MIN=20 # @playwright/test needs Node.js 20 or later
DEBIAN_PACKAGES=(chromium fonts-liberation wrk openssl curl brotli)
# wasm-opt comes from the npm package `binaryen`, a dev dependency of end2end/.
node_bin="$root/end2end/node_modules/.bin"

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$cargo_bin:$node_bin:$PATH"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export DEBIAN_FRONTEND=noninteractive

have() { printf 'have %s\n' "$*"; }
installing() { printf 'installing %s\n' "$*"; }
die() {
    printf 'ensure-tools: %s\n' "$*" >&2
    exit 1
}

# Root runs apt-get itself; anyone else goes through sudo when there is one.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# The exact version of a package recorded in Cargo.lock, e.g. `locked_version wasm-bindgen`.
locked_version() {
    awk -v want="\"$1\"" '
        /^\[\[package\]\]/ { name = "" }
        $1 == "name" && $2 == "=" { name = $3 }
        $1 == "version" && $2 == "=" && name == want { gsub(/"/, "", $3); print $3; exit }
    ' Cargo.lock
}

ensure_debian_packages() {
    local missing=() pkg
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        have "Debian packages: ${DEBIAN_PACKAGES[*]}"
        return
    fi
    installing "Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root apt-get install -y -qq "${missing[@]}" </dev/null
}

ensure_rust_parts() {
    command -v rustup >/dev/null 2>&1 || die "rustup not found: install Rust with rustup first (https://rustup.rs)"
    local targets components
    targets=$(rustup target list --installed)
    if grep -qx 'wasm32-unknown-unknown' <<<"$targets"; then
        have "Rust target wasm32-unknown-unknown"
    else
        installing "Rust target wasm32-unknown-unknown"
        rustup target add wasm32-unknown-unknown
    fi
    components=$(rustup component list --installed)
    if grep -q '^rustfmt' <<<"$components" && grep -q '^clippy' <<<"$components"; then
        have "rustfmt and clippy"
    else
        installing "rustfmt and clippy"
        rustup component add rustfmt clippy
    fi
}

ensure_cargo_leptos() {
    local version
    version=$(cargo leptos --version 2>/dev/null || true)
    if grep -qFw "$CARGO_LEPTOS_VERSION" <<<"$version"; then
        have "cargo-leptos $CARGO_LEPTOS_VERSION"
    else
        installing "cargo-leptos $CARGO_LEPTOS_VERSION (found: ${version:-none})"
        cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
    fi
}

ensure_wasm_bindgen() {
    local wanted version
    wanted=$(locked_version wasm-bindgen)
    [ -n "$wanted" ] || die "no wasm-bindgen entry in Cargo.lock"
    version=$(wasm-bindgen --version 2>/dev/null || true)
    if grep -qFw "$wanted" <<<"$version"; then
        have "wasm-bindgen-cli $wanted"
    else
        installing "wasm-bindgen-cli $wanted (found: ${version:-none})"
        cargo install wasm-bindgen-cli --version "=$wanted" --locked
    fi
}

ensure_node() {
    local major=0
    if command -v node >/dev/null 2>&1; then
        major=$(node -p 'process.versions.node.split(".")[0]')
    else
        installing "Node.js and npm (Debian)"
        as_root apt-get update -qq
        as_root apt-get install -y -qq nodejs npm </dev/null
        major=$(node -p 'process.versions.node.split(".")[0]')
    fi
    [ "$major" -ge "$NODE_MAJOR_MIN" ] || die "Node.js $major is too old: Playwright needs $NODE_MAJOR_MIN or later"
    have "Node.js $(node --version), npm $(npm --version 2>/dev/null)"
}

ensure_npm_deps() {
    # npm ci rewrites node_modules/.package-lock.json, so it is newer than the lock file after an install.
    local stamp=end2end/node_modules/.package-lock.json
    if [ -f "$stamp" ] && [ ! end2end/package-lock.json -nt "$stamp" ] && [ ! end2end/package.json -nt "$stamp" ]; then
        have "npm packages of end2end/ (Playwright, binaryen)"
    else
        installing "npm packages of end2end/ (npm ci)"
        (cd end2end && npm ci --no-audit --no-fund </dev/null)
    fi
}

ensure_python() {
    # compat/run.sh makes a virtualenv for the Auth0 SDK suite.
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' 2>/dev/null; then
        have "Python $(python3 -c 'import platform; print(platform.python_version())') with venv"
    else
        installing "python3 and python3-venv (Debian)"
        as_root apt-get update -qq
        as_root apt-get install -y -qq python3 python3-venv </dev/null
    fi
}

ensure_wasm_opt() {
    local path
    path=$(command -v wasm-opt) || die "wasm-opt not on PATH: end2end/node_modules/.bin should provide it (npm ci in end2end/)"
    have "wasm-opt $(wasm-opt --version | awk '{print $3}') ($path)"
}

ensure_debian_packages
ensure_rust_parts
ensure_cargo_leptos
ensure_wasm_bindgen
ensure_node
ensure_npm_deps
ensure_python
ensure_wasm_opt

# cargo-leptos (no_downloads) looks wasm-bindgen and wasm-opt up on PATH; the Makefile sets this itself.
# shellcheck disable=SC2016 # $PATH is meant literally: the line is for the caller's shell
printf 'export PATH="%s:%s:$PATH"\n' "$cargo_bin" "$node_bin"
