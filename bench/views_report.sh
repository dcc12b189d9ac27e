#!/usr/bin/env bash
# `GET /documents/{docId}/views` (the auditor's report, issue 22) over a RECORDS-record
# audience with GATEWAY gateway and VAULT vault records of that document:
#   - a fresh `sealpost up` (release; embedded SQLite by default, or PostgreSQL with
#     DATABASE_URL=postgres://… naming an empty database); one document uploaded through the
#     API with a RECORDS-record audience (viewer token {?email}) behind an HTTP Basic challenge;
#   - its logs filled through the repository's own append path, attribution rows included
#     (examples/seed_views.rs: requests round-robin over the records, three in four passed
#     with a handle, one in four failed; vault downloads through those handles);
#   - RUNS requests of the JSON report and RUNS of the CSV one with curl (total time, time to
#     first byte, size), and the server's peak RSS during each: VmHWM of the `sealpost up`
#     process, its peak reset (clear_refs 5) right before the request and read right after;
#     medians. Aim: under 2 s and under 64 MiB.
#
#   bench/views_report.sh                 # RECORDS=10000 GATEWAY=1000000 VAULT=1000000 RUNS=3
#   DATABASE_URL=postgres://postgres@127.0.0.1:55432/bench_views bench/views_report.sh
# Needs curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${RECORDS:-10000}
GATEWAY=${GATEWAY:-1000000}
VAULT=${VAULT:-1000000}
RUNS=${RUNS:-3}
DATABASE_URL=${DATABASE_URL:-}
TARGET=${CARGO_TARGET_DIR:-target}

cargo build --release --quiet --bin sealpost --example seed_views
WORK=$(mktemp -d /tmp/sealpost-vbench.XXXXXX)
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
SEALPOST__DATABASE__URL=$DB_URL SEALPOST__API__RATE_PER_SEC=1000000 SEALPOST__API__RATE_BURST=1000000 \
  "$TARGET/release/sealpost" up --data-dir "$WORK/data" \
  --api-addr 127.0.0.1:0 --gateway-addr 127.0.0.1:0 --vault-addr 127.0.0.1:0 \
  >"$WORK/out.log" 2>"$WORK/err.log" &
PID=$!
for _ in $(seq 100); do grep -qs '^Vault:' "$WORK/out.log" && break; sleep 0.1; done
API=$(sed -n 's/^API server: *//p' "$WORK/out.log")
echo "database: ${DB_URL%%:*}; server RSS after start: $(awk '/VmRSS/ {print $2 " " $3}' "/proc/$PID/status")"

TOKEN=$(curl -s -D - -o /dev/null -F "key=<$WORK/data/producer-default.pem" \
  -F email=bench@example.com "$API/login" | tr -d '\r' | sed -n 's/^authorization: *//Ip' | awk '{print $NF}')
[ -n "$TOKEN" ] || { echo "login failed" >&2; exit 1; }

python3 - "$RECORDS" >"$WORK/audience.json" <<'PY'
import json, sys
n = int(sys.argv[1])
records = [{"email": f"viewer{i}@example.com", "pw": f"viewer{i}:pw{i}"} for i in range(n)]
print(json.dumps({"type": "records", "viewerToken": "{?email}", "data": {"records": records}}))
PY
head -c 1000000 /dev/urandom >"$WORK/doc.bin"
DOC=$(curl -s -f -H "Authorization: Bearer $TOKEN" \
  -F "document=@$WORK/doc.bin;type=application/octet-stream" -F "audience=<$WORK/audience.json" \
  -F 'challenge={"type": "HTTP-Auth", "data": {"realm": "r", "scheme": "basic", "access": {"type": "field", "value": "pw"}}}' \
  "$API/documents" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
echo "document $DOC with a $RECORDS-record audience"

"$TARGET/release/examples/seed_views" --database-url "$DB_URL" --document "$DOC" \
  --records "$RECORDS" --gateway "$GATEWAY" --vault "$VAULT"

hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$PID/status"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
for format in json csv; do
  for run in $(seq "$RUNS"); do
    before=$(rss_kib)
    echo 5 >"/proc/$PID/clear_refs"
    curl -s -f -o "$WORK/report-$format-$run" -H "Authorization: Bearer $TOKEN" \
      -w '%{time_total} %{size_download} %{time_starttransfer}\n' \
      "$API/documents/$DOC/views?format=$format" >"$WORK/curl-$format-$run.txt"
    echo "$before $(hwm_kib)" >"$WORK/rss-$format-$run.txt"
    read -r secs bytes first <"$WORK/curl-$format-$run.txt"
    echo "$format run $run: $secs s (first byte $first s), $bytes bytes, peak RSS $(cut -d' ' -f2 "$WORK/rss-$format-$run.txt") KiB"
  done
done

python3 - "$WORK" "$RUNS" "$RECORDS" <<'PY'
import json, statistics, sys
work, runs, records = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
report = json.load(open(f"{work}/report-json-1"))
assert len(report["records"]) == records, len(report["records"])
opened = sum(r["opened"]["count"] for r in report["records"])
downloads = sum(r["downloads"]["complete"] + r["downloads"]["partial"] for r in report["records"])
print(f"\nreport: {records:,} rows, {opened:,} requests and {downloads:,} downloads attributed")
print("| format | median time | first byte | size | server RSS before | server peak RSS during |")
print("| --- | --- | --- | --- | --- | --- |")
for fmt in ("json", "csv"):
    rows = []
    for r in range(1, runs + 1):
        secs, size, first = (float(x) for x in open(f"{work}/curl-{fmt}-{r}.txt").read().split())
        before, hwm = (int(x) for x in open(f"{work}/rss-{fmt}-{r}.txt").read().split())
        rows.append((secs, first, size, before / 1024, hwm / 1024))
    med = [statistics.median(col) for col in zip(*rows)]
    print(f"| {fmt} | **{med[0]:.2f} s** (max {max(r[0] for r in rows):.2f}) | {med[1]*1e3:.0f} ms | "
          f"{med[2]/1e6:.1f} MB | {med[3]:.0f} MiB | **{med[4]:.0f} MiB** (max {max(r[4] for r in rows):.0f}) |")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
