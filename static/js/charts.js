// Chart text stays readable at every width. The charts are SVG drawn by
// views/charts with a viewBox and scaled by the CSS to their container, so
// on a phone a 1000-unit strip shrinks its 10-unit labels to 4 px. This
// script gives every text of a chart a font size, in user units, of at
// least MIN_PX divided by the chart's scale on screen (never below the size
// the chart was drawn with), and does it again when a chart changes size
// or is swapped in (strip.js replaces the strip's SVG in place).
const MIN_PX = 11;

function scaleOf(svg) {
  const m = svg.getScreenCTM();
  return m ? Math.hypot(m.a, m.b) : 0;
}

export function fit(svg) {
  const scale = scaleOf(svg);
  if (!scale) return; // not rendered (hidden, print)
  for (const t of svg.querySelectorAll('text')) {
    if (!t.dataset.fontSize) t.dataset.fontSize = String(parseFloat(getComputedStyle(t).fontSize) || MIN_PX);
    const drawn = Number(t.dataset.fontSize);
    // Rounded up to a hundredth of a unit: the rendered size is never under MIN_PX.
    const want = Math.max(drawn, Math.ceil((MIN_PX / scale) * 100) / 100);
    t.setAttribute('font-size', String(want));
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
