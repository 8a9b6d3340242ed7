// What the operator (and the test, on the operator's behalf) does: open pages, run the CLI.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { APIRequestContext, APIResponse, Locator, Page } from '@playwright/test';
import { expect } from './fixtures';
import {
  clockFile,
  managementAudience,
  managementAudienceAt,
  operatorPassword,
  repoRoot,
  signetBinary,
  signetEnvironment,
} from './environment';
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

/**
 * The Signing Keys page has loaded: the List of Valid Keys carries the version of the key set it
 * shows, and the dialogs' code, which the page fetches once it is interactive, is in. A story that
 * leaves the page sooner cuts that fetch short, and the browser reports it as a failed request.
 */
export async function waitForKeys(page: Page): Promise<void> {
  await expect(find.validKeys(page)).toHaveAttribute('data-keys-version', /^\d+$/, { timeout: 15_000 });
  await expect(find.signingKeysBody(page)).toHaveAttribute('data-dialogs-ready', 'true', { timeout: 15_000 });
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

const execFileAsync = promisify(execFile);

/**
 * Runs `signet ARGS…` as `signet` does, but without blocking the test's process while it runs: for
 * a story that runs the CLI many times in a row.
 */
export async function signetInBackground(...args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(signetBinary, args, {
      cwd: repoRoot,
      env: signetEnvironment(),
      encoding: 'utf8',
      timeout: 30_000,
    });
    return stdout;
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    throw new Error(
      `signet ${args.join(' ')} failed (exit ${failed.code}):\n${failed.stderr ?? ''}${failed.stdout ?? ''}`,
    );
  }
}

/**
 * Waits until the running server's JWKS satisfies `ready`. CLI changes reach a running server within
 * two seconds (the spec); five are allowed here.
 */
export async function waitForJwks(
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

/**
 * Shows the page (Signing Keys unless `openPage` opens another) in a window of this size and colour
 * scheme, then saves a full-page screenshot.
 */
export async function screenshot(
  page: Page,
  file: string,
  view: { width: number; height: number; colorScheme: 'light' | 'dark' },
  openPage: (page: Page) => Promise<void> = openSigningKeys,
): Promise<void> {
  await page.setViewportSize({ width: view.width, height: view.height });
  await page.emulateMedia({ colorScheme: view.colorScheme });
  await openPage(page);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' });
}

/**
 * Saves a screenshot of the part of the page that `area` covers. Taken of the page, clipped to the
 * area, rather than of the element: the Signing Keys page draws its lists afresh whenever it fetches
 * them again (after an action, or when the live stream announces a change), and an element
 * screenshot fails if its element is replaced meanwhile.
 */
export async function screenshotOf(page: Page, area: Locator, file: string): Promise<void> {
  // The picture is of the area, not of the toasts passing over it: they are dismissed first.
  // All at once inside the page, so a toast fading by itself meanwhile cannot leave a click waiting.
  await page
    .getByTestId('toasts')
    .evaluate((region) => region.querySelectorAll<HTMLButtonElement>('button[aria-label="Dismiss"]').forEach((b) => b.click()));
  await expect(page.getByTestId('toast')).toHaveCount(0);
  // Measured again if the element was replaced between finding and measuring it.
  const measured: { box: Awaited<ReturnType<Locator['boundingBox']>> } = { box: null };
  await expect
    .poll(async () => (measured.box = await area.boundingBox()) !== null, { message: `the area of ${file} is on the page` })
    .toBe(true);
  const { x, y, width, height } = measured.box!;
  const scrolled = await page.evaluate(() => ({ x: window.scrollX, y: window.scrollY }));
  await page.screenshot({
    path: file,
    fullPage: true,
    clip: { x: x + scrolled.x, y: y + scrolled.y, width, height },
    animations: 'disabled',
    caret: 'hide',
  });
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

/** Rotates from Rotation Settings: Rotate Key, then Rotate in the confirmation dialog. */
export async function rotateFromPage(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Rotate Key', exact: true }).click();
  await expect(find.confirmDialog(page)).toBeVisible();
  await confirm(page, 'Rotate');
}

/** A machine client as `signet clients create` prints it (the secret is shown only then). */
export interface MachineClient {
  client_id: string;
  client_secret: string;
  scopes: string[] | string;
  signing_policy?: { audiences: string[]; max_lifetime_seconds: number };
}

/** Client names are unique per story run, so a story never depends on clients an earlier one made. */
let clientsMade = 0;
function clientName(base: string): string {
  clientsMade += 1;
  return `${base}-${Date.now().toString(36)}-${clientsMade}`;
}

/**
 * `signet clients create --name … --scopes "…"` (with `--audiences "…" --max-lifetime N` for a signing
 * policy), as an operator would next to the running server; returns the printed client. A client of
 * the default tenant, or of the tenant named `tenant` (`--tenant`).
 */
export function createClient(
  base: string,
  scopes: string[],
  policy?: { audiences: string[]; maxLifetimeSeconds: number },
  tenant?: string,
): MachineClient {
  const args = ['clients', 'create', '--name', clientName(base), '--scopes', scopes.join(' ')];
  if (tenant) args.unshift('--tenant', tenant);
  if (policy) {
    args.push('--audiences', policy.audiences.join(' '), '--max-lifetime', String(policy.maxLifetimeSeconds));
  }
  const printed = signet(...args);
  try {
    return JSON.parse(printed) as MachineClient;
  } catch (error) {
    throw new Error(`signet ${args.join(' ')} did not print JSON (${String(error)}): ${printed}`);
  }
}

/**
 * A client that manages signing keys through the Management API (read, rotate, revoke, usage, the
 * policy), of the default tenant or of the tenant named `tenant`.
 */
export function createKeyManager(tenant?: string): MachineClient {
  return createClient(
    'e2e-key-manager',
    ['read:signing_keys', 'create:signing_keys', 'update:signing_keys'],
    undefined,
    tenant,
  );
}

/**
 * A client that may sign tokens for `audiences`, for at most `maxLifetimeSeconds` each, of the
 * default tenant or of the tenant named `tenant`.
 */
export function createSigningClient(audiences: string[], maxLifetimeSeconds = 3600, tenant?: string): MachineClient {
  return createClient('e2e-signer', ['sign:tokens'], { audiences, maxLifetimeSeconds }, tenant);
}

/** POST /oauth/token (client credentials, form body): a bearer token, signed by the current key. */
export async function getToken(request: APIRequestContext, client: MachineClient): Promise<string> {
  const response = await request.post('/oauth/token', {
    form: {
      grant_type: 'client_credentials',
      client_id: client.client_id,
      client_secret: client.client_secret,
      audience: managementAudience,
    },
  });
  expect(response.status(), `POST /oauth/token: ${await response.text()}`).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** POST /api/v2/jwt/sign with `body` as sent (a refusal is a response too, so it is returned as is). */
export async function signJwt(request: APIRequestContext, token: string, body: unknown): Promise<APIResponse> {
  return request.post('/api/v2/jwt/sign', { headers: { Authorization: `Bearer ${token}` }, data: body });
}

/** POST /api/v2/jwt/sign-batch with `body` as sent. */
export async function signJwtBatch(request: APIRequestContext, token: string, body: unknown): Promise<APIResponse> {
  return request.post('/api/v2/jwt/sign-batch', { headers: { Authorization: `Bearer ${token}` }, data: body });
}

/** POST /api/v2/keys/signing/rotate; returns the kid of the key that is current now. */
export async function rotateWithApi(request: APIRequestContext, token: string): Promise<string> {
  const response = await request.post('/api/v2/keys/signing/rotate', { headers: { Authorization: `Bearer ${token}` } });
  expect(response.status(), `POST /api/v2/keys/signing/rotate: ${await response.text()}`).toBe(201);
  return ((await response.json()) as { kid: string }).kid;
}

/** PUT /api/v2/keys/signing/{kid}/revoke, then waits until the server stops publishing that key. */
export async function revokeWithApi(request: APIRequestContext, token: string, kid: string): Promise<void> {
  const response = await request.put(`/api/v2/keys/signing/${encodeURIComponent(kid)}/revoke`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  expect(response.status(), `PUT /api/v2/keys/signing/${kid}/revoke: ${await response.text()}`).toBe(200);
  await waitForJwks(request, (kids) => !kids.includes(kid), `${kid} leaves the JWKS after PUT …/revoke`);
}

/**
 * PATCH /api/v2/keys/signing/policy with `body` as sent: changes the rotation schedule's fields it
 * names (a refusal is a response too, so it is returned as is).
 */
export async function setRotationPolicy(request: APIRequestContext, token: string, body: unknown): Promise<APIResponse> {
  return request.patch('/api/v2/keys/signing/policy', { headers: { Authorization: `Bearer ${token}` }, data: body });
}

/** Turns the rotation schedule off through the Management API: no automatic rotation, no automatic revocation. */
export async function turnScheduleOff(request: APIRequestContext, token: string): Promise<void> {
  const response = await setRotationPolicy(request, token, {
    rotate_every_seconds: null,
    revoke_previous_after_seconds: null,
  });
  expect(response.status(), `PATCH /api/v2/keys/signing/policy: ${await response.text()}`).toBe(200);
}

/**
 * Time passes: from now on the server (and the CLI) run `seconds` ahead of the system clock. The
 * offset is absolute, not added to the last one; `0` brings the clock back. Nothing sleeps.
 */
export function setServerClockAhead(seconds: number): void {
  // Written aside and renamed over the file: the server re-reads it on every clock read and must never
  // catch it half written.
  const written = `${clockFile}.${process.pid}.tmp`;
  writeFileSync(written, String(Math.trunc(seconds)));
  renameSync(written, clockFile);
}

/** Puts the server clock back on the system clock, for the stories that follow. */
export function resetServerClock(): void {
  setServerClockAhead(0);
}

/** The Tenants page's path. */
export const TENANTS_PAGE = '/tenant/tenants';

/** Opens the Tenants page (signing in first when asked) and waits until it is hydrated and lists the tenants. */
export async function openTenants(page: Page): Promise<void> {
  await open(page, TENANTS_PAGE);
  // A sign-in lands on Signing Keys.
  if (new URL(page.url()).pathname !== TENANTS_PAGE) {
    await page.goto(TENANTS_PAGE);
    await waitForHydration(page);
  }
  await waitForTenants(page);
}

/** The Tenants page is there and lists the tenants (at least the default one). */
export async function waitForTenants(page: Page): Promise<void> {
  await expect(page).toHaveURL(/\/tenant\/tenants$/);
  await expect(find.heading(page)).toHaveText('Tenants');
  await expect(find.tenantRows(page).first()).toBeVisible({ timeout: 15_000 });
}

/** Opens the header's tenant switcher (a `<details>`; clicking its summary toggles it), unless it is open. */
export async function openTenantSwitcher(page: Page): Promise<void> {
  const switcher = find.tenantSwitcher(page);
  if (!(await switcher.evaluate((details) => (details as HTMLDetailsElement).open))) {
    await switcher.locator('summary').click();
  }
  await expect(switcher).toHaveAttribute('open');
}

/** Closes the header's tenant switcher, if it is open. */
export async function closeTenantSwitcher(page: Page): Promise<void> {
  const switcher = find.tenantSwitcher(page);
  if (await switcher.evaluate((details) => (details as HTMLDetailsElement).open)) {
    await switcher.locator('summary').click();
  }
  await expect(switcher).not.toHaveAttribute('open');
}

/** On the (hydrated) Tenants page: types `domain` and presses Create tenant. */
export async function createTenant(page: Page, domain: string): Promise<void> {
  await page.getByLabel('Domain', { exact: true }).fill(domain);
  await page.getByTestId('create-tenant').click();
}

/**
 * Chooses `domain` in the header's tenant switcher. That posts a plain form: the server sets its
 * cookie and redirects to Signing Keys, a full page load; waits until the new page shows that
 * tenant, is hydrated and shows its keys. (The URL alone says nothing when switching from Signing
 * Keys, which is where the page lands, hence the `load` event and the tenant's name.)
 */
export async function switchTenant(page: Page, domain: string): Promise<void> {
  await openTenantSwitcher(page);
  const loaded = page.waitForEvent('load');
  await find.switchTo(page, domain).click();
  await loaded;
  await expect(page).toHaveURL(/\/tenant\/signing_keys$/);
  await expect(find.tenantDomain(page)).toHaveText(domain, { timeout: 15_000 });
  await waitForHydration(page);
  await waitForKeys(page);
}

/** Marks the window; the mark survives anything but a page load (check.windowStillMarked). */
export async function markWindow(page: Page): Promise<void> {
  await page.evaluate(() => ((window as unknown as { signetMark: number }).signetMark = 1));
}

/** A tenant as `signet tenants create` prints it. */
export interface CreatedTenant {
  domain: string;
  issuer: string;
  current_kid: string;
  next_kid: string;
}

/**
 * `signet tenants create <base>-<random>.example.com`, as an operator would next to the running
 * server, then waits until the server serves it at its host (until then that host is the default
 * tenant's). Unique per run, so a story never meets a tenant an earlier run made.
 */
export async function createTenantWithCli(base: string): Promise<CreatedTenant> {
  const domain = `${base}-${randomBytes(4).toString('hex')}.example.com`;
  const printed = signet('tenants', 'create', domain);
  let tenant: CreatedTenant;
  try {
    tenant = JSON.parse(printed) as CreatedTenant;
  } catch (error) {
    throw new Error(`signet tenants create ${domain} did not print JSON (${String(error)}): ${printed}`);
  }
  await expect
    .poll(async () => (await find.publishedKidsAt(domain))[0], {
      message: `the server serves ${domain} at its host, its current key first`,
      timeout: 5_000,
    })
    .toBe(tenant.current_kid);
  return tenant;
}

/** `signet tenants delete DOMAIN --yes`: its keys are destroyed, its clients removed. */
export function deleteTenantWithCli(domain: string): void {
  signet('tenants', 'delete', domain, '--yes');
}

/** POST /oauth/token at the tenant named `domain` (client credentials, form body): a bearer token for its Management API. */
export async function getTokenAt(domain: string, client: MachineClient): Promise<string> {
  const response = await find.requestAt(domain, 'POST', '/oauth/token', {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: client.client_id,
      client_secret: client.client_secret,
      audience: managementAudienceAt(domain),
    }).toString(),
  });
  expect(response.status(), `POST /oauth/token (Host: ${domain}): ${await response.text()}`).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** PATCH /api/v2/keys/signing/policy at the tenant named `domain`, `body` as sent (a refusal is returned as is). */
export function setRotationPolicyAt(domain: string, token: string, body: unknown): Promise<find.HostResponse> {
  return find.apiAt(domain, 'PATCH', '/api/v2/keys/signing/policy', token, body);
}

/**
 * POST /api/v2/keys/signing/rotate at the tenant named `domain` (`?force=true`: even while the
 * publication window would hold it back); returns the kid of the key that is current now.
 */
export async function rotateWithApiAt(
  domain: string,
  token: string,
  { force = false }: { force?: boolean } = {},
): Promise<string> {
  const path = `/api/v2/keys/signing/rotate${force ? '?force=true' : ''}`;
  const response = await find.apiAt(domain, 'POST', path, token);
  expect(response.status(), `POST ${path} (Host: ${domain}): ${await response.text()}`).toBe(201);
  return ((await response.json()) as { kid: string }).kid;
}

/** POST /api/v2/jwt/sign at the tenant named `domain`, `body` as sent (a refusal is returned as is). */
export function signJwtAt(domain: string, token: string, body: unknown): Promise<find.HostResponse> {
  return find.apiAt(domain, 'POST', '/api/v2/jwt/sign', token, body);
}

/**
 * `signet --tenant DOMAIN keys rotate`, as an operator would next to the running server (the CLI is
 * exempt from the rotation limit); returns the kids it names current and next.
 */
export async function rotateWithCliAt(domain: string): Promise<{ current: string; next: string }> {
  const printed = await signetInBackground('--tenant', domain, 'keys', 'rotate');
  const rotated = /^rotated: (\S+) is now current; (\S+) is next$/m.exec(printed);
  if (!rotated) throw new Error(`signet --tenant ${domain} keys rotate printed no rotation: ${printed}`);
  return { current: rotated[1], next: rotated[2] };
}

/**
 * PUT /api/v2/keys/signing/{kid}/revoke at the tenant named `domain`, then waits until its JWKS no
 * longer publishes the key.
 */
export async function revokeWithApiAt(domain: string, token: string, kid: string): Promise<void> {
  const path = `/api/v2/keys/signing/${encodeURIComponent(kid)}/revoke`;
  const response = await find.apiAt(domain, 'PUT', path, token);
  expect(response.status(), `PUT ${path} (Host: ${domain}): ${await response.text()}`).toBe(200);
  await expect
    .poll(async () => (await find.publishedKidsAt(domain)).includes(kid), {
      message: `${kid} leaves ${domain}'s JWKS after PUT …/revoke`,
      timeout: 5_000,
    })
    .toBe(false);
}

/**
 * A client that reads the audit trail through the Management API (`read:logs`), of the default
 * tenant or of the tenant named `tenant`.
 */
export function createLogReader(tenant?: string): MachineClient {
  return createClient('e2e-log-reader', ['read:logs'], undefined, tenant);
}

/** The Logs page's path. */
export const LOGS_PAGE = '/tenant/logs';

/** What the Logs page's filter selects; a field left out is the page's default. */
export interface LogFilter {
  /** A tenant's domain, or `*` for every tenant (default: the tenant the dashboard shows). */
  tenant?: string;
  /** An event type, or '' for every type. */
  type?: string;
  /** The start of the actors' names, e.g. `operator` or `cli:`. */
  actor?: string;
}

/** The Logs page showing `filter`, as a link to it would be written. */
export function logsPath(filter: LogFilter = {}): string {
  const query = new URLSearchParams();
  for (const name of ['tenant', 'type', 'actor'] as const) {
    const value = filter[name];
    if (value !== undefined) query.set(name, value);
  }
  const search = query.toString();
  return search ? `${LOGS_PAGE}?${search}` : LOGS_PAGE;
}

/** Opens the Logs page showing `filter` (signing in first when asked) and waits until it follows new events. */
export async function openLogs(page: Page, filter: LogFilter = {}): Promise<void> {
  const path = logsPath(filter);
  await open(page, path);
  // A sign-in lands on Signing Keys.
  if (new URL(page.url()).pathname !== LOGS_PAGE) {
    await page.goto(path);
    await waitForHydration(page);
  }
  await waitForLogs(page);
}

/**
 * The Logs page is there with its newest events, hydrated: from now on it puts new events at the
 * top (its "Live" mark says so).
 */
export async function waitForLogs(page: Page): Promise<void> {
  await expect(page).toHaveURL(/\/tenant\/logs(\?|$)/);
  await expect(find.heading(page)).toHaveText('Logs');
  await expect(find.liveMark(page)).toHaveAttribute('data-live', 'true', { timeout: 15_000 });
}

/**
 * On the Logs page: sets the filter's fields that `filter` names (the others stay as they are) and
 * presses Filter. The filter is a plain GET form, so the browser loads the filtered page; waits
 * until it has, and follows new events again.
 */
export async function filterLogs(page: Page, filter: LogFilter): Promise<void> {
  if (filter.tenant !== undefined) await find.filterTenant(page).selectOption({ value: filter.tenant });
  if (filter.type !== undefined) await find.filterType(page).selectOption({ value: filter.type });
  if (filter.actor !== undefined) await find.filterActor(page).fill(filter.actor);
  const chosen: Record<string, string> = {
    tenant: await find.filterTenant(page).inputValue(),
    type: await find.filterType(page).inputValue(),
    actor: await find.filterActor(page).inputValue(),
  };
  const showsChosen = (url: URL) =>
    url.pathname === LOGS_PAGE && Object.entries(chosen).every(([name, value]) => url.searchParams.get(name) === value);
  // Waiting for the URL says nothing if the page shows this very filter already.
  if (showsChosen(new URL(page.url()))) throw new Error(`the Logs page already shows ${JSON.stringify(chosen)}`);
  await find.applyFilter(page).click();
  await page.waitForURL(showsChosen);
  await waitForHydration(page);
  await waitForLogs(page);
}
