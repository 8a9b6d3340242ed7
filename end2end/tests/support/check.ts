// What the operator expects to see. Each check is one sentence of the story.
import type { Page } from '@playwright/test';
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
