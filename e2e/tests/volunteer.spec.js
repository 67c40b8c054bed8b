// The volunteer's page live: "no work" versus "waiting for a second
// opinion" (quorum 2, one browser volunteer), and the CPU share limiting
// the worker: the same chunks take several times longer at 25 % than at
// 100 % (a ratio, so machine load cancels out), and settings and counters
// survive a reload.
const fs = require('node:fs');
const path = require('node:path');
const { test, expect } = require('@playwright/test');
const { startServer, shared } = require('./server');

const record = path.join(shared, 'data', 'mitdb', '119');
let srv;
let auth;

async function api(method, p, body) {
  const r = await fetch(srv.base + p, { method, headers: auth, body });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${p}: HTTP ${r.status}: ${text}`);
  return JSON.parse(text);
}

test.beforeAll(async () => {
  srv = await startServer(['--chunk-seconds', '300']);
  srv.cli(['user', 'add', '--email', 'vol-e2e@example.org', '--role', 'clinician', '--password', 'Correct-Horse-42']);
  const token = srv.cli(['user', 'token', '--email', 'vol-e2e@example.org']).trim().split('\n').pop().split(/\s+/).pop();
  auth = { Authorization: `Bearer ${token}` };
});
test.afterAll(async () => { if (srv) await srv.stop(); });

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

test('no work, second opinion, and the CPU share limits the worker', async ({ browser }) => {
  const fd = new FormData();
  for (const ext of ['hea', 'dat']) fd.append('files', new Blob([fs.readFileSync(`${record}.${ext}`)]), `119.${ext}`);
  const ds = await api('POST', '/api/v1/datasets', fd);
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${srv.base}/donate`);
  await page.getByTestId('donate-threads').selectOption('1');
  await page.getByTestId('donate-cpu').selectOption('100');
  await page.getByTestId('donate-start').click();
  await expect(page.getByTestId('donate-status')).toHaveText(/^connected$/);
  await expect(page.getByTestId('donate-task')).toHaveAttribute('data-wait', 'no-work');

  const run = async () => {
    const before = (await page.evaluate(() => window.pulsegridDonate.chunkMillis())).length;
    const a = await api('POST', '/api/v1/analyses', JSON.stringify({ dataset_id: ds.id, algorithm: 'ecg.beats@1', params: {}, priority: 'routine' }));
    await expect.poll(async () => (await api('GET', `/api/v1/analyses/${a.id}`)).progress.chunks_awaiting_replica, { timeout: 60_000 })
      .toBe((await api('GET', `/api/v1/analyses/${a.id}`)).progress.chunks_total);
    return (await page.evaluate(() => window.pulsegridDonate.chunkMillis())).slice(before);
  };
  const full = await run();
  // Every chunk computed once: the page says it waits for a second opinion.
  await expect(page.getByTestId('donate-task')).toHaveAttribute('data-wait', 'second-opinion');
  await expect(page.getByTestId('donate-task')).toContainText('waiting for a second opinion');

  await page.getByTestId('donate-cpu').selectOption('25');
  const quarter = await run();
  const ratio = median(quarter) / median(full);
  console.log(`median chunk wall time: 100 % ${median(full).toFixed(1)} ms, 25 % ${median(quarter).toFixed(1)} ms, ratio ${ratio.toFixed(2)}`);
  // 4 ideally; 2.3 measured on an idle machine and 1.58 under CI load (per-chunk overhead is not throttled);
  // a worker ignoring the share gives about 1.
  expect(ratio).toBeGreaterThan(1.3);

  // Reload: settings and counters stay.
  const done = Number(await page.getByTestId('donate-chunks-done').textContent());
  expect(done).toBeGreaterThan(0);
  await page.reload();
  await expect(page.getByTestId('donate-cpu')).toHaveValue('25');
  await expect(page.getByTestId('donate-chunks-done')).toHaveText(String(done));
  await expect(page.getByTestId('donate-credit')).toContainText('CPU s');
  await ctx.close();
});
