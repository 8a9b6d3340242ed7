import { defineConfig } from '@playwright/test';
import {
  baseURL,
  leptosSettings,
  signetBinary,
  signetSettings,
} from './tests/support/environment';

// Playwright starts the web server with this process's environment underneath `webServer.env`.
// Drop the caller's SIGNET_* variables (e.g. CI's SIGNET_TEST_DATABASE_URL) first: Signet refuses
// unknown settings, and the suite runs on its own SQLite tenant.
for (const name of Object.keys(process.env)) {
  if (name.startsWith('SIGNET_')) delete process.env[name];
}

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 5_000 },
  // One server, one tenant: the stories run one at a time.
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: 'list',
  outputDir: 'test-results',
  use: {
    baseURL,
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    // Debian's Chromium: Playwright never downloads a browser here.
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  // The scheduled-rotation stories move the server clock an hour ahead and back: a key revoked
  // after that carries an earlier revocation time than the keys the schedule revoked, so they run
  // after every other story of the default tenant, in a project of their own.
  // The signing-algorithm stories change a tenant's key type and rotate it through all eight types:
  // each works on a tenant of its own (made and deleted with the CLI), so the default tenant's keys,
  // its tokens (RS256) and its revocation times stay exactly as the other stories expect. They run
  // after the `chromium` stories all the same, in a project of their own, so the tenants they make
  // (and, should a story fail, leave behind) never show on the Tenants page, in the tenant switcher
  // or in the screenshots those stories take. They neither move the clock nor touch the default
  // tenant, so `scheduled` and they need not wait for each other.
  // The operations stories (the audit trail on the Logs page, and a history of a thousand previous
  // keys) likewise each work on a tenant of their own, made and deleted with the CLI: they rotate
  // and revoke that tenant's keys, a thousand times for the key history, so the default tenant's
  // keys, its trail and the screenshots the other stories take stay exactly as those stories
  // expect. They run after the `chromium` stories for the same reason as the algorithm stories, and
  // neither move the clock nor change the default tenant's keys (their sign-ins add to its trail,
  // as every story's do), so `scheduled`, `algorithms` and they need not wait for each other.
  projects: [
    { name: 'chromium', testIgnore: /(rotation-schedule|algorithms|logs|key-history)\.spec\.ts/ },
    { name: 'algorithms', testMatch: /algorithms\.spec\.ts/, dependencies: ['chromium'] },
    { name: 'scheduled', testMatch: /rotation-schedule\.spec\.ts/, dependencies: ['chromium'] },
    { name: 'operations', testMatch: /(logs|key-history)\.spec\.ts/, dependencies: ['chromium'] },
  ],
  webServer: {
    command: 'bash start-server.sh',
    cwd: __dirname,
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    // First start provisions the tenant (two RSA keys).
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
    env: {
      ...leptosSettings,
      ...signetSettings,
      E2E_SIGNET_BIN: signetBinary,
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
    },
  },
});
