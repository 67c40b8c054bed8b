// Measures the browser volunteer in headless Chromium against the real
// server: time from opening /donate to the first verified result, wasm
// chunk throughput (ecg.beats@1 on MIT-BIH 119 in 60 s chunks, the chunks
// of BenchmarkChunk in wasmworker/chunk_test.go), and memory per worker.
const fs = require('node:fs');
const path = require('node:path');
const { test, expect } = require('@playwright/test');
const { startServer, shared } = require('../tests/server');

test('browser volunteer figures', async ({ browser }) => {
  const srv = await startServer(['--chunk-seconds', '60']);
  try {
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
    await an();

    // Two fresh contexts (cold cache), one thread each at 100 %: open, Start,
    // first verified result.
    const pages = [];
    for (let i = 0; i < 2; i++) pages.push(await (await browser.newContext()).newPage());
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

    // Throughput: run four more analyses (120 chunk results or more;
    // trusted volunteers may run some at quorum 1) and read every chunk's
    // time from both volunteers.
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await an()).id);
    for (const id of ids) {
      await expect.poll(async () => (await (await fetch(`${srv.base}/api/v1/analyses/${id}`, { headers: auth })).json()).status,
        { timeout: 120_000 }).toBe('done');
    }
    let ms = [];
    for (const p of pages) ms = ms.concat((await p.evaluate(() => window.pulsegridDonate.chunkMillis())).slice(30)); // skip warm-up
    const steady = ms;
    const perPage = [];
    for (const p of pages) {
      const all = await p.evaluate(() => window.pulsegridDonate.chunkMillis());
      const mean = (a) => a.reduce((x, y) => x + y, 0) / Math.max(a.length, 1);
      perPage.push([0, 30, 60, 90, 120].map((i) => mean(all.slice(i, i + 30)).toFixed(2)));
    }
    console.log('mean ms per chunk, by group of 30 chunks, per page:', JSON.stringify(perPage));
    const sum = steady.reduce((a, b) => a + b, 0);
    // Alone: the second volunteer paused, the first computes 300 chunks
    // with nothing else running in the browser; the last 60 are measured,
    // after V8 has tiered the hot functions up (cold code is ~3x slower).
    await pages[1].getByTestId('donate-pause').click();
    const before = (await pages[0].evaluate(() => window.pulsegridDonate.chunkMillis())).length;
    for (let i = 0; i < 10; i++) await an();
    await expect.poll(async () => (await pages[0].evaluate(() => window.pulsegridDonate.chunkMillis())).length, { timeout: 120_000 })
      .toBeGreaterThanOrEqual(before + 300);
    const alone = (await pages[0].evaluate(() => window.pulsegridDonate.chunkMillis())).slice(before + 240, before + 300);
    const aloneSum = alone.reduce((a, b) => a + b, 0);
    const threads = await pages[0].evaluate(() => window.pulsegridDonate.threads());
    const figures = {
      open_to_first_verified_ms: tVerified - t0,
      start_to_first_verified_ms: tVerified - tStart,
      chunks_measured: steady.length,
      ms_per_30_chunks: (sum / steady.length) * 30,
      alone_ms_per_30_chunks: (aloneSum / alone.length) * 30,
      alone_ms_per_chunk_median: alone.sort((a, b) => a - b)[Math.floor(alone.length / 2)],
      ms_per_chunk_median: steady.sort((a, b) => a - b)[Math.floor(steady.length / 2)],
      wasm_memory_bytes_per_worker: threads.map((t) => t.memory),
    };
    console.log(JSON.stringify(figures, null, 2));
  } finally {
    await srv.stop();
  }
});
