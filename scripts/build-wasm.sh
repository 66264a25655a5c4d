#!/usr/bin/env bash
# Builds the browser module into www/pkg: wasm-pack --target web (with the
# wasm-bindgen that Cargo.lock pins), then wasm-opt -Oz. The bundles the
# pages fetch come from `shenhe export` (www/gen) or `shenhe serve` (/gen/).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shenhe-target}"
. scripts/setup.sh
step() { printf '\n== %s\n' "$*"; }

step "wasm-pack build crates/shenhe_wasm --target web (profile wasm-release)"
# --mode no-install: use the wasm-bindgen that setup.sh installed (no download).
wasm-pack --quiet build crates/shenhe_wasm --target web --mode no-install --no-opt --profile wasm-release \
  --out-dir ../../www/pkg --out-name shenhe_wasm
rm -f www/pkg/.gitignore

step "wasm-opt -Oz"
# Debian's wasm-opt when it is new enough; bookworm's binaryen 108 cannot read
# the reference-types code rustc emits for wasm32 by default since Rust 1.82
# ("invalid code after misc prefix: 17", table.fill), so then the npm
# registry's binaryen build (pinned in tests/browser/package.json) is used.
WASM_OPT=wasm-opt
if [ "$(wasm-opt --version | grep -oE '[0-9]+' | head -1)" -lt 117 ]; then
  WASM_OPT=tests/browser/node_modules/.bin/wasm-opt
fi
echo "$("$WASM_OPT" --version)"
"$WASM_OPT" -Oz --enable-reference-types --enable-multivalue --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
  www/pkg/shenhe_wasm_bg.wasm -o www/pkg/shenhe_wasm_bg.opt.wasm
mv www/pkg/shenhe_wasm_bg.opt.wasm www/pkg/shenhe_wasm_bg.wasm
raw=$(stat -c %s www/pkg/shenhe_wasm_bg.wasm)
gz=$(gzip -9 -c www/pkg/shenhe_wasm_bg.wasm | wc -c)
echo "www/pkg/shenhe_wasm_bg.wasm: $raw bytes, $gz gzipped (budget 819200)"

