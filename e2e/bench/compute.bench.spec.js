// The browser volunteer's pure compute in a Chromium Web Worker, timed as
// BenchmarkChunk times it natively and in node (see computebench.js), so
// that docs/benchmarks.md can give the fraction of native without the
// volunteer loop's per-chunk overhead. PLAN=mode:passes,… overrides the
// runs; CHUNK_SECONDS=1800 splits the record in half-hour chunks (30 min + 5 s).
const { test } = require('@playwright/test');
const { serveBench, summarize, benchPage } = require('./computebench');

test('wasm compute in a Chromium worker', async ({ page }) => {
  test.setTimeout(600_000);
  const b = await serveBench();
  try {
    await page.goto(`${b.base}/${benchPage()}`);
    const r = await b.result;
    console.log(JSON.stringify(summarize(r), null, 2));
    if (r.error) throw new Error(r.error);
  } finally {
    b.close();
  }
});
