#!/usr/bin/env bash
# Installs what the wasm build and the browser tests need, once per machine:
# the wasm32 target, wasm-bindgen-cli at exactly the version Cargo.lock pins,
# wasm-pack, Debian's binaryen (wasm-opt), brotli, chromium, wrk and PostgreSQL's
# server (for the store tests), and the npm packages of tests/browser. Safe to
# run again: each step is skipped when done.
# Source it (`. scripts/setup.sh`) to get the tools on PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${SHENHE_TOOLS:-$HOME/.cache/shenhe-tools}"
export PATH="$TOOLS/bin:$PATH"
WASM_PACK_VERSION=0.15.1
say() { printf '\n== setup: %s\n' "$*"; }

rustup target list --installed | grep -qx wasm32-unknown-unknown || { say "rustup target add wasm32-unknown-unknown"; rustup target add wasm32-unknown-unknown; }

WBG="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock")"
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $WBG"; then
  say "wasm-bindgen-cli $WBG (the version Cargo.lock pins)"
  # --locked first; its own lock file can name a crate version the registry
  # mirror lacks, and then the newest compatible dependencies are used.
  cargo install --quiet --root "$TOOLS" --locked wasm-bindgen-cli --version "=$WBG" ||
    cargo install --quiet --root "$TOOLS" wasm-bindgen-cli --version "=$WBG"
fi
if ! wasm-pack --version 2>/dev/null | grep -qx "wasm-pack $WASM_PACK_VERSION"; then
  say "wasm-pack $WASM_PACK_VERSION"
  cargo install --quiet --root "$TOOLS" --locked wasm-pack --version "=$WASM_PACK_VERSION"
fi

missing=()
command -v wasm-opt >/dev/null || missing+=(binaryen)
command -v chromium >/dev/null || missing+=(chromium)
command -v brotli >/dev/null || missing+=(brotli)
# The load run of the replicas (tests/load/replicas.sh); PostgreSQL's server for
# the store tests (scripts/pg.sh starts a throwaway cluster of it).
command -v wrk >/dev/null || missing+=(wrk)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v psql >/dev/null || missing+=(postgresql-client)
# A CJK font, so the browser tests' screenshots show the Chinese text.
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
if ((${#missing[@]})); then
  say "apt-get install ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Again whenever package-lock.json changed since the last install.
if [ ! -f "$ROOT/tests/browser/node_modules/.package-lock.json" ] ||
  [ "$ROOT/tests/browser/package-lock.json" -nt "$ROOT/tests/browser/node_modules/.package-lock.json" ]; then
  say "npm ci (tests/browser)"
  (cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)
fi
