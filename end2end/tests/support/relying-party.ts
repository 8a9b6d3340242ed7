// What a relying party does with a token Signet signed: fetch the tenant's JWKS and verify the token
// with an independent JOSE library (`jose`), checking issuer, audience and algorithm.
import type { APIRequestContext } from '@playwright/test';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyResult,
} from 'jose';
import { baseURL, issuer, issuerAt } from './environment';
import { requestAt } from './find';

/** The JWKS as a relying party fetches it now (never a cached copy). */
export async function freshJwks(request: APIRequestContext): Promise<ReturnType<typeof createLocalJWKSet>> {
  const response = await request.get('/.well-known/jwks.json');
  if (!response.ok()) throw new Error(`GET /.well-known/jwks.json: HTTP ${response.status()}`);
  return createLocalJWKSet((await response.json()) as JSONWebKeySet);
}

/**
 * Verifies `jwt` against a freshly fetched JWKS: RS256, issued by this tenant, for `audience`. Rejects
 * (with jose's error, e.g. code ERR_JWKS_NO_MATCHING_KEY for a key the JWKS no longer publishes) when
 * a relying party would refuse the token.
 */
export async function verify(request: APIRequestContext, jwt: string, audience: string): Promise<JWTVerifyResult> {
  return jwtVerify(jwt, await freshJwks(request), { issuer, audience, algorithms: ['RS256'] });
}

/**
 * The tenant named `domain`'s key set as jose's own remote key set fetches it, as a relying party of
 * that tenant would from `https://DOMAIN/.well-known/jwks.json`: here from the suite's server with
 * `Host: domain` (jose's `customFetch`), so the host names the tenant. A new one per call: nothing is
 * cached between verifications.
 */
export function remoteJwksAt(domain: string): ReturnType<typeof createRemoteJWKSet> {
  return createRemoteJWKSet(new URL('/.well-known/jwks.json', baseURL), {
    [customFetch]: async (url: string) => {
      const { pathname, search } = new URL(url);
      const response = await requestAt(domain, 'GET', `${pathname}${search}`, {
        headers: { Accept: 'application/json' },
      });
      return new Response(await response.text(), {
        status: response.status(),
        headers: { 'Content-Type': 'application/json' },
      });
    },
  });
}

/**
 * Verifies `jwt` as a relying party of the tenant named `domain` does: through its remote JWKS,
 * issued by that tenant, for `audience`, signed with one of `algorithms`. Rejects with jose's error
 * (e.g. code ERR_JOSE_ALG_NOT_ALLOWED for an algorithm not in the list) when it would refuse the token.
 */
export async function verifyAt(
  domain: string,
  jwt: string,
  audience: string,
  algorithms: string[],
): Promise<JWTVerifyResult> {
  return jwtVerify(jwt, remoteJwksAt(domain), { issuer: issuerAt(domain), audience, algorithms });
}
