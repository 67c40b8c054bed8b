// /donate end to end in headless Chromium: two browser contexts are two
// volunteers (quorum 2, one team) computing real ECG chunks with the wasm
// worker against the real server binary.
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

async function uploadRecord() {
  const fd = new FormData();
  for (const ext of ['hea', 'dat']) fd.append('files', new Blob([fs.readFileSync(`${record}.${ext}`)]), `119.${ext}`);
  return api('POST', '/api/v1/datasets', fd);
}

async function startAnalysis(datasetID) {
  return api('POST', '/api/v1/analyses', JSON.stringify({ dataset_id: datasetID, algorithm: 'ecg.beats@1', params: {}, priority: 'routine' }));
}

async function waitDone(id, timeoutMs = 90_000) {
  const until = Date.now() + timeoutMs;
  let a;
  while (Date.now() < until) {
    a = await api('GET', `/api/v1/analyses/${id}`);
    if (a.status === 'done') return a;
    if (a.status === 'failed') throw new Error(`analysis ${id} failed: ${JSON.stringify(a)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`analysis ${id} not done within ${timeoutMs} ms: ${JSON.stringify(a)}`);
}

async function metric(name) {
  const text = await (await fetch(`${srv.base}/metrics`)).text();
  const m = text.match(new RegExp(`^pulsegrid_${name} ([0-9.e+]+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
}

const count = async (page, id) => Number(await page.getByTestId(id).textContent());

test.beforeAll(async () => {
  // 60 s chunks: 30 per record, so that progress is visible and Pause has
  // something to interrupt.
  srv = await startServer(['--chunk-seconds', '60']);
  srv.cli(['user', 'add', '--email', 'donate-e2e@example.org', '--role', 'clinician', '--password', 'Correct-Horse-42']);
  const token = srv.cli(['user', 'token', '--email', 'donate-e2e@example.org']).trim().split('\n').pop().split(/\s+/).pop();
  auth = { Authorization: `Bearer ${token}` };
});

test.afterAll(async () => {
  if (srv) await srv.stop();
});

test.describe.configure({ mode: 'serial' });

test('two browser volunteers verify chunks; pause, resume, hidden tab, closing releases leases', async ({ browser }) => {
  const ds = await uploadRecord();
  const first = await startAnalysis(ds.id);

  const ctxA = await browser.newContext();
  const ctxB = await browser.newContext();
  const a = await ctxA.newPage();
  const b = await ctxB.newPage();
  const wasmRequests = [];
  const problems = [];
  for (const p of [a, b]) {
    p.on('request', (r) => { if (r.url().endsWith('.wasm')) wasmRequests.push(r.url()); });
    p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    p.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`); });
    p.on('response', (r) => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) problems.push(`HTTP ${r.status()} ${r.url()}`); });
  }

  // Nothing runs before Start: no module fetched, no volunteer connected,
  // no lease issued although an analysis is waiting.
  await a.goto(`${srv.base}/donate`);
  await b.goto(`${srv.base}/donate`);
  await expect(a.getByTestId('donate-status')).toHaveText('idle');
  await a.waitForTimeout(1500);
  expect(wasmRequests).toEqual([]);
  expect(await metric('volunteers_connected')).toBe(0);
  expect(await metric('leases_issued_total')).toBe(0);
  // The default thread count is half the logical cores, at least one.
  const cores = await a.evaluate(() => navigator.hardwareConcurrency);
  await expect(a.getByTestId('donate-threads')).toHaveValue(String(Math.max(1, Math.floor(cores / 2))));

  // Both join one team by naming it (A types it, B picks the same name).
  await a.getByTestId('donate-team').fill('Night Shift');
  await b.getByTestId('donate-team').fill('Night Shift');
  // Volunteer A runs two threads (one identity), B one thread.
  await a.getByTestId('donate-threads').selectOption('2');
  await a.getByTestId('donate-cpu').selectOption('100');
  await b.getByTestId('donate-cpu').selectOption('100');
  const t0 = Date.now();
  await a.getByTestId('donate-start').click();
  await b.getByTestId('donate-start').click();
  await expect(a.getByTestId('donate-status')).toHaveText(/^connected$/);
  await expect(b.getByTestId('donate-status')).toHaveText(/^connected$/);
  expect(wasmRequests.every((u) => /\/static\/worker\.[0-9a-f]{16}\.wasm$/.test(u))).toBe(true);
  await expect.poll(() => count(a, 'donate-verified'), { timeout: 60_000 }).toBeGreaterThan(0);
  console.log(`start → first verified result (page A): ${Date.now() - t0} ms`);
  await waitDone(first.id);
  expect(await count(a, 'donate-chunks-done')).toBeGreaterThan(0);
  expect(await count(b, 'donate-chunks-done')).toBeGreaterThan(0);
  await expect.poll(() => count(b, 'donate-verified')).toBeGreaterThan(0);

  await expect(a.getByTestId('donate-error')).toBeHidden();
  expect(problems).toEqual([]);

  // The team leaderboard sums both volunteers' credit (the grid saves
  // volunteers every few seconds).
  const board = async () => (await (await fetch(`${srv.base}/api/v1/leaderboard`)).json());
  await expect.poll(async () => (await board()).teams.map((t) => `${t.name}:${t.members}`), { timeout: 30_000 }).toEqual(['Night Shift:2']);
  const lb = await board();
  const sum = lb.volunteers.filter((v) => v.team === 'Night Shift').reduce((x, v) => x + v.credit, 0);
  expect(lb.teams[0].credit).toBeCloseTo(sum, 6);
  expect(await a.evaluate(() => JSON.parse(localStorage.getItem('pulsegrid.volunteer.team')))).toBe('Night Shift');

  // One identity per browser, shared by its threads, kept for later visits.
  const idA = await a.evaluate(() => JSON.parse(localStorage.getItem('pulsegrid.volunteer.identity')).id);
  const idB = await b.evaluate(() => JSON.parse(localStorage.getItem('pulsegrid.volunteer.identity')).id);
  expect(idA).toMatch(/^v-/);
  expect(idA).not.toBe(idB);
  // Both threads of A connect as the same volunteer (a thread the server
  // gave an identity of its own is started again: see donate.js respawnLater).
  await expect.poll(() => a.evaluate(() => window.pulsegridDonate.threads().map((t) => t.connected && t.identity)), { timeout: 30_000 })
    .toEqual([idA, idA]);
  await expect.poll(() => metric('volunteers_connected')).toBe(3); // 3 connections, 2 volunteers
  // While running the page holds a Web Lock (exempts it from tab freezing).
  expect(await a.evaluate(async () => (await navigator.locks.query()).held.map((l) => l.name))).toContain('pulsegrid-donate');

  // Pause stops progress at once, even with new work queued.
  await a.getByTestId('donate-pause').click();
  await b.getByTestId('donate-pause').click();
  await expect(a.getByTestId('donate-status')).toHaveText('paused');
  await expect.poll(() => metric('volunteers_connected')).toBe(0);
  const pausedA = await count(a, 'donate-chunks-done');
  const pausedB = await count(b, 'donate-chunks-done');
  const leasesBefore = await metric('leases_issued_total');
  const second = await startAnalysis(ds.id);
  await a.waitForTimeout(3000);
  expect(await count(a, 'donate-chunks-done')).toBe(pausedA);
  expect(await count(b, 'donate-chunks-done')).toBe(pausedB);
  expect(await metric('leases_issued_total')).toBe(leasesBefore);
  expect(await a.evaluate(async () => (await navigator.locks.query()).held.map((l) => l.name))).not.toContain('pulsegrid-donate');

  // Resume continues, with the same identity.
  await a.getByTestId('donate-resume').click();
  await b.getByTestId('donate-resume').click();
  await expect(a.getByTestId('donate-status')).toHaveText(/^connected$/);
  await waitDone(second.id);
  await expect.poll(() => count(a, 'donate-chunks-done')).toBeGreaterThan(pausedA);
  expect(await a.evaluate(() => window.pulsegridDonate.identity().id)).toBe(idA);

  // A hidden tab keeps computing: put another tab in front of A and tell
  // the page it is hidden, then queue work.
  const front = await ctxA.newPage();
  await front.goto(`${srv.base}/healthz`);
  await front.bringToFront();
  await a.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  const hiddenA = await count(a, 'donate-chunks-done');
  const third = await startAnalysis(ds.id);
  await waitDone(third.id);
  await expect.poll(() => count(a, 'donate-chunks-done')).toBeGreaterThan(hiddenA);

  // Closing a tab closes its websockets: the connections go at once, and
  // leases it held are released then, not left to expire (whether a
  // lease is in flight at the moment of closing depends on timing: chunks
  // take milliseconds, so the count is logged, not asserted).
  await b.getByTestId('donate-pause').click();
  await expect.poll(() => metric('volunteers_connected')).toBe(2);
  const released = await metric('leases_released_total');
  const issued = await metric('leases_issued_total');
  await startAnalysis(ds.id);
  await expect.poll(() => metric('leases_issued_total')).toBeGreaterThan(issued);
  const closedAt = Date.now();
  await a.close();
  await expect.poll(() => metric('volunteers_connected'), { timeout: 5000 }).toBe(0);
  console.log(`tab closed → server dropped its 2 connections after ${Date.now() - closedAt} ms; leases released: ${(await metric('leases_released_total')) - released}`);
  await ctxA.close();
  await ctxB.close();
});

// A server restart: the page says it is reconnecting, comes back by itself
// with the same identity (so credit carries on). The server is started here
// directly (same port and data directory twice), not by startServer.
test('the browser volunteer reconnects after a server restart with the same identity', async ({ browser }) => {
  const { spawn } = require('node:child_process');
  const os = require('node:os');
  const { bin } = require('./server');
  const port = srv.port; // reuse the free port of the suite's server after stopping it
  await srv.stop();
  srv = null;
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'pulsegrid-e2e-restart-'));
  const base = `http://127.0.0.1:${port}`;
  const serve = async () => {
    const p = spawn(bin, ['serve', '--addr', `127.0.0.1:${port}`, '--data', data], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      try { if ((await fetch(`${base}/healthz`)).ok) return p; } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no answer from ${base}/healthz`);
  };
  const stop = (p) => new Promise((r) => { p.once('exit', r); p.kill('SIGTERM'); });
  let proc = await serve();
  try {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${base}/donate`);
    await page.getByTestId('donate-threads').selectOption('1');
    await page.getByTestId('donate-start').click();
    await expect(page.getByTestId('donate-status')).toHaveText(/^connected$/);
    const id = await page.evaluate(() => window.pulsegridDonate.identity().id);

    await stop(proc);
    await expect(page.getByTestId('donate-status')).toHaveText(/^reconnecting in \d+ s/);
    proc = await serve();
    await expect(page.getByTestId('donate-status')).toHaveText(/^connected$/, { timeout: 40_000 });
    expect(await page.evaluate(() => window.pulsegridDonate.threads().map((t) => t.identity))).toEqual([id]);
    await ctx.close();
  } finally {
    if (proc.exitCode === null) await stop(proc);
    fs.rmSync(data, { recursive: true, force: true });
  }
});
