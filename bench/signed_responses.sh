#!/usr/bin/env bash
# The cost of signed responses (issue 17, item 1) on a small JSON answer: `GET /documents/{docId}`
# (a ~500-byte record) as HEAD builds it (every answer signed by the `signed_responses`
# middleware: the body buffered, its SHA-256, an Ed25519 signature, two headers) against the
# same route of a throwaway build without signing, in one run:
#   - both builds come from a `git worktree` of HEAD under /tmp with its own target directory
#     (seeded with a copy of target/release, so only the workspace's crates are rebuilt): first
#     as committed (signed), then with the middleware's call in `api-server/src/lib.rs` replaced
#     by a plain `next.call(request)` (unsigned: both builds pass the same `from_fn` layer, only
#     the signing differs); worktree and target directory are deleted afterwards. Production
#     code has no switch.
#   - each build: a fresh `sealpost up` (embedded SQLite, default workers) with rate limits far
#     above what wrk sends, one small document, a login token;
#   - `wrk -t2 -c32 -d$DURATION --latency` on the record, RUNS interleaved rounds (signed then
#     unsigned, the order swapped each round), medians of requests/s; p99 per round.
#
#   bench/signed_responses.sh          # RUNS=3 DURATION=10s
# Measures HEAD as committed (commit first). wrk and the servers share the machine's cores.
# Needs git, wrk, curl and python3 (wrk is installed with apt-get when missing, as root or with
# sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
WRK=(wrk -t2 -c32 "-d$DURATION" --latency)
CALL='signed_responses::sign(signer.clone(), request, next)'

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v wrk >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

WORK=$(mktemp -d /tmp/sealpost-sbench.XXXXXX)
declare -A PID=()
cleanup() {
  for p in "${PID[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  git worktree remove --force "$WORK/tree" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

git worktree add --quiet --detach "$WORK/tree" HEAD
mkdir -p "$WORK/target"
[ -d target/release ] && cp -a target/release "$WORK/target/release"
build() { # $1: signed | unsigned
  (cd "$WORK/tree" && CARGO_TARGET_DIR="$WORK/target" cargo build --release --quiet --bin sealpost)
  cp "$WORK/target/release/sealpost" "$WORK/sealpost-$1"
}
build signed
grep -qF "$CALL" "$WORK/tree/api-server/src/lib.rs" ||
  { echo "the middleware's call is not in api-server/src/lib.rs" >&2; exit 1; }
sed -i "s/${CALL//./\\.}/next.call(request)/" "$WORK/tree/api-server/src/lib.rs"
grep -qF "$CALL" "$WORK/tree/api-server/src/lib.rs" && { echo "sed left the call" >&2; exit 1; }
build unsigned
rm -rf "$WORK/target"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo);" \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A URL=() TOKEN=()
start() { # $1: signed | unsigned
  local dir="$WORK/$1"
  mkdir -p "$dir"
  SEALPOST__API__RATE_PER_SEC=1000000000 SEALPOST__API__RATE_BURST=1000000000 \
    "$WORK/sealpost-$1" up --data-dir "$dir/data" --api-addr 127.0.0.1:0 \
    --gateway-addr 127.0.0.1:0 --vault-addr 127.0.0.1:0 >"$dir/out.log" 2>"$dir/err.log" &
  PID[$1]=$!
  for _ in $(seq 100); do grep -q '^Vault:' "$dir/out.log" && break; sleep 0.1; done
  local api token doc
  api=$(sed -n 's/^API server: *//p' "$dir/out.log")
  token=$(curl -sf -D - -o /dev/null -F "key=<$dir/data/producer-default.pem" \
    -F email=bench@example.com "$api/login" | tr -d '\r' | sed -n 's/^[Aa]uthorization: *//p')
  [ -n "$token" ] || { echo "$1: login failed" >&2; exit 1; }
  printf 'a small document\n' >"$dir/doc.txt"
  doc=$(curl -sf -H "Authorization: Bearer $token" -F "document=@$dir/doc.txt;type=text/plain" \
    "$api/documents" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
  URL[$1]="$api/documents/$doc"
  TOKEN[$1]=$token
}
start signed
start unsigned

for t in signed unsigned; do
  headers=$(curl -sf -D - -o "$WORK/$t/body.json" -H "Authorization: Bearer ${TOKEN[$t]}" "${URL[$t]}")
  signature=$(printf '%s' "$headers" | grep -ci '^x-sealpost-signature:' || true)
  echo "check: $t build, GET /documents/{docId} → 200, $(wc -c <"$WORK/$t/body.json") bytes," \
    "x-sealpost-signature headers: $signature"
  want=0; [ "$t" = signed ] && want=1
  [ "$signature" = "$want" ] || { echo "$t build: expected $want signature header(s)" >&2; exit 1; }
done

# Warm-up, untimed: connections, caches, page cache.
for t in signed unsigned; do
  wrk -t2 -c32 -d3s -H "Authorization: Bearer ${TOKEN[$t]}" "${URL[$t]}" >/dev/null
done

for run in $(seq "$RUNS"); do
  line="run $run:"
  if [ $((run % 2)) = 1 ]; then order=(signed unsigned); else order=(unsigned signed); fi
  for t in "${order[@]}"; do
    "${WRK[@]}" -H "Authorization: Bearer ${TOKEN[$t]}" "${URL[$t]}" >"$WORK/wrk-$t-$run.txt"
    if grep -qE 'Non-2xx|Socket errors' "$WORK/wrk-$t-$run.txt"; then
      echo "errors in run $run ($t):" >&2; cat "$WORK/wrk-$t-$run.txt" >&2; exit 1
    fi
    line+=" $t $(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$WORK/wrk-$t-$run.txt") req/s"
    line+=" (p99 $(awk '$1 == "99%" {print $2}' "$WORK/wrk-$t-$run.txt"))"
  done
  echo "$line"
done

python3 - "$WORK" "$RUNS" <<'EOF'
import re, statistics, sys
work, runs = sys.argv[1], int(sys.argv[2])
def rps(t, run):
    text = open(f"{work}/wrk-{t}-{run}.txt").read()
    return float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
signed = statistics.median(rps("signed", r) for r in range(1, runs + 1))
unsigned = statistics.median(rps("unsigned", r) for r in range(1, runs + 1))
print(f"median: signed {signed:.0f} req/s, unsigned {unsigned:.0f} req/s,"
      f" ratio {signed / unsigned:.3f} (cost {100 * (1 - signed / unsigned):.1f} %; aim < 10 %)")
EOF
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
