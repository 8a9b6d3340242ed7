// Signet signs tokens for a machine client (issue 14): an application asks for an ID token, and a
// relying party verifies it with an independent JOSE library (`jose`) through the published JWKS,
// until the operator revokes the key that signed it. A per-key ledger counts what each key signed and
// tells the operator, on the page, when a previously used key no longer has live tokens and so is
// safe to revoke. Time moves only through the test clock file (SIGNET_TEST_CLOCK_FILE), never by
// sleeping; the story that moves it puts it back afterwards.
import type { APIResponse, Page } from '@playwright/test';
import { decodeProtectedHeader } from 'jose';
import { expect, test } from './support/fixtures';
import * as act from './support/act';
import * as check from './support/check';
import * as find from './support/find';
import * as relyingParty from './support/relying-party';
import { issuer } from './support/environment';

/** The application the signing clients sign for: their one allowed audience. */
const APP = 'https://app.example';

interface Signed {
  jwt: string;
  kid: string;
  alg: string;
  expires_at: string;
}

interface SignedBatch {
  kid: string;
  alg: string;
  tokens: { jwt: string; expires_at: string }[];
}

/** The 201 body of POST /api/v2/jwt/sign (anything else fails the story with Signet's answer). */
async function signedToken(response: APIResponse): Promise<Signed> {
  expect(response.status(), `POST /api/v2/jwt/sign: ${await response.text()}`).toBe(201);
  return (await response.json()) as Signed;
}

/** Reloads the page (the usage is read when the page loads) and reads `kid`'s usage cell. */
async function usageAfterReload(page: Page, kid: string) {
  await act.reload(page);
  const shown = await find.shownUsage(page, kid);
  return shown && { ...shown, liveUntil: shown.liveUntil ? Date.parse(shown.liveUntil) : null };
}

test.describe('Signing tokens through the API', () => {
  test('an ID token verifies through the JWKS before and after a rotation, and no longer once its key is revoked', async ({
    request,
  }) => {
    const manager = act.createKeyManager();
    const signer = act.createSigningClient([APP], 3600);
    expect(signer.signing_policy, 'the CLI prints the signing policy').toEqual({
      audiences: [APP],
      max_lifetime_seconds: 3600,
    });
    let managerToken = await act.getToken(request, manager);
    const signerToken = await act.getToken(request, signer);
    const signingKid = await find.currentKidFromApi(request, managerToken);
    const countedBefore = (await find.usage(request, managerToken, signingKid)).tokens_signed;

    const exp = find.serverNow() + 600;
    const idToken = await signedToken(
      await act.signJwt(request, signerToken, { claims: { sub: 'user-1', aud: APP, exp, nonce: 'n-0S6_WzA2Mj' } }),
    );
    expect(idToken, 'the current key signs, with RS256').toMatchObject({ kid: signingKid, alg: 'RS256' });
    expect(Date.parse(idToken.expires_at), 'expires_at is the exp asked for').toBe(exp * 1000);
    expect((await find.usage(request, managerToken, signingKid)).tokens_signed, 'the ledger counts it').toBe(
      countedBefore + 1,
    );

    // Before a rotation: a relying party verifies it with the keys Signet publishes.
    const before = await relyingParty.verify(request, idToken.jwt, APP);
    expect(before.protectedHeader, 'the JWT header').toEqual({ typ: 'JWT', alg: 'RS256', kid: signingKid });
    expect(before.payload).toMatchObject({ iss: issuer, sub: 'user-1', aud: APP, exp, nonce: 'n-0S6_WzA2Mj' });
    const iatOffBy = Math.abs((before.payload.iat ?? 0) - find.serverNow());
    expect(iatOffBy, 'Signet sets iat to its own now (seconds off)').toBeLessThanOrEqual(60);

    // After a rotation: the key that signed it is a previous key, still published, so it still verifies,
    // while new tokens come from the new current key.
    const newCurrent = await act.rotateWithApi(request, managerToken);
    expect(newCurrent).not.toBe(signingKid);
    expect(await find.publishedKids(request), 'a previous key stays in the JWKS').toContain(signingKid);
    const after = await relyingParty.verify(request, idToken.jwt, APP);
    expect(after.payload.sub).toBe('user-1');
    const fresh = await signedToken(
      await act.signJwt(request, signerToken, { claims: { sub: 'user-2', aud: APP, exp: find.serverNow() + 600 } }),
    );
    expect(fresh.kid, 'new tokens are signed by the new current key').toBe(newCurrent);
    await relyingParty.verify(request, fresh.jwt, APP);

    // Its tokens are still live, so the ledger says it is not yet safe to revoke. (A new management token,
    // signed by the new current key, so that it outlives the revocation below.)
    managerToken = await act.getToken(request, manager);
    const ledger = await find.usage(request, managerToken, signingKid);
    expect(ledger.safe_to_revoke, 'a key with live tokens is not safe to revoke').toBe(false);
    expect(Date.parse(ledger.live_tokens_until ?? ''), 'its tokens are live at least until the ID token expires')
      .toBeGreaterThanOrEqual(exp * 1000);

    // The operator revokes it anyway: it leaves the JWKS, and a relying party refuses the ID token.
    await act.revokeWithApi(request, managerToken, signingKid);
    await expect(
      relyingParty.verify(request, idToken.jwt, APP),
      'jose finds no key for the token in the refreshed JWKS',
    ).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    await relyingParty.verify(request, fresh.jwt, APP);
    // Signet itself refuses the signing client's access token, which the revoked key signed.
    await check.refused(
      await act.signJwt(request, signerToken, { claims: { sub: 'user-3', aud: APP, exp: find.serverNow() + 600 } }),
      'invalid_token',
      { status: 401 },
    );
  });

  test('a batch of three claim sets is signed by one key, counted three times, and every token verifies', async ({
    request,
  }) => {
    const manager = act.createKeyManager();
    const signer = act.createSigningClient([APP], 3600);
    const managerToken = await act.getToken(request, manager);
    const signerToken = await act.getToken(request, signer);
    const currentKid = await find.currentKidFromApi(request, managerToken);
    const countedBefore = (await find.usage(request, managerToken, currentKid)).tokens_signed;

    const exp = find.serverNow() + 900;
    const subjects = ['alice', 'bob', 'carol'];
    const response = await act.signJwtBatch(request, signerToken, {
      tokens: subjects.map((sub) => ({ claims: { sub, aud: APP, exp } })),
    });
    expect(response.status(), `POST /api/v2/jwt/sign-batch: ${await response.text()}`).toBe(201);
    const batch = (await response.json()) as SignedBatch;
    expect(batch, 'the whole batch is signed by the current key').toMatchObject({ kid: currentKid, alg: 'RS256' });
    expect(batch.tokens).toHaveLength(subjects.length);

    for (const [i, token] of batch.tokens.entries()) {
      expect(decodeProtectedHeader(token.jwt).kid, `token ${i} names the batch's key`).toBe(batch.kid);
      expect(Date.parse(token.expires_at)).toBe(exp * 1000);
      const { payload } = await relyingParty.verify(request, token.jwt, APP);
      expect(payload, `token ${i} carries its own claim set`).toMatchObject({
        iss: issuer,
        sub: subjects[i],
        aud: APP,
        exp,
      });
    }
    expect((await find.usage(request, managerToken, currentKid)).tokens_signed, 'the ledger counts each token').toBe(
      countedBefore + subjects.length,
    );
  });

  test('a claim set that breaks the signing rules is refused with the rule it breaks, and nothing is signed', async ({
    request,
  }) => {
    const manager = act.createKeyManager();
    const signer = act.createSigningClient([APP], 3600);
    const managerToken = await act.getToken(request, manager);
    const signerToken = await act.getToken(request, signer);
    const currentKid = await find.currentKidFromApi(request, managerToken);
    const before = await find.usage(request, managerToken, currentKid);
    const exp = find.serverNow() + 300;

    await check.refused(
      await act.signJwt(request, signerToken, { claims: { sub: 'user-1', aud: APP } }),
      'missing_exp',
      { mentions: /exp/i },
    );
    await check.refused(
      await act.signJwt(request, signerToken, { claims: { sub: 'user-1', aud: 'https://elsewhere.example', exp } }),
      'audience_not_allowed',
      { mentions: /aud/i },
    );
    await check.refused(
      await act.signJwt(request, signerToken, {
        claims: { sub: 'user-1', aud: APP, exp },
        header: { typ: 'JWT', alg: 'none' },
      }),
      'header_not_allowed',
      { mentions: /alg|header/i },
    );

    const afterRefusals = await find.usage(request, managerToken, currentKid);
    expect(afterRefusals.tokens_signed, 'a refusal signs nothing').toBe(before.tokens_signed);
    expect(afterRefusals.last_signed_at, 'a refusal signs nothing').toBe(before.last_signed_at);

    // The same claim set within the rules is signed, and counted.
    const accepted = await signedToken(
      await act.signJwt(request, signerToken, { claims: { sub: 'user-1', aud: APP, exp }, header: { typ: 'JWT' } }),
    );
    await relyingParty.verify(request, accepted.jwt, APP);
    expect((await find.usage(request, managerToken, currentKid)).tokens_signed).toBe(before.tokens_signed + 1);
  });
});

test.describe('Knowing when a previously used key is safe to revoke', () => {
  // This story moves the server clock; the stories after it run on the system clock again, whatever happens.
  test.afterEach(() => act.resetServerClock());

  test('the page shows what the current key signed, until when a rotated key has live tokens, and then that it is safe to revoke', async ({
    page,
    request,
  }) => {
    // Several reloads while the ledger settles.
    test.setTimeout(60_000);
    await act.openSigningKeys(page);
    const signingKid = find.kidIn(await check.settledKeys(page), 'next');

    // The signing client's own access token lives 24 hours. It is taken while the key before is current
    // (and only then is the queued key rotated in), so the key under watch signs only this story's
    // short-lived ID tokens.
    const signer = act.createSigningClient([APP], 3600);
    const signerToken = await act.getToken(request, signer);
    await act.rotateWithCli(request);
    await act.reload(page);
    await check.listedAs(page, signingKid, 'current');
    await expect(find.keyUsage(page, signingKid)).toHaveAttribute('data-tokens-signed', '0');
    await expect(find.keyUsage(page, signingKid)).toContainText('Never signed');

    // The application mints ID tokens that live one to two minutes (the longest is not the last).
    const lifetimes = [120, 60, 90];
    const minted: Signed[] = [];
    for (const [i, seconds] of lifetimes.entries()) {
      minted.push(
        await signedToken(
          await act.signJwt(request, signerToken, {
            claims: { sub: `user-${i}`, aud: APP, exp: find.serverNow() + seconds },
          }),
        ),
      );
    }
    expect(
      minted.map((token) => token.kid),
      'the current key signs them',
    ).toEqual(lifetimes.map(() => signingKid));
    const latestExp = Math.max(...minted.map((token) => Date.parse(token.expires_at)));

    // Reloaded, the page shows what the current key signed.
    await act.reload(page);
    await expect(find.keyUsage(page, signingKid)).toHaveAttribute('data-tokens-signed', String(minted.length));
    await expect(find.keyUsage(page, signingKid)).toContainText(`${minted.length} tokens signed`);

    // The operator rotates from the page: the key is now previously used, and its row says until when
    // tokens it signed are valid: the latest exp, once the ledger has settled.
    await act.rotateFromPage(page);
    await check.listedAs(page, signingKid, 'previous');
    await expect
      .poll(() => usageAfterReload(page, signingKid), {
        message: `the previous key ${signingKid} shows its tokens valid until ${new Date(latestExp).toISOString()}`,
        timeout: 15_000,
      })
      .toMatchObject({
        safeToRevoke: 'false',
        liveUntil: latestExp,
        text: expect.stringContaining('Tokens valid until'),
      });

    // Five minutes pass: every token it signed has expired, and the row says it is safe to revoke.
    act.setServerClockAhead(300);
    expect(find.serverNow() * 1000, 'the server clock is past the latest exp').toBeGreaterThan(latestExp);
    await expect
      .poll(() => usageAfterReload(page, signingKid), {
        message: `the previous key ${signingKid} shows it has no live tokens`,
        timeout: 15_000,
      })
      .toMatchObject({
        tokensSigned: String(minted.length),
        safeToRevoke: 'true',
        text: expect.stringContaining('No live tokens — safe to revoke'),
      });

    // The operator revokes it from its menu; the dialog says nothing it signed is still valid.
    await act.chooseFromMenu(page, signingKid, 'Revoke Key');
    const dialog = find.confirmDialog(page);
    await expect(dialog.getByRole('heading')).toHaveText(`Revoke key ${signingKid}?`);
    await expect(dialog).toContainText('It has no live tokens');
    await expect(dialog).not.toContainText('would still have been valid until');
    await act.confirm(page, 'Revoke');

    await expect(find.toasts(page).last()).toHaveText(new RegExp(`Key ${signingKid} revoked.`));
    await check.notAmongValidKeys(page, signingKid);
    await check.amongRevokedKeys(page, signingKid);
    expect(await find.publishedKids(request), 'the revoked key leaves the JWKS').not.toContain(signingKid);
  });
});
