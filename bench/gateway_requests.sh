#!/usr/bin/env bash
# Document requests through the gateway against its own floor, in one run on one machine
# (issues 5 and 20):
#   - a fresh `sealpost up` (embedded SQLite, default workers, durable audit on: the default)
#     seeded through the API with DOCS small documents without audience
#     (examples/seed_documents.rs, 32 uploads in flight; the API's rate limit is lifted for
#     the seeding), then one document with a 10,000-record audience and one with a 10-record
#     audience (viewer token `{?email}`, no challenge);
#   - examples/gateway_floor.rs: the gateway's own CPU work for such a request and nothing else
#     (audience index lookup, a handle signed by the gateway's own `HandleSigner`, 303), no
#     database and no audit record: the ceiling any gateway with this handle format can reach
#     on the machine;
#   - HELLO=1 adds examples/hello_actix.rs (same actix-web, one route "Hello world!");
#   - `wrk -t2 -c32 -d$DURATION --latency` on each target, RUNS rounds (at least 5 for the
#     issue-20 figures), the targets' order rotated each round (floor, 10,000-record
#     audience, 10-record audience, no audience): per round and as medians, requests/s, p99,
#     server CPU per request, and the ratios gateway/floor (requests/s and p99) and
#     10-record/10,000-record.
# Every gateway request answers 303 to a fresh handle `{vault}/h/…` (wrk does not follow it) and
# commits a gateway access-log row first; the script checks one answer with curl and compares
# the rows added to `gateway_log` with the requests wrk reported.
#
#   bench/gateway_requests.sh          # RUNS=5 DOCS=100000 DURATION=20s
#   DOCS=2000 RUNS=2 DURATION=5s bench/gateway_requests.sh     # a smoke run
# wrk and the servers share the machine's cores. Needs wrk, curl and python3 (wrk is installed
# with apt-get when missing, as root or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
HELLO=${HELLO:-0}
DOCS=${DOCS:-100000}
DURATION=${DURATION:-20s}
WRK=(wrk -t2 -c32 "-d$DURATION" --latency)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v wrk >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --quiet --bin sealpost --example seed_documents --example hello_actix \
  --example gateway_floor
WORK=$(mktemp -d /tmp/sealpost-gbench.XXXXXX)
PID= HELLO_PID= FLOOR_PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null
  [ -n "$HELLO_PID" ] && kill "$HELLO_PID" 2>/dev/null
  [ -n "$FLOOR_PID" ] && kill "$FLOOR_PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo);" \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

SEALPOST__API__RATE_PER_SEC=1000000 SEALPOST__API__RATE_BURST=1000000 \
  target/release/sealpost up --data-dir "$WORK/data" --api-addr 127.0.0.1:0 \
  --gateway-addr 127.0.0.1:0 --vault-addr 127.0.0.1:0 >"$WORK/out.log" 2>"$WORK/err.log" &
PID=$!
for _ in $(seq 100); do grep -q '^Vault:' "$WORK/out.log" && break; sleep 0.1; done
API=$(sed -n 's/^API server: *//p' "$WORK/out.log")

seed_start=$(date +%s.%N)
target/release/examples/seed_documents --api "$API" --key "$WORK/data/producer-default.pem" \
  --count "$DOCS" --concurrency 32 --audience 10000 --audience 10 >"$WORK/seeded"
seed_end=$(date +%s.%N)
SEED_SECS=$(python3 -c "print(f'{$seed_end - $seed_start:.0f}')")
URL_10K=$(awk '$1=="audience" && $2=="10000" {print $3}' "$WORK/seeded")
URL_10=$(awk '$1=="audience" && $2=="10" {print $3}' "$WORK/seeded")
URL_OPEN=$(awk '$1=="open" {print $2}' "$WORK/seeded")
DB_DOCS=$(python3 -c "
import sqlite3; db = sqlite3.connect('file:$WORK/data/sealpost.db?mode=ro', uri=True)
print(db.execute('select count(*) from documents').fetchone()[0])")
echo "seeded $DB_DOCS documents through the API in ${SEED_SECS} s"

URL_HELLO=
if [ "$HELLO" = 1 ]; then
  target/release/examples/hello_actix 127.0.0.1:0 >"$WORK/hello.log" 2>&1 &
  HELLO_PID=$!
  for _ in $(seq 100); do grep -q '^Hello:' "$WORK/hello.log" && break; sleep 0.1; done
  URL_HELLO="$(sed -n 's/^Hello: *//p' "$WORK/hello.log")/"
  [ "$(curl -s "$URL_HELLO")" = "Hello world!" ] || { echo "hello_actix does not answer" >&2; exit 1; }
fi
target/release/examples/gateway_floor 127.0.0.1:0 >"$WORK/floor.log" 2>&1 &
FLOOR_PID=$!
for _ in $(seq 100); do grep -q '^Floor:' "$WORK/floor.log" && break; sleep 0.1; done
URL_FLOOR="$(sed -n 's/^Floor: *//p' "$WORK/floor.log")"

# One check per gateway URL: 303, Location at the vault's /h/, no body.
for url in "$URL_FLOOR" "$URL_10K" "$URL_10" "$URL_OPEN"; do
  read -r code location < <(curl -s -o /dev/null -w '%{http_code} %{redirect_url}\n' "$url")
  case "$code $location" in
    "303 "*/h/*) echo "check: $url → $code ${location%%/h/*}/h/…(${#location} chars)" ;;
    *) echo "unexpected answer for $url: $code $location" >&2; exit 1 ;;
  esac
done

log_rows() {
  python3 -c "
import sqlite3; db = sqlite3.connect('file:$WORK/data/sealpost.db?mode=ro', uri=True)
print(db.execute('select count(*) from gateway_log').fetchone()[0])"
}
# cpu_ticks PID: user + system clock ticks the process used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# machine_ticks: busy and total clock ticks of all cores so far (/proc/stat).
machine_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }

TIMEFORMAT='%3U %3S'
ROTATED=(floor aud10k aud10 open)
TARGETS=("${ROTATED[@]}")
[ "$HELLO" = 1 ] && TARGETS=(hello "${ROTATED[@]}")
declare -A URL=([hello]=$URL_HELLO [floor]=$URL_FLOOR [aud10k]=$URL_10K [aud10]=$URL_10 [open]=$URL_OPEN)
declare -A SERVER=([hello]=$HELLO_PID [floor]=$FLOOR_PID [aud10k]=$PID [aud10]=$PID [open]=$PID)

# Warm-up, untimed: connections, the audience indexes, SQLite's page cache.
for t in "${TARGETS[@]}"; do wrk -t2 -c32 -d3s "${URL[$t]}" >/dev/null; done

rows_before=$(log_rows)
# The targets run in a rotated order each round, the floor included (a target's place in a
# round shifts its figure: each run appends ~100,000 log rows whose WAL checkpoint can land in
# the next one). hello, when asked for, opens each round.
for run in $(seq "$RUNS"); do
  line="run $run:"
  shift_by=$(((run - 1) % ${#ROTATED[@]}))
  order=("${ROTATED[@]:shift_by}" "${ROTATED[@]:0:shift_by}")
  [ "$HELLO" = 1 ] && order=(hello "${order[@]}")
  for t in "${order[@]}"; do
    c0=$(cpu_ticks "${SERVER[$t]}")
    read -r busy0 total0 < <(machine_ticks)
    { time "${WRK[@]}" "${URL[$t]}" >"$WORK/wrk-$t-$run.txt"; } 2>"$WORK/wrk-time-$t-$run.txt"
    read -r busy1 total1 < <(machine_ticks)
    c1=$(cpu_ticks "${SERVER[$t]}")
    # server ticks, wrk's CPU seconds (user + system), machine busy and total ticks
    echo "$((c1 - c0)) $(tail -1 "$WORK/wrk-time-$t-$run.txt") $((busy1 - busy0)) $((total1 - total0))" \
      >"$WORK/cpu-$t-$run.txt"
    if grep -qE 'Non-2xx|Socket errors' "$WORK/wrk-$t-$run.txt"; then
      echo "errors in run $run of $t:" >&2; cat "$WORK/wrk-$t-$run.txt" >&2; exit 1
    fi
    line+=" $t $(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$WORK/wrk-$t-$run.txt") req/s"
  done
  echo "$line"
done
rows_after=$(log_rows)

python3 - "$WORK" "$RUNS" "$(getconf CLK_TCK)" "$((rows_after - rows_before))" "$DB_DOCS" "$SEED_SECS" "$HELLO" <<'PY'
import re, statistics, sys

work, runs, tck, rows, docs, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
targets = (["hello"] if sys.argv[7] == "1" else []) + ["floor", "aud10k", "aud10", "open"]
names = {
    "hello": "actix-web hello world",
    "floor": "gateway floor (no database, no audit)",
    "aud10k": "gateway, 10,000-record audience",
    "aud10": "gateway, 10-record audience",
    "open": "gateway, no audience",
}
unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}

def parse(t, run):
    text = open(f"{work}/wrk-{t}-{run}.txt").read()
    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M).group(1))
    value, u = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
    requests = int(re.search(r"^\s+(\d+) requests in", text, re.M).group(1))
    server, wrk_user, wrk_sys, busy, total = open(f"{work}/cpu-{t}-{run}.txt").read().split()
    server_s, wrk_s = int(server) / tck, float(wrk_user) + float(wrk_sys)
    # Whatever else ran on the machine meanwhile, as a share of all its cores' time.
    others = max(0.0, int(busy) / tck - server_s - wrk_s) / (int(total) / tck)
    return {"rps": rps, "p99": float(value) * unit[u], "requests": requests,
            "cpu_us": server_s * 1e6 / requests, "others": others}

data = {t: [parse(t, r) for r in range(1, runs + 1)] for t in targets}
med = {t: {k: statistics.median(d[k] for d in data[t]) for k in ("rps", "p99", "cpu_us")} for t in targets}
cell = lambda d: f"{d['rps']:,.0f} req/s, p99 {d['p99']:.2f} ms"
gateways = ["aud10k", "aud10", "open"]
# Per round: each gateway target against the floor of the same round.
ratios = {g: [{"rps": data[g][r]["rps"] / data["floor"][r]["rps"],
               "p99": data[g][r]["p99"] / data["floor"][r]["p99"]} for r in range(runs)] for g in gateways}
small_large = [data["aud10"][r]["rps"] / data["aud10k"][r]["rps"] for r in range(runs)]

print()
print("| run | " + " | ".join(names[t] for t in targets) + " |")
print("| --- |" + " --- |" * len(targets))
for r in range(runs):
    print(f"| {r + 1} | " + " | ".join(cell(data[t][r]) for t in targets) + " |")
print("| **median** | " + " | ".join(f"**{cell(med[t])}**" for t in targets) + " |")
print("| server CPU per request (median) | " + " | ".join(f"{med[t]['cpu_us']:.0f} µs" for t in targets) + " |")
print(f"| other processes' CPU during the run (max) | " + " | ".join(f"{max(d['others'] for d in data[t]):.1%}" for t in targets) + " |")
print()
print("| run | " + " | ".join(f"{names[g]} / floor: req/s, p99" for g in gateways) + " | 10-record / 10,000-record req/s |")
print("| --- |" + " --- |" * (len(gateways) + 1))
for r in range(runs):
    print(f"| {r + 1} | " + " | ".join(f"{ratios[g][r]['rps']:.3f}, {ratios[g][r]['p99']:.2f}" for g in gateways)
          + f" | {small_large[r]:.3f} |")
print("| **median of the rounds** | " + " | ".join(
    f"**{statistics.median(x['rps'] for x in ratios[g]):.3f}, {statistics.median(x['p99'] for x in ratios[g]):.2f}**"
    for g in gateways) + f" | **{statistics.median(small_large):.3f}** |")
print()
for g in gateways:
    print(f"ratio {names[g]} / floor, medians: requests/s {med[g]['rps'] / med['floor']['rps']:.3f} (aim >= 0.6), "
          f"p99 {med[g]['p99'] / med['floor']['p99']:.2f} (aim <= 2)")
print(f"ratio 10-record / 10,000-record audience, requests/s (medians): {med['aud10']['rps'] / med['aud10k']['rps']:.3f} (aim within 0.90-1.10)")
if "hello" in med:
    print(f"ratio gateway floor / hello world, requests/s: {med['floor']['rps'] / med['hello']['rps']:.3f}")
gateway_requests = sum(d["requests"] for t in gateways for d in data[t])
print(f"gateway_log rows added during the timed runs: {rows}; gateway requests wrk reported: {gateway_requests} "
      f"(difference {rows - gateway_requests}: requests answered after wrk stopped counting)")
if rows < gateway_requests:
    print("FEWER LOG ROWS THAN ANSWERED REQUESTS", file=sys.stderr)
    sys.exit(1)
print(f"instance: {docs} documents, seeded through the API in {seed} s; durable audit on (the default)")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
