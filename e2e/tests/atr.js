// Reads MIT-format annotation files (.atr) and scores detected beats
// against them the way ../shared/data/README.md prescribes (ANSI/AAMI EC57,
// WFDB bxb): 150 ms match window, first 5 minutes not scored, annotations
// between '[' and ']' (ventricular flutter) ignored, reference beats are
// those with isqrs() true.

const SKIP = 59, NUM = 60, SUB = 61, CHN = 62, AUX = 63;
const VFON = 32, VFOFF = 33; // '[' and ']'
const QRS = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 25, 30, 31, 34, 35, 38, 41]);

// parseAtr returns [{sample, code}] from the bytes of an MIT annotation file.
// Each 16-bit little-endian word holds a code (top 6 bits) and a time delta
// or datum (low 10 bits); SKIP carries a 32-bit interval in PDP-11 order
// (high half first, each half little-endian); NUM, SUB and CHN set fields
// of the annotation; AUX is followed by its bytes, padded to even length.
function parseAtr(buf) {
  const out = [];
  let t = 0, i = 0;
  while (i + 1 < buf.length) {
    const w = buf[i] | (buf[i + 1] << 8);
    i += 2;
    const code = w >> 10, low = w & 1023;
    if (code === 0 && low === 0) break; // end of file
    switch (code) {
      case SKIP: {
        if (i + 4 > buf.length) throw new Error(`SKIP at byte ${i - 2} needs 4 more bytes`);
        const hi = buf[i] | (buf[i + 1] << 8), lo = buf[i + 2] | (buf[i + 3] << 8);
        let n = hi * 65536 + lo;
        if (n >= 2 ** 31) n -= 2 ** 32; // signed
        t += n;
        i += 4;
        break;
      }
      case NUM: case SUB: case CHN:
        break;
      case AUX:
        i += low + (low & 1);
        break;
      default:
        t += low;
        out.push({ sample: t, code });
    }
  }
  return out;
}

// scoreBeats compares detected beat sample indices with reference
// annotations at rate fs (Hz). It returns {tp, fn, fp, se, ppv, reference}.
function scoreBeats(detected, annotations, fs) {
  const skip = Math.round(300 * fs);
  const win = Math.round(0.150 * fs);
  // Ventricular flutter episodes: [start, end) in samples.
  const vf = [];
  let open = -1;
  for (const a of annotations) {
    if (a.code === VFON && open < 0) open = a.sample;
    if (a.code === VFOFF && open >= 0) { vf.push([open, a.sample]); open = -1; }
  }
  if (open >= 0) vf.push([open, Infinity]);
  const scored = (s) => s >= skip && !vf.some(([a, b]) => s >= a && s <= b);
  const ref = annotations.filter((a) => QRS.has(a.code) && scored(a.sample)).map((a) => a.sample).sort((x, y) => x - y);
  const det = detected.filter(scored).slice().sort((x, y) => x - y);
  // One-to-one matching, each reference to the nearest free detection within the window.
  const used = new Uint8Array(det.length);
  let tp = 0, j = 0;
  for (const r of ref) {
    while (j < det.length && det[j] < r - win) j++;
    let best = -1;
    for (let k = j; k < det.length && det[k] <= r + win; k++) {
      if (!used[k] && (best < 0 || Math.abs(det[k] - r) < Math.abs(det[best] - r))) best = k;
    }
    if (best >= 0) { used[best] = 1; tp++; }
  }
  const fn = ref.length - tp, fp = det.length - tp;
  return { tp, fn, fp, se: tp / (tp + fn), ppv: tp / (tp + fp), reference: ref.length };
}

// parseBeatsCSV returns the sample indices from an ecg.beats CSV export
// (header with a "sample" column).
function parseBeatsCSV(text) {
  const lines = text.trim().split(/\r?\n/);
  const cols = lines[0].split(',');
  const k = cols.indexOf('sample');
  if (k < 0) throw new Error(`CSV header ${JSON.stringify(lines[0])} has no "sample" column`);
  return lines.slice(1).map((l, n) => {
    const v = Number(l.split(',')[k]);
    if (!Number.isInteger(v)) throw new Error(`CSV line ${n + 2}: sample ${JSON.stringify(l.split(',')[k])} is not an integer`);
    return v;
  });
}

module.exports = { parseAtr, scoreBeats, parseBeatsCSV, QRS };
