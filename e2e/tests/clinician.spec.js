// Scenarios 1 and 2 of issue 6, one story on one server:
// 1. The admin (one-time password from serve's output) signs in, must change
//    the password, and creates a clinician on the users page; the clinician
//    signs in, must change the one-time password, uploads a MIT-BIH record
//    (.hea + .dat + .atr), an EDF file and a CSV vitals log, and starts
//    analyses of each.
// 2. Three volunteer tabs (separate browser contexts) open /donate and press
//    Start; every analysis completes at quorum 2; the clinician reads the
//    results (strip, beats count, HRV table, vitals table) and downloads the
//    beats CSV, which scores at least 99.5 % Se and +P against the .atr.
const { test, expect } = require('@playwright/test');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, shared, bin } = require('./server');
const { metric, reference } = require('./api');
const { parseAtr, scoreBeats, parseBeatsCSV } = require('./atr');
const portal = require('./portal');

test.describe.configure({ mode: 'serial' });

const mit = path.join(shared, 'data', 'mitdb', '100');
const edf = path.join(shared, 'data', 'edf', 'test_generator_2.edf');
const clinicianEmail = 'dr.lee@example.org';
const clinicianPassword = 'Quiet-Harbour-Lantern-7';
const chunking = ['--chunk-seconds', '900'];

let server, tmp, vitalsCSV, clin;
const analyses = {}; // name -> analysis id

test.beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pulsegrid-clinician-'));
  execFileSync(bin, ['simulate', 'vitals', '--out', tmp, '--records', '1', '--minutes', '30', '--seed', '1'], { stdio: 'ignore' });
  vitalsCSV = path.join(tmp, 'vitals001.csv');
  // Quarter-hour chunks keep the chunk count under the grid's trust
  // threshold (see the quorum check below).
  server = await startServer(chunking);
});

test.afterAll(async () => {
  if (clin) await clin.close();
  if (server) await server.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('admin creates a clinician, who changes the password, uploads three recordings and starts analyses', async ({ browser }) => {
  const admin = portal.adminPassword(server);
  const actx = await browser.newContext();
  let oneTime;
  try {
    const apage = await actx.newPage();
    await apage.goto(`${server.base}/login`);
    await portal.shot(apage, 'login');
    await portal.login(apage, server.base, admin.email, admin.password);
    await portal.changePassword(apage, 'Admin-Granite-Orchard-9');
    oneTime = await portal.createUser(apage, server.base, clinicianEmail, 'clinician');
    await expect(apage.getByTestId('user-row').filter({ hasText: clinicianEmail })).toHaveCount(1);
    await portal.logout(apage);
  } finally {
    await actx.close();
  }

  clin = await browser.newContext({ acceptDownloads: true });
  const page = await clin.newPage();
  await portal.login(page, server.base, clinicianEmail, oneTime);
  // Nothing else opens before the one-time password is replaced.
  await page.goto(`${server.base}/datasets`);
  await expect(page.getByTestId('password-forced')).toBeVisible();
  await portal.changePassword(page, clinicianPassword);

  const dsMit = await portal.upload(page, server.base, [`${mit}.hea`, `${mit}.dat`, `${mit}.atr`]);
  await expect(page.getByTestId('dataset-annotations')).not.toHaveText('none');
  await expect(page.getByTestId('channel-row')).toHaveCount(2);
  const dsEdf = await portal.upload(page, server.base, [edf]);
  await expect(page.getByTestId('channel-row').first()).toBeVisible();
  const dsCsv = await portal.upload(page, server.base, [vitalsCSV]);
  await expect(page.getByTestId('channel-row').first()).toBeVisible();

  await page.goto(`${server.base}/datasets`);
  await expect(page.getByTestId('dataset-row')).toHaveCount(3);
  await portal.shot(page, 'datasets');

  analyses.mitBeats = await portal.startAnalysis(page, server.base, dsMit, 'ecg.beats@1');
  await expect(page.getByTestId('analysis-status')).toHaveText(/queued|running/);
  // No volunteer yet: the page says what the chunks wait for and what unblocks them.
  await expect(page.getByTestId('analysis-wait-volunteers')).toBeVisible();
  await expect(page.getByTestId('analysis-wait-volunteers').getByRole('link', { name: 'the donate page' })).toHaveAttribute('href', '/donate');
  await expect(page.getByTestId('analysis-wait-volunteers')).toContainText('--local-workers');
  await expect(page.getByTestId('analysis-queued')).toHaveText(await page.getByTestId('analysis-total').textContent());
  await portal.shot(page, 'analysis-progress-queued');
  analyses.mitHRV = await portal.startAnalysis(page, server.base, dsMit, 'ecg.hrv@1');
  analyses.edfBeats = await portal.startAnalysis(page, server.base, dsEdf, 'ecg.beats@1');
  analyses.vitals = await portal.startAnalysis(page, server.base, dsCsv, 'vitals.summary@1');

  await page.goto(`${server.base}/analyses`);
  await expect(page.getByTestId('analysis-row')).toHaveCount(4);
});

test('three volunteer tabs complete the analyses at quorum 2; results and CSV are right', async ({ browser }) => {
  const page = await clin.newPage();
  await page.goto(`${server.base}/analyses/${analyses.mitBeats}`);

  const vols = [];
  for (let i = 0; i < 3; i++) {
    const ctx = await browser.newContext();
    vols.push({ ctx, page: await portal.startDonating(ctx, server.base) });
  }
  try {
    // The progress page follows the work live (progress.js polls the API).
    // Volunteers connect: progress.js hides the stall notice (it reads progress.waiting_for).
    await expect(page.getByTestId('analysis-wait-volunteers')).toBeHidden({ timeout: 60_000 });
    await expect(page.getByTestId('analysis-status')).toHaveText('done', { timeout: 150_000 });
    await expect(page.getByTestId('analysis-verified')).toHaveText(await page.getByTestId('analysis-total').textContent());
    await expect(page.getByTestId('analysis-cancel')).toBeHidden(); // a finished analysis cannot be cancelled
    // Updated in place by progress.js: a finished analysis has nobody working and no time left.
    await expect(page.getByTestId('analysis-volunteers')).toHaveText('0');
    await expect(page.getByTestId('analysis-eta')).toHaveText('–');
    await expect(page.getByTestId('analysis-chunk-states')).toBeHidden();
    await portal.shot(page, 'analysis-progress-done');
    let chunks = 0;
    for (const id of Object.values(analyses)) {
      await page.goto(`${server.base}/analyses/${id}`);
      await expect(page.getByTestId('analysis-status')).toHaveText('done', { timeout: 120_000 });
      chunks += Number(await page.getByTestId('analysis-total').textContent());
    }
    // No tab can have earned trust (10 validated results, one per chunk at
    // most), so every chunk needed two agreeing volunteers.
    expect(chunks).toBeLessThan(10);
    // The volunteer tabs did the work: at least two of them computed chunks.
    const done = [];
    for (const v of vols) done.push(Number(await v.page.getByTestId('donate-chunks-done').textContent()));
    expect(done.filter((n) => n > 0).length, `chunks done per tab: ${done}`).toBeGreaterThanOrEqual(2);
    await expect.poll(async () => Number(await vols.find((v, i) => done[i] > 0).page.getByTestId('donate-verified').textContent())).toBeGreaterThan(0);
    await portal.shot(vols[0].page, 'donate');
  } finally {
    for (const v of vols) await v.ctx.close();
  }
  // Quorum 2 among fresh tabs: their agreement waits for an established
  // volunteer or the server's auditor, whose vote counts among the agreeing
  // results. A chunk whose tab stalled (a slow, loaded machine: the lease's
  // ack timed out) is settled by the auditor alone, so the floor is one
  // agreeing result per verified chunk, not two. What must never happen with
  // honest tabs is a disagreement: the wasm worker and the native auditor
  // compute bit-identical outputs.
  const verified = await metric(server.base, 'pulsegrid_chunks_verified_total');
  const accepted = await metric(server.base, 'pulsegrid_results_accepted_total');
  console.log(`${verified} chunks verified from ${accepted} agreeing results`);
  expect(verified).toBeGreaterThanOrEqual(4);
  expect(accepted).toBeGreaterThanOrEqual(verified);
  expect(await metric(server.base, 'pulsegrid_results_rejected_total'), 'an honest tab disagreed with the verified output').toBe(0);
  expect(await metric(server.base, 'pulsegrid_volunteers_caught_total'), 'an honest tab was caught').toBe(0);

  // Beats of the MIT record: strip, count, and the CSV download.
  const ref = reference('ecg.beats@1', [`${mit}.hea`, `${mit}.dat`], tmp, chunking);
  await page.goto(`${server.base}/analyses/${analyses.mitBeats}/result`);
  await expect(page.getByTestId('result-beats-count')).toHaveText(String(ref.beats.length));
  await expect(page.getByTestId('strip').locator('svg')).toBeVisible();
  await portal.shot(page, 'results-beats');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-csv').click()]);
  const csv = fs.readFileSync(await download.path(), 'utf8');
  const detected = parseBeatsCSV(csv);
  expect(detected).toEqual(ref.beats.map((b) => b.sample));
  const score = scoreBeats(detected, parseAtr(fs.readFileSync(`${mit}.atr`)), 360);
  console.log(`record 100 via the grid: Se ${(100 * score.se).toFixed(2)} %, +P ${(100 * score.ppv).toFixed(2)} % (${score.tp} TP, ${score.fn} FN, ${score.fp} FP of ${score.reference} reference beats)`);
  expect(score.reference).toBeGreaterThan(1800);
  expect(score.se).toBeGreaterThanOrEqual(0.995);
  expect(score.ppv).toBeGreaterThanOrEqual(0.995);

  // HRV of the MIT record: the table shows the values of `pulsegrid run`.
  const hrv = reference('ecg.hrv@1', [`${mit}.hea`, `${mit}.dat`], tmp, chunking);
  await page.goto(`${server.base}/analyses/${analyses.mitHRV}/result`);
  const table = page.getByTestId('result-hrv-table');
  await expect(table).toBeVisible();
  await expect(table.locator('[data-testid="hrv-row"][data-key="sdnn"] [data-testid="hrv-value"]')).toHaveText(hrv.sdnn_ms.toFixed(1));
  await expect(table.locator('[data-testid="hrv-row"][data-key="rmssd"] [data-testid="hrv-value"]')).toHaveText(hrv.rmssd_ms.toFixed(1));
  await portal.shot(page, 'results-hrv');

  // The EDF file's beats and the vitals summary.
  const edfRef = reference('ecg.beats@1', [edf], tmp, chunking);
  await page.goto(`${server.base}/analyses/${analyses.edfBeats}/result`);
  await expect(page.getByTestId('result-beats-count')).toHaveText(String(edfRef.beats.length));
  const vit = reference('vitals.summary@1', [vitalsCSV], tmp, chunking);
  await page.goto(`${server.base}/analyses/${analyses.vitals}/result`);
  await expect(page.getByTestId('vitals-row')).toHaveCount(vit.channels.length);
  await portal.shot(page, 'results-vitals');
});
