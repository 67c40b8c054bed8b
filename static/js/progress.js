// progress.js keeps the analysis progress view current without a reload: it
// polls GET data-status-url (/api/v1/analyses/{id}, authenticated by the
// session cookie) every 2 s until the analysis reaches a terminal status.
//
// It reads "status" and "error" from the answer and, from its "progress"
// object, exactly the fields in PROGRESS_FIELDS: the json tags of
// progressJSON in server/results.go (TestProgressContract fails when the
// two differ, or when this file reads a field that is not in the list).

export const PROGRESS_FIELDS = [
  'chunks_total', 'chunks_verified', 'chunks_queued', 'chunks_running', 'chunks_awaiting_replica',
  'volunteers_working', 'volunteers_connected', 'quorum', 'eta_seconds', 'waiting_for', 'source',
];

const root = document.getElementById('analysis');
const TERMINAL = new Set(['done', 'failed', 'cancelled']);
const PERIOD_MS = 2000;

// formatETA matches views.fmtETA: "unknown" when null, else "16 s",
// "30 min 5 s", "2 h 16 min" (seconds rounded up under a minute).
export const formatETA = (s) => {
  if (s == null || !(s >= 0) || !Number.isFinite(s)) return 'unknown';
  if (s < 60) return `${Math.ceil(s)} s`;
  s = Math.round(s);
  if (s < 3600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
  const m = Math.round(s / 60);
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
};

const setText = (id, value) => {
  const el = document.getElementById(id);
  if (el && value != null) el.textContent = String(value);
};

const show = (id, on) => {
  const el = document.getElementById(id);
  if (el) el.hidden = !on;
};

function apply(a) {
  const p = a.progress || {};
  const status = a.status;
  if (status) {
    const el = document.getElementById('analysis-status');
    el.textContent = status;
    el.className = `badge status-${status}`;
  }
  const bar = document.getElementById('analysis-progress');
  const total = p.chunks_total, verified = p.chunks_verified;
  if (total != null) { bar.max = Math.max(total, 1); setText('analysis-total', total); }
  if (verified != null) {
    bar.value = verified;
    setText('analysis-verified', verified);
    bar.textContent = `${Math.round((100 * verified) / Math.max(total ?? bar.max, 1))} %`;
  }
  // A replica that does not run the grid knows the verified chunks (the
  // database's) but not what the others do, who works, or the time left.
  const live = p.source !== 'database' || TERMINAL.has(status);
  const known = (v) => (live ? v : '–');
  setText('analysis-queued', known(p.chunks_queued));
  setText('analysis-running', known(p.chunks_running));
  setText('analysis-awaiting', known(p.chunks_awaiting_replica));
  setText('analysis-volunteers', known(p.volunteers_working));
  setText('analysis-connected', known(p.volunteers_connected));
  setText('analysis-quorum', p.quorum);
  setText('analysis-eta', TERMINAL.has(status) ? '–' : formatETA(p.eta_seconds));
  show('analysis-wait-volunteers', p.waiting_for === 'volunteers');
  show('analysis-wait-second-opinion', p.waiting_for === 'second_opinion');
  const err = document.getElementById('analysis-error');
  if (a.error) { err.textContent = a.error; err.hidden = false; }
  if (status === 'done') document.getElementById('analysis-result-link').hidden = false;
  if (TERMINAL.has(status)) {
    // A finished analysis can no longer be cancelled, and nothing waits.
    show('analysis-cancel-form', false);
    show('analysis-chunk-states', false);
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
