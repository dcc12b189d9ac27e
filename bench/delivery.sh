#!/usr/bin/env bash
# Delivery throughput (issue 8): a 10,000-record audience delivered through the generic HTTP
# fulfillment to tests/peers/http_receiver.py (Python's standard library, threaded, recording
# every request), on a fresh `sealpost up` (release build, embedded SQLite, or PostgreSQL when
# DATABASE_URL is set), RUNS times; then the receiver alone under wrk, for reference.
#
#   bench/delivery.sh                   # RUNS=3 RECORDS=10000 CONCURRENCY=32 (the default)
#   DATABASE_URL=postgres://… bench/delivery.sh
#
# Each run: upload one document with the audience and an HTTP fulfillment, POST …/deliver,
# poll GET …/deliveries/{id} every 0.5 s until no job is queued; the figure is recipients per
# second from the 202 to the first poll that sees the delivery done (so it is low by up to
# 0.5 s). Checks that the receiver saw every idempotency key, each served once.
# Needs curl, python3 and wrk (installed with apt-get when missing, as root or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
RECORDS=${RECORDS:-10000}
CONCURRENCY=${CONCURRENCY:-32}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v wrk >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --quiet --bin sealpost
WORK=$(mktemp -d /tmp/sealpost-dbench.XXXXXX)
PID= RPID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null
  [ -n "$RPID" ] && kill "$RPID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "machine: $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg);" \
  "database: ${DATABASE_URL:-sqlite}; delivery.concurrency=$CONCURRENCY"

python3 - "$RECORDS" >"$WORK/audience.json" <<'PY'
import json, sys
n = int(sys.argv[1])
records = [{"telephone": f"555{i:07d}", "email_address": f"v{i}@ipo.st"} for i in range(n)]
print(json.dumps({"type": "records", "viewerToken": "{?telephone}", "data": {"records": records}}))
PY

for run in $(seq "$RUNS"); do
  rm -f "$WORK/receiver.out" "$WORK/out.log"   # the waits below read them
  python3 tests/peers/http_receiver.py 0 >"$WORK/receiver.out" 2>"$WORK/receiver.err" &
  RPID=$!
  for _ in $(seq 50); do [ -s "$WORK/receiver.out" ] && break; sleep 0.1; done
  RECEIVER="http://127.0.0.1:$(awk '{print $2}' "$WORK/receiver.out")"
  rm -rf "$WORK/data"
  env SEALPOST__DELIVERY__CONCURRENCY="$CONCURRENCY" ${DATABASE_URL:+SEALPOST__DATABASE__URL="$DATABASE_URL"} \
    target/release/sealpost up --data-dir "$WORK/data" --api-addr 127.0.0.1:0 \
    --gateway-addr 127.0.0.1:0 --vault-addr 127.0.0.1:0 >"$WORK/out.log" 2>"$WORK/err.log" &
  PID=$!
  for _ in $(seq 100); do grep -q '^Vault:' "$WORK/out.log" && break; sleep 0.1; done
  API=$(sed -n 's/^API server: *//p' "$WORK/out.log")
  AUTH=$(curl -sf -D - -o /dev/null -F "key=<$WORK/data/producer-default.pem" -F email=bench@example.com \
    "$API/login" | tr -d '\r' | sed -n 's/^[Aa]uthorization: //p')
  printf '{"type": "http", "href": "%s/bulk", "body": "to={email_address}&link={+link}"}' \
    "$RECEIVER" >"$WORK/fulfillment.json"
  DOC=$(curl -sf -H "Authorization: Bearer $AUTH" -F "document=@bench/delivery.sh;type=text/plain" \
    -F "audience=<$WORK/audience.json" -F "fulfillment=<$WORK/fulfillment.json" "$API/documents" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  start=$(date +%s.%N)
  LOCATION=$(curl -sf -X POST -D - -o /dev/null -H "Authorization: Bearer $AUTH" "$API/documents/$DOC/deliver" |
    tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  while :; do
    state=$(curl -sf -H "Authorization: Bearer $AUTH" "$LOCATION" |
      python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["state"], d["counts"]["sent"], d["counts"]["failed"])')
    case $state in done*) break ;; esac
    sleep 0.5
  done
  end=$(date +%s.%N)
  served=$(curl -sf "$RECEIVER/_control" | python3 -c '
import collections, json, sys
requests = json.load(sys.stdin)["requests"]
served = collections.Counter(r["headers"]["idempotency-key"] for r in requests if not r["duplicate"])
print(len(requests), len(served), max(served.values()))')
  python3 -c "
import sys
s = $end - $start
state, served = '$state'.split(), '$served'.split()
print(f'run $run: {$RECORDS} recipients in {s:.2f} s = {$RECORDS / s:.0f}/s; sent {state[1]}, failed {state[2]};'
      f' receiver: {served[0]} requests, {served[1]} keys, each served at most {served[2]}x')"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  kill "$RPID"; wait "$RPID" 2>/dev/null || true; RPID=
done

# The receiver alone: the ceiling this setup can reach.
rm -f "$WORK/receiver.out"
python3 tests/peers/http_receiver.py 0 >"$WORK/receiver.out" &
RPID=$!
for _ in $(seq 50); do [ -s "$WORK/receiver.out" ] && break; sleep 0.1; done
cat >"$WORK/post.lua" <<'LUA'
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", "/bulk", {["Content-Type"] = "application/x-www-form-urlencoded",
    ["Idempotency-Key"] = "wrk." .. counter}, "to=v1%40ipo.st&link=http://127.0.0.1:1/l/x")
end
LUA
echo "receiver alone (wrk -t2 -c$CONCURRENCY -d10s, same body):"
wrk -t2 "-c$CONCURRENCY" -d10s -s "$WORK/post.lua" "http://127.0.0.1:$(awk '{print $2}' "$WORK/receiver.out")" |
  grep -E 'Requests/sec|Latency'
