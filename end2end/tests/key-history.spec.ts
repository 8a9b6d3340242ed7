// A long key history: a tenant that has rotated a thousand times still publishes every previously
// used key, but its Signing Keys page lists only the current and the next key and ten previous keys
// a page, newest first, with a pager back through the rest, so that the page stays quick to render
// and to hydrate however long the history. Each listed key's menu opens a panel of its details (its certificate,
// its type, what it signed). The figures (server render, time to interactive) are printed, never
// asserted: a busy machine must not fail the suite. The story works on a tenant of its own, made and
// deleted with the CLI.
import { X509Certificate } from 'node:crypto';
import { expect, test } from './support/fixtures';
import * as act from './support/act';
import * as check from './support/check';
import * as find from './support/find';

/** How many previously used keys the tenant gets. */
const PREVIOUS_KEYS = 1_000;
/** Previous keys a page. */
const PER_PAGE = 10;
/** How many times the page's HTML is fetched for the server render figure. */
const RENDERS = 5;

/** The middle value of `values`. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** A hex number as a person compares it: no colons, no leading zeros, upper case. */
const significantHex = (hex: string): string => hex.replace(/:/g, '').replace(/^0+(?=.)/, '').toUpperCase();

test.describe.serial('A thousand previous keys', () => {
  let domain: string | undefined;
  /** Previously used keys, newest first, as they became previous: the tenant's whole history. */
  let previousNewestFirst: string[] = [];
  /** The key that signs after the last rotation. */
  let current = '';

  /** The previous keys page `n` (from 1) lists. */
  const previousOnPage = (n: number): string[] => previousNewestFirst.slice((n - 1) * PER_PAGE, n * PER_PAGE);

  test.beforeAll(async () => {
    // A thousand command-line rotations, one after the other: minutes on a busy machine.
    test.setTimeout(20 * 60_000);
    const tenant = await act.createTenantWithCli('key-history');
    domain = tenant.domain;
    // P-256 keys: each rotation makes one in an instant (a 2048-bit RSA key takes a while). The
    // RSA key queued as next gives way (it is revoked); the RSA key that signs now becomes the
    // first previous key at the first rotation.
    const manager = act.createKeyManager(domain);
    const changed = await act.setRotationPolicyAt(domain, await act.getTokenAt(domain, manager), {
      signing_alg: 'ES256',
    });
    expect(changed.status(), `PATCH /api/v2/keys/signing/policy: ${await changed.text()}`).toBe(200);

    // Why the CLI: the suite's server allows a tenant 100 rotations a day (SIGNET_ROTATION_LIMIT_PER_DAY
    // in support/environment.ts), and the limit holds for the operator and for Management API clients,
    // forced rotations included; `signet keys rotate` is the break-glass path, exempt from it. The
    // publication window is 0 s there, so no rotation waits for the next key to be published.
    const rotatedIn: string[] = [];
    const started = Date.now();
    for (let i = 0; i < PREVIOUS_KEYS; i++) rotatedIn.push((await act.rotateWithCliAt(domain)).current);
    console.log(
      `key history: ${PREVIOUS_KEYS} rotations with the CLI in ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
    current = rotatedIn[rotatedIn.length - 1];
    // Each rotation's key was current until the next one; the first rotation retired the tenant's first key.
    previousNewestFirst = [...rotatedIn.slice(0, -1)].reverse().concat(tenant.current_kid);
    expect(new Set(previousNewestFirst).size, 'a thousand different keys').toBe(PREVIOUS_KEYS);

    // The running server takes up what the CLI did; reloading a thousand keys may take it a moment.
    await expect
      .poll(
        async () => {
          const kids = await find.publishedKidsAt(domain!);
          return { current: kids[0], published: kids.length };
        },
        { message: `${domain} publishes its new current key, and every valid key`, timeout: 30_000 },
      )
      .toEqual({ current, published: PREVIOUS_KEYS + 2 });
  });

  test.afterAll(() => {
    if (domain) act.deleteTenantWithCli(domain);
  });

  test('with a thousand previous keys the page is served and becomes interactive: the figures, printed', async ({
    page,
  }) => {
    test.setTimeout(60_000);
    await act.openSigningKeys(page);
    await act.switchTenant(page, domain!);

    // Server render: the page's HTML, fetched with this browser's session and tenant.
    const renders: number[] = [];
    for (let i = 0; i < RENDERS; i++) {
      const started = performance.now();
      const response = await page.request.get('/tenant/signing_keys');
      const html = await response.text();
      renders.push(performance.now() - started);
      expect(response.status(), 'the page is served').toBe(200);
      expect(html, "the tenant's page").toContain(domain!);
      const rows = html.match(/data-testid="key-row"/g)?.length ?? 0;
      expect(rows, 'the HTML lists the current, the next and ten previous keys').toBe(2 + PER_PAGE);
    }
    console.log(`key history: server render median ${median(renders).toFixed(0)} ms at ${PREVIOUS_KEYS} previous keys`);

    // Time to interactive of a full page load, as the Signing Keys stories measure it.
    await page.goto('/tenant/signing_keys');
    await act.waitForHydration(page);
    await act.waitForKeys(page);
    const timing = await page.evaluate(() => ({
      interactive: performance.getEntriesByName('signet-hydrated')[0]?.startTime ?? -1,
      response: (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).responseEnd,
    }));
    expect(timing.interactive, 'the page marks the moment it became interactive').toBeGreaterThan(0);
    console.log(
      `key history: HTML received at ${timing.response.toFixed(0)} ms, interactive at ` +
        `${timing.interactive.toFixed(0)} ms at ${PREVIOUS_KEYS} previous keys`,
    );
    await check.showsTenant(page, domain!);
  });

  test('the List of Valid Keys shows the current and the next key and ten previous keys a page, newest first, and pages back through the rest', async ({
    page,
  }) => {
    test.setTimeout(60_000);
    await act.openSigningKeys(page);
    await act.switchTenant(page, domain!);

    // Page 1: the current key, the next key, the ten newest previous keys.
    await expect(find.keyRows(page)).toHaveCount(2 + PER_PAGE);
    const first = await check.settledKeys(page, 'previous');
    expect(first.map((key) => key.state), 'current, next, then previously used keys').toEqual([
      'current',
      'next',
      ...Array<string>(PER_PAGE).fill('previous'),
    ]);
    expect(first[0].kid, 'the key the last rotation made current').toBe(current);
    const next = first[1].kid;
    expect(first.slice(2).map((key) => key.kid), 'the ten newest previous keys, newest first').toEqual(previousOnPage(1));
    const pager = find.previousPager(page);
    await expect(pager).toHaveAttribute('data-page', '1');
    await expect(pager).toHaveAttribute('data-pages', String(PREVIOUS_KEYS / PER_PAGE));
    await expect(pager).toContainText(`Previously used keys 1–${PER_PAGE} of ${PREVIOUS_KEYS}, newest first`);
    await expect(pager.getByTestId('newer-keys'), 'nothing newer than the first page').toHaveCount(0);

    // Older keys: page 2, ten other previous keys, under the same current and next key.
    await pager.getByTestId('older-keys').click();
    await expect(page).toHaveURL(/\/tenant\/signing_keys\?page=2$/);
    await expect(pager).toHaveAttribute('data-page', '2');
    await expect(pager).toContainText(`Previously used keys ${PER_PAGE + 1}–${2 * PER_PAGE} of ${PREVIOUS_KEYS}`);
    await expect(find.keyRows(page)).toHaveCount(2 + PER_PAGE);
    const second = await check.settledKeys(page, 'previous');
    expect(second.slice(0, 2).map((key) => [key.state, key.kid]), 'the current and the next key, still there').toEqual([
      ['current', current],
      ['next', next],
    ]);
    const secondPrevious = second.slice(2).map((key) => key.kid);
    expect(secondPrevious, 'the next ten previous keys, newest first').toEqual(previousOnPage(2));
    expect(
      secondPrevious.filter((kid) => first.some((key) => key.kid === kid)),
      "none of page 1's previous keys again",
    ).toEqual([]);
    await expect(pager.getByTestId('newer-keys')).toHaveAttribute('href', '/tenant/signing_keys?page=1');
    await expect(pager.getByTestId('older-keys')).toHaveAttribute('href', '/tenant/signing_keys?page=3');

    // The last page ends with the tenant's very first key, and has nothing older.
    const last = PREVIOUS_KEYS / PER_PAGE;
    await page.goto(`/tenant/signing_keys?page=${last}`);
    await act.waitForHydration(page);
    await act.waitForKeys(page);
    await expect(pager).toHaveAttribute('data-page', String(last));
    await expect(pager).toContainText(
      `Previously used keys ${PREVIOUS_KEYS - PER_PAGE + 1}–${PREVIOUS_KEYS} of ${PREVIOUS_KEYS}`,
    );
    await expect(pager.getByTestId('older-keys'), 'nothing older than the last page').toHaveCount(0);
    const oldest = await check.settledKeys(page, 'previous');
    expect(oldest.slice(2).map((key) => key.kid), 'the ten oldest previous keys, newest first').toEqual(
      previousOnPage(last),
    );
    const firstKey = previousNewestFirst[PREVIOUS_KEYS - 1];
    await expect(find.keyAlg(page, firstKey), "the tenant's first key, an RSA key").toHaveText('RS256 (2048-bit)');
  });

  test("a previous key's details show its certificate, its type and what it signed", async ({ page }) => {
    test.setTimeout(60_000);
    await act.openSigningKeys(page);
    await act.switchTenant(page, domain!);
    const pager = find.previousPager(page);
    await pager.getByTestId('older-keys').click();
    await expect(pager).toHaveAttribute('data-page', '2');
    const kid = previousOnPage(2)[0];
    await check.listedAs(page, kid, 'previous');

    await act.openMenu(page, kid);
    await find.keyRow(page, kid).getByTestId('view-details').click();
    const details = find.keyDetails(page);
    await expect(details).toBeVisible();
    await expect(details).toHaveRole('dialog');
    await expect(details).toHaveAccessibleName('Key details');

    // What the panel says is what the certificate relying parties fetch says.
    const jwk = (await find.publishedKeysAt(domain!)).find((key) => key.kid === kid);
    expect(jwk, `${domain} publishes ${kid}`).toBeDefined();
    const certificate = new X509Certificate(Buffer.from(jwk!.x5c[0], 'base64'));
    await expect(details.getByTestId('details-kid')).toHaveText(kid);
    await expect(details.getByTestId('details-alg')).toHaveText('ES256 (P-256)');
    await expect(details.getByTestId('details-subject'), 'the certificate is named after the tenant').toContainText(
      domain!,
    );
    const serial = details.getByTestId('details-serial');
    await expect(serial, 'colon-separated hex').toHaveText(/^[0-9A-F]{2}(:[0-9A-F]{2})*$/);
    expect(significantHex((await serial.textContent()) ?? ''), "the certificate's serial number").toBe(
      significantHex(certificate.serialNumber),
    );
    const notBefore = await details.getByTestId('details-not-before').locator('time').getAttribute('datetime');
    expect(Date.parse(notBefore ?? ''), 'valid from when the certificate says').toBe(Date.parse(certificate.validFrom));
    await expect(details.getByTestId('details-usage'), 'a key the CLI rotated through signs nothing').toHaveText(
      'Never signed a token',
    );

    // Closed, the list is as it was, still on page 2.
    await details.getByTestId('close-details').click();
    await expect(details).toHaveCount(0);
    await expect(pager).toHaveAttribute('data-page', '2');
    await check.listedAs(page, kid, 'previous');
  });
});
