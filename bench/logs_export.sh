#!/usr/bin/env bash
# `GET /logs` over RECORDS audit records of one producer (issue 7's figures):
#   - a fresh `sealpost up` (release; embedded SQLite by default, or PostgreSQL with
#     DATABASE_URL=postgres://… naming an empty database), then RECORDS records written into its
#     three logs for the default producer through the repository's own append path, hash chains
#     and hit numbers included (examples/seed_logs.rs, a third per log);
#   - RUNS downloads of the whole signed zip with curl (time to first byte, total time, MB/s of
#     the zip; `GET /logs` streams the zip as it is written, so the first byte should come at
#     once, aim under 1 s, not after the whole export as when it was spooled), each followed by
#     `sealpost logs verify` against the instance's published key, and the server's peak RSS
#     during each download: VmHWM of the `sealpost up` process, its peak reset (clear_refs 5)
#     right before the download and read right after; medians.
#
#   bench/logs_export.sh                 # RECORDS=1000000 RUNS=3
#   DATABASE_URL=postgres://postgres@127.0.0.1:55432/bench_logs bench/logs_export.sh
# Needs curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${RECORDS:-1000000}
RUNS=${RUNS:-3}
DATABASE_URL=${DATABASE_URL:-}
TARGET=${CARGO_TARGET_DIR:-target}

cargo build --release --quiet --bin sealpost --example seed_logs
WORK=$(mktemp -d /tmp/sealpost-lbench.XXXXXX)
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo);" \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
DB_URL=${DATABASE_URL:-sqlite:$WORK/data/sealpost.db}
SEALPOST__DATABASE__URL=$DB_URL "$TARGET/release/sealpost" up --data-dir "$WORK/data" \
  --api-addr 127.0.0.1:0 --gateway-addr 127.0.0.1:0 --vault-addr 127.0.0.1:0 \
  >"$WORK/out.log" 2>"$WORK/err.log" &
PID=$!
for _ in $(seq 100); do grep -qs '^Vault:' "$WORK/out.log" && break; sleep 0.1; done
API=$(sed -n 's/^API server: *//p' "$WORK/out.log")
echo "database: ${DB_URL%%:*}; server RSS after start: $(awk '/VmRSS/ {print $2 " " $3}' "/proc/$PID/status")"

"$TARGET/release/examples/seed_logs" --database-url "$DB_URL" --records "$RECORDS"

TOKEN=$(curl -s -D - -o /dev/null -F "key=<$WORK/data/producer-default.pem" \
  -F email=bench@example.com "$API/login" | tr -d '\r' | sed -n 's/^authorization: *//Ip' | awk '{print $NF}')
[ -n "$TOKEN" ] || { echo "login failed" >&2; exit 1; }
curl -s "$API/.well-known/sealpost-keys" >"$WORK/keys.json"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$PID/status"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
for run in $(seq "$RUNS"); do
  before=$(rss_kib)
  c0=$(cpu_ticks)
  echo 5 >"/proc/$PID/clear_refs"
  curl -s -f -o "$WORK/logs-$run.zip" -H "Authorization: Bearer $TOKEN" \
    -w '%{time_total} %{size_download} %{speed_download} %{time_starttransfer}\n' \
    "$API/logs" >"$WORK/curl-$run.txt"
  echo "$before $(hwm_kib) $(($(cpu_ticks) - c0))" >"$WORK/rss-$run.txt"
  "$TARGET/release/sealpost" logs verify "$WORK/logs-$run.zip" --key "$WORK/keys.json" \
    >"$WORK/verify-$run.txt" 2>&1 || { cat "$WORK/verify-$run.txt" >&2; exit 1; }
  read -r secs bytes _ _ <"$WORK/curl-$run.txt"
  echo "run $run: $secs s, $bytes bytes, peak RSS $(cut -d' ' -f2 "$WORK/rss-$run.txt") KiB; verify: $(tail -1 "$WORK/verify-$run.txt")"
  [ "$run" -lt "$RUNS" ] && rm -f "$WORK/logs-$run.zip"
done

python3 - "$WORK" "$RUNS" "$RECORDS" "$(getconf CLK_TCK)" <<'PY'
import json, statistics, sys, zipfile
work, runs, records, tck = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = []
for r in range(1, runs + 1):
    secs, size, speed, first = (float(x) for x in open(f"{work}/curl-{r}.txt").read().split())
    before, hwm, ticks = (int(x) for x in open(f"{work}/rss-{r}.txt").read().split())
    rows.append({"secs": secs, "size": size, "mbps": size / secs / 1e6, "first": first, "cpu": ticks / tck,
                 "before": before / 1024, "hwm": hwm / 1024})
with zipfile.ZipFile(f"{work}/logs-{runs}.zip") as z:
    manifest = json.loads(z.read("manifest.json"))
    plain = sum(i.file_size for i in z.infolist() if i.filename.endswith(".log"))
counts = {log["log"]: log["records"] for log in manifest["logs"]}
print()
print("| run | time | zip size | MB/s (zip) | first byte | server CPU | server RSS before | server peak RSS during |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for i, r in enumerate(rows, 1):
    print(f"| {i} | {r['secs']:.2f} s | {r['size']/1e6:.1f} MB | {r['mbps']:.1f} | {r['first']*1e3:.0f} ms "
          f"| {r['cpu']:.1f} s | {r['before']:.0f} MiB | {r['hwm']:.0f} MiB |")
med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
print(f"| **median** | **{med['secs']:.2f} s** | {med['size']/1e6:.1f} MB | **{med['mbps']:.1f}** | "
      f"{med['first']*1e3:.0f} ms | {med['cpu']:.1f} s | {med['before']:.0f} MiB | **{med['hwm']:.0f} MiB** (max {max(r['hwm'] for r in rows):.0f}) |")
print()
print(f"time to first byte: median {med['first']*1e3:.0f} ms (max {max(r['first'] for r in rows)*1e3:.0f} ms); "
      f"total: median {med['secs']:.2f} s")
print(f"records in the zip (manifest): {counts}, {sum(counts.values()):,} in all; uncompressed logs {plain/1e6:.1f} MB "
      f"({plain/1e6/med['secs']:.1f} MB/s of log text); {sum(counts.values()) / med['secs']:,.0f} records/s")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
