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
/** The Signing Keys page's body: `data-dialogs-ready="true"` once its dialogs' code is in. */
export const signingKeysBody = (page: Page): Locator => page.locator('main .page');
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
  /** A response header by name (any case), its values joined by ", "; undefined when absent. */
  header(name: string): string | undefined;
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
        const received = response.headers;
        resolve({
          status: () => status,
          ok: () => status >= 200 && status < 300,
          header: (name) => {
            const value = received[name.toLowerCase()];
            return Array.isArray(value) ? value.join(', ') : value;
          },
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

/** The tabs under a tenant's header: the pages of the tenant the dashboard shows (Signing Keys, Logs). */
export const tenantTabs = (page: Page): Locator => page.getByRole('navigation', { name: 'Tenant pages' });

/**
 * The Logs page's "Live" mark: `data-live="true"` once the page is hydrated and shows the newest
 * events, from when on it puts new events at the top; "false" on an older page.
 */
export const liveMark = (page: Page): Locator => page.getByTestId('live');
export const logTable = (page: Page): Locator => page.getByTestId('log-table');
/** The Logs page's events, top (newest) to bottom. */
export const logRows = (page: Page): Locator => logTable(page).getByTestId('log-row');
/** The Logs page's filter: a plain GET form of the tenant, the kind of event and the actor. */
export const filterTenant = (page: Page): Locator => page.getByTestId('filter-tenant');
export const filterType = (page: Page): Locator => page.getByTestId('filter-type');
export const filterActor = (page: Page): Locator => page.getByTestId('filter-actor');
export const applyFilter = (page: Page): Locator => page.getByTestId('apply-filter');
/** The link to the next page of older events, there while older events exist. */
export const olderEvents = (page: Page): Locator => page.getByTestId('older-events');
/** The link back to the newest events, there on every older page. */
export const newestEvents = (page: Page): Locator => page.getByRole('link', { name: '← Newest events', exact: true });
/** The Logs page's line saying no event matches the filter. */
export const noEvents = (page: Page): Locator => page.getByTestId('no-events');
/** The links that download what the filter shows. */
export const exportCsv = (page: Page): Locator => page.getByTestId('export-csv');
export const exportNdjson = (page: Page): Locator => page.getByTestId('export-ndjson');

/** A row of the Logs page, as read off the page. */
export interface ShownLog {
  /** The tenant's event number. */
  logId: number;
  type: string;
  /** The instant of the Date cell (its `datetime`, ISO-8601 UTC). */
  date: string;
  /** The Event cell: the type and the sentence describing it. */
  event: string;
  actor: string;
  address: string;
  /** The key the event concerns, or "—". */
  kid: string;
  /** The tenant's domain. */
  tenant: string;
  detail: string;
  /** Whether it arrived while the page was open. */
  fresh: boolean;
}

/** The Logs page's rows, top to bottom, read now (without waiting). */
export async function shownLogs(page: Page): Promise<ShownLog[]> {
  const rows = await logRows(page).evaluateAll((elements) =>
    elements.map((row) => ({
      logId: row.getAttribute('data-log-id') ?? '',
      type: row.getAttribute('data-type') ?? '',
      date: row.querySelector('time')?.getAttribute('datetime') ?? '',
      cells: Array.from(row.querySelectorAll('td'), (cell) => (cell.textContent ?? '').replace(/\s+/g, ' ').trim()),
      fresh: row.classList.contains('log-fresh'),
    })),
  );
  return rows.map(({ logId, cells, ...row }) => ({
    ...row,
    logId: Number(logId),
    event: cells[1] ?? '',
    actor: cells[2] ?? '',
    address: cells[3] ?? '',
    kid: cells[4] ?? '',
    tenant: cells[5] ?? '',
    detail: cells[6] ?? '',
  }));
}

/** An event of the audit trail as GET /api/v2/logs returns it: Auth0's log fields, and who acted on which key. */
export interface LogEvent {
  /** The tenant's event number, counting up (a checkpoint for `from`). */
  log_id: string;
  date: string;
  type: string;
  description: string;
  ip: string | null;
  /** The tenant's domain. */
  hostname: string;
  /** `operator`, `cli:<user>`, `schedule`, or a Management API client id. */
  actor: string;
  kid: string | null;
  details: { detail: string };
}

/**
 * GET `path` (`/api/v2/logs?…`) of the tenant named `domain`: its events, and the batch after them
 * that its `Link: <…>; rel="next"` names, if it names one.
 */
export async function logsAt(
  domain: string,
  token: string,
  path: string,
): Promise<{ events: LogEvent[]; next: string | null }> {
  const response = await apiAt(domain, 'GET', path, token);
  if (response.status() !== 200) {
    throw new Error(`GET ${path} (Host: ${domain}): HTTP ${response.status()} ${await response.text()}`);
  }
  const link = response.header('link');
  const next = link === undefined ? null : (/^<([^>]+)>;\s*rel="next"$/.exec(link)?.[1] ?? null);
  return { events: (await response.json()) as LogEvent[], next };
}

/**
 * Every event of the tenant named `domain`, oldest first, read as a log shipper reads them: from
 * checkpoint 0, a hundred at a time, following each Link until a batch comes back empty.
 */
export async function everyLogAt(domain: string, token: string): Promise<LogEvent[]> {
  const events: LogEvent[] = [];
  let path = '/api/v2/logs?from=0&take=100';
  for (;;) {
    const { events: batch, next } = await logsAt(domain, token, path);
    if (batch.length === 0) return events;
    events.push(...batch);
    if (next === null || next === path) {
      throw new Error(`GET ${path} (Host: ${domain}): ${batch.length} events, but no Link to the batch after them (${next})`);
    }
    path = next;
  }
}

/** Every event of `type` of the tenant named `domain`, newest first, searched a page of a hundred at a time. */
export async function logsOfTypeAt(domain: string, token: string, type: string): Promise<LogEvent[]> {
  const events: LogEvent[] = [];
  for (let page = 0; ; page++) {
    const q = encodeURIComponent(`type:${type}`);
    const { events: batch } = await logsAt(domain, token, `/api/v2/logs?q=${q}&page=${page}&per_page=100`);
    events.push(...batch);
    if (batch.length < 100) return events;
  }
}

/**
 * The pager under the List of Valid Keys, there while the previously used keys fill more than one
 * page: which page it shows (`data-page`, from 1) of how many (`data-pages`), and links to the
 * newer and older pages.
 */
export const previousPager = (page: Page): Locator => page.getByTestId('previous-pager');
/** The panel "View details" opens from a key's menu. */
export const keyDetails = (page: Page): Locator => page.getByTestId('key-details');
