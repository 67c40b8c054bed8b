// Helpers that drive the portal the way a person does: through its forms,
// found by their data-testid attributes (views/*.templ).
const fs = require('node:fs');
const path = require('node:path');
const { expect } = require('@playwright/test');

const artifacts = path.resolve(__dirname, '..', 'artifacts');

// shot saves a full-page screenshot under e2e/artifacts/ (git-ignored).
async function shot(page, name) {
  fs.mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

// adminPassword reads the first admin's one-time password from what
// `pulsegrid serve` printed on its first start.
function adminPassword(server) {
  const m = /created the first account: (\S+) \(admin\), one-time password: (\S+)/.exec(server.log());
  if (!m) throw new Error(`serve printed no one-time admin password; its output was:\n${server.log()}`);
  return { email: m[1], password: m[2] };
}

// login signs in through the login form and waits until the form is gone.
async function login(page, base, email, password) {
  await page.goto(`${base}/login`);
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('login-form')).toHaveCount(0);
}

// changePassword fills the forced password change that follows a first
// sign-in with a one-time password.
async function changePassword(page, newPassword) {
  await expect(page.getByTestId('password-forced')).toBeVisible();
  await page.getByTestId('password-new').fill(newPassword);
  await page.getByTestId('password-confirm').fill(newPassword);
  await page.getByTestId('password-submit').click();
  await expect(page.getByTestId('password-form')).toHaveCount(0);
}

// logout presses "Sign out" in the header.
async function logout(page) {
  await page.getByTestId('logout').click();
  await expect(page.getByTestId('logout')).toHaveCount(0);
}

// createUser creates an account on the admin's users page and returns the
// one-time password the page shows once.
async function createUser(page, base, email, role = 'clinician') {
  await page.goto(`${base}/admin/users`);
  await page.getByTestId('user-email').fill(email);
  await page.getByTestId('user-role').selectOption(role);
  await page.getByTestId('user-create').click();
  const pw = (await page.getByTestId('user-onetime-password').textContent()).trim();
  expect(pw.length).toBeGreaterThanOrEqual(8);
  return pw;
}

// upload sends files through the upload form and returns the new dataset's
// id, read from the dataset page it leads to.
async function upload(page, base, files) {
  await page.goto(`${base}/datasets/upload`);
  await page.getByTestId('upload-files').setInputFiles(files);
  await page.getByTestId('upload-submit').click();
  await page.waitForURL(/\/datasets\/\d+$/, { timeout: 60_000 });
  return Number(/\/datasets\/(\d+)$/.exec(page.url())[1]);
}

// startAnalysis starts one algorithm on one dataset through the "new
// analysis" form and returns the analysis id from the progress page.
async function startAnalysis(page, base, datasetId, algorithm, params = '') {
  await page.goto(`${base}/analyses/new?dataset=${datasetId}`);
  const boxes = page.getByTestId('analysis-algorithm');
  for (let i = 0, n = await boxes.count(); i < n; i++) {
    const box = boxes.nth(i);
    await box.setChecked((await box.getAttribute('value')) === algorithm);
  }
  await page.getByTestId('analysis-datasets').selectOption(String(datasetId));
  if (params) await page.getByTestId('analysis-params').fill(params);
  await page.getByTestId('analysis-start').click();
  await page.waitForURL(/\/analyses\/\d+$/);
  await expect(page.getByTestId('analysis')).toBeVisible();
  return Number(/\/analyses\/(\d+)$/.exec(page.url())[1]);
}

// startDonating opens /donate in a new page of ctx and presses Start.
async function startDonating(ctx, base, cpu) {
  const page = await ctx.newPage();
  await page.goto(`${base}/donate`);
  if (cpu) await page.getByTestId('donate-cpu').selectOption(String(cpu));
  await page.getByTestId('donate-start').click();
  return page;
}

module.exports = { shot, adminPassword, login, changePassword, logout, createUser, upload, startAnalysis, startDonating, artifacts };
