#!/usr/bin/env bash
# The audit writer's own throughput beside the gateway's requests/s, in one run (issue 7):
#   - audit writer: examples/audit_writer.rs on a fresh SQLite database (WAL, synchronous=FULL,
#     as `sealpost up` opens it) in the same temp directory kind as the instance's: what the
#     gateway runs per request (shared::group_commit::GroupCommit in front of the repository's
#     append_gateway_log), WRITERS concurrent writers each waiting for its record's commit,
#     DURATION seconds; durable records/s and the process's CPU per record;
#   - gateway: a fresh `sealpost up` (release, SQLite, default workers) seeded with DOCS
#     documents without audience or challenge (examples/seed_documents.rs), then
#     `wrk -t2 -c$WRITERS -d$DURATION` on the last one's placeholder URL (each request: document
#     lookup, handle signed, one gateway-log record committed, 303); requests/s and the server's
#     CPU per request;
#   - RUNS interleaved rounds (gateway, then writer), medians, and the ratios: gateway
#     requests/s over writer records/s (the share of the writer's capacity a request uses) and
#     writer CPU per record over gateway CPU per request (the share of a request's CPU that is
#     the audit write).
#
# The writer also runs with WIDE concurrent writers (bigger batches per commit): its ceiling.
#
# BUSY_LOOPS=N runs N `nice -n 19` busy loops during the writer-alone runs (default 0). On this
# VM an idle vCPU wakes slowly: the writer's thread sleeps through each commit's fsync and, with
# both cores idle, the wake-ups around it cost ~1 ms per commit (measured: 32 writers, 1.8 ms per
# commit idle against 0.27 ms with the cores kept busy). The loops take only idle time; they
# show the writer's pace on a machine that is doing other work, as a loaded gateway's is.
#
#   bench/audit_writer.sh              # RUNS=3 DOCS=1000 DURATION=10s WRITERS=32 WIDE=256
# wrk, the writer and the server share the machine's cores. Needs wrk, curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DOCS=${DOCS:-1000}
DURATION=${DURATION:-10s}
WRITERS=${WRITERS:-32}
WIDE=${WIDE:-256}
BUSY_LOOPS=${BUSY_LOOPS:-0}
TARGET=${CARGO_TARGET_DIR:-target}
SECS=${DURATION%s}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v wrk >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --quiet --bin sealpost --example seed_documents --example audit_writer
WORK=$(mktemp -d /tmp/sealpost-abench.XXXXXX)
PID=
LOOPS=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null
  [ -n "$LOOPS" ] && kill $LOOPS 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo);" \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

"$TARGET/release/sealpost" up --data-dir "$WORK/data" --api-addr 127.0.0.1:0 \
  --gateway-addr 127.0.0.1:0 --vault-addr 127.0.0.1:0 >"$WORK/out.log" 2>"$WORK/err.log" &
PID=$!
for _ in $(seq 100); do grep -q '^Vault:' "$WORK/out.log" && break; sleep 0.1; done
API=$(sed -n 's/^API server: *//p' "$WORK/out.log")
"$TARGET/release/examples/seed_documents" --api "$API" --key "$WORK/data/producer-default.pem" \
  --count "$DOCS" --concurrency 32 >"$WORK/seeded" 2>"$WORK/seed.log"
URL_OPEN=$(awk '$1=="open" {print $2}' "$WORK/seeded")
read -r code location < <(curl -s -o /dev/null -w '%{http_code} %{redirect_url}\n' "$URL_OPEN")
case "$code $location" in
  "303 "*/h/*) echo "check: gateway answers $code to the vault's /h/…" ;;
  *) echo "unexpected answer: $code $location" >&2; exit 1 ;;
esac

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
machine_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
TCK=$(getconf CLK_TCK)

wrk -t2 -c"$WRITERS" -d3s "$URL_OPEN" >/dev/null
for run in $(seq "$RUNS"); do
  c0=$(cpu_ticks "$PID"); read -r busy0 total0 < <(machine_ticks)
  wrk -t2 -c"$WRITERS" "-d$DURATION" --latency "$URL_OPEN" >"$WORK/wrk-$run.txt"
  read -r busy1 total1 < <(machine_ticks); c1=$(cpu_ticks "$PID")
  echo "$((c1 - c0)) $((busy1 - busy0)) $((total1 - total0))" >"$WORK/gcpu-$run.txt"
  if grep -qE 'Non-2xx|Socket errors' "$WORK/wrk-$run.txt"; then
    echo "errors in run $run:" >&2; cat "$WORK/wrk-$run.txt" >&2; exit 1
  fi

  for _ in $(seq "$BUSY_LOOPS"); do nice -n 19 sh -c 'while :; do :; done' & LOOPS="$LOOPS $!"; done
  read -r busy0 total0 < <(machine_ticks)
  /usr/bin/time -f '%U %S' -o "$WORK/wtime-$run.txt" \
    "$TARGET/release/examples/audit_writer" --data-dir "$WORK/writer-$run" \
    --writers "$WRITERS" --secs "$SECS" >"$WORK/writer-$run.txt"
  read -r busy1 total1 < <(machine_ticks)
  echo "$((busy1 - busy0)) $((total1 - total0))" >"$WORK/wcpu-$run.txt"
  rm -rf "$WORK/writer-$run"
  "$TARGET/release/examples/audit_writer" --data-dir "$WORK/wide-$run" \
    --writers "$WIDE" --secs "$SECS" >"$WORK/wide-$run.txt"
  rm -rf "$WORK/wide-$run"
  if [ -n "$LOOPS" ]; then kill $LOOPS; wait $LOOPS 2>/dev/null || true; LOOPS=; fi
  echo "run $run: gateway $(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$WORK/wrk-$run.txt") req/s;" \
    "$(cat "$WORK/writer-$run.txt")"
  echo "  $(cat "$WORK/wide-$run.txt")"
done

python3 - "$WORK" "$RUNS" "$TCK" "$SECS" "$WRITERS" "$WIDE" <<'PY'
import re, statistics, sys
work, runs, tck, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
writers, wide = sys.argv[5], sys.argv[6]
rows = []
for r in range(1, runs + 1):
    wrk = open(f"{work}/wrk-{r}.txt").read()
    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", wrk, re.M).group(1))
    requests = int(re.search(r"^\s+(\d+) requests in", wrk, re.M).group(1))
    server, gbusy, gtotal = (int(x) for x in open(f"{work}/gcpu-{r}.txt").read().split())
    writer = open(f"{work}/writer-{r}.txt").read()
    wrps = float(re.search(r"([\d.]+) records/s", writer).group(1))
    per_commit = float(re.search(r"([\d.]+) records per commit", writer).group(1))
    # The writer's process CPU over its whole life (1 s warm-up + the measured seconds) per
    # record it wrote in that time (records/s × (secs + 1), an estimate of the warm-up's share).
    user, system = (float(x) for x in open(f"{work}/wtime-{r}.txt").read().split()[-2:])
    wbusy, wtotal = (int(x) for x in open(f"{work}/wcpu-{r}.txt").read().split())
    rows.append({
        "rps": rps, "gcpu_us": server / tck * 1e6 / requests, "gload": gbusy / gtotal,
        "wrps": wrps, "per_commit": per_commit,
        "wide": float(re.search(r"([\d.]+) records/s", open(f"{work}/wide-{r}.txt").read()).group(1)),
        "wcpu_us": (user + system) * 1e6 / (wrps * (secs + 1)), "wload": wbusy / wtotal,
    })
med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
print()
print(f"| run | gateway, no challenge, {writers} connections | gateway CPU per request | audit writer alone, {writers} writers (durable) | records per commit | writer CPU per record | audit writer, {wide} writers | machine busy (gateway / writer) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for i, r in enumerate(rows, 1):
    print(f"| {i} | {r['rps']:,.0f} req/s | {r['gcpu_us']:.0f} µs | {r['wrps']:,.0f} records/s | {r['per_commit']:.1f} "
          f"| {r['wcpu_us']:.0f} µs | {r['wide']:,.0f} records/s | {r['gload']:.0%} / {r['wload']:.0%} |")
print(f"| **median** | **{med['rps']:,.0f} req/s** | {med['gcpu_us']:.0f} µs | **{med['wrps']:,.0f} records/s** "
      f"| {med['per_commit']:.1f} | {med['wcpu_us']:.0f} µs | **{med['wide']:,.0f} records/s** | {med['gload']:.0%} / {med['wload']:.0%} |")
print()
print(f"gateway requests/s over audit-writer records/s (median of per-run ratios): "
      f"{statistics.median(r['rps'] / r['wrps'] for r in rows):.3f}")
print(f"gateway requests/s over the {wide}-writer ceiling (median of per-run ratios): "
      f"{statistics.median(r['rps'] / r['wide'] for r in rows):.3f}")
print(f"writer CPU per record over gateway CPU per request (median of per-run ratios): "
      f"{statistics.median(r['wcpu_us'] / r['gcpu_us'] for r in rows):.3f}")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
