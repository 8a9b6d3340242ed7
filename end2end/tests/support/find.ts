// Finding things on the Signing Keys page and in Signet's public endpoints. No actions, no assertions.
import type { APIRequestContext, Locator, Page } from '@playwright/test';

export type ValidKeyState = 'current' | 'next' | 'previous';

/** The status badge the page shows for each state, as on Auth0's Signing Keys page. */
export const badgeFor: Record<ValidKeyState, string> = {
  current: 'Currently Used',
  next: 'Next in Queue',
  previous: 'Previously Used',
};

/** A row of the List of Valid Keys, as read off the page. */
export interface ListedKey {
  kid: string;
  state: string;
  kidCell: string;
  fingerprint: string;
}

/** A key of the JWKS, with the fields the page is compared to. */
export interface PublishedKey {
  kid: string;
  x5t: string;
}

export const heading = (page: Page): Locator => page.getByRole('heading', { level: 1 });
export const main = (page: Page): Locator => page.locator('main');
export const validKeys = (page: Page): Locator => page.getByTestId('valid-keys');
export const keyRows = (page: Page): Locator => validKeys(page).getByTestId('key-row');
export const keyRowsIn = (page: Page, state: ValidKeyState): Locator =>
  validKeys(page).locator(`[data-testid="key-row"][data-state="${state}"]`);
export const keyRow = (page: Page, kid: string): Locator =>
  validKeys(page).locator(`[data-testid="key-row"][data-kid="${kid}"]`);
export const revokedKeys = (page: Page): Locator => page.getByTestId('revoked-keys');
export const revokedRow = (page: Page, kid: string): Locator =>
  revokedKeys(page).locator(`[data-testid="revoked-row"][data-kid="${kid}"]`);
export const noRevokedKeys = (page: Page): Locator => page.getByTestId('no-revoked-keys');

const FINGERPRINT = /(?:[0-9A-F]{2}:){19}[0-9A-F]{2}/;

/** The List of Valid Keys, top to bottom. */
export async function listedKeys(page: Page): Promise<ListedKey[]> {
  const rows = await keyRows(page).evaluateAll((elements) =>
    elements.map((row) => ({
      kid: row.getAttribute('data-kid') ?? '',
      state: row.getAttribute('data-state') ?? '',
      kidCell: row.querySelector('[data-testid="kid"]')?.textContent?.trim() ?? '',
      fingerprintCell: row.querySelector('[data-testid="fingerprint"]')?.textContent ?? '',
    })),
  );
  return rows.map(({ fingerprintCell, ...row }) => ({
    ...row,
    fingerprint: FINGERPRINT.exec(fingerprintCell)?.[0] ?? fingerprintCell.trim(),
  }));
}

/** The kid of the one listed key in `state` (the first one, for previous keys). */
export function kidIn(keys: ListedKey[], state: ValidKeyState): string {
  const key = keys.find((k) => k.state === state);
  if (!key) throw new Error(`no ${state} key listed; listed: ${JSON.stringify(keys)}`);
  return key.kid;
}

/** GET /.well-known/jwks.json, in the order served. */
export async function publishedKeys(request: APIRequestContext): Promise<PublishedKey[]> {
  const response = await request.get('/.well-known/jwks.json');
  if (!response.ok()) throw new Error(`GET /.well-known/jwks.json: HTTP ${response.status()}`);
  const body = (await response.json()) as { keys: PublishedKey[] };
  return body.keys;
}

export async function publishedKids(request: APIRequestContext): Promise<string[]> {
  return (await publishedKeys(request)).map((key) => key.kid);
}

/** GET /fingerprint: the current key's certificate fingerprint as text. */
export async function currentFingerprint(request: APIRequestContext): Promise<string> {
  const response = await request.get('/fingerprint');
  if (!response.ok()) throw new Error(`GET /fingerprint: HTTP ${response.status()}`);
  return (await response.text()).trim();
}

/** The colon-separated uppercase SHA-1 fingerprint that a JWK's x5t (base64url SHA-1) encodes. */
export function fingerprintOf(key: PublishedKey): string {
  const hex = Buffer.from(key.x5t, 'base64url').toString('hex').toUpperCase();
  return (hex.match(/../g) ?? []).join(':');
}

/** How far the page is wider than the window (0 when nothing scrolls sideways). */
export async function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(() => {
    const root = document.scrollingElement ?? document.documentElement;
    return root.scrollWidth - root.clientWidth;
  });
}

export const confirmDialog = (page: Page): Locator => page.getByTestId('confirm-dialog');
export const toasts = (page: Page): Locator => page.getByTestId('toast');
export const menuItem = (page: Page, kid: string, name: string): Locator =>
  keyRow(page, kid).getByRole('button', { name, exact: true }).or(keyRow(page, kid).getByRole('link', { name, exact: true }));

/** The fewest rows the List of Valid Keys had at any moment since `act.watchListedKeyCount`. */
export async function fewestListedKeys(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { signetFewestKeyRows: number }).signetFewestKeyRows);
}
