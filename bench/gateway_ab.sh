#!/usr/bin/env bash
# A/B of two `sealpost` binaries on the gateway's document requests, in one run (issue 20):
# each binary runs its own `sealpost up` (embedded SQLite, durable audit on), seeded through
# the API with DOCS documents and one 10,000-record audience; then RUNS rounds, each running
# `wrk -t2 -c32 -d$DUR --latency` against the 10,000-record path and the no-audience path of
# A then B. Prints per round: requests/s / server CPU µs per request / p99, for each.
#
#   cp target/release/sealpost /tmp/sealpost.before    # build A, keep it
#   ... change, cargo build --release ...
#   A=/tmp/sealpost.before B=target/release/sealpost RUNS=4 bench/gateway_ab.sh
#
# A quick before/after on a noisy machine (alternating, same run); the issue's figures come
# from bench/gateway_requests.sh (100,000 documents, the floor beside them).
set -euo pipefail
cd "$(dirname "$0")/.."
A=${A:?the first binary}
B=${B:-target/release/sealpost}
RUNS=${RUNS:-4}
DOCS=${DOCS:-200}
DUR=${DUR:-6s}
cargo build --release --quiet --example seed_documents
WORK=$(mktemp -d /tmp/sealpost-gab.XXXXXX)
declare -A BIN=([A]=$A [B]=$B) PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
for v in A B; do
  mkdir -p "$WORK/$v"
  SEALPOST__API__RATE_PER_SEC=1000000 SEALPOST__API__RATE_BURST=1000000 "${BIN[$v]}" up \
    --data-dir "$WORK/$v/data" --api-addr 127.0.0.1:0 --gateway-addr 127.0.0.1:0 \
    --vault-addr 127.0.0.1:0 >"$WORK/$v/out.log" 2>"$WORK/$v/err.log" &
  PIDS[$v]=$!
  for _ in $(seq 100); do grep -q '^Vault:' "$WORK/$v/out.log" && break; sleep 0.1; done
  api=$(sed -n 's/^API server: *//p' "$WORK/$v/out.log")
  target/release/examples/seed_documents --api "$api" --key "$WORK/$v/data/producer-default.pem" \
    --count "$DOCS" --concurrency 32 --audience 10000 >"$WORK/$v/seeded" 2>/dev/null
done
for r in $(seq "$RUNS"); do
  line="round $r:"
  for path in aud10k open; do
    for v in A B; do
      if [ "$path" = aud10k ]; then u=$(awk '$1=="audience" {print $3}' "$WORK/$v/seeded")
      else u=$(awk '$1=="open" {print $2}' "$WORK/$v/seeded"); fi
      c0=$(awk '{print $14+$15}' "/proc/${PIDS[$v]}/stat")
      out=$(wrk -t2 -c32 "-d$DUR" --latency "$u")
      c1=$(awk '{print $14+$15}' "/proc/${PIDS[$v]}/stat")
      rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
      n=$(awk '/requests in/ {print $1}' <<<"$out")
      p99=$(awk '/^ +99%/ {print $2}' <<<"$out")
      us=$(( (c1 - c0) * 1000000 / $(getconf CLK_TCK) / n ))
      line+=" $path-$v=$rps req/s/${us}µs/$p99"
    done
  done
  echo "$line"
done
