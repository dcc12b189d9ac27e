#!/usr/bin/env bash
# The vault's handle endpoint against nginx serving the same plaintext with sendfile, in one run
# on one machine (issue 4's figures, issue 20's targets):
#   1. one `curl -o /dev/null` of the SIZE_MIB document through a handle vs the same file from
#      nginx (sendfile on, 2 workers), RUNS alternating rounds: medians, their ratio, and the
#      server CPU per MiB (utime+stime of `sealpost up`, of nginx's workers);
#   2. the last 1 KiB by Range vs the whole document through the handle (medians);
#   3. CLIENTS concurrent `curl -o /dev/null` through handles vs CLIENTS from nginx,
#      CONC_RUNS alternating rounds: aggregate MB/s medians and their ratio. `sealpost up` is
#      restarted right before each vault round, and its peak RSS (VmHWM) read right after it.
#
#   bench/vault_vs_nginx.sh                            # SIZE_MIB=256 RUNS=5 CLIENTS=32 CONC_RUNS=3
#   SIZE_MIB=8 RUNS=2 CLIENTS=4 CONC_RUNS=1 bench/vault_vs_nginx.sh   # a smoke run
# Every URL (each client's handle too) is first checked byte for byte (SHA-1, untimed); timed
# downloads go to /dev/null and must return exactly SIZE_MIB MiB. Needs nginx and curl
# (apt-get install nginx-light curl).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-256} RUNS=${RUNS:-5} CLIENTS=${CLIENTS:-32} CONC_RUNS=${CONC_RUNS:-3}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
BYTES=$((SIZE_MIB << 20))

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
# CPU seconds (utime + stime) a process has used so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }

mkdir -p "$WORK/static"
head -c "$BYTES" /dev/urandom > "$WORK/static/doc.bin"
chmod 644 "$WORK/static/"*
SHA=$(sha1sum "$WORK/static/doc.bin" | cut -d' ' -f1)

# A fixed vault port, so handles stay valid across the restarts before the concurrent rounds.
VAULT_PORT=$(free_port)
start_sealpost() {
  target/release/sealpost up --data-dir "$WORK/data" --api-addr 127.0.0.1:0 \
    --gateway-addr 127.0.0.1:0 --vault-addr "127.0.0.1:$VAULT_PORT" >"$WORK/out.log" 2>"$WORK/err.log" &
  PID=$!
  for _ in $(seq 100); do grep -q '^Vault:' "$WORK/out.log" && break; sleep 0.1; done
  API=$(sed -n 's/^API server: *//p' "$WORK/out.log")
  VAULT=$(sed -n 's/^Vault: *//p' "$WORK/out.log")
}
stop_sealpost() { kill "$PID"; wait "$PID" || true; PID=; }

start_sealpost
TOKEN=$(curl -s -D - -o /dev/null -F key=@"$WORK/data/producer-default.pem" -F email=bench@example.com \
  "$API/login" | awk 'tolower($1)=="authorization:" {print $2}' | tr -d '\r')
DOC=$(curl -s -f -H "Authorization: Bearer $TOKEN" -F "document=@$WORK/static/doc.bin;type=application/octet-stream" \
  "$API/documents" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
handle() { target/release/examples/mint_handle "$WORK/data" "$VAULT" "$DOC" 3600; }
HANDLE=$(handle)
# One handle per concurrent client, as each viewer gets its own from the gateway.
for i in $(seq "$CLIENTS"); do handle > "$WORK/h$i"; done

NGINX_PORT=$(free_port)
NGINX_URL="http://127.0.0.1:$NGINX_PORT/doc.bin"
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
for _ in $(seq 50); do curl -s -o /dev/null "$NGINX_URL" && break; sleep 0.1; done
nginx_cpu() {
  local total=0 p
  for p in $NGINX_PID $(pgrep -P "$NGINX_PID"); do total=$(python3 -c "print($total + $(cpu_of "$p"))"); done
  echo "$total"
}

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

verify "$HANDLE" "$SHA"
verify "$NGINX_URL" "$SHA"
verify "$HANDLE" "$(tail -c 1024 "$WORK/static/doc.bin" | sha1sum | cut -d' ' -f1)" -r -1024
for i in $(seq "$CLIENTS"); do verify "$(cat "$WORK/h$i")" "$SHA"; done

vault_t=() nginx_t=() vault_cpu=0 nginx_cpu_s=0
for run in $(seq "$RUNS"); do
  c0=$(cpu_of "$PID"); v=$(fetch "$HANDLE"); c1=$(cpu_of "$PID")
  n0=$(nginx_cpu); n=$(fetch "$NGINX_URL"); n1=$(nginx_cpu)
  vault_t+=("$v"); nginx_t+=("$n")
  vault_cpu=$(python3 -c "print($vault_cpu + $c1 - $c0)"); nginx_cpu_s=$(python3 -c "print($nginx_cpu_s + $n1 - $n0)")
  echo "run $run: $SIZE_MIB MiB via handle ${v}s, via nginx ${n}s"
done
V=$(median "${vault_t[@]}"); N=$(median "${nginx_t[@]}")
python3 -c "
b, mib = $BYTES, $SIZE_MIB * $RUNS
v, n = $V, $N
print(f'one client, $SIZE_MIB MiB, median of $RUNS: vault {b/v/1e6:.0f} MB/s, nginx {b/n/1e6:.0f} MB/s, ratio {n/v:.2f}')
print(f'server CPU per MiB (all $RUNS rounds): sealpost {1000*$vault_cpu/mib:.3f} ms, nginx {1000*$nginx_cpu_s/mib:.3f} ms')"

range_t=() full_t=()
for run in $(seq "$RUNS"); do
  r=$(fetch "$HANDLE" -r -1024); f=$(fetch "$HANDLE")
  range_t+=("$r"); full_t+=("$f")
done
R=$(median "${range_t[@]}"); F=$(median "${full_t[@]}")
python3 -c "
r, f = $R, $F
print(f'last 1 KiB by Range, median of $RUNS: {r*1000:.1f} ms, whole document {f*1000:.0f} ms ({100*r/f:.3f} %)')"

# crowd URL_FILE… → wall seconds for one curl per URL at once; fails unless each took BYTES.
crowd() {
  local pids=() i=0 start end f
  start=$(date +%s.%N)
  for f in "$@"; do
    i=$((i + 1))
    curl -s -f -o /dev/null -w '%{size_download}' "$(cat "$f")" > "$WORK/size$i" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || { echo "a concurrent download failed" >&2; exit 1; }; done
  end=$(date +%s.%N)
  for f in "$WORK"/size*; do
    [ "$(cat "$f")" = "$BYTES" ] || { echo "a concurrent download was short: $(cat "$f")" >&2; exit 1; }
    rm -f "$f"
  done
  python3 -c "print($end - $start)"
}
echo "$NGINX_URL" > "$WORK/nginx-url"
nginx_urls=()
for i in $(seq "$CLIENTS"); do nginx_urls+=("$WORK/nginx-url"); done
vault_handles=()
for i in $(seq "$CLIENTS"); do vault_handles+=("$WORK/h$i"); done

cv_t=() cn_t=() rss=()
for run in $(seq "$CONC_RUNS"); do
  stop_sealpost
  start_sealpost
  v=$(crowd "${vault_handles[@]}")
  hwm=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$PID/status")
  n=$(crowd "${nginx_urls[@]}")
  cv_t+=("$v"); cn_t+=("$n"); rss+=("$hwm")
  echo "run $run: $CLIENTS clients via handles ${v}s (sealpost peak RSS $hwm MiB), via nginx ${n}s"
done
V=$(median "${cv_t[@]}"); N=$(median "${cn_t[@]}")
MAX_RSS=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
python3 -c "
b = $CLIENTS * $BYTES
v, n = $V, $N
print(f'$CLIENTS clients, $SIZE_MIB MiB each, median of $CONC_RUNS: vault {b/v/1e6:.0f} MB/s, nginx {b/n/1e6:.0f} MB/s aggregate, ratio {n/v:.2f}; sealpost peak RSS {$MAX_RSS} MiB (highest of $CONC_RUNS)')"
