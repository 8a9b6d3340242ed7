// The operator signs in before anything else, and signs out when done.
import { expect, test } from './support/fixtures';
import * as act from './support/act';
import { baseURL, operatorPassword } from './support/environment';

test.describe('Sign-in', () => {
  test('an operator who is not signed in is sent to the sign-in page', async ({ page }) => {
    await page.goto('/tenant/signing_keys');
    await expect(page).toHaveURL(/\/login$/);
    await expect(page.getByRole('heading', { name: 'Sign in to Signet' })).toBeVisible();
  });

  test.describe('with a wrong password', () => {
    // The refusal is a 401, which the browser reports: exactly that and nothing else is expected.
    test.use({
      expectedProblems: [
        `HTTP 401: POST ${baseURL}/_signet/sign_in`,
        `console error: Failed to load resource: the server responded with a status of 401 (Unauthorized) (${baseURL}/_signet/sign_in)`,
      ],
    });

    test('a wrong password is explained in words and lets nobody in', async ({ page }) => {
      await page.goto('/login');
      await act.signIn(page, 'definitely not the password');
      await expect(page.getByTestId('sign-in-error')).toHaveText(
        'That password is not right. Check it and try again.',
      );
      await expect(page).toHaveURL(/\/login$/);
    });
  });

  test('the operator signs in, sees the keys, and signs out again', async ({ page }) => {
    await page.goto('/login');
    await act.signIn(page, operatorPassword);
    await expect(page).toHaveURL(/\/tenant\/signing_keys$/);
    await expect(page.getByRole('heading', { name: 'Signing Keys' })).toBeVisible();
    const cookies = await page.context().cookies();
    const session = cookies.find((cookie) => cookie.name === 'signet_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');

    await act.signOut(page);
    await expect(page).toHaveURL(/\/login$/);
    await page.goto('/tenant/signing_keys');
    await expect(page).toHaveURL(/\/login$/);
  });
});
