// Everyone can use the page: axe-core finds no WCAG 2 A/AA violation (contrast included) on the
// sign-in page, the Signing Keys page, an open dialog (Rotate & Revoke, the rotation schedule, the
// signing algorithm) and an open menu, and the Tenants page with the header's tenant switcher open,
// in light and dark.
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { expect, test } from './support/fixtures';
import * as act from './support/act';
import * as check from './support/check';
import * as find from './support/find';

async function violations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return results.violations.map(
    (violation) => `${violation.id} (${violation.impact}): ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`,
  );
}

for (const colorScheme of ['light', 'dark'] as const) {
  test.describe(`Accessibility, ${colorScheme}`, () => {
    test.use({ colorScheme });

    test('the sign-in page', async ({ browser }) => {
      const context = await browser.newContext({ colorScheme });
      const page = await context.newPage();
      await page.goto('/login');
      await act.waitForHydration(page);
      expect(await violations(page)).toEqual([]);
      await context.close();
    });

    test('the Signing Keys page, its menu and its dialog', async ({ page }) => {
      await act.openSigningKeys(page);
      expect(await violations(page), 'the page').toEqual([]);

      const current = find.kidIn(await check.settledKeys(page), 'current');
      await act.openMenu(page, current);
      expect(await violations(page), 'with a key menu open').toEqual([]);
      await page.keyboard.press('Escape');

      await page.getByRole('button', { name: 'Rotate & Revoke Key', exact: true }).click();
      await expect(find.confirmDialog(page)).toBeVisible();
      expect(await violations(page), 'with the Rotate & Revoke dialog open').toEqual([]);
      await page.keyboard.press('Escape');
      await expect(find.confirmDialog(page)).toHaveCount(0);

      await page.getByRole('button', { name: 'Edit Schedule', exact: true }).click();
      await expect(find.confirmDialog(page)).toBeVisible();
      await expect(find.confirmDialog(page).getByRole('heading')).toHaveText('Rotation schedule');
      expect(await violations(page), 'with the rotation schedule dialog open').toEqual([]);
      await page.keyboard.press('Escape');
      await expect(find.confirmDialog(page)).toHaveCount(0);

      // Opened and closed again, nothing chosen: the tenant's algorithm stays as it is.
      await find.signingAlgorithm(page).getByRole('button', { name: 'Change Algorithm', exact: true }).click();
      await expect(find.algorithmDialog(page)).toBeVisible();
      await expect(find.algorithmDialog(page)).toHaveRole('dialog');
      await expect(find.algorithmDialog(page)).toHaveAccessibleName('Signing Algorithm');
      expect(await violations(page), 'with the signing algorithm dialog open').toEqual([]);
      await page.keyboard.press('Escape');
      await expect(find.algorithmDialog(page)).toHaveCount(0);
    });

    test('the Tenants page and the tenant switcher', async ({ page }) => {
      await act.openTenants(page);
      expect(await violations(page), 'the page').toEqual([]);

      await act.openTenantSwitcher(page);
      expect(await violations(page), 'with the tenant switcher open').toEqual([]);
      await act.closeTenantSwitcher(page);
    });
  });
}
