// Scenario 3 of issue 6: volunteers come and go. One volunteer tab is
// closed while it computes a chunk; another loses its network and comes
// back: its connection goes through a TCP proxy that drops it and refuses new
// ones (in our runs context.setOffline alone left the dedicated worker's
// open websocket untouched), and its browser context is offline meanwhile.
// The analyses must complete with exactly the result `pulsegrid run`
// computes without grid or faults, and a third analysis, which only the
// steady tab and the returned one can vote on, proves the returned tab works
// (it must compute some of their chunks).
const { test, expect } = require('@playwright/test');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, bin } = require('./server');
const { clinician, client, metric, reference } = require('./api');
const { startProxy } = require('./proxy');
const portal = require('./portal');

const text = async (page, id) => (await page.getByTestId(id).textContent()).trim();
const dropped = async (base) => (await metric(base, 'pulsegrid_leases_released_total')) + (await metric(base, 'pulsegrid_leases_expired_total'));

test('an analysis survives a tab closed mid-chunk and a tab that goes offline and comes back', async ({ browser }) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pulsegrid-churn-'));
  // A 4-hour synthetic ECG in half-hour chunks: each chunk takes the browser
  // worker a few hundred milliseconds at 25 % CPU, long enough to interrupt.
  execFileSync(bin, ['simulate', 'ecg', '--out', tmp, '--records', '1', '--minutes', '240', '--seed', '3'], { stdio: 'ignore' });
  const files = [path.join(tmp, 'ecg001.hea'), path.join(tmp, 'ecg001.dat')];
  const chunking = ['--chunk-seconds', '1800'];
  const server = await startServer(chunking);
  const proxy = await startProxy(server.port);
  const contexts = [];
  try {
    const clin = clinician(server, 'churn@example.org');
    const api = client(server.base, clin.token);
    const ds = await api.upload(files);
    const ids = [await api.analyse(ds, 'ecg.beats@1'), await api.analyse(ds, 'ecg.hrv@1')];

    const open = async (base) => {
      const ctx = await browser.newContext();
      contexts.push(ctx);
      return { ctx, page: await portal.startDonating(ctx, base, 25) };
    };
    const closing = await open(server.base);
    const flaky = await open(proxy.base);
    const steady = await open(server.base);

    // Close the first tab while it holds a chunk: the server takes the
    // lease back and gives the chunk to someone else.
    await expect.poll(() => text(closing.page, 'donate-task'), { timeout: 60_000, intervals: [10] }).toContain('@');
    const before = await dropped(server.base);
    await closing.ctx.close();
    contexts.splice(contexts.indexOf(closing.ctx), 1);
    await expect.poll(() => dropped(server.base), { timeout: 30_000 }).toBeGreaterThan(before);

    // The second tab goes offline once it has done some work.
    await expect.poll(async () => Number(await text(flaky.page, 'donate-chunks-done')), { timeout: 60_000 }).toBeGreaterThan(0);
    // Its connection breaks (the proxy drops it and refuses new ones) and the
    // browser is offline until it comes back.
    const cutConns = proxy.cut();
    console.log(`cut ${cutConns} connections; status ${await text(flaky.page, 'donate-status')}, task ${await text(flaky.page, 'donate-task')}`);
    await flaky.ctx.setOffline(true);
    try {
      await expect.poll(() => text(flaky.page, 'donate-status'), { timeout: 30_000 }).not.toBe('connected');
    } catch (e) {
      const threads = await flaky.page.evaluate(() => JSON.stringify(window.pulsegridDonate ? window.pulsegridDonate.threads() : null)).catch((x) => String(x));
      console.log(`the flaky tab did not notice the cut: status ${await text(flaky.page, 'donate-status')}, task ${await text(flaky.page, 'donate-task')}, chunks ${await text(flaky.page, 'donate-chunks-done')}, proxy open ${proxy.open()}, server volunteers ${await metric(server.base, 'pulsegrid_volunteers_connected')}, donate hooks ${threads}`);
      throw e;
    }
    const offlineStatus = await text(flaky.page, 'donate-status');
    const doneOffline = Number(await text(flaky.page, 'donate-chunks-done'));
    await flaky.page.waitForTimeout(3000);
    const progressOffline = await Promise.all(ids.map((id) => api.analysis(id)));
    // ... and comes back.
    proxy.restore();
    await flaky.ctx.setOffline(false);
    await expect.poll(() => text(flaky.page, 'donate-status'), { timeout: 60_000 }).toBe('connected');

    for (const id of ids) await api.waitDone(id, 180_000);
    const doneAfter = Number(await text(flaky.page, 'donate-chunks-done'));
    console.log(`offline tab: status "${offlineStatus}" while cut, ${doneOffline} chunks before, ${doneAfter} at the end; ` +
      `while it was away: ${progressOffline.map((a) => `${a.algorithm} ${a.status} ${a.progress.chunks_verified}/${a.progress.chunks_total}`).join(', ')}`);
    expect(await api.result(ids[0], 'json')).toEqual(reference('ecg.beats@1', files, tmp, chunking));
    expect(await api.result(ids[1], 'json')).toEqual(reference('ecg.hrv@1', files, tmp, chunking));

    // Whether those two needed the tab that came back depends on how many
    // votes the closed tab left behind. New analyses now have only the
    // steady tab and the returned one, both fresh identities: the returned
    // tab must compute some of their chunks.
    // On a loaded machine a late lease of the steady tab sends its chunk to
    // established volunteers and the server's auditor only (the hoarding
    // defence), which a fresh identity is not: more analyses keep fresh work
    // open long enough for the returned tab to get some.
    const third = await api.analyse(ds, 'ecg.classify@1');
    const more = [await api.analyse(ds, 'ecg.beats@2'), await api.analyse(ds, 'ecg.hrv@2')];
    await expect.poll(async () => Number(await text(flaky.page, 'donate-chunks-done')), { timeout: 180_000 }).toBeGreaterThan(doneAfter);
    for (const id of [third, ...more]) await api.waitDone(id, 180_000);
    const doneThird = Number(await text(flaky.page, 'donate-chunks-done'));
    console.log(`returned tab: ${doneAfter} chunks when the first two were done, ${doneThird} after three more analyses`);
    expect(await api.result(third, 'json')).toEqual(reference('ecg.classify@1', files, tmp, chunking));
  } finally {
    for (const c of contexts) await c.close();
    await proxy.close();
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
