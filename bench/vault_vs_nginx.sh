#!/usr/bin/env bash
# The vault's handle endpoint against nginx serving the same bytes as a static file, in one run
# on one machine (issue 4's figures):
#   1. download throughput of a 256 MiB document through a handle vs nginx (sendfile on),
#      RUNS alternating rounds, medians and their ratio;
#   2. time to fetch the last 1 KiB of a 1 GiB document by Range vs the full download (medians);
#   3. the sealpost process's peak RSS (VmHWM) while 32 clients download the 256 MiB document at
#      once (the process is restarted first, so the peak belongs to that test alone).
#
#   bench/vault_vs_nginx.sh          # RUNS=5
# Every URL is first checked byte for byte (SHA-1, untimed); timed downloads go to /dev/null. Needs nginx and curl
# (apt-get install nginx-light curl).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

cargo build --release --quiet --bin sealpost --example mint_handle
WORK=$(mktemp -d /tmp/sealpost-vbench.XXXXXX)
chmod 755 "$WORK"
PID= NGINX_PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
median() { python3 -c 'import sys, statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

mkdir -p "$WORK/static"
head -c $((256 << 20)) /dev/urandom > "$WORK/static/doc256.bin"
head -c $((1024 << 20)) /dev/urandom > "$WORK/static/doc1g.bin"
chmod 644 "$WORK/static/"*
SHA256=$(sha1sum "$WORK/static/doc256.bin" | cut -d' ' -f1)
SHA1G=$(sha1sum "$WORK/static/doc1g.bin" | cut -d' ' -f1)

start_sealpost() {
  target/release/sealpost up --data-dir "$WORK/data" --api-addr 127.0.0.1:0 \
    --gateway-addr 127.0.0.1:0 --vault-addr 127.0.0.1:0 >"$WORK/out.log" 2>"$WORK/err.log" &
  PID=$!
  for _ in $(seq 100); do grep -q '^Vault:' "$WORK/out.log" && break; sleep 0.1; done
  API=$(sed -n 's/^API server: *//p' "$WORK/out.log")
  VAULT=$(sed -n 's/^Vault: *//p' "$WORK/out.log")
}
stop_sealpost() { kill "$PID"; wait "$PID" || true; PID=; }

start_sealpost
TOKEN=$(curl -s -D - -o /dev/null -F key=@"$WORK/data/producer-default.pem" -F email=bench@example.com \
  "$API/login" | awk 'tolower($1)=="authorization:" {print $2}' | tr -d '\r')
upload() {
  curl -s -f -H "Authorization: Bearer $TOKEN" -F "document=@$1;type=application/octet-stream" "$API/documents" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}
DOC256=$(upload "$WORK/static/doc256.bin")
DOC1G=$(upload "$WORK/static/doc1g.bin")
handle() { target/release/examples/mint_handle "$WORK/data" "$VAULT" "$1" 3600; }
H256=$(handle "$DOC256")
H1G=$(handle "$DOC1G")

NGINX_PORT=$(free_port)
cat > "$WORK/nginx.conf" <<CONF
daemon off;
worker_processes 2;
user root;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  sendfile on; tcp_nopush on; tcp_nodelay on; access_log off;
  client_body_temp_path $WORK/nginx-tmp; proxy_temp_path $WORK/nginx-tmp;
  fastcgi_temp_path $WORK/nginx-tmp; uwsgi_temp_path $WORK/nginx-tmp; scgi_temp_path $WORK/nginx-tmp;
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/static; }
}
CONF
"$NGINX" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" &
NGINX_PID=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/doc256.bin" && break; sleep 0.1; done

# verify URL EXPECTED_SHA1 [curl args…]: fails unless the body's SHA-1 matches (untimed).
verify() {
  local url=$1 want=$2; shift 2
  local got
  got=$(curl -s -f "$@" "$url" | sha1sum | cut -d' ' -f1)
  [ "$got" = "$want" ] || { echo "body mismatch for $url: $got != $want" >&2; exit 1; }
}
# fetch URL [curl args…] → seconds, the body discarded (so no disk write skews either side).
fetch() {
  local url=$1; shift
  curl -s -f "$@" -o /dev/null -w '%{time_total}' "$url"
}

verify "$H256" "$SHA256"
verify "http://127.0.0.1:$NGINX_PORT/doc256.bin" "$SHA256"
verify "$H1G" "$SHA1G"
verify "$H1G" "$(tail -c 1024 "$WORK/static/doc1g.bin" | sha1sum | cut -d' ' -f1)" -r -1024

vault_t=() nginx_t=()
for run in $(seq "$RUNS"); do
  v=$(fetch "$H256"); n=$(fetch "http://127.0.0.1:$NGINX_PORT/doc256.bin")
  vault_t+=("$v"); nginx_t+=("$n")
  echo "run $run: 256 MiB via handle ${v}s, via nginx ${n}s"
done
V=$(median "${vault_t[@]}"); N=$(median "${nginx_t[@]}")
python3 -c "
b = 256 * 2**20
v, n = $V, $N
print(f'256 MiB download, median of $RUNS: vault {b/v/1e6:.0f} MB/s, nginx {b/n/1e6:.0f} MB/s, ratio {n/v:.2f}')"

range_t=() full_t=()
for run in $(seq "$RUNS"); do
  r=$(fetch "$H1G" -r -1024); f=$(fetch "$H1G")
  range_t+=("$r"); full_t+=("$f")
  echo "run $run: last 1 KiB of 1 GiB by Range ${r}s, full download ${f}s"
done
R=$(median "${range_t[@]}"); F=$(median "${full_t[@]}")
python3 -c "
r, f = $R, $F
print(f'1 GiB document, median of $RUNS: last 1 KiB by Range {r*1000:.1f} ms, full download {f*1000:.0f} ms, ratio {100*r/f:.3f} %')"

stop_sealpost
start_sealpost
H256=$(handle "$DOC256")
pids=()
start=$(date +%s.%N)
for i in $(seq 32); do
  { curl -s -f "$H256" | sha1sum | cut -d' ' -f1 > "$WORK/c$i"; } & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
end=$(date +%s.%N)
for i in $(seq 32); do
  [ "$(cat "$WORK/c$i")" = "$SHA256" ] || { echo "concurrent body $i mismatch" >&2; exit 1; }
  rm -f "$WORK/c$i"
done
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
python3 -c "
t = $end - $start
print(f'32 concurrent downloads of 256 MiB: {t:.1f} s total, {32*256*2**20/t/1e6:.0f} MB/s aggregate, sealpost peak RSS {$rss_kib//1024} MiB')"
