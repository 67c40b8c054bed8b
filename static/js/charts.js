// Chart text stays readable at every width. The charts are SVG drawn by
// views/charts with a viewBox and scaled by the CSS to their container, so
// on a phone a 1000-unit strip shrinks its 10-unit labels to 4 px. This
// script gives every text of a chart a font size, in user units, of at
// least MIN_PX divided by the chart's scale on screen (never below the size
// the chart was drawn with), and does it again when a chart changes size
// or is swapped in (strip.js replaces the strip's SVG in place). An axis
// title the larger size makes overlap its tick labels moves off them, and
// text pushed out of the drawing widens the chart's viewBox, so that none
// is cut off.
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
  let b = null;
  for (const t of svg.querySelectorAll('text')) {
    const u = userBox(svg, t);
    if (!u) continue;
    b = b ? { x0: Math.min(b.x0, u.x0), y0: Math.min(b.y0, u.y0), x1: Math.max(b.x1, u.x1), y1: Math.max(b.y1, u.y1) } : u;
  }
  return b;
}

// userBox is an element's box on screen in the chart's user units.
function userBox(svg, el) {
  const inv = svg.getScreenCTM()?.inverse();
  const r = el.getBoundingClientRect();
  if (!inv || !r.width) return null;
  const p = new DOMPoint(r.left, r.top).matrixTransform(inv);
  const q = new DOMPoint(r.right, r.bottom).matrixTransform(inv);
  return { x0: p.x, y0: p.y, x1: q.x, y1: q.y };
}

// clearTitles moves the axis titles off the tick labels that the larger
// text made them overlap: the y title to the left, the x title down.
function clearTitles(svg) {
  const shift = (title, ticks, axis) => {
    if (!title) return;
    if (title.dataset.transform === undefined) title.dataset.transform = title.getAttribute('transform') || '';
    title.setAttribute('transform', title.dataset.transform);
    const t = userBox(svg, title);
    const bs = [...svg.querySelectorAll(ticks)].map((e) => userBox(svg, e)).filter(Boolean);
    if (!t || bs.length === 0) return;
    const gap = axis === 'y' ? t.x1 - Math.min(...bs.map((b) => b.x0)) + 2 : Math.max(...bs.map((b) => b.y1)) - t.y0 + 1;
    if (gap <= 0) return;
    const move = axis === 'y' ? `translate(${-gap} 0)` : `translate(0 ${gap})`;
    title.setAttribute('transform', `${move} ${title.dataset.transform}`.trim());
  };
  shift(svg.querySelector('text.label.y'), 'text.tick.y', 'y');
  shift(svg.querySelector('text.label.x'), 'text.tick.x', 'x');
}

// fit sizes the chart's text, then widens its viewBox over whatever text
// the larger size pushed out of the drawing (the rotated y-axis title on a
// phone), and sizes the text again for the scale that gives.
export function fit(svg) {
  if (!scaleOf(svg)) return; // not rendered (hidden, print)
  if (!svg.dataset.viewBox) svg.dataset.viewBox = svg.getAttribute('viewBox') || '';
  const vb = svg.dataset.viewBox.split(/[\s,]+/).map(Number);
  // The width and height attributes give the chart its aspect ratio (the
  // CSS sets its width): they follow the viewBox, so that a taller viewBox
  // makes a taller chart rather than a narrower drawing.
  const setBox = (b) => {
    svg.setAttribute('viewBox', b.join(' '));
    svg.setAttribute('width', String(b[2]));
    svg.setAttribute('height', String(b[3]));
  };
  if (vb.length === 4 && vb.every(Number.isFinite)) setBox(vb);
  sizeText(svg, scaleOf(svg));
  clearTitles(svg);
  if (vb.length !== 4 || !vb.every(Number.isFinite)) return;
  for (let pass = 0; pass < 3; pass++) {
    const b = textBounds(svg);
    if (!b) return;
    const [x, y, w, h] = vb;
    const x0 = Math.min(x, Math.floor(b.x0 - 1)), y0 = Math.min(y, Math.floor(b.y0 - 1));
    const x1 = Math.max(x + w, Math.ceil(b.x1 + 1)), y1 = Math.max(y + h, Math.ceil(b.y1 + 1));
    if (x0 === x && y0 === y && x1 === x + w && y1 === y + h) return;
    vb.splice(0, 4, x0, y0, x1 - x0, y1 - y0);
    setBox(vb);
    sizeText(svg, scaleOf(svg));
    clearTitles(svg);
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
