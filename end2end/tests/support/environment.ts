// Where the end-to-end server lives, shared by playwright.config.ts (which starts it) and the tests
// (which run `signet` CLI commands against the same data directory while it serves).
// Paths are fixed per checkout, so the runner and every worker process compute the same ones.
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');

/** The release binary that `cargo leptos build --release` writes. */
export const signetBinary = process.env.E2E_SIGNET_BIN ?? path.join(repoRoot, 'target', 'release', 'signet');

/** Emptied by start-server.sh before each run, so every run starts with a freshly provisioned tenant. */
export const dataDir = process.env.E2E_DATA_DIR ?? path.join(repoRoot, 'end2end', '.e2e-data');

/**
 * The test clock: the server and the CLI read the integer number of seconds in this file and run that
 * far ahead of the system clock. It lives in the data directory, so start-server.sh's emptying resets
 * it, and start-server.sh writes "0" into it before the server starts. Stories move time only through it.
 */
export const clockFile = process.env.E2E_CLOCK_FILE ?? path.join(dataDir, 'test-clock');

export const siteRoot = path.join(repoRoot, 'target', 'site');
export const screenshotsDir = path.join(repoRoot, 'docs', 'screenshots');

export const port = Number(process.env.E2E_PORT ?? 3400);
export const listenAddr = `127.0.0.1:${port}`;
export const baseURL = `http://${listenAddr}`;
export const tenantDomain = 'e2e.signet.test';
/** The `iss` of every token the tenant named `domain` signs. */
export const issuerAt = (domain: string): string => `https://${domain}/`;
/** The audience of the Management API tokens that the tenant named `domain` issues from /oauth/token. */
export const managementAudienceAt = (domain: string): string => `https://${domain}/api/v2/`;
/** The `iss` of every token the tenant signs. */
export const issuer = issuerAt(tenantDomain);
/** The audience of Management API tokens from /oauth/token. */
export const managementAudience = managementAudienceAt(tenantDomain);
/** The dashboard's operator password for this suite's server. */
export const operatorPassword = 'e2e operator password';

/** The settings the e2e server and the CLI share: same data directory, same tenant. */
export const signetSettings: Record<string, string> = {
  SIGNET_ADDR: listenAddr,
  SIGNET_DATA_DIR: dataDir,
  SIGNET_TENANT_DOMAIN: tenantDomain,
  SIGNET_ADMIN_PASSWORD: operatorPassword,
  // The stories rotate from the page more than the default five times a day allows.
  SIGNET_ROTATION_LIMIT_PER_DAY: '100',
  // The stories rotate several times in a row (SPEC §12 publication window off).
  SIGNET_PUBLICATION_WINDOW_SECS: '0',
  // Server and CLI share one clock, which the stories move forward by writing into this file.
  SIGNET_TEST_CLOCK_FILE: clockFile,
};

/** Where the server finds the site that cargo-leptos built (it runs outside cargo-leptos). */
export const leptosSettings: Record<string, string> = {
  LEPTOS_SITE_ROOT: siteRoot,
  LEPTOS_SITE_PKG_DIR: 'pkg',
  LEPTOS_OUTPUT_NAME: 'signet',
  LEPTOS_SITE_ADDR: listenAddr,
  LEPTOS_ENV: 'PROD',
};

/**
 * This environment without the caller's own SIGNET_* variables (a developer's settings, or CI's
 * SIGNET_TEST_DATABASE_URL): Signet refuses unknown settings, and the suite must use its own tenant.
 */
export function environmentWithoutSignetSettings(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !name.startsWith('SIGNET_')) kept[name] = value;
  }
  return kept;
}

/** The full environment for a `signet` process of this suite, server or CLI. */
export function signetEnvironment(): Record<string, string> {
  return { ...environmentWithoutSignetSettings(), ...leptosSettings, ...signetSettings };
}
