// batch.js keeps the progress table of a batch page (/batches/{id}) current:
// every 2 s it polls GET data-status-url (/api/v1/analyses/{id}, the
// session cookie authenticates it: the JSON the progress page polls) for
// each row not yet finished, updates the status, the chunk counts, what the
// analysis waits for and the link (the result once done, the progress page
// before), shows the progress page's hint for what the batch waits for, and
// once every analysis has finished shows the link that reloads the figures.
// It reads "status" and, from "progress", fields of progressJSON in
// server/results.go (TestProgressContract checks the names).

import { formatETA } from './progress.js';

const root = document.getElementById('batch-progress');
const TERMINAL = new Set(['done', 'failed', 'cancelled']);
const PERIOD_MS = 2000;

// batchState words what an unfinished analysis does or waits for, as
// views.BatchState does on the server (TestBatchStateWording compares them).
export function batchState(status, p) {
  if (TERMINAL.has(status)) return '';
  if (p.waiting_for === 'volunteers') return 'waiting for volunteers';
  if (p.waiting_for === 'second_opinion') return `${p.chunks_awaiting_replica} waiting for a second opinion`;
  const parts = [];
  if (p.chunks_queued > 0) parts.push(`${p.chunks_queued} queued`);
  if (p.chunks_running > 0) parts.push(`${p.chunks_running} running`);
  if (p.chunks_awaiting_replica > 0) parts.push(`${p.chunks_awaiting_replica} awaiting a second opinion`);
  if (p.eta_seconds != null && p.eta_seconds >= 0) parts.push(`about ${formatETA(p.eta_seconds)} left`);
  if (parts.length === 0 && p.chunks_total > 0 && p.chunks_verified === p.chunks_total) return 'merging the results';
  // Only the leader knows the chunks' states and the time left.
  if (p.source === 'database' && parts.length === 0) return `${p.chunks_verified || 0} of ${p.chunks_total || 0} verified so far`;
  return parts.join(', ');
}

// showHints shows the hint for what the batch waits for: "volunteers" when
// an unfinished analysis has none, else "second_opinion" (views.batchWaiting).
function showHints() {
  const rows = [...root.querySelectorAll('tr[data-status-url]')].filter((r) => r.dataset.terminal !== 'true');
  const waits = new Set(rows.map((r) => r.dataset.waitingFor));
  const w = waits.has('volunteers') ? 'volunteers' : waits.has('second_opinion') ? 'second_opinion' : '';
  const set = (id, on) => { const el = document.getElementById(id); if (el) el.hidden = !on; };
  set('analysis-wait-volunteers', w === 'volunteers');
  set('analysis-wait-second-opinion', w === 'second_opinion');
}

const field = (row, name) => row.querySelector(`[data-field="${name}"]`);

function apply(row, a) {
  const p = a.progress || {};
  const status = a.status;
  if (status) {
    const el = field(row, 'status');
    el.textContent = status;
    el.className = `badge status-${status}`;
  }
  const bar = field(row, 'bar');
  if (p.chunks_total != null) {
    bar.max = Math.max(p.chunks_total, 1);
    field(row, 'total').textContent = String(p.chunks_total);
  }
  if (p.chunks_verified != null) {
    bar.value = p.chunks_verified;
    bar.textContent = `${Math.round((100 * p.chunks_verified) / Math.max(bar.max, 1))} %`;
    field(row, 'verified').textContent = String(p.chunks_verified);
  }
  field(row, 'state').textContent = batchState(status, p);
  row.dataset.waitingFor = p.waiting_for || '';
  if (p.quorum != null) {
    const q = document.getElementById('analysis-quorum');
    if (q) q.textContent = String(p.quorum);
  }
  if (status === 'done') {
    const link = field(row, 'link');
    link.href = link.dataset.resultUrl;
    link.textContent = 'Result';
  }
  if (TERMINAL.has(status)) row.dataset.terminal = 'true';
}

async function poll() {
  const rows = [...root.querySelectorAll('tr[data-status-url]')].filter((r) => r.dataset.terminal !== 'true');
  await Promise.all(rows.map(async (row) => {
    try {
      const res = await fetch(row.dataset.statusUrl, { credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' });
      if (res.ok) apply(row, await res.json());
      else if (res.status === 404) row.dataset.terminal = 'true'; // deleted meanwhile
    } catch {
      // A network hiccup: try again at the next tick.
    }
  }));
  showHints();
  if ([...root.querySelectorAll('tr[data-status-url]')].every((r) => r.dataset.terminal === 'true')) {
    root.dataset.terminal = 'true';
    document.getElementById('batch-finished').hidden = false;
    return;
  }
  setTimeout(poll, PERIOD_MS);
}

if (root && root.dataset.terminal !== 'true') setTimeout(poll, PERIOD_MS);
