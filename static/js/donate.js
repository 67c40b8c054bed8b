// donate.js drives /donate (views/donate.templ): nothing is fetched or
// computed until Start. Start runs one dedicated Web Worker per thread
// (static/js/worker.js, each one slot of one volunteer running the Go
// pipeline compiled to WebAssembly), and keeps the status fields current.
//
// All threads share one anonymous identity kept in localStorage, so the
// server sees one volunteer (it never gives two of its connections the same
// chunk) and credit accumulates across visits. While running the page holds
// a Web Lock, which exempts it from Chrome's freezing of hidden tabs; the
// workers keep computing when the tab is hidden (worker timers are not
// throttled like a hidden page's). Closing the tab terminates the workers,
// which closes their websockets, so the server re-issues their leases at once.
//
// The optional nickname goes with every connection's hello; the server
// shows it on /leaderboard. Changing it while running reconnects the
// threads (the server takes a nickname at hello only). Credit is the
// server's: CPU seconds of this identity's verified results over all
// visits, carried by the welcome and by each verified verdict; the last
// value seen is kept in localStorage to show before Start.

const KEY_IDENTITY = 'pulsegrid.volunteer.identity';
const KEY_NICKNAME = 'pulsegrid.volunteer.nickname';
const KEY_CREDIT = 'pulsegrid.volunteer.server-credit';
const NICKNAME_MAX = 40; // runes; the server cleans and cuts it the same way

const $ = (id) => document.getElementById(id);
const el = {
  start: $('donate-start'), pause: $('donate-pause'), resume: $('donate-resume'),
  cpu: $('donate-cpu'), threads: $('donate-threads'), nickname: $('donate-nickname'),
  status: $('donate-status'), task: $('donate-task'), chunks: $('donate-chunks-done'),
  verified: $('donate-verified'), cpuTime: $('donate-cpu-time'), credit: $('donate-credit'),
  error: $('donate-error'),
};

const store = {
  get(key) { try { return JSON.parse(localStorage.getItem(key)); } catch { return null; } },
  set(key, v) { try { localStorage.setItem(key, JSON.stringify(v)); } catch { /* private mode: this visit only */ } },
};

// Page state. threads[i] = {worker, stats, state, connected, retry, task, memory}.
const threads = [];
let manifest = null;
let running = false;
let paused = false;
let releaseLock = null;
let identity = store.get(KEY_IDENTITY);
let identityWaiters = [];
// Counters of threads that were ended (fewer threads, or respawned), so the
// totals shown never go down.
const retired = { chunks_done: 0, results_verified: 0, busy: 0 };
// Wall time of each chunk computed (ms, resting included), for benchmarks.
const chunkMillis = [];

// Half of the logical cores by default, at least one, within the options offered.
function defaultThreads() {
  const cores = navigator.hardwareConcurrency || 2;
  const want = Math.max(1, Math.floor(cores / 2));
  const offered = [...el.threads.options].map((o) => Number(o.value));
  return offered.filter((n) => n <= want).pop() || offered[0] || 1;
}

function showError(msg) {
  el.error.textContent = msg;
  el.error.hidden = !msg;
}

const formatSeconds = (s) => {
  if (s < 10) return `${s.toFixed(s < 1 ? 2 : 1)} s`; // chunks take milliseconds
  s = Math.round(s);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor(s / 60) % 60} min`;
};

function render() {
  const sum = (f) => threads.reduce((a, t) => a + (t.stats ? f(t.stats) : 0), f(retired));
  el.chunks.textContent = String(sum((s) => s.chunks_done || 0));
  el.verified.textContent = String(sum((s) => s.results_verified || 0));
  el.cpuTime.textContent = formatSeconds(sum((s) => s.busy || 0) / 1e9);
  el.credit.textContent = serverCredit().toFixed(3);

  const connected = threads.filter((t) => t.connected).length;
  let status = 'idle';
  if (!running) status = 'idle';
  else if (paused) status = 'paused';
  else if (threads.some((t) => t.state === 'stopped')) status = `stopped: ${threads.find((t) => t.state === 'stopped').error || 'refused by the server'}`;
  else if (connected > 0) status = connected === threads.length ? 'connected' : `connected (${connected} of ${threads.length} threads)`;
  else {
    const retrying = threads.find((t) => t.retry);
    status = retrying ? `reconnecting in ${Math.ceil(retrying.retry / 1e9)} s (${retrying.disconnectError || 'connection lost'})` : 'connecting';
  }
  el.status.textContent = status;
  el.status.dataset.state = !running ? 'idle' : paused ? 'paused' : connected > 0 ? 'connected' : 'connecting';

  // Chunks of short signals take milliseconds and events come in batches:
  // a batch often ends between two chunks. What a thread finished a moment
  // ago still counts as what it is computing.
  const now = Date.now();
  const tasks = threads.map((t) => t.task || (t.lastTask && now - t.lastDone < RECENT_TASK_MS ? t.lastTask : '')).filter(Boolean);
  el.task.textContent = !running || paused ? '–' : tasks.length ? tasks.join(', ') : 'waiting for work';
}

// serverCredit is the credit the server last reported on any thread (each
// thread's connection is told the identity's totals), else the stored one.
function serverCredit() {
  const seen = threads.filter((t) => t.welcomed && t.stats).map((t) => t.stats.credit || 0);
  if (seen.length === 0) return Number(store.get(KEY_CREDIT)) || 0;
  const credit = Math.max(...seen);
  store.set(KEY_CREDIT, credit);
  return credit;
}

function nickname() {
  return [...el.nickname.value.trim()].slice(0, NICKNAME_MAX).join('');
}

function startOptions() {
  return { server: location.origin, identity, cpu: Number(el.cpu.value), agent: agent(), nickname: nickname() };
}

function onMessage(t, m) {
  if (m.memory) t.memory = m.memory;
  if (m.stats) t.stats = m.stats;
  switch (m.type) {
    case 'error':
      showError(m.error);
      break;
    case 'state':
      t.state = m.state;
      t.error = m.error || '';
      if (m.state !== 'running') { t.connected = false; t.task = ''; t.lastTask = ''; }
      if (m.state === 'stopped' && m.error) showError(`The server refused this volunteer: ${m.error}`);
      break;
    case 'events': // a batch, oldest first (wasmworker's package comment)
      for (const e of m.events || []) onEvent(t, e);
      // A task finished less than RECENT_TASK_MS ago still shows (see
      // render); this render takes it off when no other chunk followed.
      clearTimeout(recentTimer);
      recentTimer = setTimeout(render, RECENT_TASK_MS + 10);
      break;
  }
  renderSoon();
}

// onEvent applies one volunteer.Event of thread t.
function onEvent(t, e) {
  switch (e.kind) {
    case 'connected':
      t.connected = true; t.retry = 0; t.welcomed = true;
      t.identity = e.identity && e.identity.id ? e.identity : t.identity;
      if (t.identity && (!identity || identity.id !== t.identity.id)) {
        if (t === threads[0]) {
          // The first thread is the reference: a new identity (first
          // visit, or the server no longer knew the stored one) is adopted.
          identity = t.identity;
          store.set(KEY_IDENTITY, identity);
        } else {
          // The server did not recognise the shared identity on this
          // connection (see respawnLater): start it again, so that all
          // threads are one volunteer.
          respawnLater(t);
        }
      }
      for (const w of identityWaiters.splice(0)) w();
      showError('');
      break;
    case 'disconnected':
      t.connected = false; t.task = ''; t.lastTask = '';
      t.retry = e.retry || 0; t.disconnectError = e.error || '';
      break;
    case 'chunk-started': t.task = e.algorithm; break;
    case 'progress':
      t.task = e.total > 0 ? `${e.algorithm} (${Math.floor((100 * e.done) / e.total)} %)` : e.algorithm;
      break;
    case 'chunk-done':
      t.task = '';
      t.lastTask = e.algorithm;
      t.lastDone = Date.now();
      if (chunkMillis.length < 10000) chunkMillis.push((e.elapsed || 0) / 1e6);
      break;
    case 'chunk-failed': case 'chunk-cancelled': t.task = ''; break;
    case 'verdict': break; // the stats carry the server's new totals
  }
}

// renderSoon coalesces the renders that worker messages ask for: a thread
// posts a few events per chunk, and chunks of short signals take a
// millisecond, so rendering on each one kept the page's main thread (and,
// on a small machine, the core the workers needed) busy with text updates
// nobody can read that fast. User actions still render at once.
const RENDER_EVERY_MS = 100;
const RECENT_TASK_MS = 1000;
let recentTimer = null;
let renderTimer = null;
function renderSoon() {
  if (renderTimer === null) renderTimer = setTimeout(() => { renderTimer = null; render(); }, RENDER_EVERY_MS);
}

function agent() {
  return `pulsegrid-browser js/wasm (${navigator.userAgent})`.slice(0, 200);
}

function spawn() {
  const worker = new Worker(manifest['js/worker.js'] || '/static/js/worker.js');
  const t = { worker, stats: null, state: 'loading', connected: false, retry: 0, task: '', memory: 0 };
  worker.onmessage = (e) => onMessage(t, e.data);
  worker.onerror = (e) => showError(`worker error: ${e.message || e}`);
  worker.postMessage({ type: 'init', wasmExec: manifest['wasm_exec.js'], wasm: manifest['worker.wasm'] });
  worker.postMessage({ type: 'start', options: startOptions() });
  threads.push(t);
  return t;
}

// setThreads grows or shrinks the pool. Without a stored identity the
// first thread connects alone: the server issues the identity, and only
// then do the others start with it, so that all are one volunteer.
async function setThreads(n) {
  while (threads.length > n) retire(threads.pop());
  if (threads.length < n && !identity && threads.length === 0) {
    spawn();
    await new Promise((resolve) => identityWaiters.push(resolve));
    if (!running) return;
  }
  while (running && threads.length < Number(el.threads.value)) {
    const t = spawn();
    if (paused) t.worker.postMessage({ type: 'pause' });
  }
  render();
}

function retire(t) {
  for (const k of Object.keys(retired)) retired[k] += (t.stats && t.stats[k]) || 0;
  t.stats = null;
  t.worker.postMessage({ type: 'stop' });
  setTimeout(() => t.worker.terminate(), 200);
}

// respawnLater replaces a thread that the server gave an identity of its
// own, which happens only when the server did not know the shared identity
// (its database was replaced, say) and the first thread has not adopted the
// new one yet. The thread is ended and started again with the adopted
// identity, so that all threads stay one volunteer.
const RESPAWN_DELAY_MS = 2000;
function respawnLater(t) {
  const i = threads.indexOf(t);
  if (i < 0) return;
  threads.splice(i, 1);
  retire(t);
  setTimeout(() => { if (running) setThreads(Number(el.threads.value)); }, RESPAWN_DELAY_MS);
}

async function holdLock() {
  if (!navigator.locks || releaseLock) return;
  navigator.locks.request('pulsegrid-donate', { mode: 'shared' }, () => new Promise((resolve) => { releaseLock = resolve; }))
    .catch(() => { /* unsupported or aborted: the tab may then be frozen when hidden */ });
}

function dropLock() {
  if (releaseLock) { releaseLock(); releaseLock = null; }
}

async function start() {
  el.start.disabled = true;
  showError('');
  try {
    const r = await fetch('/static/manifest.json', { cache: 'no-cache' });
    if (!r.ok) throw new Error(`GET /static/manifest.json: HTTP ${r.status}`);
    manifest = await r.json();
    if (!manifest['worker.wasm'] || !manifest['wasm_exec.js']) {
      throw new Error('this server has no browser worker (worker.wasm was not built: make wasm)');
    }
  } catch (e) {
    showError(`Cannot start: ${e.message}`);
    el.start.disabled = false;
    return;
  }
  running = true;
  paused = false;
  el.start.hidden = true;
  el.pause.hidden = false;
  holdLock();
  render();
  await setThreads(Number(el.threads.value));
}

function pause() {
  paused = true;
  for (const t of threads) t.worker.postMessage({ type: 'pause' });
  el.pause.hidden = true;
  el.resume.hidden = false;
  dropLock();
  render();
}

function resume() {
  paused = false;
  // start on a running worker sets CPU share and nickname, then resumes.
  for (const t of threads) t.worker.postMessage({ type: 'start', options: startOptions() });
  el.resume.hidden = true;
  el.pause.hidden = false;
  holdLock();
  render();
}

function init() {
  if (!el.start) return;
  el.threads.value = String(defaultThreads());
  el.nickname.value = store.get(KEY_NICKNAME) || '';
  el.nickname.addEventListener('change', () => {
    store.set(KEY_NICKNAME, nickname());
    if (!running || paused) return; // sent with the next hello (Start or Resume)
    // The server reads the nickname at hello: reconnect every thread.
    for (const t of threads) {
      t.worker.postMessage({ type: 'pause' });
      t.worker.postMessage({ type: 'start', options: startOptions() });
    }
  });
  el.start.addEventListener('click', start);
  el.pause.addEventListener('click', pause);
  el.resume.addEventListener('click', resume);
  el.cpu.addEventListener('change', () => {
    for (const t of threads) t.worker.postMessage({ type: 'setCPU', cpu: Number(el.cpu.value) });
  });
  el.threads.addEventListener('change', () => { if (running) setThreads(Number(el.threads.value)); });
  // Closing or leaving the tab: end the workers now, which closes their
  // websockets, so the server re-issues their chunks without waiting.
  window.addEventListener('pagehide', () => {
    render(); // keeps the last credit seen (serverCredit) for the next visit
    for (const t of threads.splice(0)) t.worker.terminate();
    dropLock();
  });
  render();
  // For tests and benchmarks: read-only views of the threads.
  window.pulsegridDonate = {
    threads: () => threads.map((t) => ({
      state: t.state, connected: t.connected, task: t.task, memory: t.memory, stats: t.stats, identity: t.identity ? t.identity.id : '',
    })),
    identity: () => identity,
    chunkMillis: () => chunkMillis.slice(),
  };
}

init();
