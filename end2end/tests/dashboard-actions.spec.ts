// The operator acts on the keys from the page: rotates through the dialog, revokes a previous key
// from its menu, rotates and revokes, downloads and copies certificates, does it all again with
// JavaScript disabled, and watches another operator's changes arrive without reloading.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from './support/fixtures';
import * as act from './support/act';
import * as check from './support/check';
import * as find from './support/find';
import { screenshotsDir, tenantDomain } from './support/environment';

test.describe.serial('Acting on signing keys', () => {
  test('rotating through the dialog names the key that becomes current and moves the states in place', async ({
    page,
    request,
  }) => {
    await act.openSigningKeys(page);
    const before = await check.settledKeys(page);
    const oldCurrent = find.kidIn(before, 'current');
    const oldNext = find.kidIn(before, 'next');
    await act.markWindow(page);

    await page.getByRole('button', { name: 'Rotate Key', exact: true }).click();
    const dialog = find.confirmDialog(page);
    await expect(dialog).toBeVisible();
    await expect(dialog.getByRole('heading')).toHaveText('Rotate the signing key?');
    await expect(dialog, 'the dialog names the key that becomes current').toContainText(
      `Key ${oldNext} becomes the current key`,
    );
    await page.screenshot({ path: path.join(screenshotsDir, 'signing-keys-rotate-dialog.png'), animations: 'disabled' });
    await act.confirm(page, 'Rotate');

    await expect(find.toasts(page).last()).toHaveText(new RegExp(`Signing key rotated. Key ${oldNext} now signs new tokens.`));
    await expect(dialog).toHaveCount(0);
    await check.listedAs(page, oldNext, 'current');
    await check.listedAs(page, oldCurrent, 'previous');
    await check.exactlyOneKeyIn(page, 'next');
    await check.windowStillMarked(page);
    expect((await find.publishedKids(request))[0], 'relying parties see the new current key first').toBe(oldNext);
  });

  test('Escape and Cancel close a dialog without changing anything, and focus stays inside while it is open', async ({
    page,
  }) => {
    await act.openSigningKeys(page);
    const before = await check.settledKeys(page);

    await page.getByRole('button', { name: 'Rotate & Revoke Key', exact: true }).click();
    const dialog = find.confirmDialog(page);
    await expect(dialog).toBeVisible();
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      expect(
        await page.evaluate(() => !!document.activeElement?.closest('[data-testid="confirm-dialog"]')),
        'focus stays in the dialog',
      ).toBe(true);
    }
    await page.keyboard.press('Escape');
    await expect(dialog).toHaveCount(0);

    await page.getByRole('button', { name: 'Rotate Key', exact: true }).click();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toHaveCount(0);
    await expect.poll(() => find.listedKeys(page), { message: 'nothing changed' }).toEqual(before);
  });

  test('a dialog opened by its link (a reload, a shared URL) works once the page is interactive', async ({ page }) => {
    await act.openSigningKeys(page);
    const before = await check.settledKeys(page);
    const current = find.kidIn(before, 'current');

    // The server renders the panel open; the page hydrates it, code fetched on demand and all.
    await act.open(page, `/tenant/signing_keys?key=${current}`);
    const details = find.keyDetails(page);
    await expect(details).toBeVisible();
    await expect(details.getByTestId('details-kid')).toHaveText(current);
    await details.getByTestId('close-details').click();
    await expect(details, 'the interactive page takes the closed panel away').toHaveCount(0);

    await act.open(page, '/tenant/signing_keys?confirm=rotate_and_revoke');
    const dialog = find.confirmDialog(page);
    await expect(dialog.getByRole('heading')).toHaveText('Rotate and revoke the current key?');
    await page.keyboard.press('Escape');
    await expect(dialog, 'Escape closes it like any dialog of the page').toHaveCount(0);
    await expect.poll(() => find.listedKeys(page), { message: 'nothing changed' }).toEqual(before);
  });

  test('the previous key is revoked from its menu, after a confirmation that it cannot be undone', async ({
    page,
    request,
  }) => {
    await act.openSigningKeys(page);
    const previous = await act.ensurePreviousKey(page, request);
    const current = find.kidIn(await check.settledKeys(page), 'current');

    await act.openMenu(page, current);
    await expect(find.menuItem(page, current, 'Revoke Key'), 'only previously used keys offer Revoke').toHaveCount(0);
    await page.keyboard.press('Escape');

    await act.chooseFromMenu(page, previous, 'Revoke Key');
    const dialog = find.confirmDialog(page);
    await expect(dialog.getByRole('heading')).toHaveText(`Revoke key ${previous}?`);
    await expect(dialog).toContainText('This cannot be undone.');
    await act.confirm(page, 'Revoke');

    await expect(find.toasts(page).last()).toHaveText(new RegExp(`Key ${previous} revoked.`));
    await check.notAmongValidKeys(page, previous);
    await check.amongRevokedKeys(page, previous);
    expect(await find.publishedKids(request)).not.toContain(previous);
  });

  test('rotate & revoke retires the current key at once, after a warning', async ({ page, request }) => {
    await act.openSigningKeys(page);
    const before = await check.settledKeys(page);
    const oldCurrent = find.kidIn(before, 'current');
    const oldNext = find.kidIn(before, 'next');

    await page.getByRole('button', { name: 'Rotate & Revoke Key', exact: true }).click();
    const dialog = find.confirmDialog(page);
    await expect(dialog).toContainText(`Key ${oldCurrent} is revoked at once`);
    await expect(dialog).toContainText('every token it signed stops validating immediately');
    await expect(dialog).toContainText('This cannot be undone.');
    await act.confirm(page, 'Rotate & Revoke');

    await expect(find.toasts(page).last()).toHaveText(new RegExp(`Key ${oldCurrent} revoked. Key ${oldNext} now signs new tokens.`));
    await check.listedAs(page, oldNext, 'current');
    await check.amongRevokedKeys(page, oldCurrent);
    const published = await find.publishedKids(request);
    expect(published[0]).toBe(oldNext);
    expect(published).not.toContain(oldCurrent);
  });

  test('certificates download as PEM, CER and PKCS#7, and parse as the listed key', async ({ page }) => {
    await act.openSigningKeys(page);
    const listed = await check.settledKeys(page);
    const current = listed.find((key) => key.state === 'current')!;

    const saved: Record<string, string> = {};
    for (const [item, ext] of [
      ['Download certificate (PEM)', 'pem'],
      ['Download certificate (CER)', 'cer'],
      ['Download certificate (PKCS#7)', 'pb7'],
    ] as const) {
      const download = page.waitForEvent('download');
      await act.chooseFromMenu(page, current.kid, item);
      const file = await download;
      expect(file.suggestedFilename()).toBe(`${tenantDomain}-${current.kid}.${ext}`);
      saved[ext] = test.info().outputPath(file.suggestedFilename());
      await file.saveAs(saved[ext]);
    }

    const pem = new X509Certificate(readFileSync(saved.pem));
    const der = new X509Certificate(readFileSync(saved.cer));
    expect(pem.subject).toBe(`CN=${tenantDomain}`);
    expect(pem.fingerprint, 'the PEM is the listed key').toBe(current.fingerprint);
    expect(der.fingerprint, 'the CER is the same certificate').toBe(current.fingerprint);
    const fromPkcs7 = execFileSync('openssl', ['pkcs7', '-print_certs', '-in', saved.pb7], { encoding: 'utf8' });
    expect(new X509Certificate(fromPkcs7.slice(fromPkcs7.indexOf('-----BEGIN'))).fingerprint).toBe(current.fingerprint);
  });

  test('copying a key id, fingerprint or certificate puts it on the clipboard and says so', async ({
    page,
    context,
    baseURL,
  }) => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseURL });
    await act.openSigningKeys(page);
    const listed = await check.settledKeys(page);
    const next = find.kidIn(listed, 'next');

    await act.chooseFromMenu(page, next, 'Copy key ID');
    await expect(find.toasts(page).last()).toHaveText(/Key ID copied to the clipboard./);
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(next);

    await act.chooseFromMenu(page, next, 'Copy fingerprint');
    await expect(find.toasts(page).last()).toHaveText(/Fingerprint copied to the clipboard./);
    expect(await page.evaluate(() => navigator.clipboard.readText())).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);

    // The page does not carry the certificates: this one is fetched when asked for.
    await act.chooseFromMenu(page, next, 'Copy certificate');
    await expect(find.toasts(page).last()).toHaveText(/Certificate copied to the clipboard./);
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const fingerprint = listed.find((key) => key.kid === next)!.fingerprint;
    expect(new X509Certificate(copied).fingerprint, 'the copied certificate is the listed key').toBe(fingerprint);
  });

  test('with JavaScript disabled, an operator signs in and revokes a key through plain forms', async ({
    browser,
    request,
  }) => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await act.signInElsewhere(page);
    const previous = await act.ensurePreviousKey(page, request, { javaScript: false });

    await act.chooseFromMenu(page, previous, 'Revoke Key');
    await expect(page).toHaveURL(new RegExp(`confirm=revoke&kid=${previous}`));
    await expect(find.confirmDialog(page)).toContainText('This cannot be undone.');
    await act.confirm(page, 'Revoke');

    await expect(page).toHaveURL(new RegExp(`/tenant/signing_keys\\?done=revoke&kid=${previous}$`));
    await expect(find.toasts(page)).toContainText(`Key ${previous} revoked.`);
    await check.amongRevokedKeys(page, previous);
    expect(await find.publishedKids(request)).not.toContain(previous);
    await context.close();
  });

  test('an open page follows changes made elsewhere without a reload, and a second session sees them after one', async ({
    page,
    browser,
    request,
  }) => {
    await act.openSigningKeys(page);
    await act.markWindow(page);
    await act.watchListedKeyCount(page);
    const before = await check.settledKeys(page);
    const oldNext = find.kidIn(before, 'next');

    // Another operator, in another browser session, rotates from the page.
    const other = await browser.newContext();
    const otherPage = await other.newPage();
    await act.signInElsewhere(otherPage);
    await act.waitForHydration(otherPage);
    await otherPage.getByRole('button', { name: 'Rotate Key', exact: true }).click();
    await act.confirm(otherPage, 'Rotate');
    await check.listedAs(otherPage, oldNext, 'current');

    await check.listedAs(page, oldNext, 'current');
    await check.windowStillMarked(page);

    // The CLI rotates next to the running server: the open page follows within seconds.
    const middle = find.kidIn(await check.settledKeys(page), 'next');
    act.signet('keys', 'rotate');
    await expect(find.keyRow(page, middle)).toHaveAttribute('data-state', 'current', { timeout: 5_000 });
    await check.windowStillMarked(page);
    await check.listNeverEmptied(page);

    await act.reload(otherPage);
    await check.listedAs(otherPage, middle, 'current');
    await check.listMatchesJwks(otherPage, request);
    await other.close();
  });
});

test.describe('Live updates after network loss', () => {
  // Requests made while the network is cut fail, and the browser says so; nothing else may go wrong.
  test.use({ expectedProblemPatterns: [/net::ERR_INTERNET_DISCONNECTED/] });

  test('an open page that lost the network catches up by itself when it is back', async ({ page, request }) => {
    await act.openSigningKeys(page);
    await act.markWindow(page);
    await act.watchListedKeyCount(page);
    const next = find.kidIn(await check.settledKeys(page), 'next');

    await page.context().setOffline(true);
    // The server has the rotation (the suite's own requests are not cut) while the page is offline.
    await act.rotateWithCli(request);
    await page.context().setOffline(false);

    await expect(find.keyRow(page, next), 'the page caught up without a reload').toHaveAttribute('data-state', 'current', {
      timeout: 10_000,
    });
    await check.windowStillMarked(page);
    await check.listNeverEmptied(page);
    await check.listMatchesJwks(page, request);
  });
});
