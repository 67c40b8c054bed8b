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
// The optional nickname and team go with every connection's hello; the
// server shows them on /leaderboard, where a team's credit is the sum of
// its members'. The team field offers the teams with credit (a datalist),
// so joining one is picking its exact name. Changing either while running
// reconnects the threads (the server takes both at hello only). Credit is the
// server's: CPU seconds of this identity's verified results over all
// visits, carried by the welcome and by each verified verdict; the last
// value seen is kept in localStorage to show before Start.
//
// What a started tab waits for is told live: the page polls the public
// GET /api/v1/backlog (the grid's chunk counts) and says "no work" when no
// analysis needs compute, "waiting for a second opinion" when the chunks
// left were computed once and wait for another volunteer. A running chunk
// shows its progress and an estimate of its time left.
//
// The volunteer's controls follow BOINC's computing preferences: compute
// only while the computer is idle (the Idle Detection API where the browser
// grants it, else only while this tab is hidden), pause on battery (the
// Battery Status API where present), a daily time window. A suspended tab
// pauses its workers exactly as Pause does (their connections close, so the
// server re-issues their leases). Settings and this browser's counters are
// kept in localStorage, so a reload keeps both; the credit rate is the
// credit earned per hour of computing in this browser.

const KEY_IDENTITY = 'pulsegrid.volunteer.identity';
const KEY_NICKNAME = 'pulsegrid.volunteer.nickname';
const KEY_TEAM = 'pulsegrid.volunteer.team';
const KEY_CREDIT = 'pulsegrid.volunteer.server-credit';
const KEY_SETTINGS = 'pulsegrid.volunteer.settings';
const KEY_TOTALS = 'pulsegrid.volunteer.totals';
const BACKLOG_EVERY_MS = 2000;
const GATE_EVERY_MS = 15000; // the daily window is checked this often
const IDLE_THRESHOLD_MS = 60000; // the Idle Detection API's minimum
const NICKNAME_MAX = 40; // runes; the server cleans and cuts it the same way

const $ = (id) => document.getElementById(id);
const el = {
  start: $('donate-start'), pause: $('donate-pause'), resume: $('donate-resume'),
  cpu: $('donate-cpu'), threads: $('donate-threads'), nickname: $('donate-nickname'), team: $('donate-team'),
  status: $('donate-status'), task: $('donate-task'), chunks: $('donate-chunks-done'),
  verified: $('donate-verified'), cpuTime: $('donate-cpu-time'), credit: $('donate-credit'),
  error: $('donate-error'), idle: $('donate-idle'), battery: $('donate-battery'),
  from: $('donate-window-from'), to: $('donate-window-to'), gateNote: $('donate-gate-note'),
  rate: $('donate-credit-rate'), backlogNow: $('donate-backlog-now'),
};

const store = {
  get(key) { try { return JSON.parse(localStorage.getItem(key)); } catch { return null; } },
  set(key, v) { try { localStorage.setItem(key, JSON.stringify(v)); } catch { /* private mode: this visit only */ } },
};

// Page state. threads[i] = {worker, stats, state, connected, retry, task, memory}.
const threads = [];
let manifest = null;
let running = false; // Start pressed
let paused = false; // Pause pressed
let computing = false; // workers told to compute: running, not paused, not suspended
let suspended = ''; // why the controls hold the workers back ('' when they do not)
let backlog = null; // the last GET /api/v1/backlog
let backlogTimer = null;
// What the controls read: onBattery from the Battery Status API, idleState
// 'idle' | 'active' from the Idle Detection API (null: not granted, page
// visibility stands in).
const gate = { onBattery: false, batteryKnown: false, idleState: null };
let idleDetector = null;
// Counters of earlier visits in this browser (KEY_TOTALS); the page shows
// them plus this visit's. computeMs and earned give the credit rate.
const base = Object.assign({ chunks_done: 0, results_verified: 0, busy: 0, computeMs: 0, earned: 0 }, store.get(KEY_TOTALS) || {});
const visit = { computeMs: 0, earned: 0 };
let lastTick = 0;
let lastCredit = null;
let leaving = false; // pagehide happened
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

function totals() {
  const sum = (f) => threads.reduce((a, t) => a + (t.stats ? f(t.stats) : 0), f(retired));
  return {
    chunks_done: base.chunks_done + sum((s) => s.chunks_done || 0),
    results_verified: base.results_verified + sum((s) => s.results_verified || 0),
    busy: base.busy + sum((s) => s.busy || 0),
    computeMs: base.computeMs + visit.computeMs,
    earned: base.earned + visit.earned,
    pending: sum((s) => (s.chunks_done || 0) - (s.results_verified || 0) - (s.results_rejected || 0)),
  };
}

// tick adds the time computed since the last render, and the credit that
// came in meanwhile, to this visit's counters.
function tick() {
  const now = Date.now();
  if (computing && lastTick) visit.computeMs += now - lastTick;
  lastTick = now;
  const credit = serverCredit();
  if (lastCredit !== null && credit > lastCredit && computing) visit.earned += credit - lastCredit;
  lastCredit = credit;
}

function render() {
  tick();
  const tot = totals();
  el.chunks.textContent = String(tot.chunks_done);
  el.verified.textContent = String(tot.results_verified);
  el.cpuTime.textContent = formatSeconds(tot.busy / 1e9);
  el.credit.textContent = `${serverCredit().toFixed(3)} CPU s`;
  if (el.rate) {
    const hours = tot.computeMs / 3.6e6;
    const perHour = hours > 0 ? tot.earned / hours : 0;
    el.rate.textContent = tot.computeMs >= 5000 ? `${perHour.toFixed(perHour < 10 ? 2 : 0)} per hour, ${(perHour * 24).toFixed(perHour < 1 ? 2 : 0)} per day computing` : '–';
  }
  const { pending, ...keep } = tot;
  if (!leaving) store.set(KEY_TOTALS, keep); // after pagehide the threads are gone: keep what was saved

  const connected = threads.filter((t) => t.connected).length;
  let status = 'idle';
  let state = 'idle';
  if (!running) status = 'idle';
  else if (paused) { status = 'paused'; state = 'paused'; }
  else if (suspended) { status = `suspended: ${suspended}`; state = 'suspended'; }
  else if (threads.some((t) => t.state === 'stopped')) status = `stopped: ${threads.find((t) => t.state === 'stopped').error || 'refused by the server'}`;
  else if (connected > 0) status = connected === threads.length ? 'connected' : `connected (${connected} of ${threads.length} threads)`;
  else {
    const retrying = threads.find((t) => t.retry);
    status = retrying ? `reconnecting in ${Math.ceil(retrying.retry / 1e9)} s (${retrying.disconnectError || 'connection lost'})` : 'connecting';
  }
  el.status.textContent = status;
  el.status.dataset.state = state === 'idle' && running ? (connected > 0 ? 'connected' : 'connecting') : state;

  // Chunks of short signals take milliseconds and events come in batches:
  // a batch often ends between two chunks. What a thread finished a moment
  // ago still counts as what it is computing.
  const now = Date.now();
  const tasks = threads.map((t) => taskText(t, now) || (t.lastTask && now - t.lastDone < RECENT_TASK_MS ? t.lastTask : '')).filter(Boolean);
  let wait = '';
  if (!computing) el.task.textContent = '–';
  else if (tasks.length) el.task.textContent = tasks.join(', ');
  else {
    const w = waitFor(pending);
    wait = w.state;
    el.task.textContent = w.text;
  }
  el.task.dataset.wait = wait;
  renderBacklog();
}

// taskText is a running chunk: its algorithm, how far it is, and its time
// left estimated from the rate so far.
function taskText(t, now) {
  if (!t.task) return '';
  if (!(t.frac > 0)) return t.task;
  const pct = Math.floor(100 * t.frac);
  const elapsed = (now - t.chunkStart) / 1000;
  const left = t.frac < 1 ? (elapsed * (1 - t.frac)) / t.frac : 0;
  return `${t.task}: ${pct} %, about ${formatSeconds(left)} left`;
}

// waitFor says what a connected tab with nothing to compute waits for,
// from the last backlog: state is no-work, second-opinion or queued.
function waitFor(pending) {
  const b = backlog;
  if (!b) return { state: 'queued', text: 'waiting for work' };
  const open = b.chunks_queued + b.chunks_running + b.chunks_awaiting_replica;
  if (open === 0) return { state: 'no-work', text: 'no work: no analysis is waiting for compute right now; this tab takes some as soon as one starts' };
  if (b.chunks_queued === 0 && b.chunks_awaiting_replica > 0) {
    const mine = pending > 0 ? `, ${plural(pending, 'result')} of this tab among them` : '';
    return {
      state: 'second-opinion',
      text: `waiting for a second opinion: ${plural(b.chunks_awaiting_replica, 'chunk')} computed once wait for another volunteer from a different network${mine}`,
    };
  }
  if (b.chunks_queued === 0) return { state: 'no-work', text: `no work for this tab: the ${plural(b.chunks_running, 'chunk')} left are being computed by other volunteers` };
  return { state: 'queued', text: `waiting for work: ${plural(b.chunks_queued, 'chunk')} queued` };
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

// renderBacklog keeps the "Is there work?" paragraph current.
function renderBacklog() {
  const b = backlog;
  if (!b || !el.backlogNow) return;
  const open = b.chunks_queued + b.chunks_running + b.chunks_awaiting_replica;
  el.backlogNow.textContent = open === 0
    ? 'Right now no analysis is waiting for compute: a started tab waits for work, and takes some as soon as a hospital starts an analysis.'
    : `Right now: ${plural(b.chunks_queued, 'chunk')} waiting for a volunteer, ${plural(b.chunks_running, 'chunk')} being computed, ${plural(b.chunks_awaiting_replica, 'chunk')} computed once and waiting for a second opinion.`;
}

async function pollBacklog() {
  try {
    const r = await fetch('/api/v1/backlog', { cache: 'no-store' });
    if (r.ok) backlog = await r.json();
  } catch { /* offline: keep the last one; the status says reconnecting */ }
  renderSoon();
}

function watchBacklog(on) {
  if (on && backlogTimer === null) {
    pollBacklog();
    backlogTimer = setInterval(pollBacklog, BACKLOG_EVERY_MS);
  } else if (!on && backlogTimer !== null) {
    clearInterval(backlogTimer);
    backlogTimer = null;
  }
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

// label is a nickname or team field's value as sent: trimmed, at most
// NICKNAME_MAX runes (the server cleans both the same way).
function label(input) {
  return input ? [...input.value.trim()].slice(0, NICKNAME_MAX).join('') : '';
}

function startOptions() {
  return { server: location.origin, identity, cpu: Number(el.cpu.value), agent: agent(), nickname: label(el.nickname), team: label(el.team) };
}

// ---- the controls: settings, and what holds the workers back

function saveSettings() {
  store.set(KEY_SETTINGS, {
    cpu: el.cpu.value, threads: el.threads.value, idle: el.idle.checked, battery: el.battery.checked, from: el.from.value, to: el.to.value,
  });
}

function loadSettings() {
  const s = store.get(KEY_SETTINGS);
  if (!s) return;
  const pick = (sel, v) => { if (v && [...sel.options].some((o) => o.value === String(v))) sel.value = String(v); };
  pick(el.cpu, s.cpu);
  pick(el.threads, s.threads);
  el.idle.checked = !!s.idle;
  el.battery.checked = s.battery !== false;
  el.from.value = s.from || '';
  el.to.value = s.to || '';
}

const minutesOf = (hhmm) => { const [h, m] = hhmm.split(':').map(Number); return h * 60 + m; };

// inWindow: no window set (or from = to) means any time; a window may wrap
// past midnight (22:00 to 06:00).
function inWindow(d = new Date()) {
  if (!el.from.value || !el.to.value || el.from.value === el.to.value) return true;
  const now = d.getHours() * 60 + d.getMinutes();
  const from = minutesOf(el.from.value);
  const to = minutesOf(el.to.value);
  return from < to ? now >= from && now < to : now >= from || now < to;
}

// suspendReason is why the controls hold the workers back now, '' if nothing does.
function suspendReason() {
  if (el.battery.checked && gate.onBattery) return 'on battery';
  if (!inWindow()) return `outside the daily window ${el.from.value}–${el.to.value}`;
  if (el.idle.checked) {
    if (gate.idleState !== null) {
      if (gate.idleState !== 'idle') return 'the computer is in use';
    } else if (document.visibilityState === 'visible') {
      return 'this tab is visible (computing only while idle)';
    }
  }
  return '';
}

// applyGate tells the workers to compute or to pause when what the controls
// allow changed: Start, Pause, Resume, a setting, the battery, idleness,
// the page's visibility or the clock.
function applyGate() {
  suspended = running && !paused ? suspendReason() : '';
  const want = running && !paused && !suspended;
  if (want !== computing) {
    computing = want;
    for (const t of threads) t.worker.postMessage(want ? { type: 'start', options: startOptions() } : { type: 'pause' });
    if (want) holdLock(); else dropLock();
  }
  watchBacklog(want);
  renderGateNote();
  render();
}

// renderGateNote says what the idle and battery controls can see in this browser.
function renderGateNote() {
  const notes = [];
  if (el.idle.checked) {
    notes.push(gate.idleState !== null
      ? 'Idle: this browser reports when the computer has had no input for a minute or its screen is locked.'
      : 'Idle: this browser does not report whether the computer is idle (or permission was not granted), so this tab computes only while it is hidden.');
  }
  if (el.battery.checked && !gate.batteryKnown) notes.push('Battery: this browser does not report the battery, so this setting has no effect here.');
  el.gateNote.textContent = notes.join(' ');
  el.gateNote.hidden = notes.length === 0;
}

// watchIdle starts the Idle Detection API when the browser has it and
// grants it; fromGesture asks for the permission (only a click may).
async function watchIdle(fromGesture) {
  if (!el.idle.checked || idleDetector || typeof IdleDetector === 'undefined') return;
  try {
    if (fromGesture && (await IdleDetector.requestPermission()) !== 'granted') return;
    const d = new IdleDetector();
    const read = () => { gate.idleState = d.userState === 'idle' || d.screenState === 'locked' ? 'idle' : 'active'; };
    d.addEventListener('change', () => { read(); applyGate(); });
    await d.start({ threshold: IDLE_THRESHOLD_MS });
    idleDetector = d;
    read();
  } catch { /* not granted: page visibility stands in */ }
  applyGate();
}

async function watchBattery() {
  if (!navigator.getBattery) return;
  try {
    const b = await navigator.getBattery();
    const read = () => { gate.onBattery = !b.charging; gate.batteryKnown = true; };
    b.addEventListener('chargingchange', () => { read(); applyGate(); });
    read();
  } catch { /* not allowed here */ }
  applyGate();
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
    case 'chunk-started': t.task = e.algorithm; t.frac = 0; t.chunkStart = Date.now(); break;
    case 'progress':
      t.task = e.algorithm;
      t.frac = e.total > 0 ? e.done / e.total : 0;
      if (!t.chunkStart) t.chunkStart = Date.now();
      break;
    case 'chunk-done':
      t.task = ''; t.frac = 0; t.chunkStart = 0;
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
    const first = spawn();
    if (!computing) first.worker.postMessage({ type: 'pause' });
    await new Promise((resolve) => identityWaiters.push(resolve));
    if (!running) return;
  }
  while (running && threads.length < Number(el.threads.value)) {
    const t = spawn();
    if (!computing) t.worker.postMessage({ type: 'pause' });
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
  applyGate();
  await setThreads(Number(el.threads.value));
}

function pause() {
  paused = true;
  el.pause.hidden = true;
  el.resume.hidden = false;
  applyGate();
}

function resume() {
  paused = false;
  el.resume.hidden = true;
  el.pause.hidden = false;
  applyGate();
}

function init() {
  if (!el.start) return;
  el.threads.value = String(defaultThreads());
  loadSettings();
  for (const [input, key] of [[el.nickname, KEY_NICKNAME], [el.team, KEY_TEAM]]) {
    if (!input) continue;
    input.value = store.get(key) || '';
    input.addEventListener('change', () => {
      store.set(key, label(input));
      if (!computing) return; // sent with the next hello (Start or Resume)
      // The server reads nickname and team at hello: reconnect every thread.
      for (const t of threads) {
        t.worker.postMessage({ type: 'pause' });
        t.worker.postMessage({ type: 'start', options: startOptions() });
      }
    });
  }
  el.start.addEventListener('click', start);
  el.pause.addEventListener('click', pause);
  el.resume.addEventListener('click', resume);
  el.cpu.addEventListener('change', () => {
    saveSettings();
    for (const t of threads) t.worker.postMessage({ type: 'setCPU', cpu: Number(el.cpu.value) });
  });
  el.threads.addEventListener('change', () => { saveSettings(); if (running) setThreads(Number(el.threads.value)); });
  el.idle.addEventListener('change', () => { saveSettings(); watchIdle(true); applyGate(); });
  el.battery.addEventListener('change', () => { saveSettings(); applyGate(); });
  for (const input of [el.from, el.to]) input.addEventListener('change', () => { saveSettings(); applyGate(); });
  document.addEventListener('visibilitychange', applyGate);
  setInterval(applyGate, GATE_EVERY_MS);
  watchBattery();
  watchIdle(false);
  pollBacklog();
  // Closing or leaving the tab: end the workers now, which closes their
  // websockets, so the server re-issues their chunks without waiting.
  window.addEventListener('pagehide', () => {
    render(); // keeps the last credit seen (serverCredit) and the counters for the next visit
    leaving = true;
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
    computing: () => computing,
    chunkMillis: () => chunkMillis.slice(),
  };
}

init();
