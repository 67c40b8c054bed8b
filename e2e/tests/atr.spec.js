// The scorer the browser scenarios rely on, checked against the beat
// counts published in the MIT-BIH Arrhythmia Database directory and against
// hand-made annotation files (no browser needed).
const { test, expect } = require('@playwright/test');
const fs = require('node:fs');
const path = require('node:path');
const { shared } = require('./server');
const { parseAtr, scoreBeats, parseBeatsCSV } = require('./atr');

const counts = (anns) => anns.reduce((c, a) => ({ ...c, [a.code]: (c[a.code] || 0) + 1 }), {});

test('MIT-BIH .atr files parse to the published beat counts', () => {
  const read = (r) => parseAtr(fs.readFileSync(path.join(shared, 'data', 'mitdb', `${r}.atr`)));
  // Codes: 1 N, 5 V, 6 F, 8 A, 9 S, 13 Q.
  expect(counts(read('100'))).toMatchObject({ 1: 2239, 8: 33, 5: 1 });
  expect(counts(read('119'))).toMatchObject({ 1: 1543, 5: 444 });
  expect(counts(read('208'))).toMatchObject({ 1: 1586, 5: 992, 6: 373, 9: 2, 13: 2 });
  const a = read('100');
  expect(a.every((x, i) => i === 0 || x.sample >= a[i - 1].sample)).toBe(true);
  expect(a[a.length - 1].sample).toBeLessThan(650000);
});

test('SKIP, NUM, SUB, CHN and AUX words are decoded', () => {
  const w = (code, low) => [low & 0xff, (code << 2) | (low >> 8)];
  const bytes = Buffer.from([
    ...w(1, 100), // N at 100
    ...w(59, 0), 0x01, 0x00, 0x00, 0x00, // SKIP 65536 (high word 1, low word 0)
    ...w(60, 3), ...w(61, 1), ...w(62, 1), // NUM, SUB, CHN: no time
    ...w(5, 10), // V at 100 + 65536 + 10
    ...w(63, 3), 0x61, 0x62, 0x63, 0x00, // AUX "abc", padded
    ...w(32, 1), ...w(1, 1), ...w(33, 1), // [ N ]
    0, 0,
  ]);
  expect(parseAtr(bytes)).toEqual([
    { sample: 100, code: 1 }, { sample: 65646, code: 5 },
    { sample: 65647, code: 32 }, { sample: 65648, code: 1 }, { sample: 65649, code: 33 },
  ]);
});

test('scoring: 150 ms window, first 5 minutes and flutter episodes excluded', () => {
  const fs360 = 360, t = (s) => Math.round(s * fs360);
  const anns = [
    { sample: t(10), code: 1 }, // learning period: not scored
    { sample: t(400), code: 1 }, { sample: t(401), code: 5 }, { sample: t(402), code: 28 }, // 28 is not a beat
    { sample: t(500), code: 32 }, { sample: t(501), code: 1 }, { sample: t(502), code: 33 }, // inside [ ]
    { sample: t(600), code: 1 },
  ];
  expect(scoreBeats([t(10) + 80, t(400), t(401) + 50, t(600)], anns, fs360)).toMatchObject({ tp: 3, fn: 0, fp: 0, reference: 3 });
  // 160 ms off is a miss and a false detection; an extra beat is a false one.
  expect(scoreBeats([t(400), t(401) + 58, t(600), t(700)], anns, fs360)).toMatchObject({ tp: 2, fn: 1, fp: 2 });
  expect(parseBeatsCSV('sample,time_s\n77,0.2\n370,1.0\n')).toEqual([77, 370]);
  expect(() => parseBeatsCSV('time_s\n0.2\n')).toThrow(/no "sample" column/);
});
