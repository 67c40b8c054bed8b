// Scenario 5 of issue 6: owner-only data, cross-origin protection, logout.
// - A second clinician can neither see nor fetch the first one's dataset,
//   analysis or result: the portal pages and the JSON API (with B's token
//   or B's session cookie) answer 404, and B's lists do not show them.
// - A forged cross-origin POST carrying A's session cookie (Origin:
//   http://evil.example, Sec-Fetch-Site: cross-site) is rejected with 403,
//   and a real form on another origin that posts to the delete address
//   deletes nothing.
// - After logout the old session cookie no longer opens anything.
const { test, expect } = require('@playwright/test');
const http = require('node:http');
const path = require('node:path');
const { startServer, shared } = require('./server');
const { clinician, client } = require('./api');
const portal = require('./portal');

test('clinicians see only their own data; forged cross-origin posts and old sessions fail', async ({ browser }) => {
  // A trusted local worker computes the analysis: no volunteers needed here.
  const server = await startServer(['--local-workers', '1']);
  const contexts = [];
  let evil;
  try {
    const a = clinician(server, 'owner@example.org');
    const b = clinician(server, 'other@example.org');
    const rec = path.join(shared, 'data', 'mitdb', '119');

    const actx = await browser.newContext();
    contexts.push(actx);
    const apage = await actx.newPage();
    await portal.login(apage, server.base, a.email, a.password);
    const ds = await portal.upload(apage, server.base, [`${rec}.hea`, `${rec}.dat`]);
    const an = await portal.startAnalysis(apage, server.base, ds, 'ecg.beats@1');
    await expect(apage.getByTestId('analysis-status')).toHaveText('done', { timeout: 60_000 });
    await apage.goto(`${server.base}/analyses/${an}/result`);
    await expect(apage.getByTestId('result-beats-count')).toBeVisible();

    // B, signed in, sees none of it.
    const bctx = await browser.newContext();
    contexts.push(bctx);
    const bpage = await bctx.newPage();
    await portal.login(bpage, server.base, b.email, b.password);
    await bpage.goto(`${server.base}/datasets`);
    await expect(bpage.getByTestId('datasets-empty')).toBeVisible();
    await bpage.goto(`${server.base}/analyses`);
    await expect(bpage.getByTestId('analysis-row')).toHaveCount(0);
    for (const p of [`/datasets/${ds}`, `/analyses/${an}`, `/analyses/${an}/result`, `/analyses/${an}/strip?from=0&to=10`, `/analyses/new?dataset=${ds}`]) {
      const r = await bpage.goto(`${server.base}${p}`);
      if (p.startsWith('/analyses/new')) {
        // The form may render, but never offers A's dataset.
        expect(r.status(), p).toBeLessThan(500);
        await expect(bpage.locator(`[data-testid="analysis-datasets"] option[value="${ds}"]`)).toHaveCount(0);
      } else {
        expect(r.status(), p).toBe(404);
        await expect(bpage.getByText(/119/)).toHaveCount(0);
      }
    }
    // B's session on the JSON API, and B's API token.
    for (const p of [`/api/v1/datasets/${ds}`, `/api/v1/analyses/${an}`, `/api/v1/analyses/${an}/result?format=csv`]) {
      expect((await bctx.request.get(`${server.base}${p}`)).status(), `${p} with B's session`).toBe(404);
    }
    const bapi = client(server.base, b.token);
    for (const p of [`/datasets/${ds}`, `/analyses/${an}`, `/analyses/${an}/result`, `/analyses/${an}/result?format=csv`]) {
      expect((await bapi.call('GET', p)).status, `GET /api/v1${p} with B's token`).toBe(404);
    }
    expect((await bapi.call('DELETE', `/datasets/${ds}`)).status).toBe(404);
    expect((await bapi.call('DELETE', `/analyses/${an}`)).status).toBe(404);
    expect((await bapi.call('GET', '/datasets')).json).not.toEqual(expect.arrayContaining([expect.objectContaining({ id: ds })]));
    // A still has everything.
    const aapi = client(server.base, a.token);
    expect((await aapi.call('GET', `/datasets/${ds}`)).status).toBe(200);

    // A forged cross-origin POST with A's cookie is rejected.
    const forged = await actx.request.post(`${server.base}/datasets/${ds}/delete`, {
      form: { confirm: 'yes' },
      headers: { Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site' },
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(403);
    const forgedAPI = await actx.request.delete(`${server.base}/api/v1/datasets/${ds}`, {
      headers: { Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site' },
    });
    expect(forgedAPI.status()).toBe(403);
    // A real page on another origin (localhost is not 127.0.0.1) posts the
    // delete form to the server in A's browser.
    evil = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<!doctype html><form id="f" method="post" action="${server.base}/datasets/${ds}/delete">` +
        '<input name="confirm" value="yes"></form><script>document.getElementById("f").submit()</script>');
    });
    await new Promise((r) => evil.listen(0, '127.0.0.1', r));
    const evilPage = await actx.newPage();
    const landed = evilPage.waitForResponse((r) => r.url().startsWith(`${server.base}/datasets/${ds}/delete`));
    await evilPage.goto(`http://localhost:${evil.address().port}/`);
    console.log(`cross-origin form post answered ${(await landed).status()}`);
    expect((await aapi.call('GET', `/datasets/${ds}`)).status).toBe(200);
    expect((await apage.goto(`${server.base}/datasets/${ds}`)).status()).toBe(200);

    // After logout the session cookie opens nothing.
    const cookies = await actx.cookies(server.base);
    expect(cookies.length).toBeGreaterThan(0);
    await apage.goto(`${server.base}/datasets`);
    await portal.logout(apage);
    await apage.goto(`${server.base}/datasets/${ds}`);
    await expect(apage.getByTestId('login-form')).toBeVisible();
    const replay = await browser.newContext();
    contexts.push(replay);
    await replay.addCookies(cookies);
    const rpage = await replay.newPage();
    await rpage.goto(`${server.base}/datasets/${ds}`);
    await expect(rpage.getByTestId('login-form')).toBeVisible();
    await expect(rpage.getByTestId('dataset-name')).toHaveCount(0);
    expect((await replay.request.get(`${server.base}/api/v1/datasets/${ds}`)).status()).toBe(401);
  } finally {
    for (const c of contexts) await c.close();
    if (evil) evil.close();
    await server.stop();
  }
});
