// grid.js keeps /admin/grid current without a reload: every 5 s it polls
// GET data-status-url (/api/v1/grid, the session cookie authenticates it),
// the JSON the page was rendered from, and redraws the figures, the queue,
// the node table and the charts of the last hour.
//
// It reads exactly the fields listed below: the json tags of gridJSON,
// queueJSON, nodeJSON and grid.Minute (TestGridContract in
// server/grid_internal_test.go fails when a list and the Go type differ,
// or when this file reads g.X, q.X, n.X or m.X outside its list).

export const GRID_FIELDS = [
  'volunteers', 'local_workers', 'auditors', 'active_leases', 'analyses_running', 'chunks_unverified',
  'trusted_volunteers', 'chunks_verified_per_minute', 'history', 'chunks_failed_total', 'queue', 'nodes', 'updated',
];
export const QUEUE_FIELDS = ['priority', 'analyses', 'chunks_pending', 'chunks_verified'];
export const NODE_FIELDS = [
  'id', 'nickname', 'kind', 'online', 'requests', 'leased', 'completed', 'accepted', 'failed',
  'avg_completion_ms', 'reputation', 'last_seen',
];
export const MINUTE_FIELDS = ['start', 'chunks_verified', 'chunks_failed', 'volunteers', 'leases', 'chunks_unverified'];

const PERIOD_MS = 5000;
const MINUTES = 60;
const SVG = 'http://www.w3.org/2000/svg';

// fmtNum matches views.fmtNum: dec decimals, "–" for no number, never "-0.0".
export const fmtNum = (v, dec) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  const s = v.toFixed(dec);
  return /^-[0.]*$/.test(s) ? s.slice(1) : s;
};

// fmtTime matches views.fmtTime: "2026-12-04 18:46 UTC", "never" for Go's zero time.
export const fmtTime = (iso) => {
  const t = Date.parse(iso);
  if (!iso || Number.isNaN(t) || iso.startsWith('0001-')) return 'never';
  return `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
};

// fmtCompletion matches views.fmtCompletion.
export const fmtCompletion = (ms, completed) => {
  if (!completed) return '–';
  if (ms >= 1000) return `${fmtNum(ms / 1000, 2)} s`;
  if (ms >= 1) return `${ms} ms`;
  return '< 1 ms';
};

const byTestId = (root, id) => root.querySelector(`[data-testid="${id}"]`);
const setText = (root, id, v) => { const el = byTestId(root, id); if (el) el.textContent = String(v); };

function applyQueue(root, queue) {
  for (const q of queue || []) {
    const row = root.querySelector(`tr[data-priority="${q.priority}"]`);
    if (!row) continue;
    setText(row, 'queue-analyses', q.analyses);
    setText(row, 'queue-pending', q.chunks_pending);
    setText(row, 'queue-verified', q.chunks_verified);
  }
}

function cell(tr, testid, text, cls) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  if (testid) td.dataset.testid = testid;
  td.textContent = text;
  tr.append(td);
  return td;
}

// nodeRow builds a row as views.Grid renders it.
function nodeRow(n) {
  const tr = document.createElement('tr');
  tr.dataset.testid = 'grid-node-row';
  tr.dataset.node = n.id;
  if (n.online) tr.dataset.online = '';
  else tr.className = 'offline';
  const id = cell(tr, '', '', 'nowrap');
  const code = document.createElement('code');
  code.className = 'node-id';
  code.dataset.testid = 'node-id';
  code.textContent = n.id;
  id.append(code);
  if (n.nickname) {
    const nick = document.createElement('span');
    nick.className = 'one-line';
    nick.title = n.nickname;
    nick.dataset.testid = 'node-nickname';
    nick.textContent = n.nickname;
    id.append(' ', nick);
  }
  const kind = cell(tr, 'node-kind', n.kind);
  if (!n.online) {
    const off = document.createElement('span');
    off.className = 'muted';
    off.textContent = '(offline)';
    kind.append(' ', off);
  }
  cell(tr, 'node-requests', n.requests, 'num');
  cell(tr, 'node-leased', n.leased, 'num');
  cell(tr, 'node-completed', n.completed, 'num');
  cell(tr, 'node-accepted', n.accepted, 'num');
  cell(tr, 'node-failed', n.failed, 'num');
  cell(tr, 'node-avg-completion', fmtCompletion(n.avg_completion_ms, n.completed), 'num').dataset.ms = String(n.avg_completion_ms);
  cell(tr, 'node-reputation', fmtNum(n.reputation, 0), 'num');
  cell(tr, 'node-last-seen', n.online ? 'now' : fmtTime(n.last_seen), 'nowrap');
  return tr;
}

// series are the charts: the value of each minute, and the value now.
const series = {
  verified: { minute: (m) => m.chunks_verified, now: (g) => g.chunks_verified_per_minute, dec: 1 },
  volunteers: { minute: (m) => m.volunteers, now: (g) => g.volunteers + g.local_workers, dec: 0 },
  unverified: { minute: (m) => m.chunks_unverified, now: (g) => g.chunks_unverified, dec: 0 },
};

// TICK_MINUTES is the step of the time axis: a gridline, and a label the
// page renders ("45 min ago"), every quarter of an hour.
const TICK_MINUTES = 15;

// niceMax is the top of a chart's scale: the peak rounded up to 1, 2 or 5
// times a power of ten (at least 1), so that its half is a round number too
// when it is even.
export const niceMax = (peak) => {
  if (!(peak > 1)) return 1;
  const p = 10 ** Math.floor(Math.log10(peak));
  for (const k of [1, 2, 5, 10]) if (k * p >= peak) return k * p;
  return 10 * p;
};

const line = (x1, y1, x2, y2, cls) => {
  const l = document.createElementNS(SVG, 'line');
  for (const [k, v] of Object.entries({ x1, y1, x2, y2 })) l.setAttribute(k, String(v));
  l.setAttribute('class', cls);
  l.setAttribute('vector-effect', 'non-scaling-stroke');
  return l;
};

// drawChart draws one bar a minute over the last hour, the newest on the
// right, over gridlines every TICK_MINUTES and at the scale's half and top
// (labelled beside the chart); a minute the grid has no record of has no bar.
function drawChart(fig, g) {
  const s = series[fig.dataset.series];
  const svg = fig.querySelector('svg');
  if (!s || !svg) return;
  const end = Math.floor(Date.parse(g.updated) / 60000);
  const bars = [];
  for (const m of g.history || []) {
    const ago = end - Math.floor(Date.parse(m.start) / 60000);
    if (ago >= 0 && ago < MINUTES) bars.push({ ago, v: s.minute(m) });
  }
  const now = s.now(g);
  const peak = Math.max(0, ...bars.map((b) => b.v));
  const top = niceMax(peak);
  const [w, h] = [600, 60];
  const bw = w / MINUTES;
  const grid = [];
  for (let ago = TICK_MINUTES; ago < MINUTES; ago += TICK_MINUTES) grid.push(line(w - ago * bw, 0, w - ago * bw, h, 'tick x'));
  grid.push(line(0, h / 2, w, h / 2, 'tick y'), line(0, 0.5, w, 0.5, 'tick y'));
  svg.replaceChildren(...grid, ...bars.map((b) => {
    const r = document.createElementNS(SVG, 'rect');
    const bh = Math.max((b.v / top) * h, b.v > 0 ? 1 : 0);
    r.setAttribute('x', String(w - (b.ago + 1) * bw + 1));
    r.setAttribute('width', String(bw - 2));
    r.setAttribute('y', String(h - bh));
    r.setAttribute('height', String(bh));
    return r;
  }));
  fig.dataset.bars = String(bars.length);
  fig.querySelector('[data-field="now"]').textContent = fmtNum(now, s.dec);
  fig.querySelector('[data-field="peak"]').textContent = fmtNum(peak, 0);
  fig.querySelector('[data-field="y-top"]').textContent = fmtNum(top, 0);
  fig.querySelector('[data-field="y-half"]').textContent = fmtNum(top / 2, top % 2 ? 1 : 0);
}

export function apply(root, g) {
  setText(root, 'grid-volunteers', g.volunteers + g.local_workers);
  setText(root, 'grid-slots', g.active_leases);
  setText(root, 'grid-rate', fmtNum(g.chunks_verified_per_minute, 1));
  setText(root, 'grid-failed', g.chunks_failed_total);
  applyQueue(root, g.queue);
  const body = root.querySelector('[data-testid="grid-nodes"] tbody');
  if (body && g.nodes) body.replaceChildren(...g.nodes.map(nodeRow));
  for (const fig of root.querySelectorAll('figure[data-series]')) drawChart(fig, g);
  const at = document.getElementById('grid-updated-at');
  if (at) at.textContent = fmtTime(g.updated);
  root.dataset.refreshes = String(Number(root.dataset.refreshes || 0) + 1);
}

async function poll(root) {
  if (!document.hidden) {
    try {
      const res = await fetch(root.dataset.statusUrl, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
      if (res.ok) apply(root, await res.json());
    } catch {
      // The server restarts or the network drops: try again at the next tick.
    }
  }
  setTimeout(() => poll(root), PERIOD_MS);
}

const root = typeof document !== 'undefined' && document.getElementById('grid');
if (root) poll(root);
