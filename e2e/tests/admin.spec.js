// The admin pages of issue 14 in a browser: /admin/grid redraws itself
// from GET /api/v1/grid (static/js/grid.js) without a reload, as volunteers
// come and chunks are verified, and charts the last hour (time and value
// axes); /admin/templates
// lists the built-in templates; /admin/audit shows each entry's address.
// Each page is checked at 375 (or 390) and 1280 px: no sideways scrolling, 0
// axe-core violations (default rules), and a screenshot in
// e2e/artifacts/admin-<state>-<width>.png.
const { test, expect } = require('@playwright/test');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { default: AxeBuilder } = require('@axe-core/playwright');
const { startServer, bin } = require('./server');
const { clinician, client } = require('./api');
const portal = require('./portal');

const widths = [{ width: 375, height: 812 }, { width: 1280, height: 800 }];
const admin = { email: 'grid-admin@example.org', password: 'Grid-Admin-Basalt-7' };
let server, tmp, vitalsID, datasetID;
// Names of the longest kind a volunteer may choose (40 characters at most).
const longNick = 'Grid watcher of the night shift, ward 4B';
const longTeam = 'Cardiology volunteers of the north wing';

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pulsegrid-admin-'));
  execFileSync(bin, ['simulate', 'vitals', '--out', tmp, '--records', '1', '--minutes', '30', '--seed', '5'], { stdio: 'ignore' });
  server = await startServer(['--chunk-seconds', '300', '--quorum', '1']);
  server.cli(['user', 'add', '--email', admin.email, '--role', 'admin', '--password', admin.password]);
});

test.afterAll(async () => {
  if (server) await server.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// check: the page does not scroll sideways and axe-core finds nothing.
async function check(page, name) {
  const vp = page.viewportSize();
  const sw = await page.evaluate(() => document.documentElement.scrollWidth);
  expect.soft(sw, `${name} at ${vp.width} px scrolls sideways`).toBeLessThanOrEqual(vp.width);
  const axe = await new AxeBuilder({ page }).analyze();
  expect.soft(axe.violations.map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`), `${name} at ${vp.width} px: axe-core`).toEqual([]);
  await portal.shot(page, `admin-${name}-${vp.width}`);
}

// axes checks the time and value axes of the grid's charts: a label every
// 15 minutes from "60 min" to "now" under a gridline each, none under 11 px,
// none over another or out of its chart, and a scale whose top is a round
// number at least the chart's peak.
async function axes(page) {
  const vp = page.viewportSize();
  const charts = await page.locator('figure[data-series]').evaluateAll((figs) => figs.map((fig) => {
    const box = fig.getBoundingClientRect();
    const plot = fig.querySelector('svg').getBoundingClientRect();
    const label = (e) => {
      const r = e.getBoundingClientRect();
      return { text: e.textContent.trim(), px: parseFloat(getComputedStyle(e).fontSize), left: r.left, right: r.right, top: r.top, bottom: r.bottom, mid: (r.left + r.right) / 2 };
    };
    const ticks = [...fig.querySelectorAll('svg line.tick.x')].map((l) => plot.left + (Number(l.getAttribute('x1')) / 600) * plot.width);
    return {
      series: fig.dataset.series, box: { left: box.left, right: box.right }, plot: { left: plot.left, right: plot.right },
      x: [...fig.querySelectorAll('.history-axis span')].map(label),
      y: [...fig.querySelectorAll('.history-y span')].map(label),
      ticks, peak: Number(fig.querySelector('[data-field="peak"]').textContent),
    };
  }));
  expect(charts.length).toBe(3);
  for (const c of charts) {
    const at = `${c.series} at ${vp.width} px`;
    expect.soft(c.x.map((l) => l.text), `${at}: time labels`).toEqual(['60 min', '45', '30', '15', 'now']);
    expect.soft(c.ticks.length, `${at}: gridlines every 15 min`).toBe(3);
    // Each inner label is centred on its gridline (45, 30, 15 min ago).
    c.ticks.sort((a, b) => a - b).forEach((x, i) => expect.soft(Math.abs(c.x[i + 1].mid - x), `${at}: label ${c.x[i + 1].text} off its gridline`).toBeLessThan(2));
    const all = [...c.x, ...c.y];
    expect.soft(all.filter((l) => l.px < 10.99).map((l) => `${l.text} ${l.px} px`), `${at}: labels under 11 px`).toEqual([]);
    expect.soft(all.filter((l) => l.left < c.box.left - 0.5 || l.right > c.box.right + 0.5).map((l) => l.text), `${at}: labels out of the chart`).toEqual([]);
    const over = c.x.slice(1).filter((l, i) => l.left < c.x[i].right + 2).map((l) => l.text);
    expect.soft(over, `${at}: time labels over each other`).toEqual([]);
    const top = Number(c.y[0].text);
    expect.soft(c.y.map((l) => l.text).slice(2), `${at}: the scale's bottom`).toEqual(['0']);
    expect.soft(top >= Math.max(1, c.peak) && /^[125]0*$/.test(String(top)), `${at}: scale top ${c.y[0].text} for a peak of ${c.peak}`).toBe(true);
    expect.soft(Number(c.y[1].text), `${at}: the scale's half`).toBe(top / 2);
  }
}

// nodeCells are the node table's cells but the request counts, which an
// idle volunteer may still raise.
const nodeCells = (page) => page.getByTestId('grid-node-row').evaluateAll((rows) => rows.map((r) => [...r.cells]
  .filter((c) => !['node-requests', 'node-leased'].includes(c.dataset.testid)).map((c) => c.textContent.replace(/\s+/g, ' ').trim()).join(' | ')));

test('the grid page follows the grid without a reload and charts the last hour', async ({ page }) => {
  await page.setViewportSize(widths[1]);
  await portal.login(page, server.base, admin.email, admin.password);
  await page.goto(`${server.base}/admin/grid`);
  await expect(page.getByTestId('grid-volunteers')).toHaveText('0');
  await expect(page.getByTestId('grid-rate')).toHaveText('0.0'); // known from the first look, not "–"
  await expect(page.getByTestId('grid-node-row')).toHaveCount(0);
  // A mark in the page's own window: a reload or a navigation would drop it.
  await page.evaluate(() => { window.stillThisPage = true; });
  const refreshes = async () => Number(await page.locator('#grid').getAttribute('data-refreshes'));
  await expect.poll(refreshes).toBeGreaterThan(0);

  server.spawn(['volunteer', '--server', server.base, '--workers', '1', '--nickname', longNick, '--team', longTeam]);
  await expect(page.getByTestId('grid-volunteers')).toHaveText('1');
  await expect(page.getByTestId('grid-node-row')).toHaveCount(1);
  await expect(page.getByTestId('node-last-seen')).toHaveText('now');
  await expect(page.getByTestId('node-kind')).toHaveText('native');

  const clin = clinician(server, 'grid-clin@example.org');
  const api = client(server.base, clin.token);
  datasetID = await api.upload([path.join(tmp, 'vitals001.csv')]);
  const id = await api.analyse(datasetID, 'vitals.summary@1');
  const done = await api.waitDone(id, 120_000);
  vitalsID = id;
  const chunks = done.progress.chunks_total;
  // The verified chunks reach the figures, the chart and the node table.
  const verified = page.locator('figure[data-series="verified"]');
  await expect(verified.locator('[data-field="peak"]')).not.toHaveText(/^(–|0)$/);
  expect(Number(await verified.locator('[data-field="peak"]').textContent())).toBeLessThanOrEqual(chunks);
  await expect.poll(() => verified.locator('rect').evaluateAll((rs) => rs.filter((r) => Number(r.getAttribute('height')) > 0).length)).toBeGreaterThan(0);
  await expect(page.getByTestId('node-accepted')).toHaveText(String(chunks));
  await expect(page.locator('figure[data-series="volunteers"] [data-field="peak"]')).toHaveText('1');
  await expect(page.locator('figure[data-series="unverified"] [data-field="peak"]')).toHaveText(String(chunks));
  expect(await page.evaluate(() => window.stillThisPage), 'the page was reloaded').toBe(true);

  // What grid.js drew is what the server renders.
  const drawn = await nodeCells(page);
  await page.reload();
  expect(await nodeCells(page)).toEqual(drawn);

  for (const vp of widths) {
    await page.setViewportSize(vp);
    await page.goto(`${server.base}/admin/grid`);
    await expect.poll(refreshes).toBeGreaterThan(0); // the charts are drawn
    await axes(page);
    await check(page, 'grid');
  }
});

test('templates list the built-ins; the audit log shows addresses', async ({ page }) => {
  await portal.login(page, server.base, admin.email, admin.password);
  for (const vp of widths) {
    await page.setViewportSize(vp);
    await page.goto(`${server.base}/admin/templates`);
    await expect(page.getByTestId('builtin-template')).toHaveCount(3);
    await expect(page.getByTestId('templates-empty')).toBeVisible();
    await check(page, 'templates');
    await page.goto(`${server.base}/admin/audit?action=login`);
    await expect(page.getByTestId('audit-address').first()).toHaveText('127.0.0.1');
    await check(page, 'audit');
  }
});

// On a phone charts.js enlarges chart text to 11 px, which pushed the
// rotated y-axis titles out of the vitals trends ("HR (bpm)" was cut off
// at the left edge) and over the tick labels: it now moves the titles off
// the ticks and widens the viewBox over what sticks out.
test('chart text is not cut off at the edge of a chart on a phone', async ({ page }) => {
  await portal.login(page, server.base, admin.email, admin.password);
  await page.setViewportSize(widths[0]);
  await page.goto(`${server.base}/analyses/${vitalsID}/result`);
  await expect(page.locator('svg.chart text').first()).toBeVisible();
  const texts = await page.locator('svg.chart text').evaluateAll((ts) => ts.filter((t) => t.textContent.trim()).map((t) => {
    const r = t.getBoundingClientRect();
    const box = t.ownerSVGElement.getBoundingClientRect();
    const cut = r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5;
    const scale = Math.hypot(t.ownerSVGElement.getScreenCTM().a, t.ownerSVGElement.getScreenCTM().b);
    return { text: t.textContent.trim(), cut, px: parseFloat(getComputedStyle(t).fontSize) * scale };
  }));
  expect(texts.length).toBeGreaterThan(10);
  expect(texts.filter((t) => t.cut).map((t) => t.text), 'chart text cut off').toEqual([]);
  expect(texts.filter((t) => t.px < 10.99).map((t) => `${t.text} ${t.px.toFixed(1)} px`), 'chart text under 11 px').toEqual([]);
  // Nor do the axis titles lie over the tick labels.
  const overlaps = await page.locator('svg.chart').evaluateAll((svgs) => svgs.flatMap((svg) => ['x', 'y'].flatMap((axis) => {
    const title = svg.querySelector(`text.label.${axis}`);
    if (!title) return [];
    const a = title.getBoundingClientRect();
    return [...svg.querySelectorAll(`text.tick.${axis}`)].filter((t) => {
      const b = t.getBoundingClientRect();
      return a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
    }).map((t) => `${title.textContent} over ${t.textContent}`);
  })));
  expect(overlaps, 'axis titles over tick labels').toEqual([]);
  await portal.shot(page, 'admin-vitals-result-375');
});

// The new-analysis form on a phone: each algorithm's name stays on one line
// (as a flex item of its own it shrank to one letter a line, at 1280 px too).
test('algorithm names do not break and checkboxes keep their size on the new-analysis form', async ({ page }) => {
  await portal.login(page, server.base, admin.email, admin.password);
  for (const vp of [widths[0], { width: 390, height: 844 }, widths[1]]) {
    await page.setViewportSize(vp);
    await page.goto(`${server.base}/analyses/new?dataset=${datasetID}`);
    // The lines a name's text takes: the distinct tops of its text's boxes.
    const lines = await page.locator('label.check code').evaluateAll((cs) => cs.map((c) => {
      const r = document.createRange();
      r.selectNodeContents(c);
      return `${c.textContent}: ${new Set([...r.getClientRects()].map((b) => Math.round(b.top))).size}`;
    }));
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.filter((l) => !l.endsWith(': 1')), `names broken over lines at ${vp.width} px`).toEqual([]);
    await boxesKeepTheirSize(page, `the new-analysis form at ${vp.width} px`);
    await check(page, 'analysis-new');
    await page.goto(`${server.base}/datasets/${datasetID}`);
    await boxesKeepTheirSize(page, `the dataset page at ${vp.width} px`);
  }
});

// boxesKeepTheirSize: each checkbox and radio button of the page's forms
// is as wide as it is tall. A long label beside it (an algorithm's
// description, the delete confirmation) squeezed the algorithm checkboxes
// to 1–3 px wide at 390 px, and 5–10 px at 1280, hard to see and to tap.
async function boxesKeepTheirSize(page, where) {
  const boxes = await page.locator('form input[type="checkbox"], form input[type="radio"]').evaluateAll((es) => es.map((e) => {
    const r = e.getBoundingClientRect();
    return { name: `${e.name}=${e.value}`, w: r.width, h: r.height };
  }));
  expect(boxes.length, where).toBeGreaterThan(0);
  expect(boxes.filter((b) => b.w < b.h - 0.5 || b.w < 12).map((b) => `${b.name} ${b.w.toFixed(1)}×${b.h.toFixed(1)} px`), `${where}: squeezed boxes`).toEqual([]);
}

// lines counts the lines the text of each element matched takes, from the
// tops of its text's boxes, and says whether a title gives the whole name
// and whether an ellipsis cut it.
const lines = (loc) => loc.evaluateAll((cells) => cells.map((td) => {
  const range = document.createRange();
  range.selectNodeContents(td);
  const fs = parseFloat(getComputedStyle(td).fontSize);
  const tops = [...range.getClientRects()].filter((r) => r.width > 0).map((r) => r.top).sort((a, b) => a - b);
  const count = tops.filter((t, i) => i === 0 || t - tops[i - 1] > 0.8 * fs).length;
  const named = td.querySelector('[title]');
  const cut = [...td.querySelectorAll('*')].some((e) => e.scrollWidth > e.clientWidth + 1);
  return { text: td.textContent.trim(), lines: count, title: named ? named.title : null, cut };
}));

// A volunteer's nickname and a team's name (up to 40 characters) stay on
// one line in the leaderboard and the grid's node table, cut with an
// ellipsis on a phone, with the whole name in a title.
test('long volunteer and team names stay on one line', async ({ page }) => {
  await portal.login(page, server.base, admin.email, admin.password);
  for (const vp of [{ width: 390, height: 844 }, widths[1]]) {
    await page.setViewportSize(vp);
    await page.goto(`${server.base}/leaderboard`);
    const board = await lines(page.locator('[data-testid="leaderboard-nickname"], [data-testid="leaderboard-team"], [data-testid="leaderboard-team-name"]'));
    await page.goto(`${server.base}/admin/grid`);
    await expect(page.getByTestId('grid-node-row')).toHaveCount(1);
    await expect.poll(async () => Number(await page.locator('#grid').getAttribute('data-refreshes'))).toBeGreaterThan(0); // grid.js has redrawn the rows
    const grid = await lines(page.getByTestId('node-nickname').locator('xpath=..'));
    expect(board.map((c) => c.text).sort(), `leaderboard at ${vp.width} px`).toEqual([longNick, longTeam, longTeam].sort());
    expect(grid.map((c) => c.text.split(' ').slice(1).join(' ')), `node table at ${vp.width} px`).toEqual([longNick]);
    for (const c of [...board, ...grid]) {
      const name = c.text.endsWith(longNick) ? longNick : longTeam;
      expect.soft(c.lines, `${c.text} at ${vp.width} px: lines`).toBe(1);
      expect.soft(c.title, `${c.text} at ${vp.width} px: title`).toBe(name);
      if (vp.width < 400) expect.soft(c.cut, `${c.text} at ${vp.width} px: cut with an ellipsis`).toBe(true);
    }
    await axes(page);
    await check(page, 'grid-long-names');
    await page.goto(`${server.base}/leaderboard`);
    await check(page, 'leaderboard-long-names');
  }
});
