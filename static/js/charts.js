// Chart text stays readable at every width. The charts are SVG drawn by
// views/charts with a viewBox and scaled by the CSS to their container, so
// on a phone a 1000-unit strip shrinks its 10-unit labels to 4 px. This
// script gives every text of a chart a font size, in user units, of at
// least MIN_PX divided by the chart's scale on screen (never below the size
// the chart was drawn with), and does it again when a chart changes size
// or is swapped in (strip.js replaces the strip's SVG in place). Text the
// larger size pushes out of the drawing widens the chart's viewBox, so that
// none is cut off.
const MIN_PX = 11;

function scaleOf(svg) {
  const m = svg.getScreenCTM();
  return m ? Math.hypot(m.a, m.b) : 0;
}

function sizeText(svg, scale) {
  for (const t of svg.querySelectorAll('text')) {
    if (!t.dataset.fontSize) t.dataset.fontSize = String(parseFloat(getComputedStyle(t).fontSize) || MIN_PX);
    const drawn = Number(t.dataset.fontSize);
    // Rounded up to a hundredth of a unit: the rendered size is never under MIN_PX.
    const want = Math.max(drawn, Math.ceil((MIN_PX / scale) * 100) / 100);
    t.setAttribute('font-size', String(want));
  }
}

// textBounds is the box, in the chart's user units, of all its text.
function textBounds(svg) {
  const inv = svg.getScreenCTM()?.inverse();
  if (!inv) return null;
  let b = null;
  for (const t of svg.querySelectorAll('text')) {
    const r = t.getBoundingClientRect();
    if (!r.width) continue;
    const p = new DOMPoint(r.left, r.top).matrixTransform(inv);
    const q = new DOMPoint(r.right, r.bottom).matrixTransform(inv);
    b = b ? { x0: Math.min(b.x0, p.x), y0: Math.min(b.y0, p.y), x1: Math.max(b.x1, q.x), y1: Math.max(b.y1, q.y) }
      : { x0: p.x, y0: p.y, x1: q.x, y1: q.y };
  }
  return b;
}

// fit sizes the chart's text, then widens its viewBox over whatever text
// the larger size pushed out of the drawing (the rotated y-axis title on a
// phone), and sizes the text again for the scale that gives.
export function fit(svg) {
  if (!scaleOf(svg)) return; // not rendered (hidden, print)
  if (!svg.dataset.viewBox) svg.dataset.viewBox = svg.getAttribute('viewBox') || '';
  const vb = svg.dataset.viewBox.split(/[\s,]+/).map(Number);
  if (vb.length === 4 && vb.every(Number.isFinite)) svg.setAttribute('viewBox', vb.join(' '));
  sizeText(svg, scaleOf(svg));
  if (vb.length !== 4 || !vb.every(Number.isFinite)) return;
  for (let pass = 0; pass < 2; pass++) {
    const b = textBounds(svg);
    if (!b) return;
    const [x, y, w, h] = vb;
    const x0 = Math.min(x, Math.floor(b.x0 - 1)), y0 = Math.min(y, Math.floor(b.y0 - 1));
    const x1 = Math.max(x + w, Math.ceil(b.x1 + 1)), y1 = Math.max(y + h, Math.ceil(b.y1 + 1));
    if (x0 === x && y0 === y && x1 === x + w && y1 === y + h) return;
    vb.splice(0, 4, x0, y0, x1 - x0, y1 - y0);
    svg.setAttribute('viewBox', vb.join(' '));
    sizeText(svg, scaleOf(svg));
  }
}

const sized = new ResizeObserver((entries) => { for (const e of entries) fit(e.target); });
const watched = new WeakSet();

function watch(root) {
  for (const svg of root.querySelectorAll('svg.chart')) {
    fit(svg);
    if (!watched.has(svg)) { watched.add(svg); sized.observe(svg); }
  }
}

watch(document);
new MutationObserver((records) => {
  for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1) watch(n.matches('svg.chart') ? n.parentNode : n);
}).observe(document.body, { childList: true, subtree: true });
window.pulsegridCharts = { fit };
