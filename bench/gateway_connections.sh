#!/usr/bin/env bash
# The gateway's requests/s against wrk's connection count, beside the floor (issue 20).
#
#   bench/gateway_connections.sh                       # CONNS="8 32 128" RUNS=2 DUR=5s
#   CONNS="32 64" RUNS=3 DUR=10s bench/gateway_connections.sh
#
# Why: with durable audit on, every answer waits for its record's fsynced group commit, so a
# client with one request outstanding per connection (wrk) can get at most one answer per
# connection per commit. This bench shows whether a path is bound by that latency (its
# requests/s rise with connections while the floor's stay flat) or by CPU, and what a commit
# costs: server CPU per request falls as the batches grow (a + b / batch).
#
# Starts `sealpost up` (embedded SQLite, local store, durable audit on) on a fresh data
# directory, seeds DOCS documents and one 10,000-record audience through the API
# (examples/seed_documents.rs), starts examples/gateway_floor.rs, then for each connection
# count RUNS rounds of `wrk -t2 -c$c -d$DUR --latency` on the floor, the no-audience path and
# the 10,000-record path. Per target: requests/s, server CPU µs per request (/proc/PID/stat),
# p50, p99; for the gateway paths the mean group-commit batch of the gateway log (from
# `sealpost_group_commit_batch_size` at the admin address).
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-8 32 128}
RUNS=${RUNS:-2}
DUR=${DUR:-5}
DUR=${DUR%s}
DOCS=${DOCS:-200}
cargo build --release --quiet --bin sealpost --example seed_documents --example gateway_floor
WORK=$(mktemp -d /tmp/sealpost-gconn.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

SEALPOST__API__RATE_PER_SEC=1000000 SEALPOST__API__RATE_BURST=1000000 target/release/sealpost up \
  --data-dir "$WORK/data" --api-addr 127.0.0.1:0 --gateway-addr 127.0.0.1:0 \
  --vault-addr 127.0.0.1:0 --admin-addr 127.0.0.1:0 >"$WORK/out.log" 2>"$WORK/err.log" &
PID=$!
PIDS+=("$PID")
for _ in $(seq 100); do grep -q '^Metrics:' "$WORK/out.log" && break; sleep 0.1; done
API=$(sed -n 's/^API server: *//p' "$WORK/out.log")
METRICS=$(sed -n 's/^Metrics: *//p' "$WORK/out.log")
target/release/examples/seed_documents --api "$API" --key "$WORK/data/producer-default.pem" \
  --count "$DOCS" --concurrency 32 --audience 10000 >"$WORK/seeded" 2>/dev/null
target/release/examples/gateway_floor 127.0.0.1:0 >"$WORK/floor.log" 2>&1 &
FLOOR=$!
PIDS+=("$FLOOR")
for _ in $(seq 100); do grep -q '^Floor:' "$WORK/floor.log" && break; sleep 0.1; done
declare -A URL=(
  [floor]=$(sed -n 's/^Floor: *//p' "$WORK/floor.log")
  [open]=$(awk '$1=="open" {print $2}' "$WORK/seeded")
  [aud10k]=$(awk '$1=="audience" {print $3}' "$WORK/seeded")
)
declare -A SERVER=([floor]=$FLOOR [open]=$PID [aud10k]=$PID)

# "sum count" of the gateway log's group-commit batch sizes.
batches() {
  curl -s "$METRICS" | awk '/^sealpost_group_commit_batch_size_sum\{log="gateway"\}/ {s=$2}
    /^sealpost_group_commit_batch_size_count\{log="gateway"\}/ {c=$2} END {print s+0, c+0}'
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

for c in $CONNS; do
  for r in $(seq "$RUNS"); do
    line="c=$c round $r:"
    for t in floor open aud10k; do
      read -r s0 k0 < <(batches)
      t0=$(ticks "${SERVER[$t]}")
      out=$(wrk -t2 "-c$c" "-d${DUR}s" --latency "${URL[$t]}")
      t1=$(ticks "${SERVER[$t]}")
      read -r s1 k1 < <(batches)
      rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
      n=$(awk '/requests in/ {print $1}' <<<"$out")
      p50=$(awk '/^ +50%/ {print $2}' <<<"$out")
      p99=$(awk '/^ +99%/ {print $2}' <<<"$out")
      us=$(( (t1 - t0) * 1000000 / $(getconf CLK_TCK) / n ))
      line+=" | $t $rps req/s, ${us} µs/req, p50 $p50, p99 $p99"
      if [ "$t" != floor ]; then
        line+=$(awk -v s="$((s1 - s0))" -v k="$((k1 - k0))" -v d="$DUR" \
          'BEGIN {if (k > 0) printf ", batch %.1f, %.0f commits/s", s / k, k / d}')
      fi
    done
    echo "$line"
  done
done
