// Serves the compute benchmark of the browser volunteer (docs/benchmarks.md,
// "Browser volunteer"): wasmworker/internal/chunkbench, built for js/wasm,
// runs the 30 chunks of MIT-BIH 119 (the work of BenchmarkChunk) inside a
// dedicated Web Worker, pass after pass, and the page posts the pass times
// back. Used by compute.bench.spec.js (Playwright), and on its own to run
// Chromium without Playwright or DevTools attached:
//
//   node bench/computebench.js            # plain `chromium --headless`, prints the JSON figures
//   PLAN=compute:300,sleep:30 node bench/computebench.js
//   CHUNK_SECONDS=1800 PLAN=compute:20 node bench/computebench.js   # half-hour chunks (30 min + 5 s)
//
// Everything listens on 127.0.0.1 only and stops when the run ends.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const mitdb = path.resolve(root, '..', 'shared', 'data', 'mitdb');
const DEFAULT_PLAN = 'compute:300,sleep:30,message:30,compute:100';

const PAGE = `<!doctype html><meta charset="utf-8"><title>chunkbench</title><pre id="out">running</pre>
<script>
const q = new URLSearchParams(location.search);
const plan = q.get('plan');
const chunkSeconds = Number(q.get('chunk_seconds') || 60);
const w = new Worker('/bench-worker.js');
w.onmessage = async (e) => {
  window.benchResult = e.data;
  document.getElementById('out').textContent = JSON.stringify(e.data);
  await fetch('/result', { method: 'POST', body: JSON.stringify(e.data) });
};
w.postMessage({ plan, chunkSeconds });
</script>`;

const WORKER = `'use strict';
importScripts('/wasm_exec.js');
let done = null;
self.pulsegridBenchDone = (json) => { const f = done; done = null; f(JSON.parse(json)); };
const next = () => new Promise((r) => { done = r; });
self.onmessage = async (e) => {
  try {
    const files = {};
    for (const n of ['119.hea', '119.dat']) files[n] = new Uint8Array(await (await fetch('/data/' + n)).arrayBuffer());
    const go = new Go();
    const ready = next();
    const { instance } = await WebAssembly.instantiateStreaming(fetch('/chunkbench.wasm'), go.importObject);
    go.run(instance);
    await ready;
    const runs = [];
    for (const step of e.data.plan.split(',')) {
      const [mode, passes] = step.split(':');
      const t0 = performance.now();
      const p = next();
      const err = self.pulsegridBench.run(JSON.stringify({ mode, passes: Number(passes), chunk_seconds: e.data.chunkSeconds }), files);
      if (err) throw new Error(err);
      const r = await p;
      if (r.error) throw new Error(r.error);
      runs.push({ mode, passes: Number(passes), chunks: r.chunks, wall_ms: performance.now() - t0, pass_ns: r.pass_ns });
    }
    // The same round trips in JavaScript alone, for comparison.
    const mc = new MessageChannel();
    const ping = () => new Promise((r) => { mc.port1.onmessage = r; mc.port2.postMessage(0); });
    const t1 = performance.now();
    for (let i = 0; i < 3000; i++) await ping();
    const jsMessageUS = (performance.now() - t1) / 3000 * 1000;
    const t2 = performance.now();
    for (let i = 0; i < 200; i++) await new Promise((r) => setTimeout(r, 0));
    const jsTimeoutUS = (performance.now() - t2) / 200 * 1000;
    // WebCrypto's SHA-256 of a chunk-sized payload, as the volunteer checks it.
    const buf = new Uint8Array(172900);
    let jsDigestUS = null;
    if (self.crypto && self.crypto.subtle) {
      for (let i = 0; i < 20; i++) await crypto.subtle.digest('SHA-256', buf);
      const t3 = performance.now();
      for (let i = 0; i < 200; i++) await crypto.subtle.digest('SHA-256', buf);
      jsDigestUS = (performance.now() - t3) / 200 * 1000;
    }
    self.postMessage({ runs, memory: instance.exports.mem.buffer.byteLength, js_message_roundtrip_us: jsMessageUS, js_settimeout0_us: jsTimeoutUS, js_webcrypto_sha256_172kb_us: jsDigestUS });
  } catch (err) {
    self.postMessage({ error: String(err && err.stack || err) });
  }
};`;

// buildModule compiles the bench module into a temporary directory.
function buildModule(dir) {
  const out = path.join(dir, 'chunkbench.wasm');
  execFileSync('go', ['build', '-trimpath', '-ldflags=-s', '-o', out, './wasmworker/internal/chunkbench'],
    { cwd: root, env: { ...process.env, GOOS: 'js', GOARCH: 'wasm' }, stdio: 'inherit' });
  return out;
}

// serveBench builds the module and serves the bench; resolves to
// { base, result: Promise<object>, close() }.
async function serveBench() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chunkbench-'));
  const wasm = buildModule(dir);
  const goroot = execFileSync('go', ['env', 'GOROOT'], { encoding: 'utf8' }).trim();
  let resolve;
  const result = new Promise((r) => { resolve = r; });
  const files = {
    '/bench.html': ['text/html', PAGE],
    '/bench-worker.js': ['text/javascript', WORKER],
    '/wasm_exec.js': ['text/javascript', fs.readFileSync(path.join(goroot, 'lib', 'wasm', 'wasm_exec.js'))],
    '/chunkbench.wasm': ['application/wasm', fs.readFileSync(wasm)],
    '/data/119.hea': ['application/octet-stream', fs.readFileSync(path.join(mitdb, '119.hea'))],
    '/data/119.dat': ['application/octet-stream', fs.readFileSync(path.join(mitdb, '119.dat'))],
  };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (req.method === 'POST' && u.pathname === '/result') {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => { res.end('ok'); resolve(JSON.parse(body)); });
      return;
    }
    const f = files[u.pathname];
    if (!f) { res.statusCode = 404; res.end(); return; }
    res.setHeader('Content-Type', f[0]);
    res.end(f[1]);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    result,
    close() { server.close(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

// benchPage is the bench page's path and query for PLAN and CHUNK_SECONDS.
function benchPage() {
  return `bench.html?plan=${encodeURIComponent(process.env.PLAN || DEFAULT_PLAN)}&chunk_seconds=${Number(process.env.CHUNK_SECONDS || 60)}`;
}

// summarize turns the pass times into ms per pass (the whole record: 30
// chunks of 60 s, or one of 1800 s and one of 5 s; BenchmarkChunk's ns/op): the median and
// minimum of each run's last half (steady state), and the first pass.
function summarize(r) {
  if (r.error) return r;
  const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
  const runs = r.runs.map((run) => {
    const ms = run.pass_ns.map((ns) => ns / 1e6);
    const steady = ms.slice(Math.floor(ms.length / 2));
    return { mode: run.mode, passes: run.passes, chunks: run.chunks, first_pass_ms: +ms[0].toFixed(2),
      steady_median_ms: +med(steady).toFixed(2), steady_min_ms: +Math.min(...steady).toFixed(2) };
  });
  return { runs, wasm_memory_bytes: r.memory, js_message_roundtrip_us: r.js_message_roundtrip_us, js_settimeout0_us: r.js_settimeout0_us, js_webcrypto_sha256_172kb_us: r.js_webcrypto_sha256_172kb_us };
}

async function plain() {
  const b = await serveBench();
  const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'chunkbench-profile-'));
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`];
  if (process.env.JS_FLAGS) args.push(`--js-flags=${process.env.JS_FLAGS}`);
  args.push(`${b.base}/${benchPage()}`);
  // Its own process group, so that the browser and its helpers stop together.
  const c = spawn(chromium, args, { stdio: 'ignore', detached: true });
  const timer = setTimeout(() => { console.error('chunkbench: no result within 10 minutes'); process.exitCode = 1; stop(); }, 600_000);
  function stop() {
    clearTimeout(timer);
    try { process.kill(-c.pid, 'SIGTERM'); } catch { /* already gone */ }
    b.close();
    setTimeout(() => fs.rmSync(profile, { recursive: true, force: true }), 1000);
  }
  const r = await b.result;
  console.log(JSON.stringify(summarize(r), null, 2));
  stop();
}

module.exports = { serveBench, summarize, benchPage };

if (require.main === module) plain();
