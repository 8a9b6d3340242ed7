// What a relying party does with a token Signet signed: fetch the tenant's JWKS and verify the token
// with an independent JOSE library (`jose`), checking issuer, audience and algorithm.
import type { APIRequestContext } from '@playwright/test';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyResult } from 'jose';
import { issuer } from './environment';

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
