#!/usr/bin/env bash
# Upload throughput of `sealpost up` against the hash+seal ceiling, in one run (issue 20).
#
#   bench/upload_ceiling.sh                          # 256 MiB, 5 rounds, then 1 GiB for RSS
#   SIZE_MIB=16 RUNS=2 BIG_MIB=64 bench/upload_ceiling.sh   # smoke run
#
# Builds the release binary and examples/seal_ceiling.rs, starts `sealpost up` on a fresh data
# directory (embedded SQLite, local store), then RUNS alternating rounds of {the ceiling
# harness (SHA-1 + SHA-256 + AES-256-GCM seal of SIZE_MIB from memory, single core and the
# upload's two-core pipeline), one `curl -F document=@file` upload of SIZE_MIB of random
# bytes (checked by the SHA-1 the API returns; the server's CPU per MiB from /proc/PID/stat,
# curl's own from bash's `time`: client and server share the machine's cores)}.
# Reports the medians and the ratio upload / single-core ceiling. Then it restarts the server
# (so VmHWM is that upload's alone), uploads BIG_MIB and reads the peak RSS (VmHWM).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-256}
RUNS=${RUNS:-5}
BIG_MIB=${BIG_MIB:-1024}

cargo build --release --quiet --bin sealpost --example seal_ceiling
WORK=$(mktemp -d /tmp/sealpost-upload-ceiling.XXXXXX)
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

head -c $((SIZE_MIB << 20)) /dev/urandom > "$WORK/doc.bin"
head -c $((BIG_MIB << 20)) /dev/urandom > "$WORK/big.bin"

start_server() {
  rm -rf "$WORK/data"
  target/release/sealpost up --data-dir "$WORK/data" --api-addr 127.0.0.1:0 \
    --gateway-addr 127.0.0.1:0 --vault-addr 127.0.0.1:0 >"$WORK/out.log" 2>"$WORK/err.log" &
  PID=$!
  for _ in $(seq 100); do grep -q '^API server:' "$WORK/out.log" && break; sleep 0.1; done
  API=$(sed -n 's/^API server: //p' "$WORK/out.log")
  TOKEN=$(curl -s -D - -o /dev/null -F key=@"$WORK/data/producer-default.pem" \
    -F email=bench@example.com "$API/login" | awk 'tolower($1)=="authorization:" {print $2}' | tr -d '\r')
}
stop_server() { kill "$PID"; wait "$PID" || true; PID=; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }

# Uploads $1 and checks the SHA-1 the API returns; prints the seconds curl took. curl's user
# and system CPU seconds go to $WORK/curl_cpu.
upload() {
  local seconds got TIMEFORMAT='%3U %3S'
  { time curl -s -o "$WORK/record.json" -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
    -F "document=@$1;type=application/octet-stream" "$API/documents" >"$WORK/seconds"; } 2>"$WORK/curl_cpu"
  seconds=$(cat "$WORK/seconds")
  got=$(python3 -c "import json; print(json.load(open('$WORK/record.json'))['hash']['value'])")
  [ "$got" = "$(sha1sum "$1" | cut -d' ' -f1)" ] || { echo "SHA-1 mismatch on $1" >&2; exit 1; }
  echo "$seconds"
}

start_server
rows=()
for run in $(seq "$RUNS"); do
  ceiling=$(target/release/examples/seal_ceiling "$SIZE_MIB")
  before=$(cpu_ticks)
  seconds=$(upload "$WORK/doc.bin")
  ticks=$(( $(cpu_ticks) - before ))
  read -r up cpu < <(python3 -c "print(f'{($SIZE_MIB << 20) / $seconds / 1e6:.0f}', f'{$ticks * 10 / $SIZE_MIB:.2f}')")
  client=$(awk -v mib="$SIZE_MIB" '{printf "%.2f", ($1 + $2) * 1000 / mib}' "$WORK/curl_cpu")
  single=$(sed 's/.*single_core_mbps=\([0-9]*\).*/\1/' <<<"$ceiling")
  two=$(sed 's/.*two_core_mbps=\([0-9]*\).*/\1/' <<<"$ceiling")
  echo "round $run: upload $up MB/s (${seconds}s, server CPU $cpu ms/MiB, curl CPU $client ms/MiB); ceiling single core $single MB/s, two cores $two MB/s"
  rows+=("$up $single $two $cpu $client")
  # Keep the data directory from growing round by round.
  DOC=$(python3 -c "import json; print(json.load(open('$WORK/record.json'))['id'])")
  curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $TOKEN" "$API/documents/$DOC"
done
stop_server
printf '%s\n' "${rows[@]}" | python3 -c "
import sys, statistics
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
up, single, two, cpu, client = (statistics.median(c) for c in zip(*rows))
ratios = statistics.median(r[0] / r[1] for r in rows)
print(f'median of {len(rows)} rounds, $SIZE_MIB MiB: upload {up:.0f} MB/s, ceiling single core {single:.0f} MB/s, '
      f'two cores {two:.0f} MB/s, server CPU {cpu:.2f} ms/MiB, curl CPU {client:.2f} ms/MiB')
print(f'ratio upload / single-core ceiling: {up / single:.2f} (median of per-round ratios {ratios:.2f})')
"

start_server
seconds=$(upload "$WORK/big.bin")
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
stop_server
echo "$BIG_MIB MiB upload: $(python3 -c "print(f'{($BIG_MIB << 20) / $seconds / 1e6:.0f}')") MB/s (${seconds}s), peak RSS of sealpost up $((rss_kib / 1024)) MiB"
