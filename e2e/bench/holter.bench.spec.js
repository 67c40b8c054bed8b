// Upload to verified result of a 24-hour Holter on browser volunteers,
// against `pulsegrid run` on the same files in the same round (issue 15;
// docs/benchmarks.md, "24-hour Holter, upload to verified result"). TABS
// /donate tabs (default 4, one identity each, one worker thread each) are
// connected and idle before the upload; each round uploads a fresh copy,
// starts ALGORITHM (default ecg.beats@1) at quorum 2 and waits for done,
// polling every 50 ms; the local run is timed in the same round. Not part
// of `make e2e`. Run from e2e/ after `make build`:
//   npx playwright test --config bench/playwright.config.js holter.bench
//   TABS=2 ROUNDS=5 npx playwright test --config bench/playwright.config.js holter.bench
const { test, expect } = require('@playwright/test');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, bin } = require('../tests/server');
const { clinician, client } = require('../tests/api');
const portal = require('../tests/portal');

const TABS = Number(process.env.TABS || 4);
const ROUNDS = Number(process.env.ROUNDS || 3);
const ALGORITHM = process.env.ALGORITHM || 'ecg.beats@1';
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

test('24-hour Holter: upload to verified result on browser tabs, against pulsegrid run', async ({ browser }) => {
  test.setTimeout(ROUNDS * 240_000 + 120_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pulsegrid-holterbench-'));
  execFileSync(bin, ['simulate', 'ecg', '--out', tmp, '--minutes', '1440', '--seed', '3'], { stdio: 'ignore' });
  const files = ['hea', 'dat'].map((ext) => path.join(tmp, `ecg001.${ext}`));
  const server = await startServer([]);
  const contexts = [];
  const rounds = [];
  try {
    const clin = clinician(server, 'holterbench@example.org');
    const api = client(server.base, clin.token);
    const pages = [];
    for (let i = 0; i < TABS; i++) {
      const ctx = await browser.newContext();
      contexts.push(ctx);
      const page = await portal.startDonating(ctx, server.base, 100);
      await page.getByTestId('donate-threads').selectOption('1');
      pages.push(page);
    }
    // A first, unmeasured analysis: the tabs compile and tier up the
    // module, and become established volunteers, as on a grid in use.
    const warm = await api.analyse(await api.upload(files), ALGORITHM);
    await api.waitDone(warm, 240_000);
    for (let r = 0; r < ROUNDS; r++) {
      const l0 = Date.now();
      execFileSync(bin, ['run', ALGORITHM, ...files, '--out', path.join(tmp, 'local.json')], { stdio: 'ignore' });
      const local = Date.now() - l0;
      const t0 = Date.now();
      const ds = await api.upload(files);
      const t1 = Date.now();
      const id = await api.analyse(ds, ALGORITHM);
      const t2 = Date.now();
      let a;
      for (;;) {
        a = await api.analysis(id);
        if (a.status === 'done') break;
        if (a.status === 'failed' || a.status === 'cancelled') throw new Error(`analysis ${id} ${a.status}: ${a.error}`);
        if (Date.now() - t2 > 240_000) throw new Error(`analysis ${id} not done after 240 s`);
        await new Promise((res) => setTimeout(res, 50));
      }
      const t3 = Date.now();
      const got = await api.result(id);
      const want = JSON.parse(fs.readFileSync(path.join(tmp, 'local.json'), 'utf8'));
      expect(JSON.stringify(got)).toBe(JSON.stringify(want)); // the grid's result is the local run's
      rounds.push({ local_ms: local, upload_ms: t1 - t0, start_ms: t2 - t1, compute_ms: t3 - t2, total_ms: t3 - t0, ratio: (t3 - t0) / local, chunks: a.progress && a.progress.chunks_total });
      console.log(`round ${r + 1}: ${JSON.stringify(rounds[rounds.length - 1])}`);
    }
    const done = [];
    for (const p of pages) done.push(Number(await p.getByTestId('donate-chunks-done').textContent()));
    console.log(JSON.stringify({ tabs: TABS, algorithm: ALGORITHM, chunks_done_per_tab: done, median_ratio: median(rounds.map((x) => x.ratio)), median_total_ms: median(rounds.map((x) => x.total_ms)), median_local_ms: median(rounds.map((x) => x.local_ms)), cpus: os.cpus().length, cpu: os.cpus()[0].model, load: os.loadavg() }));
  } finally {
    for (const c of contexts) await c.close();
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
