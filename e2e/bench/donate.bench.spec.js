// Measures the browser volunteer in headless Chromium against the real
// server: time from opening /donate to the first verified result, chunk
// throughput (ecg.beats@1 on MIT-BIH 119 in 60 s chunks, the chunks of
// BenchmarkChunk in wasmworker/chunk_test.go), and memory per worker; and,
// on a fresh server, the native volunteer (`pulsegrid volunteer --workers 1`)
// on the same chunks, so that the end-to-end throughput of one browser
// thread can be given as a fraction of one native slot's. Pure compute
// without the volunteer loop: compute.bench.spec.js.
const fs = require('node:fs');
const path = require('node:path');
const { test, expect } = require('@playwright/test');
const { startServer, shared } = require('../tests/server');

// recordWorkerEvents runs in the page before donate.js: it keeps every
// volunteer event the workers post (in batches, see wasmworker), with the
// worker's clock (Go's time.Now, milliseconds in a browser), so that the
// bench can tell compute from what happens between chunks.
function recordWorkerEvents() {
  const Base = window.Worker;
  window.benchEvents = [];
  window.Worker = class extends Base {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        const m = e.data;
        // 'event': one at a time, as builds before the batches posted them
        // (PULSEGRID_BIN=an older build compares).
        const events = m && m.type === 'events' ? m.events : m && m.type === 'event' ? [m.event] : [];
        for (const ev of events) window.benchEvents.push({ kind: ev.kind, t: Date.parse(ev.time), elapsed: (ev.elapsed || 0) / 1e6 });
      });
    }
  };
}

// CHUNK_SECONDS=1800 runs the same record in half-hour chunks (one per
// analysis) instead of the grid's e2e setting of 60 s, to see how the
// per-chunk overheads weigh against larger chunks; ALONE is how many chunks
// the lone browser and the native volunteer compute (the last two thirds
// are measured).
const CHUNK_SECONDS = Number(process.env.CHUNK_SECONDS || 60);
const ALONE = Number(process.env.ALONE || 300);
const FROM = Math.floor(ALONE / 3);
const RECORD_SECONDS = 1805; // MIT-BIH 119
const ANALYSES = Math.ceil(ALONE / Math.ceil(RECORD_SECONDS / CHUNK_SECONDS)) + 1;

const mean = (a) => a.reduce((x, y) => x + y, 0) / Math.max(a.length, 1);
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

// timeline summarises chunk-done events number from+1 … to (1-based): wall
// time per chunk, and the mean gap from each chunk-done to the next
// chunk-started (result out, next lease in, payload checked; a clock of
// milliseconds, so only the mean means something).
function timeline(events, from, to) {
  const done = [];
  const gaps = [];
  let lastDone = null;
  for (const e of events) {
    if (e.kind === 'chunk-done') { done.push(e.t); lastDone = e.t; }
    if (e.kind === 'chunk-started' && lastDone !== null && done.length > from && done.length < to) gaps.push(e.t - lastDone);
  }
  return { wall_ms_per_chunk: (done[to - 1] - done[from - 1]) / (to - from), gap_ms_mean: mean(gaps) };
}

// grid starts a server with record 119 uploaded; an() queues ecg.beats@1 on it.
async function grid() {
  const srv = await startServer(['--chunk-seconds', String(CHUNK_SECONDS)]);
  srv.cli(['user', 'add', '--email', 'bench@example.org', '--role', 'clinician', '--password', 'Correct-Horse-42']);
  const token = srv.cli(['user', 'token', '--email', 'bench@example.org']).trim().split('\n').pop().split(/\s+/).pop();
  const auth = { Authorization: `Bearer ${token}` };
  const fd = new FormData();
  const rec = path.join(shared, 'data', 'mitdb', '119');
  for (const ext of ['hea', 'dat']) fd.append('files', new Blob([fs.readFileSync(`${rec}.${ext}`)]), `119.${ext}`);
  const ds = await (await fetch(`${srv.base}/api/v1/datasets`, { method: 'POST', headers: auth, body: fd })).json();
  const an = async () => (await fetch(`${srv.base}/api/v1/analyses`, {
    method: 'POST', headers: auth,
    body: JSON.stringify({ dataset_id: ds.id, algorithm: 'ecg.beats@1', params: {}, priority: 'routine' }),
  })).json();
  return { srv, auth, an };
}

test('browser volunteer figures', async ({ browser }) => {
  const figures = { chunk_seconds: CHUNK_SECONDS, alone_chunks: ALONE };
  const { srv, auth, an } = await grid();
  try {
    await an();
    // Two fresh contexts (cold cache), one thread each at 100 %: open, Start,
    // first verified result.
    const pages = [];
    for (let i = 0; i < 2; i++) {
      const ctx = await browser.newContext();
      await ctx.addInitScript(recordWorkerEvents);
      pages.push(await ctx.newPage());
    }
    const t0 = Date.now();
    await Promise.all(pages.map(async (p) => {
      await p.goto(`${srv.base}/donate`);
      await p.getByTestId('donate-threads').selectOption('1');
      await p.getByTestId('donate-cpu').selectOption('100');
      await p.getByTestId('donate-start').click();
    }));
    const tStart = Date.now();
    await expect.poll(() => pages[0].getByTestId('donate-verified').textContent(), { timeout: 60_000, intervals: [50] }).not.toBe('0');
    const tVerified = Date.now();
    figures.open_to_first_verified_ms = tVerified - t0;
    figures.start_to_first_verified_ms = tVerified - tStart;

    // Both volunteers: four more analyses (120 chunk results or more;
    // trusted volunteers may run some at quorum 1); every chunk's time.
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await an()).id);
    for (const id of ids) {
      await expect.poll(async () => (await (await fetch(`${srv.base}/api/v1/analyses/${id}`, { headers: auth })).json()).status,
        { timeout: 120_000 }).toBe('done');
    }
    let steady = [];
    for (const p of pages) steady = steady.concat((await p.evaluate(() => window.pulsegridDonate.chunkMillis())).slice(30)); // skip warm-up
    figures.two_chunks_measured = steady.length; // none with large chunks: fewer than 30 per page
    figures.two_ms_per_30_chunks = mean(steady) * 30;
    figures.two_ms_per_chunk_median = median(steady);

    // Alone: the second volunteer paused, the first computes ALONE (300)
    // chunks with nothing else running in the browser; the last two thirds
    // are measured, after V8 has tiered the hot functions up (cold code is
    // ~3x slower).
    await pages[1].getByTestId('donate-pause').click();
    const before = (await pages[0].evaluate(() => window.pulsegridDonate.chunkMillis())).length;
    for (let i = 0; i < ANALYSES; i++) await an();
    await expect.poll(async () => (await pages[0].evaluate(() => window.pulsegridDonate.chunkMillis())).length, { timeout: 120_000 })
      .toBeGreaterThanOrEqual(before + ALONE);
    const alone = (await pages[0].evaluate(() => window.pulsegridDonate.chunkMillis())).slice(before + FROM, before + ALONE);
    // Elapsed of chunk-done: Go's clock from the decoded task to the result
    // (the run and the throttle's last rest), summed.
    figures.alone_elapsed_ms_per_30_chunks = mean(alone) * 30;
    figures.alone_elapsed_ms_per_chunk_median = median(alone);
    // Wall clock between chunk-done events: everything a chunk costs.
    const line = timeline(await pages[0].evaluate(() => window.benchEvents), before + FROM, before + ALONE);
    figures.alone_wall_ms_per_chunk = line.wall_ms_per_chunk;
    figures.alone_gap_ms_mean = line.gap_ms_mean;
    figures.wasm_memory_bytes_per_worker = (await pages[0].evaluate(() => window.pulsegridDonate.threads())).map((t) => t.memory);
    if (process.env.TRACE) fs.writeFileSync(process.env.TRACE, JSON.stringify(await pages[0].workers()[0].evaluate(() => self.__trace || [])));
    await pages[0].getByTestId('donate-pause').click();
  } finally {
    await srv.stop();
  }

  // The native volunteer alone on a fresh server, the same ALONE chunks
  // (first replicas only, like the browser's alone run): wall time per
  // chunk over the last two thirds, from its -v log.
  const g = await grid();
  try {
    for (let i = 0; i < ANALYSES; i++) await g.an();
    const v = g.srv.spawn(['volunteer', '--server', g.srv.base, '--workers', '1', '--cpu', '100', '-v']);
    const times = [];
    let partial = '';
    v.stderr.on('data', (d) => {
      const now = performance.now();
      const lines = (partial + d).split('\n');
      partial = lines.pop();
      for (const l of lines) if (/^chunk \d+ .* done in /.test(l)) times.push(now);
    });
    await expect.poll(() => times.length, { timeout: 120_000 }).toBeGreaterThanOrEqual(ALONE);
    figures.native_wall_ms_per_chunk = (times[ALONE - 1] - times[FROM - 1]) / (ALONE - FROM);
    figures.end_to_end_fraction_of_native = figures.native_wall_ms_per_chunk / figures.alone_wall_ms_per_chunk;
  } finally {
    await g.srv.stop();
  }
  console.log(JSON.stringify(figures, null, 2));
});
