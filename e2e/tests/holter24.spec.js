// A 24-hour Holter on browser volunteers, checked against what was put in
// it (issue 13): `pulsegrid simulate ecg` writes a day of two-lead ECG with
// known ectopy, runs, pauses, brady/tachycardia and AF episodes, and a
// truth file. The recording is uploaded, ecg.classify@1 runs on two
// /donate tabs at quorum 2, and the Holter report's figures are compared
// with the truth: every beat found, V beats, pauses and the longest one,
// AF episodes and burden, couplets, runs, bigeminy and trigeminy, brady-
// and tachycardia episodes, and an hourly table of 24 rows that sums to
// the total. S beats are not compared: the classifier calls some sinus
// accelerations S (docs/algorithms.md), which the report then shows.
// The PDF of the same report is fetched too.
const { test, expect } = require('@playwright/test');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, bin } = require('./server');
const { clinician, client } = require('./api');
const portal = require('./portal');

test('a simulated 24-hour Holter on two browser volunteers: the report matches the truth', async ({ browser }) => {
  test.setTimeout(300_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pulsegrid-holter24-'));
  execFileSync(bin, ['simulate', 'ecg', '--out', tmp, '--minutes', '1440', '--seed', '11'], { stdio: 'ignore' });
  const truth = JSON.parse(fs.readFileSync(path.join(tmp, 'ecg001.truth.json'), 'utf8'));
  const server = await startServer([]);
  const contexts = [];
  try {
    const clin = clinician(server, 'holter24@example.org');
    const api = client(server.base, clin.token);
    const ds = await api.upload(['hea', 'dat', 'atr'].map((ext) => path.join(tmp, `ecg001.${ext}`)));
    const pages = [];
    for (let i = 0; i < 2; i++) { // two tabs, two identities: quorum 2
      const ctx = await browser.newContext();
      contexts.push(ctx);
      pages.push(await portal.startDonating(ctx, server.base, 100));
    }
    const id = await api.analyse(ds, 'ecg.classify@1');
    await api.waitDone(id, 240_000);
    for (const p of pages) expect(Number(await p.getByTestId('donate-chunks-done').textContent())).toBeGreaterThan(0);

    const rep = (await api.call('GET', `/analyses/${id}/report`)).json;
    const count = (kind) => (rep.event_counts.find((c) => c.kind === kind) || { count: 0 }).count;
    const t = truth.counts;
    console.log(`report: ${rep.beats} beats (truth ${truth.beats.total}), V ${rep.classes.V} (truth V ${truth.beats.V}, F ${truth.beats.F}), ` +
      `pauses ${count('pause')} (${t.pause}), longest ${rep.longest_pause_s.toFixed(3)} s (${truth.longest_pause_s}), ` +
      `AF ${count('af')} (${t.af}) ${(100 * rep.af_burden).toFixed(2)} % (${(100 * truth.af_burden).toFixed(2)} %)`);
    console.log(`events ${JSON.stringify(rep.event_counts.map((c) => [c.kind, c.count]))}, truth ${JSON.stringify(t)}`);
    expect(Math.abs(rep.beats - truth.beats.total)).toBeLessThanOrEqual(truth.beats.total * 0.002);
    expect(rep.hours).toHaveLength(24);
    expect(rep.hours.reduce((a, h) => a + h.beats, 0)).toBe(rep.beats);
    // Fusion beats may be called V or N (their shape is between the two); 2 % either side.
    expect(rep.classes.V).toBeGreaterThanOrEqual(0.98 * truth.beats.V);
    expect(rep.classes.V).toBeLessThanOrEqual(1.02 * (truth.beats.V + truth.beats.F));
    expect(count('pause')).toBe(t.pause);
    expect(rep.longest_pause_s).toBeCloseTo(truth.longest_pause_s, 1);
    expect(count('af')).toBe(t.af);
    expect(Math.abs(rep.af_burden - truth.af_burden)).toBeLessThan(0.002);
    expect(count('v_couplet')).toBe(t.couplet);
    expect(count('v_triplet') + count('nsvt')).toBe(t.triplet + t.nsvt);
    for (const [kind, truthKind] of [['bigeminy', 'bigeminy'], ['trigeminy', 'trigeminy']]) {
      expect(count(kind), kind).toBe(t[truthKind]);
    }
    // Brady- and tachycardia outside AF: inside an AF episode a fast
    // ventricular response is reported as tachycardia stretches too, which
    // the truth (sinus tachycardia only) does not count.
    const af = rep.events.filter((e) => e.kind === 'af');
    const inAF = (e) => af.some((a) => e.start_s >= a.start_s && e.start_s <= a.end_s);
    for (const [kind, truthKind] of [['brady', 'bradycardia'], ['tachy', 'tachycardia']]) {
      expect(rep.events.filter((e) => e.kind === kind && !inAF(e)).length, kind).toBe(t[truthKind]);
    }

    const pdf = await api.call('GET', `/analyses/${id}/report?format=pdf`);
    expect(pdf.status).toBe(200);
    expect(pdf.text.startsWith('%PDF-')).toBe(true);
  } finally {
    for (const c of contexts) await c.close();
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
