// A 24-hour Holter on browser volunteers, checked against what was put in
// it (issue 13): `pulsegrid simulate ecg` writes a day of two-lead ECG with
// known ectopy, runs, pauses, brady/tachycardia and AF episodes, and a
// truth file. The recording is uploaded, ecg.classify@1 runs on two
// /donate tabs at quorum 2, and the Holter report's figures are compared
// with the truth: every beat found, V beats, pauses and the longest one,
// AF episodes and burden, couplets, runs, bigeminy and trigeminy, brady-
// and tachycardia episodes, and an hourly table of 24 rows that sums to
// the total. Inside a fast AF episode the ventricular rate passes 100 bpm
// for stretches: the report groups them into the AF episode as its rapid
// ventricular response (RVR), not as tachycardia, on the page too. S
// beats are not compared: the simulator's tachycardia starts, and its
// bradycardia ends, in one beat, which ecg.classify@1 takes for the onset of
// a supraventricular run (docs/algorithms.md), and the report then shows
// it. The PDF of the same report is fetched too.
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
    // Brady- and tachycardia are the sinus episodes of the truth: the
    // fast stretches inside AF are the AF episode's rapid ventricular
    // response (rvr_s, max_rate_bpm), not tachycardia of their own.
    for (const [kind, truthKind] of [['brady', 'bradycardia'], ['tachy', 'tachycardia']]) {
      expect(count(kind), kind).toBe(t[truthKind]);
    }
    const af = rep.events.filter((e) => e.kind === 'af');
    const overlaps = (a, b) => Math.min(a.end_s, b.end_s) > Math.max(a.start_s, b.start_s);
    for (const e of rep.events.filter((x) => x.kind === 'tachy')) {
      expect(af.some((a) => overlaps(a, e)), `tachycardia at ${e.start_s} s inside AF`).toBe(false);
    }
    let fast = 0;
    for (const te of truth.events.filter((e) => e.kind === 'af')) {
      const a = af.find((x) => overlaps(x, { start_s: te.start_s, end_s: te.end_s }));
      expect(a, `true AF at ${te.start_s} s`).toBeTruthy();
      console.log(`AF ${a.start_s.toFixed(0)}–${a.end_s.toFixed(0)} s: ${a.rate_bpm.toFixed(1)} bpm, max ${a.max_rate_bpm.toFixed(0)}, RVR ${(a.rvr_s || 0).toFixed(0)} s`);
      expect(a.max_rate_bpm).toBeGreaterThanOrEqual(a.rate_bpm);
      expect(a.rvr_s || 0).toBeLessThanOrEqual(a.end_s - a.start_s);
      // A true AF episode whose mean ventricular rate is above tachy_bpm
      // had a rapid ventricular response (seed 11 has one, at 103 bpm).
      if (60 * (te.beats - 1) / (te.end_s - te.start_s) > rep.params.tachy_bpm) {
        fast++;
        expect(a.rvr_s, `AF at ${te.start_s} s is fast`).toBeGreaterThan(0);
      }
    }
    expect(fast).toBeGreaterThan(0);
    const rvr = af.filter((a) => a.rvr_s > 0);
    expect(rep.af_rvr_episodes).toBe(rvr.length);
    expect(rep.af_rvr_s).toBeCloseTo(rvr.reduce((s, a) => s + a.rvr_s, 0), 6);

    // The report page says the same.
    const page = await (await browser.newContext()).newPage();
    contexts.push(page.context());
    await portal.login(page, server.base, clin.email, clin.password);
    await page.goto(`${server.base}/analyses/${id}/report`);
    await expect(page.getByTestId('holter-af-rvr')).toContainText(`${rvr.length} with rapid ventricular response`);
    await expect(page.getByTestId('holter-event-rvr')).toHaveCount(rvr.length);
    await expect(page.getByTestId('holter-events').locator('tbody tr').filter({ hasText: 'Tachycardia' })).toHaveCount(t.tachycardia);

    const pdf = await api.call('GET', `/analyses/${id}/report?format=pdf`);
    expect(pdf.status).toBe(200);
    expect(pdf.text.startsWith('%PDF-')).toBe(true);
  } finally {
    for (const c of contexts) await c.close();
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
