// Time to interactive of the signed-in Signing Keys page, in Debian's Chromium driven by the
// end-to-end suite's Playwright: `node bench/tti.mjs URL SESSION_COOKIE` prints "median max" in
// milliseconds over 5 cold loads (a new browser context each, so nothing is cached), then the
// bytes of WASM the last load took off the wire before it was interactive, and in all (the
// dialogs' code follows once the page is interactive). The page marks the moment hydration
// finished as the performance entry `signet-hydrated`.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../end2end/package.json'));
const { chromium } = require('@playwright/test');

const [url, cookie] = process.argv.slice(2);
if (!url || !cookie || !cookie.includes('=')) {
  console.error('usage: node bench/tti.mjs URL NAME=VALUE');
  process.exit(2);
}
const [name, ...rest] = cookie.split('=');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
});
const times = [];
let wasm = { before: 0, all: 0 };
try {
  for (let run = 0; run < 5; run++) {
    const context = await browser.newContext();
    await context.addCookies([{ name, value: rest.join('='), url }]);
    // The page says when it is interactive on its console, so nothing of Playwright's runs in the
    // page before then: `waitForFunction` injects Playwright's script into it (330 KB, 14–18 ms
    // of the page's main thread in a trace), which ran while the page loaded its WASM.
    await context.addInitScript(() => {
      new PerformanceObserver((marks) => {
        if (marks.getEntriesByName('signet-hydrated').length > 0) console.debug('signet-hydrated');
      }).observe({ type: 'mark' });
    });
    const page = await context.newPage();
    const hydrated = page.waitForEvent('console', {
      predicate: (message) => message.text() === 'signet-hydrated',
      timeout: 10_000,
    });
    await page.goto(url, { waitUntil: 'commit' });
    await hydrated;
    times.push(await page.evaluate(() => performance.getEntriesByName('signet-hydrated')[0].startTime));
    // Every WASM file the page asks for: the dialogs' code is the last, fetched once it is interactive.
    await page.locator('[data-dialogs-ready="true"]').waitFor({ timeout: 10_000 });
    wasm = await page.evaluate(() => {
      const interactive = performance.getEntriesByName('signet-hydrated')[0].startTime;
      const files = performance
        .getEntriesByType('resource')
        .filter((entry) => new URL(entry.name).pathname.endsWith('.wasm'));
      const sum = (list) => list.reduce((total, entry) => total + entry.encodedBodySize, 0);
      return { before: sum(files.filter((entry) => entry.responseEnd <= interactive)), all: sum(files) };
    });
    await context.close();
  }
} finally {
  await browser.close();
}
times.sort((a, b) => a - b);
console.log(`${times[2].toFixed(0)} ${times[4].toFixed(0)} ${wasm.before} ${wasm.all}`);
