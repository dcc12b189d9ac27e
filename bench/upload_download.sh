#!/usr/bin/env bash
# Uploads and downloads one large document through the producer API of a release build of
# `sealpost up` and reports throughput and the server's peak RSS (VmHWM).
#
#   bench/upload_download.sh            # 1 GiB, 3 runs, median reported
#   SIZE_MIB=256 RUNS=1 bench/upload_download.sh
#   SIZE_MIB=256 RUNS=5 STORES="local s3" bench/upload_download.sh   # issue 19: side by side
#
# Each run uses a fresh data directory; the download is checked byte for byte (SHA-1). With
# `s3` in STORES, each run also stores the document on an S3-protocol server on loopback
# (moto, started by tests/s3/start; `vault.store_url = s3://bench/runN`), alternating with
# the local store so both see the same machine, followed by the S3 server's own pace with boto3
# (bench/s3_ceiling.py: the ceiling of the s3 store's figures).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
STORES=${STORES:-local}

cargo build --release --quiet
WORK=$(mktemp -d /tmp/sealpost-bench.XXXXXX)
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null
  [ -f "$WORK/s3/pid" ] && kill "$(cat "$WORK/s3/pid")" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

head -c $((SIZE_MIB << 20)) /dev/urandom > "$WORK/doc.bin"
EXPECTED=$(sha1sum "$WORK/doc.bin" | cut -d' ' -f1)
BYTES=$((SIZE_MIB << 20))

mbps() { python3 -c "print(f'{$BYTES / $1 / 1e6:.0f}')"; }

if [[ " $STORES " == *" s3 "* ]]; then
  ENDPOINT=$(tests/s3/start "$WORK/s3")
  curl -s -X PUT -o /dev/null "$ENDPOINT/bench"
  export AWS_ENDPOINT=$ENDPOINT AWS_ALLOW_HTTP=true AWS_ACCESS_KEY_ID=bench \
    AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1
fi

results=()
for run in $(seq "$RUNS"); do
 for store in $STORES; do
  rm -rf "$WORK/data"
  store_url=""
  [ "$store" = s3 ] && store_url="s3://bench/run$run"
  SEALPOST__VAULT__STORE_URL=$store_url target/release/sealpost up --data-dir "$WORK/data" --api-addr 127.0.0.1:0 \
    --gateway-addr 127.0.0.1:0 --vault-addr 127.0.0.1:0 >"$WORK/out.log" 2>"$WORK/err.log" &
  PID=$!
  for _ in $(seq 100); do grep -q '^API server:' "$WORK/out.log" && break; sleep 0.1; done
  API=$(sed -n 's/^API server: //p' "$WORK/out.log")
  TOKEN=$(curl -s -D - -o /dev/null -F key=@"$WORK/data/producer-default.pem" -F email=bench@example.com \
    "$API/login" | awk 'tolower($1)=="authorization:" {print $2}' | tr -d '\r')
  up=$(curl -s -o "$WORK/record.json" -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
    -F "document=@$WORK/doc.bin;type=application/octet-stream" "$API/documents")
  DOC=$(python3 -c "import json; print(json.load(open('$WORK/record.json'))['id'])")
  down=$( { curl -s -w '%{time_total}' -o "$WORK/fifo-out" -H "Authorization: Bearer $TOKEN" \
    "$API/documents/$DOC/document"; } )
  got=$(sha1sum "$WORK/fifo-out" | cut -d' ' -f1); rm -f "$WORK/fifo-out"
  [ "$got" = "$EXPECTED" ] || { echo "download mismatch: $got != $EXPECTED" >&2; exit 1; }
  rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
  if [ "$store" = s3 ]; then
    # Delete it (row first, then the S3 object), so moto's memory does not grow run by run.
    curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $TOKEN" "$API/documents/$DOC"
  fi
  kill "$PID"; wait "$PID" || true; PID=
  printf 'run %d, %s store: upload %s MB/s (%ss), download %s MB/s (%ss), peak RSS %d MiB\n' \
    "$run" "$store" "$(mbps "$up")" "$up" "$(mbps "$down")" "$down" $((rss_kib / 1024))
  results+=("$store-store $(mbps "$up") $(mbps "$down") $((rss_kib / 1024))")
  if [ "$store" = s3 ]; then
    read -r c_up c_down c_ranged < <(tests/s3/.venv/bin/python bench/s3_ceiling.py "$WORK/doc.bin" bench)
    printf 'run %d, the S3 server itself (boto3): upload %s MB/s, whole GET %s MB/s, 1 MiB ranged GET %s ms\n' \
      "$run" "$c_up" "$c_down" "$c_ranged"
    results+=("s3-server(boto3) $c_up $c_down 0")
  fi
 done
done
printf '%s\n' "${results[@]}" | python3 -c "
import sys, statistics
rows = {}
for l in sys.stdin:
    if l.strip():
        store, *nums = l.split()
        rows.setdefault(store, []).append(list(map(int, nums)))
for store, rs in rows.items():
    up, down, rss = (statistics.median(c) for c in zip(*rs))
    rss = f', peak RSS {max(r[2] for r in rs)} MiB (max)' if not store.startswith('s3-server') else ''
    print(f'{store}, median of {len(rs)} runs, $SIZE_MIB MiB: upload {up:.0f} MB/s, download {down:.0f} MB/s{rss}')
"
