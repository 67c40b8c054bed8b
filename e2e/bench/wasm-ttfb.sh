#!/usr/bin/env bash
# Time to first byte of /static/worker.wasm (gzip accepted) for the first
# visitor of a fresh server, as docs/benchmarks.md reports it.
#   e2e/bench/wasm-ttfb.sh BINARY [RUNS]
# Each run starts BINARY serve on a free loopback port with a new data
# directory, waits for /healthz, fetches worker.wasm twice with curl and
# prints the two times to first byte in seconds; then stops that server.
set -euo pipefail
bin=${1:?usage: wasm-ttfb.sh BINARY [RUNS]}
runs=${2:-5}
for i in $(seq "$runs"); do
  data=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  "$bin" serve --addr "127.0.0.1:$port" --data "$data" >"$data/log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
  t1=$(curl -s -o /dev/null -H 'Accept-Encoding: gzip' -w '%{time_starttransfer}' "http://127.0.0.1:$port/static/worker.wasm")
  t2=$(curl -s -o /dev/null -H 'Accept-Encoding: gzip' -w '%{time_starttransfer}' "http://127.0.0.1:$port/static/worker.wasm")
  enc=$(curl -s -o /dev/null -D - -H 'Accept-Encoding: gzip' "http://127.0.0.1:$port/static/worker.wasm" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-encoding"{print $2}')
  echo "run $i: first ${t1}s  second ${t2}s  encoding ${enc:-none}"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
done
