// More algorithms (issue 17): a tenant signs with RS256 or PS256 (2048, 3072 or 4096-bit RSA keys),
// ES256 (P-256) or EdDSA (Ed25519), one type at a time. Choosing another type replaces the queued
// next key at once by a key of that type and leaves the current key signing until the next
// rotation, so relying parties can fetch the new key before it signs. The operator chooses it on the
// Signing Algorithm card; a relying party verifies what each type signs with an independent JOSE
// library (`jose`), through the tenant's JWKS, for that algorithm only. Every story works on a tenant
// of its own, made with the CLI and deleted afterwards: the default tenant, which the other stories
// share, keeps its keys and signs RS256 throughout.
import { X509Certificate, createHash } from 'node:crypto';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { decodeProtectedHeader } from 'jose';
import { expect, test } from './support/fixtures';
import * as act from './support/act';
import * as check from './support/check';
import * as find from './support/find';
import * as relyingParty from './support/relying-party';
import { issuerAt, managementAudienceAt, screenshotsDir } from './support/environment';

/** The application the signing client signs ID tokens for: its one allowed audience. */
const APP = 'https://app.example';

type Alg = 'RS256' | 'PS256' | 'ES256' | 'EdDSA';
/** The algorithms Signet offers, in the order the dialog offers them. */
const ALGS: Alg[] = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/** A type of signing key: an algorithm, a key size, and how the page names the pair. */
interface KeyType {
  alg: Alg;
  keySize: number;
  label: string;
}

const RS256_2048: KeyType = { alg: 'RS256', keySize: 2048, label: 'RS256 (2048-bit)' };
const ES256: KeyType = { alg: 'ES256', keySize: 256, label: 'ES256 (P-256)' };

/**
 * Every type a tenant may sign with, in an order in which each differs from the one before it: a new
 * tenant signs with RS256 (2048-bit), which comes last, so the tenant ends as it began.
 */
const KEY_TYPES: KeyType[] = [
  ES256,
  { alg: 'EdDSA', keySize: 256, label: 'EdDSA (Ed25519)' },
  { alg: 'PS256', keySize: 2048, label: 'PS256 (2048-bit)' },
  { alg: 'PS256', keySize: 3072, label: 'PS256 (3072-bit)' },
  { alg: 'PS256', keySize: 4096, label: 'PS256 (4096-bit)' },
  { alg: 'RS256', keySize: 3072, label: 'RS256 (3072-bit)' },
  { alg: 'RS256', keySize: 4096, label: 'RS256 (4096-bit)' },
  RS256_2048,
];

/** The JWK key type (and curve) of each algorithm's keys. */
const JWK_TYPE: Record<Alg, { kty: string; crv?: string }> = {
  RS256: { kty: 'RSA' },
  PS256: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: 'P-256' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
};

/** Every member a published JWK has, by key type, sorted: the public key and its certificate, nothing more. */
const JWK_MEMBERS: Record<string, string[]> = {
  RSA: ['alg', 'e', 'kid', 'kty', 'n', 'use', 'x5c', 'x5t'],
  EC: ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'x5c', 'x5t', 'y'],
  OKP: ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'x5c', 'x5t'],
};

/** What the policy API refuses, with what its message must name. */
const NOT_OFFERED: { body: Record<string, unknown>; mentions: RegExp }[] = [
  { body: { signing_alg: 'HS256' }, mentions: /HS256/ },
  { body: { signing_alg: 'none' }, mentions: /none/ },
  // JWS names are case-sensitive.
  { body: { signing_alg: 'rs256' }, mentions: /rs256/ },
  { body: { signing_alg: 'RS256', key_size: 1024 }, mentions: /1024/ },
  { body: { signing_alg: 'PS256', key_size: 8192 }, mentions: /8192/ },
  { body: { signing_alg: 'ES256', key_size: 384 }, mentions: /384/ },
  { body: { signing_alg: 'EdDSA', key_size: 2048 }, mentions: /2048/ },
];

/** The PATCH body that chooses `type`: an RSA type names its size, a curve's size goes without saying. */
function choosing(type: KeyType): Record<string, unknown> {
  return JWK_TYPE[type.alg].kty === 'RSA' ? { signing_alg: type.alg, key_size: type.keySize } : { signing_alg: type.alg };
}

/** The one key of the Management API's list in `state`. */
function only(keys: find.SigningKey[], state: 'current' | 'next'): find.SigningKey {
  const found = keys.filter((key) => key[state]);
  const listed = keys.map((key) => key.kid).join(', ');
  expect(found.map((key) => key.kid), `exactly one ${state} key among ${listed}`).toHaveLength(1);
  return found[0];
}

/** How many bytes a base64url member of a JWK encodes. */
function bytesOf(member: string | undefined): number {
  return Buffer.from(member ?? '', 'base64url').length;
}

/** The members of a JWK that are its public key, as Node exports a public key as a JWK. */
function publicKeyOf(jwk: find.Jwk): Record<string, string> {
  const key: Record<string, string> = {};
  for (const member of ['kty', 'n', 'e', 'crv', 'x', 'y'] as const) {
    const value = jwk[member];
    if (value !== undefined) key[member] = value;
  }
  return key;
}

/**
 * A JWK of `type`, published by the tenant named `domain`, is what a relying party expects: exactly
 * the members of its key type, a key of the type's size, and one certificate (x5c) of that same key,
 * named after the tenant and signed with the key, whose SHA-1 thumbprint is its x5t.
 */
function checkJwk(jwk: find.Jwk, type: KeyType, domain: string): void {
  const { kty, crv } = JWK_TYPE[type.alg];
  expect(Object.keys(jwk).sort(), `the members of ${jwk.kid}'s JWK, a ${type.label} key`).toEqual(JWK_MEMBERS[kty]);
  expect(jwk, `${jwk.kid}'s JWK`).toMatchObject({ alg: type.alg, kty, use: 'sig', ...(crv ? { crv } : {}) });
  if (kty === 'RSA') {
    expect(bytesOf(jwk.n) * 8, `${jwk.kid}'s modulus, in bits`).toBe(type.keySize);
  } else {
    expect(bytesOf(jwk.x), `${jwk.kid}'s x, in bytes`).toBe(32);
    if (kty === 'EC') expect(bytesOf(jwk.y), `${jwk.kid}'s y, in bytes`).toBe(32);
  }
  expect(jwk.x5c, `${jwk.kid}'s certificate chain`).toHaveLength(1);
  const der = Buffer.from(jwk.x5c[0], 'base64');
  expect(jwk.x5t, 'x5t is the SHA-1 thumbprint of the certificate').toBe(createHash('sha1').update(der).digest('base64url'));
  const certificate = new X509Certificate(der);
  expect(certificate.subject).toBe(`CN=${domain}`);
  expect(certificate.verify(certificate.publicKey), 'the certificate is signed with its own key').toBe(true);
  expect(certificate.publicKey.export({ format: 'jwk' }), "the certificate's key is the JWK's").toEqual(publicKeyOf(jwk));
}

/**
 * Rotates from the page: Rotate Key, then the dialog's confirmation, once the dialog names `next` as
 * the key that becomes current. The suite's server runs with no publication window, so the dialog
 * offers Rotate; were the new next key too new for the window, it would offer Rotate anyway (a
 * forced rotation) in its place.
 */
async function rotateFromPage(page: Page, next: string): Promise<void> {
  await page.getByRole('button', { name: 'Rotate Key', exact: true }).click();
  const dialog = find.confirmDialog(page);
  await expect(dialog).toBeVisible();
  await expect(dialog, 'the dialog names the key that becomes current').toContainText(`Key ${next} becomes the current key`);
  await dialog
    .getByRole('button', { name: 'Rotate', exact: true })
    .or(dialog.getByRole('button', { name: 'Rotate anyway', exact: true }))
    .click();
}

test.describe('Choosing the signing algorithm on the page', () => {
  /** The story's own tenant, deleted once the story and its page are over. */
  let made: string | undefined;
  test.afterAll(() => {
    if (made) act.deleteTenantWithCli(made);
  });

  test('the operator chooses ES256: the next key becomes a P-256 key at once, and signs once the operator rotates', async ({
    page,
  }) => {
    // A tenant is made and the dashboard switched to it first.
    test.setTimeout(60_000);
    const { domain } = await act.createTenantWithCli('alg-page');
    made = domain;
    await act.openSigningKeys(page);
    await act.switchTenant(page, domain);
    await check.showsTenant(page, domain);
    const before = await check.settledKeys(page);
    const oldCurrent = find.kidIn(before, 'current');
    const oldNext = find.kidIn(before, 'next');

    // A new tenant signs with RS256 and 2048-bit keys, and its next key is of the same type.
    const card = find.signingAlgorithm(page);
    await expect(card.getByRole('heading', { name: 'Signing Algorithm', exact: true })).toBeVisible();
    await expect(find.currentAlg(page)).toHaveText(RS256_2048.label);
    await expect(find.nextKeyAlg(page), 'no notice while the next key is of the same type').toHaveCount(0);
    await expect(find.keyAlg(page, oldCurrent)).toHaveText(RS256_2048.label);
    await expect(find.keyAlg(page, oldNext)).toHaveText(RS256_2048.label);
    await act.markWindow(page);
    const version = await find.keysVersion(page);

    // The dialog: an algorithm and, for the RSA ones, a key size.
    const changeAlgorithm = card.getByRole('button', { name: 'Change Algorithm', exact: true });
    await changeAlgorithm.click();
    const dialog = find.algorithmDialog(page);
    await expect(dialog).toBeVisible();
    await expect(dialog).toHaveRole('dialog');
    await expect(dialog).toHaveAccessibleName('Signing Algorithm');
    const algorithm = dialog.getByLabel('Algorithm', { exact: true });
    const keySize = dialog.getByLabel('Key size', { exact: true });
    await expect(algorithm).toHaveAttribute('id', 'signing-alg');
    await expect(keySize).toHaveAttribute('id', 'key-size');
    expect(await find.optionValues(algorithm), 'the algorithms offered').toEqual(ALGS);
    expect(await find.optionValues(keySize), 'the RSA key sizes offered').toEqual(['2048', '3072', '4096']);
    await expect(algorithm, "the dialog starts at the tenant's algorithm").toHaveValue('RS256');
    await expect(keySize, 'and at its key size').toHaveValue('2048');
    await expect(keySize).toBeEnabled();
    await algorithm.selectOption('EdDSA');
    await expect(keySize, 'an Ed25519 key has one size').toBeDisabled();
    await algorithm.selectOption('PS256');
    await expect(keySize, 'an RSA key has a choice of sizes').toBeEnabled();
    await algorithm.selectOption('ES256');
    await expect(keySize, 'a P-256 key has one size').toBeDisabled();
    await dialog.getByRole('button', { name: 'Save Algorithm', exact: true }).click();

    // Saved: the dialog closes, and the page follows the new key set through its live stream.
    await expect(dialog).toHaveCount(0);
    await expect
      .poll(() => find.keysVersion(page), { message: 'the List of Valid Keys shows a newer key set' })
      .toBeGreaterThan(version);
    await expect(find.nextKeyAlg(page)).toHaveText('Next key: ES256 — becomes current at the next rotation');
    // The current key signs on, untouched.
    await expect(find.currentAlg(page)).toHaveText(RS256_2048.label);
    await check.listedAs(page, oldCurrent, 'current');
    await expect(find.keyAlg(page, oldCurrent)).toHaveText(RS256_2048.label);
    // The next key gave way to a P-256 key at once; the RSA key it was (it never signed) is revoked.
    await check.notAmongValidKeys(page, oldNext);
    await check.amongRevokedKeys(page, oldNext);
    await expect(find.revokedKeyAlg(page, oldNext)).toHaveText(RS256_2048.label);
    const esNext = find.kidIn(await check.settledKeys(page), 'next');
    expect(esNext, 'a new next key').not.toBe(oldNext);
    await expect(find.keyAlg(page, esNext)).toHaveText(ES256.label);
    await check.windowStillMarked(page);
    await check.listMatchesJwksAt(page, domain);
    expect(
      (await find.publishedKeysAt(domain)).find((key) => key.kid === esNext),
      'relying parties can fetch the P-256 key before it signs',
    ).toMatchObject({ alg: 'ES256', kty: 'EC', crv: 'P-256' });
    await act.screenshotOf(page, card, path.join(screenshotsDir, 'signing-algorithm.png'));

    // Opened again, the dialog shows the choice; Cancel changes nothing.
    await changeAlgorithm.click();
    await expect(dialog).toBeVisible();
    await expect(algorithm).toHaveValue('ES256');
    await expect(keySize).toBeDisabled();
    await dialog.getByRole('link', { name: 'Cancel', exact: true }).click();
    await expect(dialog).toHaveCount(0);
    await check.listedAs(page, esNext, 'next');
    await expect(find.nextKeyAlg(page)).toHaveText('Next key: ES256 — becomes current at the next rotation');

    // The operator rotates: the P-256 key signs, the RSA key stays published as previously used, and
    // the key queued after it is a P-256 key too, so the notice goes.
    await rotateFromPage(page, esNext);
    await expect(find.toasts(page).last()).toHaveText(new RegExp(`Signing key rotated. Key ${esNext} now signs new tokens.`));
    await check.listedAs(page, esNext, 'current');
    await check.listedAs(page, oldCurrent, 'previous');
    await expect(find.currentAlg(page)).toHaveText(ES256.label);
    await expect(find.nextKeyAlg(page), 'the next key is of the same type again').toHaveCount(0);
    await expect(find.keyAlg(page, esNext)).toHaveText(ES256.label);
    await expect(find.keyAlg(page, oldCurrent)).toHaveText(RS256_2048.label);
    const newNext = find.kidIn(await check.settledKeys(page, 'previous'), 'next');
    expect([oldCurrent, oldNext, esNext], 'the queued key is a new one').not.toContain(newNext);
    await expect(find.keyAlg(page, newNext)).toHaveText(ES256.label);
    await check.windowStillMarked(page);
    await check.listMatchesJwksAt(page, domain);
  });
});

test.describe.serial('Every algorithm, verified by a relying party', () => {
  // One tenant goes through every type in turn; the stories read its key set as they find it.
  let tenant: act.CreatedTenant | undefined;
  let manager: act.MachineClient;
  let signer: act.MachineClient;

  test.beforeAll(async () => {
    tenant = await act.createTenantWithCli('alg-api');
    manager = act.createKeyManager(tenant.domain);
    signer = act.createSigningClient([APP], 3600, tenant.domain);
  });

  test.afterAll(() => {
    if (tenant) act.deleteTenantWithCli(tenant.domain);
  });

  test('a new tenant signs with RS256 and 2048-bit keys, and the policy API refuses a type Signet does not offer', async () => {
    const { domain } = tenant!;
    const token = await act.getTokenAt(domain, manager);
    expect(decodeProtectedHeader(token).alg, 'a new tenant signs with RS256').toBe('RS256');
    expect(await find.rotationPolicyAt(domain, token), 'the policy names the type').toMatchObject({
      signing_alg: 'RS256',
      key_size: 2048,
    });
    const keys = await find.signingKeysAt(domain, token);
    for (const state of ['current', 'next'] as const) {
      expect(only(keys, state), `the ${state} key`).toMatchObject({ alg: 'RS256', key_size: 2048 });
    }
    const published = await find.publishedKeysAt(domain);
    for (const jwk of published) checkJwk(jwk, RS256_2048, domain);

    for (const { body, mentions } of NOT_OFFERED) {
      await check.refused(await act.setRotationPolicyAt(domain, token, body), 'unsupported_algorithm', { mentions });
    }

    expect(await find.signingKeysAt(domain, token), 'a refused change changes no key').toEqual(keys);
    expect(await find.rotationPolicyAt(domain, token), 'nor the type').toMatchObject({ signing_alg: 'RS256', key_size: 2048 });
    expect(await find.publishedKeysAt(domain), 'nor the JWKS').toEqual(published);
  });

  for (const type of KEY_TYPES) {
    test(`${type.label}: the next key gives way at once to one of this type, which, rotated in, signs tokens a relying party verifies for ${type.alg} only`, async () => {
      // Up to two key pairs of this type are made, and a 4096-bit RSA key takes a while.
      test.setTimeout(60_000);
      const { domain } = tenant!;
      const audience = managementAudienceAt(domain);
      const token = await act.getTokenAt(domain, manager);
      const before = await find.signingKeysAt(domain, token);
      const oldCurrent = only(before, 'current');
      const oldNext = only(before, 'next');
      expect(
        { alg: oldCurrent.alg, key_size: oldCurrent.key_size },
        'until now the tenant signs with another type',
      ).not.toEqual({ alg: type.alg, key_size: type.keySize });

      // The policy changes: the queued next key gives way at once to one of the new type, while the
      // current key signs on.
      const changed = await act.setRotationPolicyAt(domain, token, choosing(type));
      expect(changed.status(), `PATCH /api/v2/keys/signing/policy: ${await changed.text()}`).toBe(200);
      expect(await changed.json(), 'the policy as changed').toMatchObject({ signing_alg: type.alg, key_size: type.keySize });
      expect(await find.rotationPolicyAt(domain, token)).toMatchObject({ signing_alg: type.alg, key_size: type.keySize });
      const queued = await find.signingKeysAt(domain, token);
      expect(only(queued, 'current'), 'the current key is untouched').toMatchObject({
        kid: oldCurrent.kid,
        alg: oldCurrent.alg,
        key_size: oldCurrent.key_size,
      });
      const next = only(queued, 'next');
      expect(next.kid, 'the next key was replaced').not.toBe(oldNext.kid);
      expect(next, 'by a key of the new type').toMatchObject({ alg: type.alg, key_size: type.keySize });
      expect(
        queued.find((key) => key.kid === oldNext.kid),
        'the next key it replaced is revoked',
      ).toMatchObject({ revoked: true, alg: oldNext.alg, key_size: oldNext.key_size });
      const publishedNext = (await find.publishedKeysAt(domain)).find((key) => key.kid === next.kid);
      expect(publishedNext, 'the JWKS publishes the new next key before it signs').toBeDefined();
      checkJwk(publishedNext!, type, domain);
      expect(await find.publishedKidsAt(domain), 'and no longer the key it replaced').not.toContain(oldNext.kid);

      // A forced rotation (no waiting for relying parties' caches) makes it current; the key queued
      // after it is of the new type too, and the key it replaced stays published as previously used.
      expect(await act.rotateWithApiAt(domain, token, { force: true }), 'the key of the new type is current').toBe(
        next.kid,
      );
      const rotated = await find.signingKeysAt(domain, token);
      expect(only(rotated, 'current')).toMatchObject({ kid: next.kid, alg: type.alg, key_size: type.keySize });
      expect(only(rotated, 'next'), 'the key queued after it').toMatchObject({ alg: type.alg, key_size: type.keySize });
      expect(rotated.find((key) => key.kid === oldCurrent.kid), 'the key it replaced').toMatchObject({
        previous: true,
        alg: oldCurrent.alg,
        key_size: oldCurrent.key_size,
      });
      const published = await find.publishedKeysAt(domain);
      expect(published[0]?.kid, 'the JWKS publishes the new current key first').toBe(next.kid);
      checkJwk(published[0], type, domain);
      expect(published.map((key) => key.kid), 'and the key it replaced still').toContain(oldCurrent.kid);

      // A token from /oauth/token is signed by the new key, in its algorithm; a relying party verifies
      // it through the JWKS for that algorithm, and refuses it for any other.
      const accessToken = await act.getTokenAt(domain, manager);
      expect(decodeProtectedHeader(accessToken), 'the token header').toMatchObject({ alg: type.alg, kid: next.kid });
      const verified = await relyingParty.verifyAt(domain, accessToken, audience, [type.alg]);
      expect(verified.payload).toMatchObject({ iss: issuerAt(domain) });
      await expect(
        relyingParty.verifyAt(
          domain,
          accessToken,
          audience,
          ALGS.filter((alg) => alg !== type.alg),
        ),
        `a relying party that accepts every algorithm but ${type.alg} refuses it`,
      ).rejects.toMatchObject({ code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
      // Signet takes it too: the Management API answers it.
      expect(only(await find.signingKeysAt(domain, accessToken), 'current').kid).toBe(next.kid);
      // A token the key before signed still verifies, in its own algorithm: that key is still published.
      await relyingParty.verifyAt(domain, token, audience, [oldCurrent.alg]);

      // The signing service signs an ID token with the new key, in its algorithm, and it verifies too.
      const signerToken = await act.getTokenAt(domain, signer);
      const exp = find.serverNow() + 600;
      const response = await act.signJwtAt(domain, signerToken, { claims: { sub: 'user-1', aud: APP, exp } });
      expect(response.status(), `POST /api/v2/jwt/sign: ${await response.text()}`).toBe(201);
      const signed = (await response.json()) as { jwt: string; kid: string; alg: string };
      expect(signed, 'signed by the current key, in its algorithm').toMatchObject({ kid: next.kid, alg: type.alg });
      const idToken = await relyingParty.verifyAt(domain, signed.jwt, APP, [type.alg]);
      expect(idToken.protectedHeader, 'the ID token header').toMatchObject({ alg: type.alg, kid: next.kid });
      expect(idToken.payload).toMatchObject({ iss: issuerAt(domain), sub: 'user-1', aud: APP, exp });
      await expect(
        relyingParty.verifyAt(
          domain,
          signed.jwt,
          APP,
          ALGS.filter((alg) => alg !== type.alg),
        ),
        `a relying party that accepts every algorithm but ${type.alg} refuses the ID token`,
      ).rejects.toMatchObject({ code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
    });
  }
});
