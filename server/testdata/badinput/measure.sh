#!/usr/bin/env bash
# measure.sh BINARY WORKDIR [CASE...]: the hostile-upload worst cases against a real
# `pulsegrid serve` (default settings, --max-upload 1024 MiB), one fresh
# server and data directory per input. For each: the HTTP status, the
# server's peak RSS (VmHWM from /proc/PID/status, which includes file pages
# of mapped uploads), the peak of `du -sb DATA/tmp` sampled every 50 ms,
# and the wall time. Inputs are made in WORKDIR/in once (INPUTS="a.csv b.zip"
# makes only those). docs/benchmarks.md
# ("Hostile uploads") has the figures.
set -u
BIN=$1 W=$2
IN=$W/in
mkdir -p "$IN"
port=18940

# needs NAME: whether input NAME is to be made ($INPUTS lists the inputs
# the chosen cases use; empty: all of them).
needs() { [ -z "${INPUTS:-}" ] || [[ " $INPUTS " == *" $1 "* ]]; }

make_inputs() {
  ! needs cols10k.csv || [ -f "$IN/cols10k.csv" ] || python3 -c "
import sys
n=10000
sys.stdout.write('time'+''.join(f',c{i}' for i in range(n))+'\n')
for t in range(4): sys.stdout.write(str(t)+',1'*n+'\n')" > "$IN/cols10k.csv"
  ! needs zeros1000.csv || [ -f "$IN/zeros1000.csv" ] || head -c $((1000 << 20)) /dev/zero > "$IN/zeros1000.csv"
  ! needs line1000.csv || [ -f "$IN/line1000.csv" ] || { printf 'time,HR [bpm]\n0,' ; head -c $((1000 << 20)) /dev/zero | tr '\0' '7'; } > "$IN/line1000.csv"
  ! needs bomb500.zip || [ -f "$IN/bomb500.zip" ] || python3 -c "
import zipfile
with zipfile.ZipFile('$IN/bomb500.zip','w',zipfile.ZIP_DEFLATED) as z:
    z.writestr('zeros.csv', bytes(500 << 20))"
  ! needs bomb3900.zip || [ -f "$IN/bomb3900.zip" ] || python3 -c "
import zipfile
with zipfile.ZipFile('$IN/bomb3900.zip','w',zipfile.ZIP_DEFLATED) as z:
    for i in range(1000): z.writestr(f'f{i:04}.csv', bytes(3_800_000))"
  ! needs smallbombs.zip || [ -f "$IN/smallbombs.zip" ] || python3 -c "
import zipfile
with zipfile.ZipFile('$IN/smallbombs.zip','w',zipfile.ZIP_DEFLATED) as z:
    for i in range(2000): z.writestr(f'f{i:04}.csv', bytes(1 << 20))"
  ! needs wide256.csv || [ -f "$IN/wide256.csv" ] || python3 -c "
import sys
n=256
w=sys.stdout.write
w('time'+''.join(f',c{i} [mV]' for i in range(n))+'\n')
row=','.join(str(i%97) for i in range(n))
for t in range(40000): w(f'{t},{row}\n')" > "$IN/wide256.csv"
  ! needs big.dat || [ -f "$IN/big.dat" ] || python3 -c "
import struct
frames = 16_000_000  # 16 signals in format 16 at 500 Hz: 512 MB, 8.9 h, 2^28 samples is the reader's limit
sec = b''.join(struct.pack('<16h', *[(f * 7 + s * 100) % 2000 - 1000 for s in range(16)]) for f in range(500))
with open('$IN/big.dat', 'wb') as out:
    for _ in range(frames // 500): out.write(sec)
with open('$IN/big.hea', 'w') as h:
    h.write(f'big 16 500 {frames}\n')
    for s in range(16): h.write(f'big.dat 16 200 16 0 0\n')"
  ! needs wide256.edf || [ -f "$IN/wide256.edf" ] || python3 -c "
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
  ! needs valid200.csv || [ -f "$IN/valid200.csv" ] || python3 -c "
import sys
w=sys.stdout.write
w('time,MLII [mV],V5 [mV]\n')
for i in range(9_000_000): w(f'{i/360:.6f},{(i%700-350)/200},{(i%500-250)/200}\n')" > "$IN/valid200.csv"
  ! needs valid200.zip || [ -f "$IN/valid200.zip" ] || (cd "$IN" && python3 -c "
import zipfile
with zipfile.ZipFile('valid200.zip','w',zipfile.ZIP_DEFLATED) as z: z.write('valid200.csv')")
  ! needs ok.csv || [ -f "$IN/ok.csv" ] || printf 'time,HR [bpm]\n0,60\n1,61\n2,62\n' > "$IN/ok.csv"
}

upload() { # files...: one API upload, prints its status; the answer goes to $d.out
  local args=()
  for f in "$@"; do args+=(-F "files=@$f"); done
  curl -s -o "$d.out" -w '%{http_code}' -H "Authorization: Bearer $tok" "${args[@]}" http://127.0.0.1:$port/api/v1/datasets
}

# Drivers of the cases that are not one upload; each prints the statuses.
drive_cols10k_later() { # the 10,000-column CSV, then an ordinary upload, the dataset list and the new dataset
  local a b id
  a=$(upload "$IN/cols10k.csv"); b=$(upload "$IN/ok.csv")
  id=$(grep -o '"id": *[0-9]*' "$d.out" | head -1 | grep -o '[0-9]*$')
  echo "$a, then $b, list $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" http://127.0.0.1:$port/api/v1/datasets), dataset $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" http://127.0.0.1:$port/api/v1/datasets/$id)"
}
drive_parallel() { # PARALLEL uploads of FILE at once: statuses counted
  local i
  for i in $(seq "$PARALLEL"); do ( curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $tok" -F "files=@$FILE" http://127.0.0.1:$port/api/v1/datasets > "$d.par$i" ) & done
  wait
  cat "$d".par* | sort | uniq -c | awk '{printf "%s×%s ", $1, $2}'
  rm -f "$d".par*
}
drive_logins() { # LOGINS parallel wrong passwords for the admin from one address
  local i
  for i in $(seq "$LOGINS"); do ( curl -s -o /dev/null -w '%{http_code}\n' --data-urlencode email=admin@localhost --data-urlencode "password=wrong-$i" http://127.0.0.1:$port/login > "$d.par$i" ) & done
  wait
  cat "$d".par* | sort | uniq -c | awk '{printf "%s×%s ", $1, $2}'
  rm -f "$d".par*
}
drive_form_files() { # PARALLEL sign-ins whose password is a multipart file part of FILE
  local i
  for i in $(seq "$PARALLEL"); do ( curl -s -o /dev/null -w '%{http_code}\n' -F email=admin@localhost -F "password=@$FILE" http://127.0.0.1:$port/login > "$d.par$i" ) & done
  wait
  cat "$d".par* | sort | uniq -c | awk '{printf "%s×%s ", $1, $2}'
  rm -f "$d".par*
}
drive_form_values() { # PARALLEL sign-ins with a 10 MB urlencoded password
  local i
  ! needs form10.txt || [ -f "$IN/form10.txt" ] || { printf 'email=admin%%40localhost&password='; head -c 10000000 /dev/zero | tr '\0' 'a'; } > "$IN/form10.txt"
  for i in $(seq "$PARALLEL"); do ( curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "@$IN/form10.txt" http://127.0.0.1:$port/login > "$d.par$i" ) & done
  wait
  cat "$d".par* | sort | uniq -c | awk '{printf "%s×%s ", $1, $2}'
  rm -f "$d".par*
}
drive_trickle() { # an upload body trickled at one byte every 15 s: seconds until the server ends it
  python3 - "$port" "$tok" <<'PY'
import socket, sys, time
port, tok = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(('127.0.0.1', port))
s.sendall(f'POST /api/v1/datasets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000\r\n\r\n--b\r\n'.encode())
t0 = time.time(); s.settimeout(1); got = b''
while time.time() - t0 < 120:
    try:
        s.sendall(b'x')
    except OSError:
        break
    end = time.time() + 15
    while time.time() < end:
        try:
            b = s.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            b = b''
        if not b:
            end = 0; break
        got += b
    if end == 0 or got:
        break
status = got.split(b' ')[1].decode() if got.startswith(b'HTTP/') else 'closed'
print(f'{status} after {time.time() - t0:.0f} s')
PY
}

run_case() { # name file...
  local name=$1; shift
  local d=$W/data-$name
  rm -rf "$d"; port=$((port + 1))
  # Go's own temporary files (multipart forms) go to DATA/tmp too, so that
  # the disk figure counts them.
  mkdir -p "$d/tmp"
  TMPDIR=$d/tmp "$BIN" serve --addr 127.0.0.1:$port --data "$d" > "$d.log" 2>&1 &
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
  local t0 t1 code
  t0=$(date +%s.%N)
  : > "$d.out"
  case $1 in
  drive_*) code=$("$1"); shift ;;
  *) code=$(upload "$@") ;;
  esac
  t1=$(date +%s.%N)
  local hwm
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  kill $pid; wait $pid 2>/dev/null; kill $du_pid 2>/dev/null; wait $du_pid 2>/dev/null
  local size=0
  for f in "$@"; do size=$((size + $(stat -c %s "$f"))); done
  [ -n "${FILE:-}" ] && [ -n "${PARALLEL:-}" ] && size=$((PARALLEL * $(stat -c %s "$FILE")))
  [ "$name" = form-values ] && size=$((PARALLEL * 10000000))
  printf '| %s | %.1f MB | %s | %d MB (idle %d MB) | %d MB | %.1f s | %s |\n' "$name" "$(echo "$size/1000000" | bc -l)" "$code" $((hwm / 1024)) $((base / 1024)) \
    $(( $(cat "$d.du" 2>/dev/null || echo 0) / 1000000 )) "$(echo "$t1 - $t0" | bc -l)" "$(head -c 160 "$d.out" | tr '\n|' ' /')"
  rm -rf "$d"
}

want() { [ $# -eq 0 ] || [[ " $* " == *" $case "* ]]; }
make_inputs
echo "| input | size | status | peak RSS (VmHWM) | peak DATA/tmp | time | answer |"
echo "|---|---|---|---|---|---|---|"
while read -r case files; do
  want "${@:3}" || continue
  unset FILE PARALLEL LOGINS
  case $case in
  parallel-zeros) FILE=$IN/zeros1000.csv PARALLEL=4 ;;
  parallel-zip) FILE=$IN/valid200.zip PARALLEL=8 ;;
  logins40) LOGINS=40 ;;
  logins120) LOGINS=120 ;;
  form-files) FILE=$IN/zeros1000.csv PARALLEL=4 ;;
  form-values) PARALLEL=40 ;;
  esac
  # shellcheck disable=SC2086
  run_case "$case" $files
done <<CASES
cols10k-later drive_cols10k_later
bomb3900 $IN/bomb3900.zip
parallel-zeros drive_parallel
parallel-zip drive_parallel
logins40 drive_logins
logins120 drive_logins
trickle drive_trickle
form-files drive_form_files
form-values drive_form_values
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
