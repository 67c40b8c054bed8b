// The Content-Security-Policy's connect-src 'self' in a real Chromium: a
// page of the portal may open a websocket to its own host (the volunteer
// worker's /ws/volunteer) and fetch from it, but neither to another host:
// the browser blocks those with a securitypolicyviolation.
const { test, expect } = require('@playwright/test');
const { startServer } = require('./server');

test("connect-src 'self' admits this host's websocket and refuses another host's", async ({ page }) => {
  const server = await startServer();
  try {
    await page.goto(`${server.base}/donate`);
    const result = await page.evaluate(async () => {
      const violations = [];
      document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`));
      const open = (url) => new Promise((resolve) => {
        let ws;
        try { ws = new WebSocket(url); } catch (e) { resolve(`threw ${e.name}`); return; }
        ws.onopen = () => { ws.close(); resolve('open'); };
        ws.onerror = () => resolve('error');
        setTimeout(() => resolve('timeout'), 5000);
      });
      const same = await open(`ws://${location.host}/ws/volunteer`);
      // 127.0.0.2 is loopback too: only the policy can stop the connection.
      const other = await open(`ws://127.0.0.2:${location.port}/ws/volunteer`);
      let fetched;
      try { await fetch(`http://127.0.0.2:${location.port}/healthz`); fetched = 'fetched'; } catch (e) { fetched = `refused ${e.name}`; }
      await new Promise((r) => setTimeout(r, 200));
      return { same, other, fetched, violations };
    });
    expect(result.same).toBe('open');
    expect(result.other).not.toBe('open');
    expect(result.fetched).not.toBe('fetched');
    expect(result.violations.some((v) => v.startsWith('connect-src') && v.includes('ws://127.0.0.2'))).toBe(true);
  } finally {
    await server.stop();
  }
});
