#!/usr/bin/env bash
# measure.sh BINARY WORKDIR [CASE...]: the hostile-upload worst cases against a real
# `pulsegrid serve` (default settings, --max-upload 1024 MiB), one fresh
# server and data directory per input. For each: the HTTP status, the
# server's peak RSS (VmHWM from /proc/PID/status, which includes file pages
# of mapped uploads), the peak of `du -sb DATA/tmp` sampled every 50 ms,
# and the wall time. Inputs are made in WORKDIR/in once. docs/benchmarks.md
# ("Hostile uploads") has the figures.
set -u
BIN=$1 W=$2
IN=$W/in
mkdir -p "$IN"
port=18940

make_inputs() {
  [ -f "$IN/cols10k.csv" ] || python3 -c "
import sys
n=10000
sys.stdout.write('time'+''.join(f',c{i}' for i in range(n))+'\n')
for t in range(4): sys.stdout.write(str(t)+',1'*n+'\n')" > "$IN/cols10k.csv"
  [ -f "$IN/zeros1000.csv" ] || head -c $((1000 << 20)) /dev/zero > "$IN/zeros1000.csv"
  [ -f "$IN/line1000.csv" ] || { printf 'time,HR [bpm]\n0,' ; head -c $((1000 << 20)) /dev/zero | tr '\0' '7'; } > "$IN/line1000.csv"
  [ -f "$IN/bomb500.zip" ] || python3 -c "
import zipfile
with zipfile.ZipFile('$IN/bomb500.zip','w',zipfile.ZIP_DEFLATED) as z:
    z.writestr('zeros.csv', bytes(500 << 20))"
  [ -f "$IN/smallbombs.zip" ] || python3 -c "
import zipfile
with zipfile.ZipFile('$IN/smallbombs.zip','w',zipfile.ZIP_DEFLATED) as z:
    for i in range(2000): z.writestr(f'f{i:04}.csv', bytes(1 << 20))"
  [ -f "$IN/wide256.csv" ] || python3 -c "
import sys
n=256
w=sys.stdout.write
w('time'+''.join(f',c{i} [mV]' for i in range(n))+'\n')
row=','.join(str(i%97) for i in range(n))
for t in range(40000): w(f'{t},{row}\n')" > "$IN/wide256.csv"
  [ -f "$IN/big.dat" ] || python3 -c "
import struct
frames = 16_000_000  # 16 signals in format 16 at 500 Hz: 512 MB, 8.9 h, 2^28 samples is the reader's limit
sec = b''.join(struct.pack('<16h', *[(f * 7 + s * 100) % 2000 - 1000 for s in range(16)]) for f in range(500))
with open('$IN/big.dat', 'wb') as out:
    for _ in range(frames // 500): out.write(sec)
with open('$IN/big.hea', 'w') as h:
    h.write(f'big 16 500 {frames}\n')
    for s in range(16): h.write(f'big.dat 16 200 16 0 0\n')"
  [ -f "$IN/wide256.edf" ] || python3 -c "
ns, spr, records = 256, 256, 3000  # 256 channels at 256 Hz for 50 min: 393 MB
f = lambda s, n: s.ljust(n)[:n].encode()
h = f('0', 8) + f('X X X X', 80) + f('Startdate X X X X', 80) + f('01.01.26', 8) + f('12.00.00', 8)
h += f(str(256 * (ns + 1)), 8) + f('', 44) + f(str(records), 8) + f('1', 8) + f(str(ns), 4)
for v, n in [('EEG', 16), ('', 80), ('uV', 8), ('-3276.8', 8), ('3276.7', 8), ('-32768', 8), ('32767', 8), ('', 80), (str(spr), 8), ('', 32)]:
    for i in range(ns): h += f(v + (str(i) if v == 'EEG' else ''), n)
import struct
rec = b''.join(struct.pack(f'<{spr}h', *[(j * 37 + i) % 4000 - 2000 for j in range(spr)]) for i in range(ns))
with open('$IN/wide256.edf', 'wb') as out:
    out.write(h)
    for _ in range(records): out.write(rec)"
  [ -f "$IN/valid200.csv" ] || python3 -c "
import sys
w=sys.stdout.write
w('time,MLII [mV],V5 [mV]\n')
for i in range(9_000_000): w(f'{i/360:.6f},{(i%700-350)/200},{(i%500-250)/200}\n')" > "$IN/valid200.csv"
}

run_case() { # name file...
  local name=$1; shift
  local d=$W/data-$name
  rm -rf "$d"; port=$((port + 1))
  "$BIN" serve --addr 127.0.0.1:$port --data "$d" > "$d.log" 2>&1 &
  local pid=$!
  for _ in $(seq 600); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && grep -q "first account" "$d.log" && break; sleep 0.1; done
  local tok
  tok=$("$BIN" user token --data "$d" --email admin@localhost | tail -1)
  local base
  base=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  ( peak=0; while kill -0 $pid 2>/dev/null; do
      s=$(du -sb "$d/tmp" 2>/dev/null | cut -f1); [ "${s:-0}" -gt $peak ] && peak=$s && echo $peak > "$d.du"
      sleep 0.05; done ) &
  local du_pid=$!
  local args=()
  for f in "$@"; do args+=(-F "files=@$f"); done
  local t0 t1 code
  t0=$(date +%s.%N)
  code=$(curl -s -o "$d.out" -w '%{http_code}' -H "Authorization: Bearer $tok" "${args[@]}" http://127.0.0.1:$port/api/v1/datasets)
  t1=$(date +%s.%N)
  local hwm
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  kill $pid; wait $pid 2>/dev/null; kill $du_pid 2>/dev/null; wait $du_pid 2>/dev/null
  local size=0
  for f in "$@"; do size=$((size + $(stat -c %s "$f"))); done
  printf '| %s | %.1f MB | %s | %d MB (idle %d MB) | %d MB | %.1f s | %s |\n' "$name" "$(echo "$size/1000000" | bc -l)" "$code" $((hwm / 1024)) $((base / 1024)) \
    $(( $(cat "$d.du" 2>/dev/null || echo 0) / 1000000 )) "$(echo "$t1 - $t0" | bc -l)" "$(head -c 160 "$d.out" | tr '\n|' ' /')"
  rm -rf "$d"
}

want() { [ $# -eq 0 ] || [[ " $* " == *" $case "* ]]; }
make_inputs
echo "| input | size | status | peak RSS (VmHWM) | peak DATA/tmp | time | answer |"
echo "|---|---|---|---|---|---|---|"
while read -r case files; do
  # shellcheck disable=SC2086
  want "${@:3}" && run_case "$case" $files
done <<CASES
cols10k $IN/cols10k.csv
zeros1000 $IN/zeros1000.csv
line1000 $IN/line1000.csv
bomb500 $IN/bomb500.zip
smallbombs $IN/smallbombs.zip
wide256 $IN/wide256.csv
valid200 $IN/valid200.csv
wfdb512 $IN/big.hea $IN/big.dat
edf256 $IN/wide256.edf
CASES
