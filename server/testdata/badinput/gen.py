#!/usr/bin/env python3
"""Writes the bad-input corpus's files: one directory per case.

cases.json says what each case must answer; TestBadInputCorpus
(server/badinput_test.go) uploads every case to the real server. Run from
this directory: python3 gen.py (deterministic; commit what it writes).
"""
import os, shutil, struct, zipfile, io, random

HERE = os.path.dirname(os.path.abspath(__file__))


def case(name, files):
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for fname, data in files.items():
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, fname.replace('/', '%2F')), 'wb') as f:
            f.write(data)


def dat16(values):
    return b''.join(struct.pack('<h', v) for v in values)


frames = [100 * (i % 7) for i in range(100)]
good_dat = dat16(frames)
checksum = sum(frames) & 0xffff
hea = lambda n=100, extra='': f"r 1 360 {n}\nr.dat 16 200 16 0 0 {checksum} 0 MLII{extra}\n"

# WFDB
case('wfdb-truncated-dat', {'r.hea': hea(), 'r.dat': good_dat[:151]})
case('wfdb-wrong-sample-count', {'r.hea': hea(1000), 'r.dat': good_dat})
case('wfdb-bad-checksum', {'r.hea': "r 1 360 100\nr.dat 16 200 16 0 0 12345 0 MLII\n", 'r.dat': good_dat})
case('wfdb-missing-dat', {'r.hea': hea()})
case('wfdb-lone-dat', {'r.dat': good_dat})
case('wfdb-bad-format', {'r.hea': "r 1 360 100\nr.dat 999 200 16 0 0\n", 'r.dat': good_dat})
case('wfdb-bad-record-line', {'r.hea': "r two 360 100\nr.dat 16\n", 'r.dat': good_dat})
case('wfdb-stray-file', {'r.hea': hea(), 'r.dat': good_dat, 's.dat': good_dat})
case('wfdb-bad-annotations', {'r.hea': hea(), 'r.dat': good_dat, 'r.atr': b'\x01'})
case('wfdb-empty-header', {'r.hea': '', 'r.dat': good_dat})
case('wfdb-stdin-signal', {'r.hea': "r 1 360 100\n- 16\n"})
case('wfdb-header-too-big', {'r.dat': good_dat})  # r.hea: 1.1 MiB of zeros, made by the test
many = ''.join(f"r.dat 16 200 16 0 0 0 0 c{i}\n" for i in range(300))
case('wfdb-300-signals', {'r.hea': f"r 300 360 1\n{many}", 'r.dat': bytes(600)})
case('wfdb-too-few-signal-lines', {'r.hea': "r 2 360 100\nr.dat 16 200 16 0 0\n", 'r.dat': good_dat})
case('wfdb-unknown-extension-alone', {'s0010_re.xyz': good_dat})

# EDF


def edf(ns=1, records='1', duration='1', dmin='-32768', dmax='32767', pmin='-3.2768', pmax='3.2767',
        spr='10', labels=None, data=None, version='0'):
    f = lambda s, n: s.ljust(n)[:n].encode('latin-1')
    h = f(version, 8) + f('X X X X', 80) + f('Startdate X X X X', 80) + f('01.01.26', 8) + f('12.00.00', 8)
    h += f(str(256 * (ns + 1)), 8) + f('', 44) + f(records, 8) + f(duration, 8) + f(str(ns), 4)
    labels = labels or [f'ECG{i}' for i in range(ns)]
    for vals, n in [(labels, 16), (['AgAgCl'] * ns, 80), (['mV'] * ns, 8), ([pmin] * ns, 8), ([pmax] * ns, 8),
                    ([dmin] * ns, 8), ([dmax] * ns, 8), ([''] * ns, 80), ([spr] * ns, 8), ([''] * ns, 32)]:
        for v in vals:
            h += f(v, n)
    if data is None:
        data = bytes(2 * int(spr) * ns * max(int(records), 0))
    return h + data


case('edf-short', {'x.edf': '0       truncated'})
case('edf-not-edf', {'x.edf': 'time,HR [bpm]\n0,70\n1,71\n'})
case('edf-bad-signal-count', {'x.edf': edf()[:252] + b'abcd' + edf()[256:]})
case('edf-truncated-data', {'x.edf': edf(records='5', data=bytes(40))})
case('edf-bad-digital-range', {'x.edf': edf(dmin='100', dmax='-100')})
case('edf-bad-duration', {'x.edf': edf(duration='soon')})
case('edf-equal-physical-range', {'x.edf': edf(pmin='1', pmax='1')})
case('edf-300-signals', {'x.edf': edf(ns=300, spr='1')})
case('edf-bad-version', {'x.edf': edf(version='0       ')[:0] + b'0      X' + edf()[8:]})

# CSV
case('csv-text-in-numbers', {'v.csv': 'time,HR [bpm]\n0,70\n1,seventy\n2,72\n'})
case('csv-ragged-rows', {'v.csv': 'time,HR [bpm],SpO2 [%]\n0,70,98\n1,71\n2,72,97\n'})
case('csv-10000-columns', {'wide.csv': 'time' + ''.join(f',c{i}' for i in range(10000)) + '\n0' + ',1' * 10000 + '\n1' + ',1' * 10000 + '\n'})
case('csv-empty', {'v.csv': ''})
random.seed(11)
case('csv-binary-garbage', {'v.csv': bytes(random.randrange(256) for _ in range(4096)).replace(b'\n', b'\x01')})
case('csv-no-time-column', {'v.csv': 'when,HR [bpm]\n0,70\n1,71\n'})
case('csv-time-backwards', {'v.csv': 'time,HR [bpm]\n0,70\n2,71\n1,72\n'})
case('csv-single-row', {'v.csv': 'time,HR [bpm]\n0,70\n'})
case('csv-header-only', {'v.csv': 'time,HR [bpm]\n'})
case('csv-duplicate-column', {'v.csv': 'time,HR [bpm],hr [/min]\n0,70,70\n1,71,71\n'})
case('csv-unterminated-quote', {'v.csv': 'time,HR [bpm]\n0,70\n1,"71\n2,72\n'})
case('csv-huge-gap', {'v.csv': 'time,HR [bpm]\n0,70\n1,71\n2,72\n1e12,73\n'})
case('csv-infinity', {'v.csv': 'time,HR [bpm]\n0,70\n1,Inf\n'})
case('csv-bad-time-unit', {'v.csv': 'time [days],HR [bpm]\n0,70\n1,71\n'})
case('csv-long-line', {'v.csv': 'time,HR [bpm]\n0,70\n1,' + '7' * 70000 + '\n'})


# Zip
def zipped(members, raw=None):
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            # A fixed date, so that the archives are the same every run.
            zi = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            if not name.endswith('/'):
                zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return b.getvalue()


good_csv = 'time,HR [bpm]\n0,70\n1,71\n2,72\n'
case('zip-empty', {'a.zip': zipped([])})
case('zip-dotfiles', {'a.zip': zipped([('.DS_Store', 'x'), ('__MACOSX/._v.csv', 'x'), ('rec/.hidden.csv', good_csv)])})
case('zip-directories-only', {'a.zip': zipped([('rec/', ''), ('rec/sub/', '')])})
case('zip-nested', {'outer.zip': zipped([('inner.zip', zipped([('v.csv', good_csv)]))])})
case('zip-path-traversal', {'a.zip': zipped([('../x.hea', hea()), ('x.dat', good_dat)])})
case('zip-absolute-name', {'a.zip': zipped([('/etc/v.csv', good_csv)])})
case('zip-duplicate-names', {'a.zip': zipped([('a/v.csv', good_csv), ('b/v.csv', good_csv)])})
case('zip-bomb', {'bomb.zip': zipped([('zeros.csv', bytes(64 << 20))])})
case('zip-many-small-bombs', {'a.zip': zipped([(f'f{i:03}.csv', bytes(300 << 10)) for i in range(300)])})
case('zip-not-a-zip', {'a.zip': 'this is not an archive\n'})
case('zip-too-many-members', {'a.zip': zipped([(f'f{i}.csv', good_csv) for i in range(2001)])})
case('zip-bad-member', {'a.zip': zipped([('v.csv', 'time,HR [bpm]\n0,70\n1,x\n')])})


def patch_sizes(z, size):
    """Rewrites the uncompressed size of the only member (local and central headers)."""
    z = bytearray(z)
    i = z.index(b'PK\x03\x04')
    struct.pack_into('<I', z, i + 22, size)
    j = z.index(b'PK\x01\x02')
    struct.pack_into('<I', z, j + 24, size)
    return bytes(z)


case('zip-declares-3gib', {'a.zip': patch_sizes(zipped([('v.csv', good_csv)]), 3 << 30)})
case('zip-understates-size', {'a.zip': patch_sizes(zipped([('v.csv', good_csv * 100)]), 10)})
case('upload-duplicate-names', {'v.csv': good_csv, 'a.zip': zipped([('v.csv', good_csv)])})

# Other
case('unknown-extension', {'notes.docx': 'PK\x03\x04 not a recording'})
case('template-violation', {'v.csv': good_csv})
case('unknown-template', {'v.csv': good_csv})
case('no-files', {})
case('unknown-field', {'v.csv': good_csv})
case('not-multipart', {})
