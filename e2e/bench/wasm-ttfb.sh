#!/usr/bin/env bash
# Time to first byte of /static/worker.wasm for the first visitor of a
# fresh server, as docs/benchmarks.md reports it.
#   e2e/bench/wasm-ttfb.sh BINARY [RUNS]
# Each run starts BINARY serve on a free loopback port with a new data
# directory, times its start until /healthz answers, fetches worker.wasm
# twice with Chromium's Accept-Encoding (ACCEPT_ENCODING overrides it) and
# prints the two times to first byte in seconds, the encoding and the size;
# then stops that server.
set -euo pipefail
bin=${1:?usage: wasm-ttfb.sh BINARY [RUNS]}
runs=${2:-5}
ae=${ACCEPT_ENCODING:-gzip, deflate, br, zstd}
for i in $(seq "$runs"); do
  data=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  t0=$(date +%s.%N)
  "$bin" serve --addr "127.0.0.1:$port" --data "$data" >"$data/log" 2>&1 &
  pid=$!
  for _ in $(seq 1000); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.01; done
  up=$(echo "$(date +%s.%N) - $t0" | bc)
  t1=$(curl -s -o /dev/null -D "$data/h" -H "Accept-Encoding: $ae" -w '%{time_starttransfer} %{size_download}' "http://127.0.0.1:$port/static/worker.wasm")
  t2=$(curl -s -o /dev/null -H "Accept-Encoding: $ae" -w '%{time_starttransfer}' "http://127.0.0.1:$port/static/worker.wasm")
  enc=$(tr -d '\r' <"$data/h" | awk -F': ' 'tolower($1)=="content-encoding"{print $2}')
  echo "run $i: start to /healthz ${up}s  first ${t1% *}s  second ${t2}s  encoding ${enc:-none}  ${t1#* } bytes  load $(cut -d' ' -f1 /proc/loadavg)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
done
