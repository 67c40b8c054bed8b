// strip.js makes the ECG strip scrollable and zoomable in place. It fetches
// GET data-strip-url?from=S&to=S (/analyses/{id}/strip), which answers the
// SVG of that window (views.StripFragment), and swaps it into #strip-svg.
// Links carrying data-strip-from (alarm episodes on the timeline and in the
// table) move the strip to that time. Without this script the earlier/later
// links reload the result page at the next window. The Holter report's seek
// buttons (data-strip-seek: next/previous event or beat of a class) are
// plain links that the server answers with a redirect to the target's
// window with its cursor; this script keeps their from/to at the window
// shown (a window moved here drops the cursor: the search starts from the
// window). The redirect's fragment is the pressed button's id, so the
// browser gives it the focus again and Enter pressed again goes on.

const root = document.getElementById('strip');
if (root) {
  const svgBox = document.getElementById('strip-svg');
  const range = document.getElementById('strip-position');
  const windowSel = document.getElementById('strip-window');
  const out = document.getElementById('strip-time');
  const prev = root.querySelector('[data-strip-step="-1"]');
  const next = root.querySelector('[data-strip-step="1"]');
  const duration = parseFloat(root.dataset.duration) || 0;
  let from = parseFloat(root.dataset.from) || 0;
  let width = (parseFloat(root.dataset.to) || 10) - from;
  let inflight = null;
  let timer = 0;

  const pad = (v) => String(v).padStart(2, '0');
  const clock = (s) => {
    const t = Math.round(s);
    if (duration >= 3600) return `${Math.floor(t / 3600)}:${pad(Math.floor(t / 60) % 60)}:${pad(t % 60)}`;
    if (duration >= 60) return `${Math.floor(t / 60)}:${pad(t % 60)}`;
    return `${s.toFixed(1)} s`;
  };
  const clamp = (f) => Math.max(0, Math.min(f, Math.max(duration - width, 0)));

  function pageURL(f) {
    const u = new URL(window.location.href);
    u.searchParams.set('from', f.toFixed(3));
    u.searchParams.set('to', (f + width).toFixed(3));
    u.searchParams.delete('cursor');
    u.hash = 'strip';
    return u;
  }

  async function load(f) {
    from = clamp(f);
    range.max = Math.max(duration - width, 0).toFixed(3);
    range.value = from.toFixed(3);
    out.textContent = `${clock(from)}–${clock(from + width)}`;
    prev.href = pageURL(clamp(from - width)).toString();
    next.href = pageURL(clamp(from + width)).toString();
    history.replaceState(null, '', pageURL(from));
    // The report's seek buttons search from the window shown.
    root.querySelectorAll('[data-strip-seek]').forEach((a) => {
      const u = new URL(a.href);
      u.searchParams.set('from', from.toFixed(3));
      u.searchParams.set('to', (from + width).toFixed(3));
      u.searchParams.delete('cursor');
      a.href = u.toString();
    });
    if (inflight) inflight.abort();
    inflight = new AbortController();
    const url = `${root.dataset.stripUrl}?from=${from.toFixed(3)}&to=${(from + width).toFixed(3)}`;
    root.setAttribute('aria-busy', 'true');
    try {
      const res = await fetch(url, { credentials: 'same-origin', signal: inflight.signal });
      if (res.ok) svgBox.innerHTML = await res.text(); // our own server-rendered SVG
      else out.textContent += ` (could not load: ${res.status})`;
    } catch (e) {
      if (e.name !== 'AbortError') out.textContent += ' (could not load)';
    } finally {
      root.removeAttribute('aria-busy');
    }
  }

  range.addEventListener('input', () => {
    clearTimeout(timer);
    out.textContent = `${clock(+range.value)}–${clock(+range.value + width)}`;
    timer = setTimeout(() => load(parseFloat(range.value)), 150);
  });
  windowSel.addEventListener('change', () => {
    const center = from + width / 2;
    width = parseFloat(windowSel.value) || width;
    load(center - width / 2);
  });
  prev.addEventListener('click', (e) => { e.preventDefault(); load(from - width); });
  next.addEventListener('click', (e) => { e.preventDefault(); load(from + width); });
  root.addEventListener('keydown', (e) => {
    if (e.target === range || e.target === windowSel) return;
    if (e.key === 'ArrowLeft') { e.preventDefault(); load(from - width / 2); }
    if (e.key === 'ArrowRight') { e.preventDefault(); load(from + width / 2); }
  });
  document.addEventListener('click', (e) => {
    const a = e.target.closest && e.target.closest('[data-strip-from]');
    if (!a) return;
    e.preventDefault();
    // Show a second of context before the event.
    load(parseFloat(a.getAttribute('data-strip-from')) - 1);
    root.scrollIntoView({ behavior: 'smooth', block: 'start' });
  });
}
