#!/usr/bin/env bash
# The main job: build the wasm module and the shenhe binary, check the sample
# submissions, then serve the demo portal, the rule playground and the
# re-validation API on http://127.0.0.1:8080/ (Ctrl-C stops it).
# SHENHE_ADDR and SHENHE_DB override the address and the database file.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shenhe-target}"
scripts/build-wasm.sh
cargo build -q --release -p shenhe_cli --locked
BIN="$CARGO_TARGET_DIR/release/shenhe"
"$BIN" export --rules rules --out www/gen
status=0
"$BIN" check --format text --rules rules tests/samples/*.json || status=$?
echo "shenhe check exited with $status (0 = no error findings, 1 = error findings, 2 = unreadable input)"
addr="${SHENHE_ADDR:-127.0.0.1:8080}"
db="${SHENHE_DB:-shenhe.db}"
# A demo submitter token (national, valid 30 days); the demo pages read it from ?token=.
token="$("$BIN" token add --db "$db" --role submitter --division CN --name demo \
  --expires "$(date -d '+30 days' +%F)" | tail -1)"
echo
echo "Demo token:   $token   (a national submitter; \`shenhe token list --db $db\`)"
echo "Demo portal:  http://$addr/?token=$token"
echo "              (national medical team form; /shanxi.html?token=…: Shanxi 2013 free-clinic week)"
echo "Playground:   http://$addr/playground/"
echo "API:          POST http://$addr/api/validate (open), POST /api/submissions and GET /api/submissions[/{id}] (Authorization: Bearer <token>), GET /api/packs"
exec "$BIN" serve --rules rules --www www --addr "$addr" --db "$db"
