// A long recording as a clinician meets it (issue 5: "a 24-hour Holter file
// of a few hundred MB"): a four-hour two-channel record, simulated with
// reference beats, goes through the upload form; the dataset page previews
// both channels whole; an ECG analysis (computed by the server's local
// workers, so no volunteer tab is needed) completes; the strip opens at
// hour 3 with detected and reference beats in it and steps on from there.
// The server's memory on such uploads is bounded by the Go test
// TestLongRecordUploadStreams and measured in docs/benchmarks.md.
// The second test reads the Holter report of an ecg.classify@1 analysis of
// the same record: the per-minute heart-rate trend, jumping to a time typed
// as HH:MM:SS, and the hourly table's and the event list's rows opening the
// strip at their time. The third corrects the report through its forms:
// a beat relabelled, an event dismissed, both listed with who made them.
const { test, expect } = require('@playwright/test');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, bin } = require('./server');
const portal = require('./portal');

const hours = 4;
const email = 'holter@example.org';
const password = 'Long-Night-Recorder-4';

let server, tmp, dataset, classifyId;

test.beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pulsegrid-holter-'));
  execFileSync(bin, ['simulate', 'ecg', '--out', tmp, '--minutes', String(60 * hours), '--seed', '7'], { stdio: 'ignore' });
  server = await startServer(['--local-workers', '2', '--quorum', '1']);
  server.cli(['user', 'add', '--email', email, '--role', 'clinician', '--password', password]);
});

test.afterAll(async () => {
  if (server) await server.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('a four-hour recording: upload, previews, analysis, strip at hour 3', async ({ page }) => {
  test.setTimeout(120_000);
  await portal.login(page, server.base, email, password);
  if (await page.getByTestId('password-forced').count()) await portal.changePassword(page, 'Long-Night-Recorder-5');

  const files = ['hea', 'dat', 'atr'].map((ext) => path.join(tmp, `ecg001.${ext}`));
  dataset = await portal.upload(page, server.base, files);
  const rows = page.getByTestId('channel-row');
  await expect(rows).toHaveCount(2);
  for (let i = 0; i < 2; i++) {
    const row = rows.nth(i);
    await expect(row).toContainText(String(hours * 3600 * 360));
    // A preview of the whole channel, drawn from the stored summaries.
    await expect(row.getByTestId('channel-preview').locator('svg path, svg polyline').first()).toBeAttached();
  }
  await portal.shot(page, 'holter-dataset');

  const id = await portal.startAnalysis(page, server.base, dataset, 'ecg.beats@1');
  await expect(page.getByTestId('analysis-status')).toHaveText(/done/i, { timeout: 90_000 });

  await page.goto(`${server.base}/analyses/${id}/result?from=10800&to=10810#strip`);
  const beats = Number((await page.getByTestId('result-beats-count').textContent()).replace(/[^0-9]/g, ''));
  expect(beats).toBeGreaterThan(hours * 3600 * 0.8); // over 48 bpm on average
  await expect(page.getByTestId('strip-time')).toContainText('3:00:00');
  const strip = page.getByTestId('strip-svg');
  const detected = strip.locator('g.mark.detected');
  const reference = strip.locator('g.mark.reference');
  expect(await detected.count()).toBeGreaterThan(5);
  expect(await reference.count()).toBeGreaterThan(5);
  const first = await detected.first().getAttribute('data-t');
  expect(Number(first)).toBeGreaterThanOrEqual(10800);
  await portal.shot(page, 'holter-strip');

  // One step later, fetched in place by strip.js.
  await page.getByTestId('strip-next').click();
  await expect(page.getByTestId('strip-time')).toContainText('3:00:10');
  await expect.poll(async () => Number(await detected.first().getAttribute('data-t'))).toBeGreaterThanOrEqual(10810);
});

// clock is strip.js's label of a time in a record of an hour or more.
const clock = (sec) => {
  const t = Math.round(sec);
  const pad = (v) => String(v).padStart(2, '0');
  return `${Math.floor(t / 3600)}:${pad(Math.floor(t / 60) % 60)}:${pad(t % 60)}`;
};

test('the Holter report: HR trend, strip at a typed time, at an hour, at an event', async ({ page }) => {
  test.setTimeout(120_000);
  expect(dataset, 'the first test uploads the record').toBeTruthy();
  await portal.login(page, server.base, email, password);
  const id = await portal.startAnalysis(page, server.base, dataset, 'ecg.classify@1');
  classifyId = id;
  await expect(page.getByTestId('analysis-status')).toHaveText(/done/i, { timeout: 90_000 });
  await page.goto(`${server.base}/analyses/${id}/report`);
  await expect(page.getByTestId('holter-hours').locator('tbody tr')).toHaveCount(hours);

  // The trend: max, mean and min per minute, three lines, not a block of
  // 17,000 beats: the mean line has about one point per minute or per
  // pixel column, whichever is fewer.
  const series = page.getByTestId('holter-trend').locator('svg path.series');
  await expect(series).toHaveCount(3);
  const d = await series.nth(1).getAttribute('d');
  const points = (d.match(/[ML]/g) || []).length;
  expect(points).toBeGreaterThan(100);
  expect(points).toBeLessThanOrEqual(2 * hours * 60);
  await portal.shot(page, 'holter-report');

  // The FHIR link answers the report as an HL7 FHIR R4 Bundle.
  const fhir = await page.request.get(new URL(await page.getByTestId('holter-fhir').getAttribute('href'), server.base).toString());
  expect(fhir.status()).toBe(200);
  expect(fhir.headers()['content-type']).toContain('application/fhir+json');
  const bundle = await fhir.json();
  expect(bundle.resourceType).toBe('Bundle');
  expect(bundle.entry[0].resource.code.coding[0].code).toBe('18754-2');

  // Jump to a typed time (the form reloads the page with the strip there).
  await page.getByTestId('holter-at').fill('02:30:00');
  await page.getByTestId('holter-go').click();
  await expect(page).toHaveURL(/from=9000(\.0+)?&/);
  await expect(page.getByTestId('strip-time')).toContainText('2:30:00');
  const detected = page.getByTestId('strip-svg').locator('g.mark.detected');
  expect(Number(await detected.first().getAttribute('data-t'))).toBeGreaterThanOrEqual(9000);

  // An hourly row opens the strip at its hour (strip.js shows one second
  // before it).
  await page.getByTestId('holter-hour-link').nth(3).click();
  await expect(page.getByTestId('strip-time')).toContainText(clock(3 * 3600 - 1));
  await expect.poll(async () => Number(await detected.first().getAttribute('data-t'))).toBeGreaterThanOrEqual(3 * 3600 - 1);

  // So does an event.
  const events = page.getByTestId('holter-event-link');
  expect(await events.count()).toBeGreaterThan(0);
  const ev = events.last();
  const at = Number(await ev.getAttribute('data-strip-from'));
  await ev.click();
  await expect(page.getByTestId('strip-time')).toContainText(clock(at - 1));
  await expect.poll(async () => Number(await detected.first().getAttribute('data-t'))).toBeGreaterThanOrEqual(at - 1);
  expect(Number(await detected.first().getAttribute('data-t'))).toBeLessThan(at + 10);

  // A time after the record's end is refused with a message.
  const res = await page.goto(`${server.base}/analyses/${id}/report?at=05:00:00`);
  expect(res.status()).toBe(400);
  await expect(page.locator('body')).toContainText('after the end of the record');
});

test('the Holter report: a clinician relabels a beat and dismisses an event', async ({ page }) => {
  test.setTimeout(60_000);
  expect(classifyId, 'the second test runs the analysis').toBeTruthy();
  await portal.login(page, server.base, email, password);
  const url = `${server.base}/analyses/${classifyId}/report`;
  await page.goto(`${url}?from=3600&to=3610#strip`);
  const classes = async () => {
    const m = /N (\d+), S (\d+), V (\d+)/.exec(await page.getByTestId('holter-classes').textContent());
    return { N: +m[1], S: +m[2], V: +m[3] };
  };
  const before = await classes();
  await expect(page.getByTestId('holter-corrected')).toHaveCount(0);

  // Relabel the first N beat of the strip as V, typing its time.
  const marks = page.getByTestId('strip-svg').locator('g.mark.detected');
  let t = -1;
  for (let i = 0, n = await marks.count(); i < n && t < 0; i++) {
    if (!/[SVFQ]/.test(await marks.nth(i).textContent())) t = Number(await marks.nth(i).getAttribute('data-t'));
  }
  expect(t).toBeGreaterThan(3600);
  const ms = Math.round(t * 1000);
  const pad = (v, n = 2) => String(v).padStart(n, '0');
  const typed = `${pad(Math.floor(ms / 3600000))}:${pad(Math.floor(ms / 60000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}.${pad(ms % 1000, 3)}`;
  await page.getByTestId('holter-beat-at').fill(typed);
  await page.getByTestId('holter-beat-class').selectOption('V');
  await page.getByTestId('holter-relabel-submit').click();
  await expect(page.getByTestId('holter-corrected')).toBeVisible();
  expect(await classes()).toEqual({ N: before.N - 1, S: before.S, V: before.V + 1 });
  // The strip draws the beat with its new class.
  await expect(page.getByTestId('strip-svg').locator(`g.mark.detected[data-t="${t.toFixed(3)}"]`)).toContainText('V');
  const log = page.getByTestId('holter-correction-log');
  await expect(log.locator('tbody tr')).toHaveCount(1);
  await expect(log).toContainText(email);
  await expect(log).toContainText(typed);

  // Dismiss the first event.
  const events = page.getByTestId('holter-events').locator('tbody tr');
  const n = await events.count();
  expect(n).toBeGreaterThan(0);
  await page.getByTestId('holter-dismiss').first().locator('button').click();
  await expect(page.getByTestId('holter-events').locator('tbody tr')).toHaveCount(n - 1);
  await expect(page.getByTestId('holter-dismissed').locator('li')).toHaveCount(1);
  await expect(log.locator('tbody tr')).toHaveCount(2);
  await portal.shot(page, 'holter-corrected');

  // A cross-origin POST of the same form is refused.
  const forged = await page.request.post(`${url}/corrections`, {
    headers: { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' },
    form: { target: 'beat', at: typed, class: 'N' },
  });
  expect(forged.status()).toBe(403);
  await page.reload();
  await expect(log.locator('tbody tr')).toHaveCount(2);
});
