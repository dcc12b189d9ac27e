#!/usr/bin/env bash
# Upload throughput of `sealpost upload` (the producer CLI) against curl, in one run (issue 21).
#
#   bench/cli_upload.sh                        # 1 GiB, 5 alternating rounds, 3 top-secret rounds
#   SIZE_MIB=64 RUNS=2 TS_RUNS=1 bench/cli_upload.sh   # smoke run
#
# Builds the release binary, starts `sealpost up` on a fresh data directory (embedded SQLite,
# local store) and makes SIZE_MIB of random bytes. Then RUNS alternating rounds of
# {`sealpost upload FILE` (assertion login included, the file streamed as multipart),
#  `curl -F document=@FILE` with a login token}, each checked by the SHA-1 the API returns and
# deleted after. Prints per round and as medians the seconds and MiB/s of both, and the ratio
# CLI / curl throughput. Then TS_RUNS rounds of `sealpost upload --top-secret` (sealed on the
# client in sealpost-e2e-v1, then sealed again at rest by the vault): median MiB/s and its ratio
# to the plain curl upload. Stdout and stderr of the CLI go to a file (no terminal: no bar).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-5}
TS_RUNS=${TS_RUNS:-3}

cargo build --release --quiet --bin sealpost
BIN=target/release/sealpost
WORK=$(mktemp -d /tmp/sealpost-cli-upload.XXXXXX)
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

head -c $((SIZE_MIB << 20)) /dev/urandom > "$WORK/doc.bin"
SHA1=$(sha1sum "$WORK/doc.bin" | cut -d' ' -f1)

"$BIN" up --data-dir "$WORK/data" --api-addr 127.0.0.1:0 --gateway-addr 127.0.0.1:0 \
  --vault-addr 127.0.0.1:0 --admin-addr 127.0.0.1:0 >"$WORK/out.log" 2>"$WORK/err.log" &
PID=$!
for _ in $(seq 100); do grep -q '^API server:' "$WORK/out.log" && break; sleep 0.1; done
API=$(sed -n 's/^API server: //p' "$WORK/out.log")
KEY="$WORK/data/producer-default.pem"
TOKEN=$(curl -s -D - -o /dev/null -F key=@"$KEY" -F email=bench@example.com "$API/login" |
  awk 'tolower($1)=="authorization:" {print $2}' | tr -d '\r')

now() { date +%s.%N; }
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1"; }
delete() { curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $TOKEN" "$API/documents/$1"; }

# Each prints the seconds its upload took, after checking the record and deleting it.
cli_upload() {
  local start end
  start=$(now)
  "$BIN" upload "$WORK/doc.bin" --api "$API" --key "$KEY" --json >"$WORK/cli.json" 2>"$WORK/cli.err"
  end=$(now)
  [ "$(field "$WORK/cli.json" "['hash']['value']")" = "$SHA1" ] || { echo "CLI: SHA-1 mismatch" >&2; exit 1; }
  delete "$(field "$WORK/cli.json" "['id']")"
  echo "$end - $start" | bc -l
}
curl_upload() {
  local seconds
  seconds=$(curl -s -o "$WORK/curl.json" -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
    -F "document=@$WORK/doc.bin;type=application/octet-stream" "$API/documents")
  [ "$(field "$WORK/curl.json" "['hash']['value']")" = "$SHA1" ] || { echo "curl: SHA-1 mismatch" >&2; exit 1; }
  delete "$(field "$WORK/curl.json" "['id']")"
  echo "$seconds"
}
ts_upload() {
  local start end
  start=$(now)
  "$BIN" upload "$WORK/doc.bin" --api "$API" --key "$KEY" --top-secret --json >"$WORK/ts.json" 2>"$WORK/ts.err"
  end=$(now)
  delete "$(field "$WORK/ts.json" "['record']['id']")"
  echo "$end - $start" | bc -l
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
rate() { echo "$SIZE_MIB / $1" | bc -l | xargs printf '%.1f'; }

echo "bench/cli_upload.sh: $SIZE_MIB MiB, $RUNS alternating rounds (CLI, curl), $TS_RUNS top-secret rounds"
cli_times=() curl_times=() ts_times=()
for run in $(seq "$RUNS"); do
  c=$(cli_upload); k=$(curl_upload)
  cli_times+=("$c"); curl_times+=("$k")
  printf 'round %d: CLI %.2f s (%s MiB/s), curl %.2f s (%s MiB/s)\n' "$run" "$c" "$(rate "$c")" "$k" "$(rate "$k")"
done
for run in $(seq "$TS_RUNS"); do
  t=$(ts_upload); ts_times+=("$t")
  printf 'top-secret round %d: %.2f s (%s MiB/s)\n' "$run" "$t" "$(rate "$t")"
done
cli_med=$(printf '%s\n' "${cli_times[@]}" | median)
curl_med=$(printf '%s\n' "${curl_times[@]}" | median)
printf 'median: CLI %.2f s (%s MiB/s), curl %.2f s (%s MiB/s), CLI/curl throughput %.3f\n' \
  "$cli_med" "$(rate "$cli_med")" "$curl_med" "$(rate "$curl_med")" "$(echo "$curl_med / $cli_med" | bc -l)"
if [ "$TS_RUNS" -gt 0 ]; then
  ts_med=$(printf '%s\n' "${ts_times[@]}" | median)
  printf 'median: top-secret %.2f s (%s MiB/s), top-secret/curl throughput %.3f\n' \
    "$ts_med" "$(rate "$ts_med")" "$(echo "$curl_med / $ts_med" | bc -l)"
fi
