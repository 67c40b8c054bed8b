// The batch page follows its analyses live (issue 14): two algorithms
// started together on one recording land on /batches/N, which shows each
// analysis running with a link to its progress page; a volunteer then
// computes them, static/js/batch.js turns each row to done with a link to
// its result, and offers to reload the figures. The progress page of an
// analysis that waits for a second opinion says so.
const { test, expect } = require('@playwright/test');
const path = require('node:path');
const { startServer, shared } = require('./server');
const { clinician } = require('./api');
const portal = require('./portal');

test('a batch page shows live progress; unfinished analyses link to their progress', async ({ browser }) => {
  const server = await startServer(['--chunk-seconds', '300']);
  const ctx = await browser.newContext();
  try {
    const c = clinician(server, 'batch@example.org');
    const page = await ctx.newPage();
    await portal.login(page, server.base, c.email, c.password);
    const rec = path.join(shared, 'data', 'mitdb', '119');
    const ds = await portal.upload(page, server.base, [`${rec}.hea`, `${rec}.dat`]);

    await page.goto(`${server.base}/analyses/new?dataset=${ds}`);
    const boxes = page.getByTestId('analysis-algorithm');
    for (let i = 0, n = await boxes.count(); i < n; i++) {
      const box = boxes.nth(i);
      await box.setChecked(['ecg.beats@1', 'ecg.hrv@1'].includes(await box.getAttribute('value')));
    }
    await page.getByTestId('analysis-datasets').selectOption(String(ds));
    await page.getByTestId('analysis-start').click();
    await page.waitForURL(/\/batches\/\d+$/);

    const rows = page.getByTestId('batch-analysis');
    await expect(rows).toHaveCount(2);
    for (let i = 0; i < 2; i++) {
      const row = rows.nth(i);
      await expect(row.getByTestId('batch-analysis-status')).toHaveText('running');
      const id = await row.getAttribute('data-analysis-id');
      await expect(row.getByTestId('batch-analysis-link')).toHaveAttribute('href', `/analyses/${id}`);
      await expect(row.getByTestId('batch-analysis-state')).toHaveText('waiting for volunteers');
    }
    await expect(page.getByTestId('analysis-wait-volunteers')).toBeVisible();
    await portal.shot(page, 'batch-running');

    // One native volunteer at quorum 2: its results wait for a second opinion.
    const first = await rows.first().getAttribute('data-analysis-id');
    server.spawn(['volunteer', '--server', server.base, '--workers', '2']);
    const progress = await ctx.newPage();
    await progress.goto(`${server.base}/analyses/${first}`);
    await expect(progress.getByTestId('analysis-wait-second-opinion')).toBeVisible({ timeout: 60_000 });
    await expect(progress.getByTestId('analysis-wait-second-opinion')).toContainText('Quorum 2');
    await expect(progress.getByTestId('analysis-wait-volunteers')).toBeHidden();
    // The batch page, polling the same JSON, says the same.
    await expect(rows.first().getByTestId('batch-analysis-state')).toContainText('waiting for a second opinion');
    await expect(page.getByTestId('analysis-wait-second-opinion')).toBeVisible();
    await expect(page.getByTestId('analysis-wait-volunteers')).toBeHidden();
    await portal.shot(progress, 'analysis-waiting-second-opinion');
    // The portal's result address sends an unfinished analysis to its progress page.
    await progress.goto(`${server.base}/analyses/${first}/result`);
    await expect(progress).toHaveURL(new RegExp(`/analyses/${first}$`));

    // A second volunteer: the batch page, untouched, follows both to done.
    server.spawn(['volunteer', '--server', server.base, '--workers', '2']);
    for (let i = 0; i < 2; i++) {
      const row = rows.nth(i);
      await expect(row.getByTestId('batch-analysis-status')).toHaveText('done', { timeout: 120_000 });
      const id = await row.getAttribute('data-analysis-id');
      await expect(row.getByTestId('batch-analysis-link')).toHaveAttribute('href', `/analyses/${id}/result`);
      await expect(row.getByTestId('batch-analysis-verified')).not.toHaveText('0');
    }
    await expect(page.getByTestId('batch-finished')).toBeVisible();
    await page.getByTestId('batch-finished').getByRole('link').click();
    await expect(page.getByTestId('cohort-metric').first()).toBeVisible();
    await portal.shot(page, 'batch-done');
  } finally {
    await ctx.close();
    await server.stop();
  }
});
