#!/usr/bin/env bash
# Builds the playground's editor bundle (CodeMirror, esbuild), then the two
# browser modules from crates/shenhe_wasm:
#   www/pkg/             the portal's module: bundles, validate, attach (no TOML, no pack sources);
#   www/playground/pkg/  the playground's: the same plus Validator.fromFiles (feature `authoring`).
# Each is wasm-pack --target web (with the wasm-bindgen that Cargo.lock pins),
# then wasm-opt -Oz; the .wasm is renamed to carry its content hash
# (shenhe_wasm_bg.<hash>.wasm, served as immutable) and written beside it
# brotli- and gzip-compressed, as is the JS glue. Nothing is rebuilt when
# the inputs (the crates' sources, Cargo.toml/lock, this script) are
# unchanged: the stamp www/pkg/.inputs records them (SHENHE_WASM_FORCE=1 rebuilds).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shenhe-target}"
. scripts/setup.sh
step() { printf '\n== %s\n' "$*"; }

# The playground's code editor: CodeMirror 6 from npm (tests/browser/package.json),
# bundled into one file beside the playground. Fast, so it is always rebuilt.
step "esbuild: the playground's editor (CodeMirror 6) → www/playground/editor.js"
NODE_PATH=tests/browser/node_modules tests/browser/node_modules/.bin/esbuild www/playground/editor-src.js --bundle --format=esm --minify \
  --legal-comments=eof --log-level=warning --outfile=www/playground/editor.js
gzip -9 -n -k -f www/playground/editor.js
brotli -q 11 -k -f www/playground/editor.js

inputs="$(
  find crates/shenhe crates/shenhe_wasm -type f \( -name '*.rs' -o -name Cargo.toml \) -not -path '*/target/*' | LC_ALL=C sort |
    xargs sha256sum
  sha256sum Cargo.toml Cargo.lock scripts/build-wasm.sh
)"
stamp="$(printf '%s\n' "$inputs" | sha256sum | cut -c1-64)"
if [ "${SHENHE_WASM_FORCE:-0}" != 1 ] && [ -f www/pkg/.inputs ] && [ "$(cat www/pkg/.inputs)" = "$stamp" ] &&
  [ -f www/playground/pkg/shenhe_wasm.js ] && ls www/pkg/shenhe_wasm_bg.*.wasm >/dev/null 2>&1; then
  step "wasm modules are up to date (inputs unchanged; SHENHE_WASM_FORCE=1 rebuilds)"
  exit 0
fi

# Debian's wasm-opt when it is new enough; bookworm's binaryen 108 cannot read
# the reference-types code rustc emits for wasm32 by default since Rust 1.82
# ("invalid code after misc prefix: 17", table.fill), so then the npm
# registry's binaryen build (pinned in tests/browser/package.json) is used.
WASM_OPT=wasm-opt
if [ "$(wasm-opt --version | grep -oE '[0-9]+' | head -1)" -lt 117 ]; then
  WASM_OPT=tests/browser/node_modules/.bin/wasm-opt
fi

# build OUT_DIR [cargo args…]
build() {
  local out="$1"
  shift
  step "wasm-pack build crates/shenhe_wasm --target web (profile wasm-release) $* → $out"
  rm -rf "$out"
  # --mode no-install: use the wasm-bindgen that setup.sh installed (no download).
  wasm-pack --quiet build crates/shenhe_wasm --target web --mode no-install --no-opt --profile wasm-release \
    --out-dir "$PWD/$out" --out-name shenhe_wasm -- "$@"
  rm -f "$out/.gitignore"

  step "wasm-opt -Oz ($("$WASM_OPT" --version))"
  "$WASM_OPT" -Oz --enable-reference-types --enable-multivalue --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
    "$out/shenhe_wasm_bg.wasm" -o "$out/shenhe_wasm_bg.opt.wasm"
  mv "$out/shenhe_wasm_bg.opt.wasm" "$out/shenhe_wasm_bg.wasm"

  # The content hash in the file name: browsers and CDNs may keep it for a year.
  local hash name
  hash="$(sha256sum "$out/shenhe_wasm_bg.wasm" | cut -c1-12)"
  name="shenhe_wasm_bg.$hash.wasm"
  mv "$out/shenhe_wasm_bg.wasm" "$out/$name"
  grep -q "'shenhe_wasm_bg.wasm'" "$out/shenhe_wasm.js" || { echo "build-wasm.sh: the wasm-bindgen glue no longer names shenhe_wasm_bg.wasm" >&2; exit 1; }
  sed -i "s/'shenhe_wasm_bg\.wasm'/'$name'/" "$out/shenhe_wasm.js"
  sed -i "s/\"shenhe_wasm_bg\.wasm\"/\"$name\"/" "$out/package.json"

  for f in "$out/$name" "$out/shenhe_wasm.js"; do
    gzip -9 -n -k -f "$f"
    brotli -q 11 -k -f "$f"
  done
  local raw gz br
  raw=$(stat -c %s "$out/$name")
  gz=$(stat -c %s "$out/$name.gz")
  br=$(stat -c %s "$out/$name.br")
  echo "$out/$name: $raw bytes, $gz gzip -9, $br brotli -q 11 (budget 819200)"
}

build www/pkg --no-default-features
build www/playground/pkg --features authoring
printf '%s\n' "$stamp" > www/pkg/.inputs
