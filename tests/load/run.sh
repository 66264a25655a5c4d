#!/usr/bin/env bash
# Load run (issue 5): 200 concurrent clients for 30 s against `shenhe serve`
# on loopback, with wrk from Debian. Not part of the test command (it is a
# measurement); record its output in BENCHMARKS.md.
#   tests/load/run.sh [validate|submissions] [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shenhe-target}"
route="${1:-validate}" secs="${2:-30}" conns="${3:-200}"
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] || SUDO=sudo; ${SUDO:-} apt-get install -y -qq wrk >/dev/null; }
cargo build -q --release -p shenhe_cli --locked
tmp="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
# Filing needs a token (README, Access): a national submitter.
SHENHE_TOKEN="$("$CARGO_TARGET_DIR/release/shenhe" token add --db "$tmp/load.db" --role submitter --division CN --name load | tail -1)"
export SHENHE_TOKEN
"$CARGO_TARGET_DIR/release/shenhe" serve --rules rules --www www --db "$tmp/load.db" --addr 127.0.0.1:0 2> "$tmp/serve.log" &
pid=$!
for _ in $(seq 100); do grep -q http:// "$tmp/serve.log" 2>/dev/null && break; sleep 0.1; done
base="$(grep -o 'http://[0-9.:]*' "$tmp/serve.log" | head -1)"
echo "shenhe serve at $base; $conns connections, 2 wrk threads, ${secs}s, POST /api/$route (NT plan submission)"
SHENHE_BODY=rules/national-medical-team/tests/base/plan.json \
  wrk -t2 -c"$conns" -d"${secs}s" --timeout 30s -s tests/load/post.lua "$base/api/$route"
if [ "$route" = submissions ]; then
  echo "rows stored: $(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from submissions').fetchone()[0])" "$tmp/load.db")"
fi
