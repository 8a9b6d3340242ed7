// One deployment, several tenants: the operator creates a tenant on the Tenants page, switches the
// dashboard to it from the header, and rotates its key there. Each tenant publishes its own JWKS at
// its own host (relying parties never see the dashboard's cookie); the default tenant's keys and
// JWKS stay exactly as they were, and switching back shows them again.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { expect, test } from './support/fixtures';
import * as act from './support/act';
import * as check from './support/check';
import * as find from './support/find';
import { baseURL, screenshotsDir, tenantDomain } from './support/environment';

test.describe.serial('Tenants', () => {
  test('an operator creates a tenant, switches to it and rotates its key, and the default tenant stays as it was', async ({
    page,
    request,
  }) => {
    // Unique per run, so the story never meets a tenant an earlier run made.
    const domain = `acme-${randomBytes(4).toString('hex')}.example.com`;

    // The dashboard shows the default tenant until the operator switches.
    await act.openSigningKeys(page);
    await check.showsTenant(page, tenantDomain);
    const defaultListed = await check.settledKeys(page);
    const defaultCurrent = find.kidIn(defaultListed, 'current');
    const defaultJwks = await find.jwksBodyAt(tenantDomain);
    const defaultKids = find.kidsOf(defaultJwks);
    expect(defaultKids[0], 'the default tenant publishes its current key first').toBe(defaultCurrent);
    expect(await find.publishedKids(request), 'a host that names no tenant is the default tenant\'s').toEqual(
      defaultKids,
    );

    // Manage tenants… opens the Tenants page.
    await act.openTenantSwitcher(page);
    await expect(find.switchTo(page, tenantDomain), 'the shown tenant is marked in the switcher').toHaveAttribute(
      'aria-current',
      'true',
    );
    await find.tenantSwitcher(page).getByRole('link', { name: 'Manage tenants…' }).click();
    await act.waitForTenants(page);
    await expect(page).toHaveTitle('Tenants · Signet');
    await act.closeTenantSwitcher(page);
    const defaultRow = find.tenantRow(page, tenantDomain);
    await expect(defaultRow).toContainText('Shown');
    await expect(defaultRow.getByTestId('switch-tenant'), 'the shown tenant offers no switch').toHaveCount(0);

    // Creating a tenant happens in place: the notice, its row and the switcher's entry, no reload.
    await act.markWindow(page);
    await act.createTenant(page, domain);
    await expect(find.tenantCreated(page)).toContainText(`Created the tenant ${domain}.`);
    const row = find.tenantRow(page, domain);
    await expect(row).toHaveCount(1);
    await expect(row).toContainText(`https://${domain}/`);
    await expect(row.getByTestId('switch-tenant')).toHaveText('Switch to');
    await expect(find.switchTo(page, domain), 'the switcher lists the new tenant at once').toHaveCount(1);
    await expect(find.switchTo(page, domain)).toHaveText(domain);
    await expect(find.switchTo(page, domain)).not.toHaveAttribute('aria-current');
    await check.showsTenant(page, tenantDomain);
    await check.windowStillMarked(page);

    // Its host publishes its own current and next key, none of them the default tenant's.
    let tenantKids: string[] = [];
    await expect
      .poll(
        async () => {
          tenantKids = await find.publishedKidsAt(domain);
          const shared = tenantKids.filter((kid) => defaultKids.includes(kid));
          return tenantKids.length === 2 && shared.length === 0 ? 'its own two keys' : { tenantKids, defaultKids };
        },
        { message: `${domain} publishes its own current and next key` },
      )
      .toBe('its own two keys');

    // Switching from the header shows the new tenant's Signing Keys: exactly what its host publishes.
    await act.switchTenant(page, domain);
    await check.onSigningKeysPage(page);
    await check.showsTenant(page, domain);
    const before = await check.settledKeys(page);
    const oldCurrent = find.kidIn(before, 'current');
    const oldNext = find.kidIn(before, 'next');
    expect([oldCurrent, oldNext], 'the listed current and next keys are its JWKS').toEqual(tenantKids.slice(0, 2));
    await check.listMatchesJwksAt(page, domain);
    await act.openTenantSwitcher(page);
    await expect(find.switchTo(page, domain)).toHaveAttribute('aria-current', 'true');
    await expect(find.switchTo(page, tenantDomain)).not.toHaveAttribute('aria-current');
    await act.closeTenantSwitcher(page);

    // Rotating from the page rotates the tenant it shows.
    await act.rotateFromPage(page);
    await check.listedAs(page, oldNext, 'current');
    await check.listedAs(page, oldCurrent, 'previous');
    const newNext = find.kidIn(await check.settledKeys(page, 'previous'), 'next');
    expect([oldCurrent, oldNext, ...defaultKids], 'the queued key is a new one').not.toContain(newNext);
    await check.showsTenant(page, domain);
    await expect
      .poll(async () => (await find.publishedKidsAt(domain))[0], {
        message: `${domain}'s JWKS publishes its new current key first`,
      })
      .toBe(oldNext);
    await check.listMatchesJwksAt(page, domain);

    // The default tenant saw none of it.
    expect(await find.jwksBodyAt(tenantDomain), 'the default tenant\'s JWKS, byte for byte').toBe(defaultJwks);
    expect(await find.publishedKids(request)).toEqual(defaultKids);

    // Switching back shows the default tenant's keys as they were.
    await act.switchTenant(page, tenantDomain);
    await check.onSigningKeysPage(page);
    await check.showsTenant(page, tenantDomain);
    expect(find.kidIn(await check.settledKeys(page), 'current'), 'the default tenant\'s current key').toBe(
      defaultCurrent,
    );
    await check.listMatchesJwks(page, request);
    expect(await find.jwksBodyAt(tenantDomain), 'the default tenant\'s JWKS, byte for byte').toBe(defaultJwks);
  });

  test('the Tenants page reads well', async ({ page }) => {
    await act.screenshot(
      page,
      path.join(screenshotsDir, 'tenants.png'),
      { width: 1280, height: 800, colorScheme: 'light' },
      act.openTenants,
    );
    await expect(page).toHaveTitle('Tenants · Signet');
    await expect(find.tenantRow(page, tenantDomain)).toContainText('Default');
    await check.fitsTheWindow(page);
  });
});

test.describe('Deleting a tenant', () => {
  // The refused deletion (the domain typed wrongly) is a 400, which the browser reports.
  test.use({
    expectedProblems: [
      `HTTP 400: POST ${baseURL}/_signet/delete_tenant`,
      `console error: Failed to load resource: the server responded with a status of 400 (Bad Request) (${baseURL}/_signet/delete_tenant)`,
    ],
  });

  test('an operator deletes a tenant by typing its domain again, and its host is the default tenant\'s at once', async ({
    page,
  }) => {
    const domain = `gone-${randomBytes(4).toString('hex')}.example.com`;
    await act.openTenants(page);
    await expect(
      find.tenantRow(page, tenantDomain).getByTestId('delete-tenant'),
      'the default tenant cannot be deleted',
    ).toHaveCount(0);
    await act.createTenant(page, domain);
    await expect(find.tenantCreated(page)).toContainText(`Created the tenant ${domain}.`);
    const row = find.tenantRow(page, domain);
    await expect(row).toHaveCount(1);
    await act.markWindow(page);

    // A wrong confirmation deletes nothing, and the form stays open with what was typed.
    await row.getByText('Delete…', { exact: true }).click();
    const confirm = row.getByTestId('confirm-delete');
    await confirm.fill('gone.example.com');
    await row.getByRole('button', { name: 'Delete tenant', exact: true }).click();
    await expect(page.getByTestId('tenant-delete-error')).toHaveText(
      "Nothing was deleted: type the tenant's domain exactly to confirm.",
    );
    await expect(row).toHaveCount(1);
    await expect(confirm).toHaveValue('gone.example.com');

    // The domain typed again: the tenant goes, from the list and the switcher, without a reload.
    await confirm.fill(domain);
    await row.getByRole('button', { name: 'Delete tenant', exact: true }).click();
    await expect(page.getByTestId('tenant-deleted')).toContainText(`Deleted the tenant ${domain}`);
    await expect(row).toHaveCount(0);
    await expect(find.switchTo(page, domain)).toHaveCount(0);
    await check.windowStillMarked(page);

    // Its host is the default tenant's from now on.
    const defaultJwks = await find.jwksBodyAt(tenantDomain);
    expect(await find.jwksBodyAt(domain), `${domain} now answers as the default tenant`).toBe(defaultJwks);
  });
});
