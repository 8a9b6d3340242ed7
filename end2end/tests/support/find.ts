// Finding things on the dashboard's pages and in Signet's public endpoints. No actions, no assertions
// (`requestAt` also carries act's requests to a tenant's host).
import { readFileSync } from 'node:fs';
import http, { type OutgoingHttpHeaders } from 'node:http';
import type { APIRequestContext, Locator, Page } from '@playwright/test';
import { clockFile, port } from './environment';

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
/** The Rotation Schedule card: what the schedule does, and when it rotates next. */
export const rotationSchedule = (page: Page): Locator => page.getByTestId('rotation-schedule');
/** The card's "Next automatic rotation: …", there only while a schedule is set. */
export const nextRotation = (page: Page): Locator => rotationSchedule(page).getByTestId('next-rotation');
/** A previous key's "Will be revoked automatically on …", there only while the schedule will revoke it. */
export const autoRevocation = (page: Page, kid: string): Locator => keyRow(page, kid).getByTestId('auto-revoke');
/**
 * How the page's timestamps name an instant on hover (their `title`): the server's ISO string, read
 * as UTC. The shown text is the browser's local time, so this is what ties a shown instant to the API's.
 */
export const utcTitle = (iso: string): string => `${iso.replace('T', ' ').replace(/Z$/, '')} UTC`;
export const toasts = (page: Page): Locator => page.getByTestId('toast');
export const menuItem = (page: Page, kid: string, name: string): Locator =>
  keyRow(page, kid).getByRole('button', { name, exact: true }).or(keyRow(page, kid).getByRole('link', { name, exact: true }));

/** The fewest rows the List of Valid Keys had at any moment since `act.watchListedKeyCount`. */
export async function fewestListedKeys(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { signetFewestKeyRows: number }).signetFewestKeyRows);
}

/** A key row's usage cell: how many tokens the key signed and, on previous keys, whether any is still live. */
export const keyUsage = (page: Page, kid: string): Locator => keyRow(page, kid).getByTestId('key-usage');

/** A key row's usage cell as read off the page. */
export interface ShownUsage {
  tokensSigned: string | null;
  safeToRevoke: string | null;
  liveUntil: string | null;
  text: string;
}

/** The usage cell of `kid`'s row as the page shows it now (read without waiting), or null if not listed. */
export async function shownUsage(page: Page, kid: string): Promise<ShownUsage | null> {
  const cells = await keyUsage(page, kid).evaluateAll((elements) =>
    elements.map((cell) => ({
      tokensSigned: cell.getAttribute('data-tokens-signed'),
      safeToRevoke: cell.getAttribute('data-safe-to-revoke'),
      liveUntil: cell.getAttribute('data-live-until'),
      text: (cell.textContent ?? '').replace(/\s+/g, ' ').trim(),
    })),
  );
  return cells[0] ?? null;
}

/** GET /api/v2/keys/signing/{kid}/usage, as the Management API reports it. */
export interface KeyUsage {
  kid: string;
  tokens_signed: number;
  first_signed_at: string | null;
  last_signed_at: string | null;
  live_tokens_until: string | null;
  safe_to_revoke: boolean;
}

export async function usage(request: APIRequestContext, token: string, kid: string): Promise<KeyUsage> {
  const response = await request.get(`/api/v2/keys/signing/${encodeURIComponent(kid)}/usage`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (response.status() !== 200) {
    throw new Error(`GET /api/v2/keys/signing/${kid}/usage: HTTP ${response.status()} ${await response.text()}`);
  }
  return (await response.json()) as KeyUsage;
}

/** GET /api/v2/keys/signing/policy: the rotation schedule and what it will do, as the Management API reports it. */
export interface RotationPolicy {
  rotate_every_seconds: number | null;
  revoke_previous_after_seconds: number | null;
  next_rotation_at: string | null;
  publication_window_seconds: number;
  signing_alg: string;
  key_size: number;
  next_revocation_at: string | null;
  scheduled_revocations: { kid: string; revoke_at: string }[];
}

export async function rotationPolicy(request: APIRequestContext, token: string): Promise<RotationPolicy> {
  const response = await request.get('/api/v2/keys/signing/policy', { headers: { Authorization: `Bearer ${token}` } });
  if (response.status() !== 200) {
    throw new Error(`GET /api/v2/keys/signing/policy: HTTP ${response.status()} ${await response.text()}`);
  }
  return (await response.json()) as RotationPolicy;
}

/** The kid of the current key, as GET /api/v2/keys/signing reports it. */
export async function currentKidFromApi(request: APIRequestContext, token: string): Promise<string> {
  const response = await request.get('/api/v2/keys/signing', { headers: { Authorization: `Bearer ${token}` } });
  if (response.status() !== 200) throw new Error(`GET /api/v2/keys/signing: HTTP ${response.status()}`);
  const keys = (await response.json()) as { kid: string; current: boolean }[];
  const current = keys.find((key) => key.current);
  if (!current) throw new Error(`no current key in ${JSON.stringify(keys)}`);
  return current.kid;
}

/** How many seconds the server's test clock runs ahead of the system clock (missing or empty file: 0). */
export function serverClockAhead(): number {
  let written = '';
  try {
    written = readFileSync(clockFile, 'utf8').trim();
  } catch {
    return 0;
  }
  return written === '' ? 0 : Number.parseInt(written, 10);
}

/** The server's "now", in whole seconds since the epoch (what `exp` is measured against). */
export function serverNow(): number {
  return Math.floor(Date.now() / 1000) + serverClockAhead();
}

/** The header's tenant switcher (a `<details>` menu), on every signed-in page. */
export const tenantSwitcher = (page: Page): Locator => page.getByTestId('tenant-switcher');
/** The domain of the tenant the dashboard shows, in the switcher's summary. */
export const currentTenant = (page: Page): Locator => tenantSwitcher(page).getByTestId('current-tenant');
/** The switcher's button for the tenant named `domain` (its value and its text are the domain). */
export const switchTo = (page: Page, domain: string): Locator =>
  tenantSwitcher(page).locator(`button[data-testid="switch-to"][value="${domain}"]`);
/** The Signing Keys page's own mention of its tenant, in the page header. */
export const tenantDomain = (page: Page): Locator => page.getByTestId('tenant-domain');
/** The rows of the Tenants page's table. */
export const tenantRows = (page: Page): Locator => page.getByTestId('tenant-row');
export const tenantRow = (page: Page, domain: string): Locator =>
  page.locator(`[data-testid="tenant-row"][data-domain="${domain}"]`);
/** The Tenants page's notice after a tenant was created. */
export const tenantCreated = (page: Page): Locator => page.getByTestId('tenant-created');

/** An answer to `requestAt`, read as Playwright's APIResponse is read. */
export interface HostResponse {
  status(): number;
  ok(): boolean;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/**
 * One request to the suite's server with `Host: domain`. Signet answers as the tenant the host
 * names (any other host: the default tenant): its JWKS, its token endpoint, its Management API. No
 * cookie is sent, as for any relying party or machine client. Playwright's request context keeps its
 * own Host, hence node:http, on a fresh connection each time.
 */
export function requestAt(
  domain: string,
  method: string,
  path: string,
  { headers = {}, body, timeoutMs = 30_000 }: { headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<HostResponse> {
  const what = `${method} ${path} (Host: ${domain})`;
  return new Promise((resolve, reject) => {
    const sent: OutgoingHttpHeaders = { ...headers, Host: domain };
    if (body !== undefined) sent['Content-Length'] = Buffer.byteLength(body);
    const request = http.request({ host: '127.0.0.1', port, method, path, headers: sent, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = response.statusCode ?? 0;
        resolve({
          status: () => status,
          ok: () => status >= 200 && status < 300,
          text: async () => text,
          json: async () => {
            try {
              return JSON.parse(text) as unknown;
            } catch (error) {
              throw new Error(`${what}: HTTP ${status}, not JSON (${String(error)}): ${text}`);
            }
          },
        });
      });
    });
    request.on('error', reject);
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`${what}: no answer in ${timeoutMs / 1000} s`)));
    request.end(body);
  });
}

/** A Management API request (`data`, if any, as a JSON body) to the tenant named `domain`, with `token`. */
export function apiAt(domain: string, method: string, path: string, token: string, data?: unknown): Promise<HostResponse> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (data === undefined) return requestAt(domain, method, path, { headers });
  return requestAt(domain, method, path, {
    headers: { ...headers, 'Content-Type': 'application/json' },
    body: JSON.stringify(data),
  });
}

/** GET /.well-known/jwks.json with `Host: domain`, the body exactly as served: that tenant's JWKS. */
export async function jwksBodyAt(domain: string): Promise<string> {
  const response = await requestAt(domain, 'GET', '/.well-known/jwks.json', { timeoutMs: 10_000 });
  const body = await response.text();
  if (response.status() !== 200) {
    throw new Error(`GET /.well-known/jwks.json (Host: ${domain}): HTTP ${response.status()} ${body}`);
  }
  return body;
}

/** The kids of a JWKS body, in the order served. */
export function kidsOf(jwksBody: string): string[] {
  return (JSON.parse(jwksBody) as { keys: PublishedKey[] }).keys.map((key) => key.kid);
}

/** The kids the tenant named `domain` publishes (by Host), in the order served. */
export async function publishedKidsAt(domain: string): Promise<string[]> {
  return kidsOf(await jwksBodyAt(domain));
}

/** A key of a JWKS with every member it may carry: RSA (`n`, `e`), EC (`crv`, `x`, `y`), OKP (`crv`, `x`). */
export interface Jwk extends PublishedKey {
  alg: string;
  kty: string;
  use: string;
  x5c: string[];
  n?: string;
  e?: string;
  crv?: string;
  x?: string;
  y?: string;
}

/** The keys the tenant named `domain` publishes (by Host), in the order served, every member as served. */
export async function publishedKeysAt(domain: string): Promise<Jwk[]> {
  return (JSON.parse(await jwksBodyAt(domain)) as { keys: Jwk[] }).keys;
}

/** A key object of GET /api/v2/keys/signing (Auth0's fields, and the key's type). */
export interface SigningKey {
  kid: string;
  current: boolean;
  next: boolean;
  previous: boolean;
  revoked: boolean;
  /** The JWS algorithm the key signs with: RS256, PS256, ES256 or EdDSA. */
  alg: string;
  /** Bits: the RSA modulus (2048, 3072, 4096), or 256 for P-256 and Ed25519. */
  key_size: number;
  fingerprint: string;
  thumbprint: string;
}

/** GET /api/v2/keys/signing of the tenant named `domain`: its valid keys, then its most recent revoked ones. */
export async function signingKeysAt(domain: string, token: string): Promise<SigningKey[]> {
  const response = await apiAt(domain, 'GET', '/api/v2/keys/signing', token);
  if (response.status() !== 200) {
    throw new Error(`GET /api/v2/keys/signing (Host: ${domain}): HTTP ${response.status()} ${await response.text()}`);
  }
  return (await response.json()) as SigningKey[];
}

/** GET /api/v2/keys/signing/policy of the tenant named `domain`. */
export async function rotationPolicyAt(domain: string, token: string): Promise<RotationPolicy> {
  const response = await apiAt(domain, 'GET', '/api/v2/keys/signing/policy', token);
  if (response.status() !== 200) {
    throw new Error(
      `GET /api/v2/keys/signing/policy (Host: ${domain}): HTTP ${response.status()} ${await response.text()}`,
    );
  }
  return (await response.json()) as RotationPolicy;
}

/** The values of a select's options, in order. */
export function optionValues(select: Locator): Promise<string[]> {
  return select.evaluate((element) => Array.from((element as HTMLSelectElement).options, (option) => option.value));
}

/** The Signing Algorithm card: the type of the key that signs, and of the next key when it differs. */
export const signingAlgorithm = (page: Page): Locator => page.getByTestId('signing-algorithm');
/** The card's type of the current key, e.g. `RS256 (2048-bit)`. */
export const currentAlg = (page: Page): Locator => signingAlgorithm(page).getByTestId('current-alg');
/** The card's "Next key: ALG — becomes current at the next rotation", there only while the next key's type differs. */
export const nextKeyAlg = (page: Page): Locator => signingAlgorithm(page).getByTestId('next-key-alg');
/** The dialog "Change Algorithm" opens. */
export const algorithmDialog = (page: Page): Locator => page.getByTestId('algorithm-dialog');
/** A valid key's type, in its row of the List of Valid Keys. */
export const keyAlg = (page: Page, kid: string): Locator => keyRow(page, kid).getByTestId('key-alg');
/** A revoked key's type, in its row of the List of Revoked Keys. */
export const revokedKeyAlg = (page: Page, kid: string): Locator => revokedRow(page, kid).getByTestId('key-alg');

/** The version of the key set the List of Valid Keys shows (`data-keys-version`), read now. */
export async function keysVersion(page: Page): Promise<number> {
  return Number(await validKeys(page).getAttribute('data-keys-version'));
}
