// Benchmarks of the browser volunteer (docs/benchmarks.md, "Browser
// volunteer"); not part of `make e2e`. Run from e2e/:
//   npx playwright test --config bench/playwright.config.js
// JS_FLAGS='--no-liftoff' passes V8 flags to Chromium (to compare tiers).
const base = require('../playwright.config.js');

const launchOptions = { ...base.use.launchOptions };
if (process.env.JS_FLAGS) launchOptions.args = [...launchOptions.args, `--js-flags=${process.env.JS_FLAGS}`];

module.exports = { ...base, testDir: '.', outputDir: '../test-results/bench', timeout: 300_000, use: { ...base.use, launchOptions } };
