// What the operator (and the test, on the operator's behalf) does: open pages, run the CLI.
import { execFileSync } from 'node:child_process';
import type { APIRequestContext, Page } from '@playwright/test';
import { expect } from './fixtures';
import { operatorPassword, repoRoot, signetBinary, signetEnvironment } from './environment';
import * as check from './check';
import * as find from './find';

/**
 * Opens `path` (the dashboard's home by default), signing in when asked, and waits until the page is
 * hydrated and, on Signing Keys, shows a key set.
 *
 * After a sign-in the router moves to Signing Keys in the browser: the URL and the hydration mark are
 * there at once, while the page is still fetching the keys (it shows "Loading signing keys…"). Only
 * the list's `data-keys-version` says the keys are on the page.
 */
export async function open(page: Page, path = '/'): Promise<void> {
  await page.goto(path);
  if (new URL(page.url()).pathname === '/login') {
    await signIn(page, operatorPassword);
    await expect(page).toHaveURL(/\/tenant\/signing_keys$/);
  }
  await waitForHydration(page);
  if (new URL(page.url()).pathname === '/tenant/signing_keys') await waitForKeys(page);
}

/** Types the operator password on the sign-in page and submits it. */
export async function signIn(page: Page, password: string): Promise<void> {
  await waitForHydration(page);
  await page.getByLabel('Operator password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs out from the top bar. */
export async function signOut(page: Page): Promise<void> {
  await page.getByTestId('sign-out').click();
}

export async function openSigningKeys(page: Page): Promise<void> {
  await open(page, '/tenant/signing_keys');
}

export async function reload(page: Page): Promise<void> {
  await page.reload();
  await waitForHydration(page);
  await waitForKeys(page);
}

/** The app marks `<main data-hydrated="true">` once the WASM has taken over the server-rendered page. */
export async function waitForHydration(page: Page): Promise<void> {
  await expect(find.main(page)).toHaveAttribute('data-hydrated', 'true', { timeout: 15_000 });
}

/** The List of Valid Keys carries the version of the key set it shows once the keys are on the page. */
export async function waitForKeys(page: Page): Promise<void> {
  await expect(find.validKeys(page)).toHaveAttribute('data-keys-version', /^\d+$/, { timeout: 15_000 });
}

/** Runs `signet ARGS…` on the suite's data directory, as an operator would next to the running server. */
export function signet(...args: string[]): string {
  try {
    return execFileSync(signetBinary, args, {
      cwd: repoRoot,
      env: signetEnvironment(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
  } catch (error) {
    const failed = error as { status?: number; stdout?: string; stderr?: string };
    throw new Error(
      `signet ${args.join(' ')} failed (exit ${failed.status}):\n${failed.stderr ?? ''}${failed.stdout ?? ''}`,
    );
  }
}

/**
 * Waits until the running server's JWKS satisfies `ready`. CLI changes reach a running server within
 * two seconds (the spec); five are allowed here.
 */
async function waitForJwks(
  request: APIRequestContext,
  ready: (kids: string[]) => boolean,
  what: string,
): Promise<void> {
  await expect
    .poll(async () => ready(await find.publishedKids(request)), { message: what, timeout: 5_000 })
    .toBe(true);
}

/** `signet keys rotate`, then waits until the server publishes the rotated key set. */
export async function rotateWithCli(request: APIRequestContext): Promise<void> {
  const before = await find.publishedKids(request);
  signet('keys', 'rotate');
  await waitForJwks(
    request,
    (kids) => JSON.stringify(kids) !== JSON.stringify(before),
    'the JWKS changes after `signet keys rotate`',
  );
}

/** `signet keys revoke KID`, then waits until the server stops publishing that key. */
export async function revokeWithCli(request: APIRequestContext, kid: string): Promise<void> {
  signet('keys', 'revoke', kid);
  await waitForJwks(request, (kids) => !kids.includes(kid), `${kid} leaves the JWKS after \`signet keys revoke\``);
}

/** Shows the page in a window of this size and colour scheme, then saves a full-page screenshot. */
export async function screenshot(
  page: Page,
  file: string,
  view: { width: number; height: number; colorScheme: 'light' | 'dark' },
): Promise<void> {
  await page.setViewportSize({ width: view.width, height: view.height });
  await page.emulateMedia({ colorScheme: view.colorScheme });
  await openSigningKeys(page);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' });
}

/** Opens the "…" menu of a key's row. */
export async function openMenu(page: Page, kid: string): Promise<void> {
  await find.keyRow(page, kid).locator('summary').click();
}

/** Chooses an item of a key's "…" menu (opening it first). */
export async function chooseFromMenu(page: Page, kid: string, item: string): Promise<void> {
  await openMenu(page, kid);
  await find.menuItem(page, kid, item).click();
}

/** Confirms the open dialog with its confirming button. */
export async function confirm(page: Page, button: string): Promise<void> {
  await find.confirmDialog(page).getByRole('button', { name: button, exact: true }).click();
}

/** Signs in a fresh browser context of the same browser (a second operator, or one without JavaScript). */
export async function signInElsewhere(page: Page): Promise<void> {
  await page.goto('/login');
  await page.getByLabel('Operator password').fill(operatorPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/tenant\/signing_keys$/);
}

/**
 * Makes sure the page lists a previously used key, rotating with the CLI if there is none (a story
 * run on its own makes its own); returns its kid. `javaScript: false` for a page without it.
 */
export async function ensurePreviousKey(
  page: Page,
  request: APIRequestContext,
  { javaScript = true }: { javaScript?: boolean } = {},
): Promise<string> {
  if (!(await check.settledKeys(page)).some((key) => key.state === 'previous')) {
    await rotateWithCli(request);
    if (javaScript) await reload(page);
    else await page.reload();
  }
  return find.kidIn(await check.settledKeys(page, 'previous'), 'previous');
}

/**
 * From now on, records the fewest rows the List of Valid Keys shows at any moment (every DOM change
 * is looked at), for `check.listNeverEmptied`. The record lives in the window: a reload ends it.
 */
export async function watchListedKeyCount(page: Page): Promise<void> {
  await page.evaluate(() => {
    const rows = () => document.querySelectorAll('[data-testid="valid-keys"] [data-testid="key-row"]').length;
    const record = window as unknown as { signetFewestKeyRows: number };
    record.signetFewestKeyRows = rows();
    new MutationObserver(() => {
      record.signetFewestKeyRows = Math.min(record.signetFewestKeyRows, rows());
    }).observe(document.body, { childList: true, subtree: true, attributes: true });
  });
}
