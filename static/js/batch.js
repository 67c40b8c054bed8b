// batch.js keeps the progress table of a batch page (/batches/{id}) current:
// every 2 s it polls GET data-status-url (/api/v1/analyses/{id}, the
// session cookie authenticates it) for each row not yet finished, updates
// the status, the chunk counts and the link (the result once done, the
// progress page before), and once every analysis has finished shows the
// link that reloads the figures. It reads "status" and, from "progress",
// chunks_verified and chunks_total (the contract of progressJSON in
// server/results.go; TestProgressContract checks the names).

const root = document.getElementById('batch-progress');
const TERMINAL = new Set(['done', 'failed', 'cancelled']);
const PERIOD_MS = 2000;

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
  if ([...root.querySelectorAll('tr[data-status-url]')].every((r) => r.dataset.terminal === 'true')) {
    root.dataset.terminal = 'true';
    document.getElementById('batch-finished').hidden = false;
    return;
  }
  setTimeout(poll, PERIOD_MS);
}

if (root && root.dataset.terminal !== 'true') setTimeout(poll, PERIOD_MS);
