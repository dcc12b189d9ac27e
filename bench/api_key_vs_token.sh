#!/usr/bin/env bash
# `GET /documents/{docId}` with an API key against the same request with a login token, in one
# run on one machine (issue 16, "Done when": the API-key path within 10 % of the token path,
# i.e. the argon2id hash is not on the hot path):
#   - a fresh `sealpost up` (embedded SQLite, default workers) with rate limits far above what
#     wrk can send (SEALPOST__API__RATE_PER_SEC / _BURST), one small document uploaded, a login
#     token (`POST /login`) and an API key with scope `read` (`POST /keys`);
#   - `wrk -t2 -c32 -d$DURATION --latency` on the document's record, RUNS interleaved rounds
#     (token then key, the order swapped each round), medians of requests/s and p99.
# Both paths read their credential's row on every request (the login session, the key) and write
# an API access-log record; the key's path adds a SHA-256 and a cache lookup (its argon2id
# verification is paid once, by the warm-up), and writes `lastUsed` at most once a minute.
#
#   bench/api_key_vs_token.sh          # RUNS=3 DURATION=20s
# wrk and the server share the machine's cores. Needs wrk, curl and python3 (wrk is installed
# with apt-get when missing, as root or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DURATION=${DURATION:-20s}
WRK=(wrk -t2 -c32 "-d$DURATION" --latency)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v wrk >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --quiet --bin sealpost
WORK=$(mktemp -d /tmp/sealpost-kbench.XXXXXX)
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo);" \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

SEALPOST__API__RATE_PER_SEC=1000000000 SEALPOST__API__RATE_BURST=1000000000 \
  target/release/sealpost up --data-dir "$WORK/data" --api-addr 127.0.0.1:0 \
  --gateway-addr 127.0.0.1:0 --vault-addr 127.0.0.1:0 >"$WORK/out.log" 2>"$WORK/err.log" &
PID=$!
for _ in $(seq 100); do grep -q '^Vault:' "$WORK/out.log" && break; sleep 0.1; done
API=$(sed -n 's/^API server: *//p' "$WORK/out.log")

TOKEN=$(curl -sf -D - -o /dev/null -F "key=<$WORK/data/producer-default.pem" \
  -F email=bench@example.com "$API/login" | tr -d '\r' | sed -n 's/^[Aa]uthorization: *//p')
[ -n "$TOKEN" ] || { echo "login failed" >&2; exit 1; }
printf 'a small document\n' >"$WORK/doc.txt"
DOC_ID=$(curl -sf -H "Authorization: Bearer $TOKEN" -F "document=@$WORK/doc.txt;type=text/plain" \
  "$API/documents" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
KEY=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"name": "bench", "scopes": ["read"]}' "$API/keys" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')
URL="$API/documents/$DOC_ID"
declare -A HEADER=([token]="Authorization: Bearer $TOKEN" [key]="x-api-key: $KEY")
for t in token key; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "${HEADER[$t]}" "$URL")
  [ "$code" = 200 ] || { echo "GET /documents/{docId} with the $t: $code" >&2; exit 1; }
  echo "check: GET /documents/{docId} with the $t → $code"
done

# Warm-up, untimed: connections, caches (the key's one argon2id verification), page cache.
for t in token key; do wrk -t2 -c32 -d3s -H "${HEADER[$t]}" "$URL" >/dev/null; done

for run in $(seq "$RUNS"); do
  line="run $run:"
  if [ $((run % 2)) = 1 ]; then order=(token key); else order=(key token); fi
  for t in "${order[@]}"; do
    "${WRK[@]}" -H "${HEADER[$t]}" "$URL" >"$WORK/wrk-$t-$run.txt"
    if grep -qE 'Non-2xx|Socket errors' "$WORK/wrk-$t-$run.txt"; then
      echo "errors in run $run with the $t:" >&2; cat "$WORK/wrk-$t-$run.txt" >&2; exit 1
    fi
    line+=" $t $(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$WORK/wrk-$t-$run.txt") req/s"
  done
  echo "$line"
done

python3 - "$WORK" "$RUNS" <<'PY'
import re, statistics, sys

work, runs = sys.argv[1], int(sys.argv[2])
names = {"token": "login token (Bearer)", "key": "API key (x-api-key)"}
unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}

def parse(t, run):
    text = open(f"{work}/wrk-{t}-{run}.txt").read()
    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M).group(1))
    value, u = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
    return {"rps": rps, "p99": float(value) * unit[u]}

data = {t: [parse(t, r) for r in range(1, runs + 1)] for t in names}
med = {t: {k: statistics.median(d[k] for d in data[t]) for k in ("rps", "p99")} for t in names}
cell = lambda d: f"{d['rps']:,.0f} req/s, p99 {d['p99']:.2f} ms"

print()
print("| run | " + " | ".join(names.values()) + " |")
print("| --- |" + " --- |" * len(names))
for r in range(runs):
    print(f"| {r + 1} | " + " | ".join(cell(data[t][r]) for t in names) + " |")
print("| **median** | " + " | ".join(f"**{cell(med[t])}**" for t in names) + " |")
print()
ratio = med["key"]["rps"] / med["token"]["rps"]
print(f"ratio API key / login token, requests/s: {ratio:.3f} (aim >= 0.90)")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
