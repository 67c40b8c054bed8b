// Every size, every page (issue 14): each page state of the portal, public
// and signed in, clinician and admin, is opened at 390 px (a phone) and at
// 1280 px (a laptop). On each one:
// - the page never scrolls sideways (document scrollWidth <= viewport
//   width; on failure the elements sticking out are named: outermost first, with what contains them);
// - every piece of text in a chart (SVG) renders at least 11 CSS px tall:
//   the font size in user units times the SVG's scale on screen, which is
//   what a viewBox scaled down to a phone shrinks (static/js/charts.js
//   compensates), and none is cut off at the chart's edge (charts.js widens
//   the viewBox over text the larger size pushed out);
// - axe-core with its default rules finds no violation;
// - a full-page screenshot goes to e2e/artifacts/faces-<state>-<width>.png.
// On /donate at 390 px the Start button is inside the first screen.
const { test, expect } = require('@playwright/test');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { default: AxeBuilder } = require('@axe-core/playwright');
const { startServer, shared, bin } = require('./server');
const { clinician, client } = require('./api');
const portal = require('./portal');

const widths = [{ width: 390, height: 844 }, { width: 1280, height: 800 }];
const minChartPx = 11;

let server, tmp, clin, adminAccount;
const ids = {};

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pulsegrid-faces-'));
  execFileSync(bin, ['simulate', 'vitals', '--out', tmp, '--records', '1', '--minutes', '30', '--seed', '3'], { stdio: 'ignore' });
  // Quorum 1 and a native volunteer started later: the progress pages are
  // first seen waiting for volunteers, then done.
  server = await startServer(['--chunk-seconds', '300', '--quorum', '1']);
  clin = clinician(server, 'faces@example.org');
  adminAccount = { email: 'faces-admin@example.org', password: 'Faces-Admin-Granite-8' };
  server.cli(['user', 'add', '--email', adminAccount.email, '--role', 'admin', '--password', adminAccount.password]);
});

test.afterAll(async () => {
  if (server) await server.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// overflow lists the elements whose right edge is beyond the viewport
// (deepest first), for the message of a failed scrollWidth check.
async function overflow(page) {
  return page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    // An element inside a box that scrolls or clips sideways does not widen the page.
    // Except what is absolutely positioned against an element outside that
    // box: it escapes the clipping (a .visually-hidden label in a table).
    const clipped = (el) => {
      let escapes = ['absolute', 'fixed'].includes(getComputedStyle(el).position);
      for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
        const cs = getComputedStyle(e);
        if (escapes && cs.position !== 'static') escapes = false; // its containing block
        if (!escapes && cs.overflowX !== 'visible') return true;
      }
      return false;
    };
    const name = (el) => {
      const id = el.id ? `#${el.id}` : '';
      const tid = el.getAttribute('data-testid') ? `[data-testid=${el.getAttribute('data-testid')}]` : '';
      const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
      return `${el.tagName.toLowerCase()}${id}${tid}${cls}`;
    };
    const out = [];
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > vw + 0.5 && !clipped(el)) {
        const chain = [];
        for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) chain.push(`${name(e)}:${e.getBoundingClientRect().width.toFixed(0)}`);
        out.push(`${name(el)} right=${r.right.toFixed(1)} in ${chain.join(' < ')}`);
        if (out.length >= 4) break;
      }
    }
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth: vw, elements: out };
  });
}

// chartText returns every visible text element of a chart with its
// rendered size: the computed font size (user units) times the scale of
// the SVG on screen.
async function chartText(page) {
  return page.evaluate(() => {
    const out = [];
    for (const t of document.querySelectorAll('svg text')) {
      if (!t.textContent.trim()) continue;
      const svg = t.ownerSVGElement;
      const box = svg.getBoundingClientRect();
      if (box.width === 0 || getComputedStyle(t).display === 'none') continue;
      const m = svg.getScreenCTM();
      const scale = Math.hypot(m.a, m.b);
      const px = parseFloat(getComputedStyle(t).fontSize) * scale;
      // The SVG clips what is outside its box: a label cut off there is unreadable however large.
      const r = t.getBoundingClientRect();
      const cut = r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5;
      out.push({ text: t.textContent.trim().slice(0, 20), px, cut, cls: svg.getAttribute('class') });
    }
    return out;
  });
}

// check runs every assertion of this spec on the page as it is now (soft:
// one run lists every page that fails, not only the first).
async function check(page, name, opts = {}) {
  const vp = page.viewportSize();
  const o = await overflow(page);
  expect.soft(o.scrollWidth, `${name} at ${vp.width} px scrolls sideways; sticking out: ${o.elements.join(', ')}`).toBeLessThanOrEqual(vp.width);
  const texts = await chartText(page);
  if (opts.charts) expect.soft(texts.length, `${name}: chart text expected`).toBeGreaterThan(0);
  const small = texts.filter((t) => t.px < minChartPx - 0.01);
  expect.soft(small.map((t) => `${t.cls}: "${t.text}" ${t.px.toFixed(1)} px`), `${name} at ${vp.width} px: chart text under ${minChartPx} px`).toEqual([]);
  expect.soft(texts.filter((t) => t.cut).map((t) => `${t.cls}: "${t.text}"`), `${name} at ${vp.width} px: chart text cut off at the chart's edge`).toEqual([]);
  const axe = await new AxeBuilder({ page }).analyze();
  const v = axe.violations.map((x) => `${x.id} (${x.impact}): ${x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
  expect.soft(v, `${name} at ${vp.width} px: axe-core violations`).toEqual([]);
  await portal.shot(page, `faces-${name}-${vp.width}`);
}

// visit opens path at both widths and checks each.
async function visit(page, name, p, opts = {}) {
  for (const vp of widths) {
    await page.setViewportSize(vp);
    await page.goto(`${server.base}${p}`);
    if (opts.ready) await opts.ready(page);
    await check(page, name, opts);
  }
}

test('public pages and the volunteer page', async ({ page }) => {
  await visit(page, 'login', '/login');
  await visit(page, 'leaderboard', '/leaderboard');
  await visit(page, 'not-found', '/datasets/999999');
  await visit(page, 'donate', '/donate', {
    ready: async (pg) => {
      // The Start button is on the first screen, also on a phone.
      const box = await pg.getByTestId('donate-start').boundingBox();
      expect.soft(box.y + box.height, `Start button bottom at ${pg.viewportSize().width} px`).toBeLessThanOrEqual(pg.viewportSize().height);
    },
  });
});

test('clinician pages: datasets, upload, new analysis, progress, batch, results', async ({ browser }) => {
  // About 40 axe-core runs on pages with large SVG charts: minutes on a
  // loaded 2-core machine (it took over 5 at a load of 14).
  test.setTimeout(900_000);
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  try {
    await portal.login(page, server.base, clin.email, clin.password);
    if (await page.getByTestId('password-forced').count()) await portal.changePassword(page, 'Faces-Clinician-Maple-3');
    const mit = path.join(shared, 'data', 'mitdb', '100');
    const arr = path.join(shared, 'data', 'mitdb', '119');
    ids.mit = await portal.upload(page, server.base, [`${mit}.hea`, `${mit}.dat`, `${mit}.atr`]);
    ids.arr = await portal.upload(page, server.base, [`${arr}.hea`, `${arr}.dat`]);
    ids.csv = await portal.upload(page, server.base, [path.join(tmp, 'vitals001.csv')]);

    await visit(page, 'home', '/');
    await visit(page, 'datasets', '/datasets');
    await visit(page, 'dataset-ecg', `/datasets/${ids.mit}`);
    await visit(page, 'dataset-vitals', `/datasets/${ids.csv}`);
    await visit(page, 'upload', '/datasets/upload');
    await visit(page, 'analysis-new', `/analyses/new?dataset=${ids.mit}`);

    // Two algorithms together: a batch page.
    await page.goto(`${server.base}/analyses/new?dataset=${ids.mit}`);
    const boxes = page.getByTestId('analysis-algorithm');
    for (let i = 0, n = await boxes.count(); i < n; i++) {
      const box = boxes.nth(i);
      await box.setChecked(['ecg.beats@1', 'ecg.hrv@1'].includes(await box.getAttribute('value')));
    }
    await page.getByTestId('analysis-datasets').selectOption(String(ids.mit));
    await page.getByTestId('analysis-start').click();
    await page.waitForURL(/\/batches\/\d+$/);
    const batch = new URL(page.url()).pathname;
    const rows = page.getByTestId('batch-analysis');
    ids.beats = Number(await rows.nth(0).getAttribute('data-analysis-id'));
    ids.hrv = Number(await rows.nth(1).getAttribute('data-analysis-id'));
    const api = client(server.base, clin.token);
    ids.classify = await api.analyse(ids.arr, 'ecg.classify@1');
    ids.vitals = await api.analyse(ids.csv, 'vitals.summary@1');
    ids.alarms = await api.analyse(ids.csv, 'vitals.alarms@1');

    // Nobody computes yet: the pages say what the chunks wait for.
    await visit(page, 'batch-waiting', batch, { ready: (pg) => expect(pg.getByTestId('analysis-wait-volunteers')).toBeVisible() });
    await visit(page, 'progress-waiting', `/analyses/${ids.beats}`, { ready: (pg) => expect(pg.getByTestId('analysis-wait-volunteers')).toBeVisible() });
    await visit(page, 'analyses', '/analyses');

    server.spawn(['volunteer', '--server', server.base, '--workers', '2', '--nickname', 'Faces native', '--team', 'Faces Team']);
    for (const k of ['beats', 'hrv', 'classify', 'vitals', 'alarms']) await api.waitDone(ids[k], 240_000);

    await visit(page, 'batch-done', batch, { ready: (pg) => expect(pg.getByTestId('batch-analysis-status').first()).toHaveText('done') });
    await visit(page, 'progress-done', `/analyses/${ids.beats}`, { ready: (pg) => expect(pg.getByTestId('analysis-status')).toHaveText('done') });
    const strip = async (pg) => expect(pg.getByTestId('strip-svg').locator('svg')).toBeVisible();
    await visit(page, 'result-beats', `/analyses/${ids.beats}/result`, { charts: true, ready: strip });
    await visit(page, 'result-hrv', `/analyses/${ids.hrv}/result`);
    await visit(page, 'result-classify', `/analyses/${ids.classify}/result`);
    await visit(page, 'holter-report', `/analyses/${ids.classify}/report`);
    await visit(page, 'result-vitals', `/analyses/${ids.vitals}/result`, { charts: true });
    await visit(page, 'result-alarms', `/analyses/${ids.alarms}/result`, { charts: true });
    await visit(page, 'analyses-done', '/analyses');
    await visit(page, 'account-password', '/account/password');
    await visit(page, 'tokens', '/account/tokens');
    // A token just made: its secret is shown once, in a long line.
    for (const vp of widths) {
      await page.setViewportSize(vp);
      await page.goto(`${server.base}/account/tokens`);
      await page.getByTestId('token-name').fill(`faces script ${vp.width}`);
      await page.getByTestId('token-create').click();
      await expect(page.getByTestId('token-secret')).toBeVisible();
      await check(page, 'tokens-created');
    }
    await visit(page, 'donate-signed-in', '/donate');
    // The volunteer's team on the leaderboard (saved every few seconds).
    await expect.poll(async () => (await (await fetch(`${server.base}/api/v1/leaderboard`)).json()).teams.length, { timeout: 30_000 }).toBe(1);
    await visit(page, 'leaderboard-teams', '/leaderboard', { ready: (pg) => expect(pg.getByTestId('leaderboard-team-name')).toHaveText('Faces Team') });
  } finally {
    await ctx.close();
  }
});

test('admin pages: users, templates, grid, audit log', async ({ browser }) => {
  test.setTimeout(600_000);
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  try {
    await portal.login(page, server.base, adminAccount.email, adminAccount.password);
    if (await page.getByTestId('password-forced').count()) {
      await check(page, 'password-forced');
      await portal.changePassword(page, 'Faces-Admin-Granite-9');
    }
    await visit(page, 'admin-users', '/admin/users');
    await visit(page, 'admin-templates', '/admin/templates');
    await visit(page, 'admin-template-new', '/admin/templates/new');
    await page.goto(`${server.base}/admin/templates`);
    const edit = page.locator('a[href^="/admin/templates/"]:not([href$="/new"])').first();
    if (await edit.count()) await visit(page, 'admin-template-edit', await edit.getAttribute('href'));
    await visit(page, 'admin-grid', '/admin/grid', { charts: false });
    await visit(page, 'admin-audit', '/admin/audit');
  } finally {
    await ctx.close();
  }
});
