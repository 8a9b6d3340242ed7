// An operator looks after the tenant's signing keys: sees which key signs and which is queued,
// checks them against what relying parties fetch, rotates, revokes, on a desktop and on a phone.
// Each story is written against what the page shows when it starts, not against earlier stories,
// but they share one server, so they run in order.
import path from 'node:path';
import { expect, test } from './support/fixtures';
import * as act from './support/act';
import * as check from './support/check';
import * as find from './support/find';
import { screenshotsDir } from './support/environment';

test.describe.serial('Signing Keys', () => {
  test('an operator opens Signet and lands on Signing Keys, with one current and one next key', async ({ page }) => {
    await act.open(page, '/');

    await check.onSigningKeysPage(page);
    await check.exactlyOneKeyIn(page, 'current');
    await check.exactlyOneKeyIn(page, 'next');
    await check.revokedKeysSectionShown(page);

    // Time to interactive of a full page load, signed in: reported, not asserted against a budget.
    await page.goto('/tenant/signing_keys');
    await act.waitForHydration(page);
    const timing = await page.evaluate(() => ({
      interactive: performance.getEntriesByName('signet-hydrated')[0]?.startTime ?? -1,
      response: (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).responseEnd,
    }));
    expect(timing.interactive, 'the page marks the moment it became interactive').toBeGreaterThan(0);
    console.log(
      `Signing Keys page: HTML received at ${timing.response.toFixed(0)} ms, interactive at ${timing.interactive.toFixed(0)} ms`,
    );
  });

  test("the page's code crosses the network compressed, without the other pages' code", async ({ page, browser }) => {
    // Signed in, then a first visit: a browser of its own, with nothing cached.
    await act.open(page);
    const fresh = await browser.newContext();
    await fresh.addCookies(await page.context().cookies());
    page = await fresh.newPage();
    await page.goto('/tenant/signing_keys');
    await act.waitForHydration(page);
    await act.waitForKeys(page);
    // The dialogs' code follows once the page is interactive.
    await expect(find.signingKeysBody(page)).toHaveAttribute('data-dialogs-ready', 'true');
    // What the browser itself fetched for this load: bytes on the wire against bytes decoded,
    // and whether the file was there before the page became interactive.
    const sizes = await page.evaluate(() => {
      const interactive = performance.getEntriesByName('signet-hydrated')[0].startTime;
      return (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
        .filter((entry) => /\/pkg\/[^/]+\.(wasm|js|css)$/.test(new URL(entry.name).pathname))
        .map((entry) => ({
          file: new URL(entry.name).pathname,
          wire: entry.encodedBodySize,
          decoded: entry.decodedBodySize,
          beforeInteractive: entry.responseEnd <= interactive,
        }));
    });
    const wasm = sizes.find((entry) => entry.file === '/pkg/signet.wasm');
    expect(wasm, `the page fetched its WASM (${JSON.stringify(sizes)})`).toBeDefined();
    expect(wasm!.wire, `the WASM arrives at a fraction of its size (${wasm!.wire} of ${wasm!.decoded} B)`).toBeLessThan(
      wasm!.decoded / 2,
    );
    for (const { file, wire, decoded } of sizes) {
      expect(wire, `${file} arrives compressed (${wire} of ${decoded} B)`).toBeLessThan(decoded);
    }
    // The other pages' code is in files of their own, fetched only by those pages.
    const others = sizes.filter((entry) => /_route_view_/.test(entry.file)).map((entry) => entry.file);
    expect(others, "the other pages' code stays on the server").toEqual([]);
    const before = sizes.filter((entry) => entry.beforeInteractive);
    const total = (list: typeof sizes) => list.reduce((sum, entry) => sum + entry.wire, 0);
    console.log(
      `Signing Keys page code on the wire: ${total(before)} B before it was interactive ` +
        `(${before.map((s) => `${s.file} ${s.wire} of ${s.decoded} B`).join(', ')}); ${total(sizes)} B in all`,
    );
    await fresh.close();
  });

  test('the listed keys are exactly the published JWKS, with matching fingerprints', async ({ page, request }) => {
    await act.openSigningKeys(page);
    await check.listMatchesJwks(page, request);
    const listed = await check.settledKeys(page);
    const published = await find.publishedKeys(request);

    expect(listed.map((key) => key.kid), 'kids on the page, top to bottom').toEqual(published.map((key) => key.kid));
    expect(listed.slice(0, 2).map((key) => key.state), 'the current key first, then the next').toEqual([
      'current',
      'next',
    ]);
    for (const key of listed) {
      const jwk = published.find((candidate) => candidate.kid === key.kid);
      expect(key.kidCell, 'the kid cell shows the kid').toContain(key.kid);
      expect(key.fingerprint, `fingerprint of ${key.kid} matches its JWK's x5t`).toBe(find.fingerprintOf(jwk!));
    }
    expect(listed[0].fingerprint, 'the current key is the one /fingerprint serves').toBe(
      await find.currentFingerprint(request),
    );

    // An instant reads in the browser's time zone and locale, with the UTC instant on hover.
    const since = find.keyRow(page, listed[0].kid).locator('td[data-label="Current since"] time');
    const iso = await since.getAttribute('datetime');
    expect(iso, 'the current key has been current since an instant').toBeTruthy();
    await expect(since).toHaveAttribute('title', find.utcTitle(iso!));
    const local = await page.evaluate(
      (instant) => new Date(instant).toLocaleString('default', { dateStyle: 'medium', timeStyle: 'medium' }),
      iso!,
    );
    await expect(since, 'shown in local time').toHaveText(local);
  });

  test('after `signet keys rotate`, next becomes current, current becomes previous, and a new key queues', async ({
    page,
    request,
  }) => {
    await act.openSigningKeys(page);
    const before = await check.settledKeys(page);
    const oldCurrent = find.kidIn(before, 'current');
    const oldNext = find.kidIn(before, 'next');

    await act.rotateWithCli(request);
    await act.reload(page);

    await check.listedAs(page, oldNext, 'current');
    await check.listedAs(page, oldCurrent, 'previous');
    await check.exactlyOneKeyIn(page, 'current');
    await check.exactlyOneKeyIn(page, 'next');
    const newNext = find.kidIn(await check.settledKeys(page), 'next');
    expect([oldCurrent, oldNext], 'the queued key is a new one').not.toContain(newNext);
    await check.listMatchesJwks(page, request);
  });

  test('after `signet keys revoke`, the previous key leaves the valid list and the JWKS for the revoked list', async ({
    page,
    request,
  }) => {
    await act.openSigningKeys(page);
    const previous = await act.ensurePreviousKey(page, request);

    await act.revokeWithCli(request, previous);
    await act.reload(page);

    await check.notAmongValidKeys(page, previous);
    await check.amongRevokedKeys(page, previous);
    expect(await find.publishedKids(request), 'the JWKS no longer publishes the revoked key').not.toContain(previous);
    await check.exactlyOneKeyIn(page, 'current');
    await check.exactlyOneKeyIn(page, 'next');
  });

  test('the page reads well on a desktop and on a phone, in light and dark', async ({ page }) => {
    const views = [
      { name: 'desktop-light', width: 1280, height: 800, colorScheme: 'light' },
      { name: 'desktop-dark', width: 1280, height: 800, colorScheme: 'dark' },
      { name: 'mobile-light', width: 360, height: 740, colorScheme: 'light' },
      { name: 'mobile-dark', width: 360, height: 740, colorScheme: 'dark' },
    ] as const;

    for (const view of views) {
      await act.screenshot(page, path.join(screenshotsDir, `signing-keys-${view.name}.png`), view);
      await check.onSigningKeysPage(page);
      await check.fitsTheWindow(page);
    }
  });
});
