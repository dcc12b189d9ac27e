#!/usr/bin/env bash
# The peak RSS of the `vault` binary on its own, streaming 256 MiB documents to and from an S3
# server (issue 19): moto on loopback (tests/s3/start), the vault with
# `vault.store_url = s3://bench/rss`, and `sealpost up` storing through it
# (`vault.internal_url`). Each of RUNS rounds uploads, downloads (checked byte for byte) and
# deletes one document through the API; prints both processes' VmHWM after each round.
#
#   bench/vault_rss_s3.sh            # 256 MiB, 3 rounds
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-256}
RUNS=${RUNS:-3}
cargo build --release --quiet --bin sealpost
cargo build --release --quiet -p vault --bin vault
W=$(mktemp -d /tmp/sealpost-bench.XXXXXX)
cleanup() {
  for f in up.pid vault.pid s3/pid; do [ -f "$W/$f" ] && kill "$(cat "$W/$f")" 2>/dev/null; done
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -m 700 "$W/d"
ENDPOINT=$(tests/s3/start "$W/s3")
curl -s -X PUT -o /dev/null "$ENDPOINT/bench"
export AWS_ENDPOINT=$ENDPOINT AWS_ALLOW_HTTP=true AWS_ACCESS_KEY_ID=bench \
  AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1
# The handle key the vault trusts (it shares the data directory with `sealpost up`).
openssl genpkey -algorithm ed25519 -out "$W/d/gateway-key.pem" 2>/dev/null
chmod 600 "$W/d/gateway-key.pem"
SEALPOST__VAULT__STORE_URL=s3://bench/rss target/release/vault --data-dir "$W/d" \
  --addr 127.0.0.1:0 --admin-addr 127.0.0.1:0 >"$W/vault.out" 2>"$W/vault.err" &
echo $! >"$W/vault.pid"
for _ in $(seq 100); do grep -q '^Vault:' "$W/vault.out" && break; sleep 0.1; done
SEALPOST__VAULT__INTERNAL_URL=$(sed -n 's/^Vault: //p' "$W/vault.out") target/release/sealpost up \
  --data-dir "$W/d" --api-addr 127.0.0.1:0 --gateway-addr 127.0.0.1:0 --vault-addr 127.0.0.1:0 \
  --admin-addr 127.0.0.1:0 >"$W/up.out" 2>"$W/up.err" &
echo $! >"$W/up.pid"
for _ in $(seq 100); do grep -q '^API server:' "$W/up.out" && break; sleep 0.1; done
API=$(sed -n 's/^API server: //p' "$W/up.out")
head -c $((SIZE_MIB << 20)) /dev/urandom >"$W/doc.bin"
TOKEN=$(curl -s -D - -o /dev/null -F key=@"$W/d/producer-default.pem" -F email=bench@example.com \
  "$API/login" | awk 'tolower($1)=="authorization:" {print $2}' | tr -d '\r')
hwm() { awk '/VmHWM/ {printf "%d MiB", $2 / 1024}' "/proc/$(cat "$W/$1")/status"; }
echo "idle: vault peak RSS $(hwm vault.pid)"
for run in $(seq "$RUNS"); do
  up=$(curl -s -o "$W/rec.json" -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
    -F "document=@$W/doc.bin;type=application/octet-stream" "$API/documents")
  DOC=$(python3 -c "import json; print(json.load(open('$W/rec.json'))['id'])")
  down=$(curl -s -o "$W/got.bin" -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
    "$API/documents/$DOC/document")
  cmp -s "$W/got.bin" "$W/doc.bin" || { echo "download mismatch" >&2; exit 1; }
  curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $TOKEN" "$API/documents/$DOC"
  echo "run $run: upload ${up}s, download ${down}s; vault peak RSS $(hwm vault.pid), sealpost up (API, gateway) $(hwm up.pid)"
done
