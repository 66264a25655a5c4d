#!/usr/bin/env bash
# Two `shenhe serve` replicas on one PostgreSQL database under 200 concurrent
# clients (issue 13): half of wrk's connections go to each replica, as a
# proxy would spread them. Every request files the NT plan submission with an
# Idempotency-Key of its own. Fails unless every answer was 2xx, no socket
# failed, and every acknowledged filing is a row.
#   tests/load/replicas.sh [seconds] [connections]
# SHENHE_BIN: the binary (default: a release build); SHENHE_TEST_POSTGRES: a
# server to use (default: a throwaway cluster from scripts/pg.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shenhe-target}"
secs="${1:-30}" conns="${2:-200}"
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] || SUDO=sudo; ${SUDO:-} apt-get install -y -qq wrk >/dev/null; }
if [ -z "${SHENHE_BIN:-}" ]; then
  cargo build -q --release -p shenhe_cli --locked
  SHENHE_BIN="$CARGO_TARGET_DIR/release/shenhe"
fi
tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${own_pg:-}" ] && scripts/pg.sh stop "$SHENHE_PG_DIR"
  rm -rf "$tmp"
}
trap cleanup EXIT
if [ -z "${SHENHE_TEST_POSTGRES:-}" ]; then
  eval "$(scripts/pg.sh start)"
  own_pg=1
fi
dbname="shenhe_load_$$"
psql -X -q "$SHENHE_TEST_POSTGRES" -c "CREATE DATABASE $dbname"
url="${SHENHE_TEST_POSTGRES%/*}/$dbname"
SHENHE_TOKEN="$("$SHENHE_BIN" token add --db "$url" --role submitter --division CN --name load | tail -1)"
export SHENHE_TOKEN
bases=()
for r in 1 2; do
  "$SHENHE_BIN" serve --rules rules --www www --db "$url" --addr 127.0.0.1:0 >"$tmp/replica$r.out" 2>"$tmp/replica$r.log" &
  pids+=($!)
done
for r in 1 2; do
  for _ in $(seq 600); do grep -q http:// "$tmp/replica$r.log" 2>/dev/null && break; sleep 0.1; done
  bases+=("$(grep -o 'http://[0-9.:]*' "$tmp/replica$r.log" | head -1)")
done
echo "replicas ${bases[*]} on $url ($($SHENHE_BIN --version 2>/dev/null || echo shenhe), $(nproc) cores)"
echo "$conns connections ($((conns / 2)) per replica), ${secs}s, POST /api/submissions (NT plan submission, a new Idempotency-Key each)"
for r in 1 2; do
  SHENHE_BODY=rules/national-medical-team/tests/base/plan.json SHENHE_KEY_PREFIX="r$r" \
    wrk -t1 -c$((conns / 2)) -d"${secs}s" --timeout 30s -s tests/load/post.lua "${bases[$((r - 1))]}/api/submissions" >"$tmp/wrk$r.txt" &
  wrks+=($!)
done
wait "${wrks[@]}"
total=0 bad=0
for r in 1 2; do
  echo "-- replica $r:"
  grep -E 'Requests/sec|^requests|^latency' "$tmp/wrk$r.txt"
  line="$(grep '^requests' "$tmp/wrk$r.txt")"
  read -r n non2xx s1 s2 s3 s4 <<<"$(echo "$line" | sed -E 's/requests ([0-9]+), non-2xx ([0-9]+), socket errors ([0-9]+)\/([0-9]+)\/([0-9]+)\/([0-9]+)/\1 \2 \3 \4 \5 \6/')"
  total=$((total + n))
  bad=$((bad + non2xx + s1 + s2 + s3 + s4))
done
rows="$(psql -X -At "$url" -c 'SELECT count(*) FROM submissions')"
echo "total: $total requests in ${secs}s = $((total / secs))/s; errors $bad; rows stored $rows"
[ "$bad" = 0 ] || { echo "FAIL: $bad requests failed"; tail -5 "$tmp"/replica*.out; exit 1; }
# A request cut off by wrk's deadline may have been stored unanswered: rows >= answers.
[ "$rows" -ge "$total" ] || { echo "FAIL: $total acknowledged but only $rows rows"; exit 1; }
echo "ok: 0 errors, every acknowledged filing stored"
