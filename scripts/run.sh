#!/usr/bin/env bash
# The main job: build shenhe and check the sample submissions against every
# pack, printing the readable report. (The wasm demo portal and the
# re-validation server join this script when they land.)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shenhe-target}"
cargo build -q --release -p shenhe_cli --locked
status=0
"$CARGO_TARGET_DIR/release/shenhe" check --format text --rules rules tests/samples/*.json || status=$?
echo "shenhe check exited with $status (0 = no error findings, 1 = error findings, 2 = unreadable input)"
