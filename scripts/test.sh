#!/usr/bin/env bash
# Every test: formatting, lints, unit + integration tests, every pack's
# fixtures, and the wasm32 build of the core. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
# Reuse one build directory across clones (CI runs in a fresh clone).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shenhe-target}"
step() { printf '\n== %s\n' "$*"; }

step "setup: wasm target, wasm-bindgen-cli, wasm-pack, binaryen, chromium, npm packages"
. scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (native, all targets)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo clippy (wasm32: the portal's module, then the playground's with feature authoring)"
cargo clippy -p shenhe_wasm --target wasm32-unknown-unknown --locked -- -D warnings
cargo clippy -p shenhe -p shenhe_wasm --features shenhe_wasm/authoring --target wasm32-unknown-unknown --locked -- -D warnings

step "cargo test --workspace (the HTTP suite on SQLite)"
env -u SHENHE_TEST_POSTGRES cargo test --workspace --locked

step "PostgreSQL: a throwaway cluster (scripts/pg.sh); the HTTP suite again on it; two replicas under 200 clients for 30 s"
eval "$(scripts/pg.sh start)"
trap 'scripts/pg.sh stop "$SHENHE_PG_DIR"' EXIT
echo "$SHENHE_TEST_POSTGRES"
cargo test -p shenhe_cli --test serve --locked
SHENHE_BIN="$CARGO_TARGET_DIR/debug/shenhe" tests/load/replicas.sh 30 200

step "shenhe test (every pack's fixtures)"
cargo run -q -p shenhe_cli --locked -- test --rules rules

step "shenhe test --mutate (the fixtures must kill at least 97 % of every pack's mutants)"
cargo run -q -p shenhe_cli --locked -- test --rules rules --mutate

step "wasm: the portal's and the playground's modules (www/pkg, www/playground/pkg); shenhe export (www/gen)"
scripts/build-wasm.sh
cargo run -q -p shenhe_cli --locked -- export --rules rules --out www/gen

step "parity corpus: native vs wasm in Node vs wasm in Chromium; JSON-Schema-Test-Suite"
SHENHE_BIN="$CARGO_TARGET_DIR/debug/shenhe" node tests/browser/parity.mjs

step "browser end-to-end: the demo portal on shenhe serve, in Chromium (screenshots in tests/browser/out/screenshots)"
SHENHE_BIN="$CARGO_TARGET_DIR/debug/shenhe" node tests/browser/e2e.mjs
