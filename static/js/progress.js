// progress.js keeps the analysis progress view current without a reload: it
// polls GET data-status-url (/api/v1/analyses/{id}, authenticated by the
// session cookie) every 2 s until the analysis reaches a terminal status.
//
// Fields read from the JSON answer (snake_case; missing ones are left as is):
//   status, chunks_verified, chunks_total, volunteers_working,
//   eta_seconds (negative or null = unknown), error
// A nested "progress" object with the same chunk fields is accepted too.

const root = document.getElementById('analysis');
const TERMINAL = new Set(['done', 'failed', 'cancelled']);
const PERIOD_MS = 2000;

const formatETA = (s) => {
  if (s == null || !(s >= 0)) return 'unknown';
  if (s < 60) return `${Math.ceil(s)} s`;
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
  const pad = (v) => String(v).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
};

const setText = (id, value) => {
  const el = document.getElementById(id);
  if (el && value != null) el.textContent = String(value);
};

function apply(a) {
  const p = a.progress || {};
  const verified = a.chunks_verified ?? p.chunks_verified ?? p.verified;
  const total = a.chunks_total ?? p.chunks_total ?? p.total;
  const status = a.status;
  if (status) {
    const el = document.getElementById('analysis-status');
    el.textContent = status;
    el.className = `badge status-${status}`;
  }
  const bar = document.getElementById('analysis-progress');
  if (total != null) { bar.max = Math.max(total, 1); setText('analysis-total', total); }
  if (verified != null) {
    bar.value = verified;
    setText('analysis-verified', verified);
    bar.textContent = `${Math.round((100 * verified) / Math.max(total ?? bar.max, 1))} %`;
  }
  setText('analysis-volunteers', a.volunteers_working ?? p.volunteers_working);
  if ('eta_seconds' in a || 'eta_seconds' in p) setText('analysis-eta', formatETA(a.eta_seconds ?? p.eta_seconds));
  const err = document.getElementById('analysis-error');
  if (a.error) { err.textContent = a.error; err.hidden = false; }
  if (status === 'done') document.getElementById('analysis-result-link').hidden = false;
  if (TERMINAL.has(status)) {
    // A finished analysis can no longer be cancelled.
    const cancel = document.getElementById('analysis-cancel-form');
    if (cancel) cancel.hidden = true;
  }
  return TERMINAL.has(status);
}

async function poll() {
  try {
    const res = await fetch(root.dataset.statusUrl, {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
      cache: 'no-store',
    });
    if (res.ok) {
      if (apply(await res.json())) {
        root.dataset.terminal = 'true';
        return; // nothing will change any more
      }
    } else if (res.status === 401 || res.status === 403 || res.status === 404) {
      // Signed out, or the analysis was deleted: polling cannot help.
      const err = document.getElementById('analysis-error');
      err.textContent = res.status === 404 ? 'This analysis no longer exists.' : 'Your session has ended; reload the page to sign in again.';
      err.hidden = false;
      return;
    }
  } catch {
    // A network hiccup: try again at the next tick.
  }
  setTimeout(poll, PERIOD_MS);
}

if (root && root.dataset.terminal !== 'true') setTimeout(poll, PERIOD_MS);
