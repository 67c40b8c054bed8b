// The Holter strip's seek buttons (issue 13, as PhysioNet's LightWAVE has
// them): on a real record (MIT-BIH 119, ventricular bigeminy and trigeminy)
// analysed with ecg.classify@1, the clinician presses "next event" and the
// strip moves to the first event's time (2 s of context before it, a
// detected beat at that time), presses it again with the keyboard (the
// focus comes back to the button after the page load, so Enter steps on),
// goes back with "previous event", jumps to the next V beat (drawn with
// its class), and after scrolling the strip with its own controls the
// buttons search from the window shown. axe-core finds no violation on the
// report with the seek controls.
const { test, expect } = require('@playwright/test');
const path = require('node:path');
const { default: AxeBuilder } = require('@axe-core/playwright');
const { startServer, shared } = require('./server');
const portal = require('./portal');

const email = 'seek@example.org';
const password = 'Quiet-Harbour-Lantern-7';
const record = path.join(shared, 'data', 'mitdb', '119');

let server;

test.beforeAll(async () => {
  server = await startServer(['--local-workers', '2', '--quorum', '1']);
  server.cli(['user', 'add', '--email', email, '--role', 'clinician', '--password', password]);
});

test.afterAll(async () => {
  if (server) await server.stop();
});

// windowOf is the strip window the page shows: the SVG's data-from/to and
// the cursor in the URL.
async function windowOf(page) {
  const svg = page.getByTestId('strip-svg').locator('svg.chart-strip');
  const u = new URL(page.url());
  return {
    from: Number(await svg.getAttribute('data-from')),
    to: Number(await svg.getAttribute('data-to')),
    cursor: u.searchParams.has('cursor') ? Number(u.searchParams.get('cursor')) : null,
  };
}

test('next and previous event and V beat on the Holter strip of MIT-BIH 119', async ({ page }) => {
  test.setTimeout(120_000);
  await portal.login(page, server.base, email, password);
  if (await page.getByTestId('password-forced').count()) await portal.changePassword(page, 'Quiet-Harbour-Lantern-8');
  const dataset = await portal.upload(page, server.base, ['hea', 'dat'].map((ext) => `${record}.${ext}`));
  const id = await portal.startAnalysis(page, server.base, dataset, 'ecg.classify@1');
  await expect(page.getByTestId('analysis-status')).toHaveText(/done/i, { timeout: 90_000 });

  // The classify result: the distinct event starts and the V beats.
  const res = await (await page.request.get(`${server.base}/api/v1/analyses/${id}/result`)).json();
  const starts = [...new Set(res.events.map((e) => e.start_s.toFixed(3)))].map(Number).sort((a, b) => a - b);
  const vs = res.beats.filter((b) => b.class === 'V').map((b) => b.time);
  expect(starts.length).toBeGreaterThan(3);
  const later = starts.filter((t) => t > 2.001); // the window at 0 searches from 2 s

  await page.goto(`${server.base}/analyses/${id}/report?from=0&to=10#strip`);
  const seek = page.getByTestId('strip-seek');
  await expect(seek.locator('a[data-strip-seek]')).toHaveCount(10);

  // expectAt checks that the strip shows t 2 s into a 10 s window, with
  // the cursor and a detected beat on it.
  const expectAt = async (t) => {
    await expect.poll(async () => (await windowOf(page)).cursor).toBeCloseTo(t, 3);
    const w = await windowOf(page);
    expect(w.from).toBeCloseTo(Math.max(t - 2, 0), 3);
    expect(w.to - w.from).toBeCloseTo(10, 3);
    await expect(page.getByTestId('strip-svg').locator(`g.mark.detected[data-t="${t.toFixed(3)}"]`)).toHaveCount(1);
  };

  // Mouse: next event.
  await page.getByTestId('strip-seek-next-event').click();
  await expectAt(later[0]);
  await portal.shot(page, 'seek-next-event');

  // Keyboard: the focus is back on the button, Enter goes on to the next
  // event; Shift+Tab reaches "previous event", Enter goes back.
  await expect(page.getByTestId('strip-seek-next-event')).toBeFocused();
  await page.keyboard.press('Enter');
  await expectAt(later[1]);
  await expect(page.getByTestId('strip-seek-next-event')).toBeFocused();
  await page.keyboard.press('Shift+Tab');
  await expect(page.getByTestId('strip-seek-prev-event')).toBeFocused();
  await page.keyboard.press('Enter');
  await expectAt(later[0]);
  await expect(page.getByTestId('strip-seek-prev-event')).toBeFocused();

  // Next V beat from there: drawn with its class.
  const nextV = vs.find((t) => t > later[0] + 0.001);
  await page.getByTestId('strip-seek-next-V').click();
  await expectAt(nextV);
  await expect(page.getByTestId('strip-svg').locator(`g.mark.detected[data-t="${nextV.toFixed(3)}"]`)).toContainText('V');

  // The strip's own controls move the window in place; the seek buttons
  // then search from the window shown (no cursor), and the next event is
  // the first one after 2 s into it.
  const before = await windowOf(page);
  await page.getByTestId('strip-next').click();
  await expect.poll(async () => Number(new URL(page.url()).searchParams.get('from'))).toBeCloseTo(before.from + 10, 3);
  const href = new URL(await page.getByTestId('strip-seek-next-event').getAttribute('href'), server.base);
  expect(Number(href.searchParams.get('from'))).toBeCloseTo(before.from + 10, 3);
  expect(href.searchParams.has('cursor')).toBe(false);
  await page.getByTestId('strip-seek-next-event').click();
  await expectAt(starts.find((t) => t > before.from + 12.001));

  // Nothing earlier than the first event: a message, the window stays.
  const f0 = Math.max(starts[0] - 2, 0);
  await page.goto(`${server.base}/analyses/${id}/report?from=${f0.toFixed(3)}&to=${(f0 + 10).toFixed(3)}&cursor=${starts[0].toFixed(3)}#strip`);
  await page.getByTestId('strip-seek-prev-event').click();
  await expect(page.getByTestId('flash')).toContainText('No earlier event');
  expect((await windowOf(page)).from).toBeCloseTo(f0, 3);

  const axe = await new AxeBuilder({ page }).analyze();
  const v = axe.violations.map((x) => `${x.id} (${x.impact}): ${x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
  expect(v, 'axe-core violations on the report with the seek controls').toEqual([]);
});
