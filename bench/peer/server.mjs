// Reference peer for bench/run.sh: panva's oidc-provider issuing RS256-signed JWT access tokens
// with the client_credentials grant, on 127.0.0.1 only. See README.md next to this file.
//
//   node bench/peer/server.mjs        # NODE_ENV defaults to production (workers inherit it)
//
// Environment: PORT (default 39518), WORKERS (default os.availableParallelism()),
// PEER_JWK_FILE (optional: a private RSA JWK as JSON; otherwise a fresh RSA-2048 key is
// generated at start-up by the primary and handed to every worker, so all sign with one key).
import cluster from 'node:cluster';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';

const HOST = '127.0.0.1';
const PORT = Number.parseInt(process.env.PORT || '39518', 10);
const ISSUER = `http://${HOST}:${PORT}`;
const WORKERS = Number.parseInt(process.env.WORKERS || String(os.availableParallelism()), 10);

const CLIENT_ID = 'bench';
const CLIENT_SECRET = 'bench-secret-bench-secret-bench-secret';
const RESOURCE = 'https://bench.peer.test/api/';
const SCOPE = 'read:signing_keys';

// RFC 7638 JWK thumbprint of an RSA key, used as its kid.
function thumbprint({ e, kty, n }) {
  return createHash('sha256').update(JSON.stringify({ e, kty, n })).digest('base64url');
}

function loadOrGenerateKey() {
  let jwk;
  if (process.env.PEER_JWK_FILE) {
    jwk = JSON.parse(readFileSync(process.env.PEER_JWK_FILE, 'utf8'));
    if (jwk.kty !== 'RSA' || !jwk.d) throw new Error('PEER_JWK_FILE must hold a private RSA JWK');
  } else {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    jwk = privateKey.export({ format: 'jwk' });
  }
  return { ...jwk, kid: jwk.kid || thumbprint(jwk), alg: 'RS256', use: 'sig' };
}

if (cluster.isPrimary) {
  process.env.NODE_ENV ||= 'production';
  if (!Number.isInteger(PORT) || PORT <= 0 || !Number.isInteger(WORKERS) || WORKERS < 1) {
    console.error('peer: PORT and WORKERS must be positive integers');
    process.exit(2);
  }
  const jwk = loadOrGenerateKey();
  let listening = 0;
  let stopping = false;

  const stop = (code) => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
    process.exitCode = code;
  };
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));

  cluster.on('message', (_worker, message) => {
    if (message === 'listening' && ++listening === WORKERS) {
      console.log(`peer listening on ${ISSUER} (${WORKERS} workers)`);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      console.error(`peer: worker ${worker.process.pid} exited (${signal || code}), stopping`);
      stop(1);
    }
  });

  // Cookies are unused (no interactions), but oidc-provider wants signing keys for them.
  const cookieKey = randomBytes(32).toString('base64url');
  for (let i = 0; i < WORKERS; i += 1) {
    cluster.fork({ PEER_JWK: JSON.stringify(jwk), PEER_COOKIE_KEY: cookieKey });
  }
} else {
  const { default: Provider } = await import('oidc-provider');
  const jwk = JSON.parse(process.env.PEER_JWK);
  const cookieKey = process.env.PEER_COOKIE_KEY;
  delete process.env.PEER_JWK;
  delete process.env.PEER_COOKIE_KEY;

  // Only JWT access tokens are issued (client_credentials); oidc-provider never persists those,
  // and the one client is static configuration. So nothing needs storing: a stateless adapter
  // replaces the development in-memory one (and its warning).
  class StatelessAdapter {
    async upsert() {}
    async find() { return undefined; }
    async findByUserCode() { return undefined; }
    async findByUid() { return undefined; }
    async consume() {}
    async destroy() {}
    async revokeByGrantId() {}
  }

  const provider = new Provider(ISSUER, {
    adapter: StatelessAdapter,
    jwks: { keys: [jwk] },
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_post',
    }],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        getResourceServerInfo: () => ({
          scope: SCOPE,
          audience: RESOURCE,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    // Same lifetime as Signet's default token_lifetime (24 h); also silences the TTL notice.
    ttl: { ClientCredentials: 86_400 },
    cookies: { keys: [cookieKey] },
  });

  provider.listen(PORT, HOST, () => process.send('listening'));
}
