// What the operator expects to see. Each check is one sentence of the story.
import type { APIRequestContext, APIResponse, Page } from '@playwright/test';
import { expect } from './fixtures';
import * as find from './find';

export async function onSigningKeysPage(page: Page): Promise<void> {
  await expect(page).toHaveURL(/\/tenant\/signing_keys$/);
  await expect(find.heading(page)).toHaveText('Signing Keys');
  await expect(find.main(page)).toHaveAttribute('data-hydrated', 'true');
}

/** Exactly one row in `state`, wearing that state's badge. */
export async function exactlyOneKeyIn(page: Page, state: find.ValidKeyState): Promise<void> {
  const rows = find.keyRowsIn(page, state);
  await expect(rows).toHaveCount(1);
  await expect(rows).toContainText(find.badgeFor[state]);
}

/** The key is in the List of Valid Keys, in `state`, with that state's badge. */
export async function listedAs(page: Page, kid: string, state: find.ValidKeyState): Promise<void> {
  const row = find.keyRow(page, kid);
  await expect(row).toHaveCount(1);
  await expect(row).toHaveAttribute('data-state', state);
  await expect(row).toContainText(find.badgeFor[state]);
  await expect(row.getByTestId('kid')).toContainText(kid);
}

export async function notAmongValidKeys(page: Page, kid: string): Promise<void> {
  await expect(find.keyRow(page, kid)).toHaveCount(0);
}

export async function amongRevokedKeys(page: Page, kid: string): Promise<void> {
  await expect(find.noRevokedKeys(page)).toHaveCount(0);
  await expect(find.revokedRow(page, kid)).toHaveCount(1);
  await expect(find.revokedRow(page, kid)).toBeVisible();
}

/** The List of Revoked Keys is there, with rows or with its empty state. */
export async function revokedKeysSectionShown(page: Page): Promise<void> {
  await expect(find.revokedKeys(page).or(find.noRevokedKeys(page)).first()).toBeVisible();
}

/** Nothing makes the page scroll sideways (it works at 360 px wide). */
export async function fitsTheWindow(page: Page): Promise<void> {
  expect(await find.sidewaysOverflow(page), 'page width beyond the window, in px').toBeLessThanOrEqual(0);
}

/**
 * The List of Valid Keys once it shows a whole key set (one current and one next key, and a key in
 * `alsoIn` when given), read again until it does: a one-shot read could catch the page between its
 * URL changing and its keys arriving.
 */
export async function settledKeys(page: Page, alsoIn?: find.ValidKeyState): Promise<find.ListedKey[]> {
  let keys: find.ListedKey[] = [];
  const count = (state: string) => keys.filter((key) => key.state === state).length;
  await expect
    .poll(
      async () => {
        keys = await find.listedKeys(page);
        return count('current') === 1 && count('next') === 1 && (!alsoIn || count(alsoIn) > 0);
      },
      { message: `the List of Valid Keys shows one current key, one next key${alsoIn ? ` and a ${alsoIn} key` : ''}` },
    )
    .toBe(true);
  return keys;
}

/** The kids the page lists, top to bottom, are (or become) the kids the JWKS publishes. */
export async function listMatchesJwks(page: Page, request: APIRequestContext): Promise<void> {
  await expect
    .poll(async () => {
      const [listed, published] = await Promise.all([find.listedKeys(page), find.publishedKids(request)]);
      return JSON.stringify(listed.map((key) => key.kid)) === JSON.stringify(published) ? 'same' : { listed, published };
    }, { message: 'the page lists exactly the published JWKS, in order' })
    .toBe('same');
}

/** The kids the page lists, top to bottom, are (or become) the kids the JWKS publishes for Host `domain`. */
export async function listMatchesJwksAt(page: Page, domain: string): Promise<void> {
  await expect
    .poll(async () => {
      const [listed, published] = await Promise.all([find.listedKeys(page), find.publishedKidsAt(domain)]);
      const kids = listed.map((key) => key.kid);
      return JSON.stringify(kids) === JSON.stringify(published) ? 'same' : { listed: kids, published };
    }, { message: `the page lists exactly the JWKS published for ${domain}, in order` })
    .toBe('same');
}

/** The dashboard shows the tenant named `domain`: in the header's switcher and, on Signing Keys, in the page. */
export async function showsTenant(page: Page, domain: string): Promise<void> {
  await expect(find.currentTenant(page)).toHaveText(domain);
  if (new URL(page.url()).pathname === '/tenant/signing_keys') {
    await expect(find.tenantDomain(page)).toHaveText(domain);
  }
}

/** Since `act.watchListedKeyCount`, the List of Valid Keys never showed fewer than a current and a next key. */
export async function listNeverEmptied(page: Page): Promise<void> {
  expect(await find.fewestListedKeys(page), 'the fewest rows the List of Valid Keys showed').toBeGreaterThanOrEqual(2);
}

/**
 * Signet refused the request with `status` and Auth0's error body: `errorCode` names the rule, and the
 * message says it in words (matching `mentions`).
 */
export async function refused(
  response: Pick<APIResponse, 'status' | 'text'>,
  errorCode: string,
  { status = 400, mentions }: { status?: number; mentions?: RegExp } = {},
): Promise<void> {
  const text = await response.text();
  expect(response.status(), `refused as ${errorCode}: ${text}`).toBe(status);
  const body = JSON.parse(text) as { statusCode: number; error: string; message: string; errorCode: string };
  expect(body, 'an Auth0 error body').toMatchObject({ statusCode: status, errorCode });
  expect(typeof body.error).toBe('string');
  expect(body.message, 'the message says which rule').toMatch(mentions ?? /\S/);
}

/** The window act.markWindow marked is still there: the page was not reloaded. */
export async function windowStillMarked(page: Page): Promise<void> {
  expect(
    await page.evaluate(() => (window as unknown as { signetMark?: number }).signetMark),
    'the page was not reloaded',
  ).toBe(1);
}
