#!/usr/bin/env bash
# Every test: formatting, lints, unit + integration tests, every pack's
# fixtures, and the wasm32 build of the core. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
# Reuse one build directory across clones (CI runs in a fresh clone).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shenhe-target}"
step() { printf '\n== %s\n' "$*"; }

step "toolchain: wasm32-unknown-unknown target"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (native, all targets)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo clippy (core for wasm32)"
cargo clippy -p shenhe --target wasm32-unknown-unknown --locked -- -D warnings

step "cargo build -p shenhe --target wasm32-unknown-unknown"
cargo build -p shenhe --target wasm32-unknown-unknown --locked

step "cargo test --workspace"
cargo test --workspace --locked

step "shenhe test (every pack's fixtures)"
cargo run -q -p shenhe_cli --locked -- test --rules rules
