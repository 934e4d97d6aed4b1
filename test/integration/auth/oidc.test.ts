/**
 * OIDC workload identity against a listening server and a local issuer (test/helpers/
 * oidc-issuer.ts): which tokens are accepted, the precise 401 reasons for those refused, JWKS
 * caching (rotation, stale keys on outage), role rules on `sub` and namespace scopes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Logger } from '../../../src/core/logger.ts';
import { OidcIssuer, mintHs256 } from '../../helpers/oidc-issuer.ts';
import type { TestServer } from '../../helpers/server.ts';
import { startOciServer } from '../oci/helpers.ts';

const SUB_MAIN = 'repo:myorg/app:ref:refs/heads/main';
const SUB_READ = 'repo:myorg/app:environment:readers';
const SUB_PR = 'repo:myorg/app:ref:refs/pull/7/merge';

interface Setup {
  issuer: OidcIssuer;
  server: TestServer;
  /** warn lines the app logged (audit decisions, stale keys). */
  warnings: string[];
  close(): Promise<void>;
}

async function setup(
  provider: Record<string, unknown> = {},
  oidc: Record<string, unknown> = {},
): Promise<Setup> {
  const issuer = await OidcIssuer.start();
  const server = await startOciServer({
    config: {
      docker: { upstreams: [] },
      auth: {
        enabled: true,
        anonymous_read: false,
        oidc: {
          enabled: true,
          providers: [
            {
              name: 'ci',
              issuer: issuer.url,
              audience: 'nora',
              role_rules: [
                { pattern: 'repo:myorg/*:ref:refs/heads/main', role: 'write' },
                { pattern: 'repo:myorg/*:environment:readers', role: 'read' },
              ],
              ...provider,
            },
          ],
          ...oidc,
        },
      },
    },
  });
  const warnings: string[] = [];
  const log: { warn: Logger['warn'] } = server.app.context.log;
  log.warn = (obj: object | string, msg?: string) => {
    warnings.push(typeof obj === 'string' ? obj : (msg ?? JSON.stringify(obj)));
  };
  return {
    issuer,
    server,
    warnings,
    async close() {
      await server.close();
      await issuer.close();
    },
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** GET /v2/: 200 with a valid identity, 401 (with the reason) otherwise. */
async function ping(s: Setup, token: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${s.server.url}/v2/`, { headers: bearer(token) });
  return { status: response.status, text: errorMessage(await response.text()) };
}

/** The message of an OCI error envelope (unescaped), or the text as it is. */
function errorMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { errors?: { message?: string }[] };
    return body.errors?.[0]?.message ?? text;
  } catch {
    return text;
  }
}

/** Starts a blob upload: needs the write action on `name`. */
async function startUpload(s: Setup, name: string, token: string) {
  const response = await fetch(`${s.server.url}/v2/${name}/blobs/uploads/`, {
    method: 'POST',
    headers: bearer(token),
  });
  return { status: response.status, text: errorMessage(await response.text()) };
}

async function whoami(s: Setup, authorization: string) {
  const response = await fetch(`${s.server.url}/npm/-/whoami`, { headers: { authorization } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('OIDC tokens: validation', () => {
  let s: Setup;
  before(async () => {
    s = await setup();
  });
  after(async () => {
    await s.close();
  });

  test('a valid RS256 token is the principal <provider>:<sub> with its role', async () => {
    const token = await s.issuer.mint({ kid: 'rs-1' });
    assert.equal((await ping(s, token)).status, 200);
    assert.deepEqual((await whoami(s, `Bearer ${token}`)).body, { username: `ci:${SUB_MAIN}` });
    assert.equal((await startUpload(s, 'team/app', token)).status, 202);
  });

  test('a valid ES256 token is accepted', async () => {
    const token = await s.issuer.mint({ kid: 'es-1' });
    assert.equal((await ping(s, token)).status, 200);
    assert.equal((await startUpload(s, 'team/app', token)).status, 202);
  });

  test('the token works as the Basic password under any username', async () => {
    const token = await s.issuer.mint();
    const basic = Buffer.from(`oidc:${token}`).toString('base64');
    assert.deepEqual((await whoami(s, `Basic ${basic}`)).body, { username: `ci:${SUB_MAIN}` });
  });

  test('role read: reads, but may not write (403)', async () => {
    const token = await s.issuer.mint({ sub: SUB_READ });
    assert.equal((await ping(s, token)).status, 200);
    const upload = await startUpload(s, 'team/app', token);
    assert.equal(upload.status, 403, upload.text);
    assert.match(upload.text, /read-only/);
  });

  test('an HS256 token (shared secret) is refused', async () => {
    const refused = await ping(s, await mintHs256(s.issuer.url));
    assert.equal(refused.status, 401);
    assert.match(refused.text, /algorithm HS256 is not allowed/);
  });

  test('a token for another audience is refused', async () => {
    const refused = await ping(s, await s.issuer.mint({ aud: 'someone-else' }));
    assert.equal(refused.status, 401);
    assert.match(refused.text, /wrong audience/);
  });

  test('expired beyond the leeway: refused; expired within the leeway: accepted', async () => {
    const beyond = await ping(s, await s.issuer.mint({ iatOffset: -400, expOffset: -120 }));
    assert.equal(beyond.status, 401);
    assert.match(beyond.text, /expired/);
    const within = await ping(s, await s.issuer.mint({ iatOffset: -330, expOffset: -30 }));
    assert.equal(within.status, 200, within.text);
  });

  test('not yet valid (nbf beyond the leeway) is refused', async () => {
    const refused = await ping(s, await s.issuer.mint({ nbfOffset: 300 }));
    assert.equal(refused.status, 401);
    assert.match(refused.text, /not yet valid/);
  });

  test('a lifetime over max_token_lifetime_secs is refused (with iat, and from now without)', async () => {
    const withIat = await ping(s, await s.issuer.mint({ expOffset: 1000 }));
    assert.equal(withIat.status, 401);
    assert.match(withIat.text, /valid for 1000 s, more than max_token_lifetime_secs \(900 s\)/);
    const withoutIat = await ping(s, await s.issuer.mint({ iatOffset: null, expOffset: 1000 }));
    assert.equal(withoutIat.status, 401);
    assert.match(withoutIat.text, /more than max_token_lifetime_secs/);
    const future = await ping(s, await s.issuer.mint({ iatOffset: 3000, expOffset: 3600 }));
    assert.equal(future.status, 401);
    assert.match(future.text, /issued in the future/);
    const short = await ping(s, await s.issuer.mint({ iatOffset: null, expOffset: 600 }));
    assert.equal(short.status, 200, short.text);
  });

  test('a tampered token fails its signature', async () => {
    const [header, , signature] = (await s.issuer.mint()).split('.');
    const payload = Buffer.from(
      JSON.stringify({
        iss: s.issuer.url,
        sub: SUB_MAIN,
        aud: 'nora',
        role: 'admin',
        iat: Math.floor(Date.now() / 1000),
        exp: Math.floor(Date.now() / 1000) + 60,
      }),
    ).toString('base64url');
    const refused = await ping(s, `${header}.${payload}.${signature}`);
    assert.equal(refused.status, 401);
    assert.match(refused.text, /bad signature/);
  });

  test('a sub no role rule matches (a pull-request ref) is refused', async () => {
    const refused = await ping(s, await s.issuer.mint({ sub: SUB_PR }));
    assert.equal(refused.status, 401);
    assert.match(
      refused.text,
      /no role rule matches sub "repo:myorg\/app:ref:refs\/pull\/7\/merge"/,
    );
    const otherOrg = await ping(
      s,
      await s.issuer.mint({ sub: 'repo:evil/app:ref:refs/heads/main' }),
    );
    assert.equal(otherOrg.status, 401);
  });

  test('a JWT of an unknown issuer is not an OIDC token: the generic 401', async () => {
    const refused = await ping(s, await s.issuer.mint({ iss: 'https://elsewhere.example' }));
    assert.equal(refused.status, 401);
    assert.doesNotMatch(refused.text, /OIDC/);
  });

  test('the OCI error envelope carries the reason', async () => {
    const response = await fetch(`${s.server.url}/v2/team/app/tags/list`, {
      headers: bearer(await s.issuer.mint({ aud: 'x' })),
    });
    assert.equal(response.status, 401);
    const body = (await response.json()) as { errors: { code?: string; message?: string }[] };
    const [first] = body.errors;
    assert.equal(first?.code, 'UNAUTHORIZED');
    assert.match(first.message ?? '', /provider "ci" refused: wrong audience/);
  });
});

// Its own server: the failed-authentication budget per address (429) of the validation suite's
// server is spent by the refusals there.
describe('OIDC tokens: claim types', () => {
  let s: Setup;
  before(async () => {
    s = await setup();
  });
  after(async () => {
    await s.close();
  });

  test('a sub that is not a string (array, number, object) is a 401 saying so, not a 500', async () => {
    for (const [sub, type] of [
      [[SUB_MAIN], 'an array'],
      [42, 'a number'],
      [{ repo: 'myorg/app' }, 'an object'],
    ] as const) {
      const refused = await ping(s, await s.issuer.mint({ claims: { sub } as never }));
      assert.equal(refused.status, 401, JSON.stringify(sub));
      assert.match(
        refused.text,
        new RegExp(`provider "ci" refused: invalid "sub" claim: not a string \\(${type}\\)`),
      );
    }
    // The npm shape too (JSON error), not only the OCI envelope.
    const npm = await whoami(s, `Bearer ${await s.issuer.mint({ claims: { sub: 7 } as never })}`);
    assert.equal(npm.status, 401);
    assert.match(JSON.stringify(npm.body), /invalid \\"sub\\" claim: not a string/);
  });
});

describe('OIDC tokens: JWKS cache', () => {
  test('an unknown kid refetches the JWKS once (key rotation), then not again within 30 s', async () => {
    const s = await setup();
    try {
      assert.equal((await ping(s, await s.issuer.mint({ kid: 'rs-1' }))).status, 200);
      assert.equal(s.issuer.jwksHits, 1);
      // Cached: no fetch per request.
      assert.equal((await ping(s, await s.issuer.mint({ kid: 'es-1' }))).status, 200);
      assert.equal(s.issuer.jwksHits, 1);
      await s.issuer.addKey('rs-2', 'RS256');
      s.issuer.served = ['rs-2'];
      const rotated = await ping(s, await s.issuer.mint({ kid: 'rs-2' }));
      assert.equal(rotated.status, 200, rotated.text);
      assert.equal(s.issuer.jwksHits, 2);
      await s.issuer.addKey('rs-3', 'RS256');
      const limited = await ping(s, await s.issuer.mint({ kid: 'rs-3' }));
      assert.equal(limited.status, 401);
      assert.match(limited.text, /no signing key with kid "rs-3"/);
      assert.equal(s.issuer.jwksHits, 2, 'an unknown kid refetches at most once per 30 s');
    } finally {
      await s.close();
    }
  });

  test('JWKS discovered from the issuer metadata; jwks_uri overrides discovery', async () => {
    const discovered = await setup();
    try {
      assert.equal((await ping(discovered, await discovered.issuer.mint())).status, 200);
      assert.equal(discovered.issuer.discoveryHits, 1);
    } finally {
      await discovered.close();
    }
    const issuer = await OidcIssuer.start();
    const explicit = await setup({ jwks_uri: `${issuer.url}/jwks` });
    try {
      // Tokens of `explicit.issuer` verified with keys of another issuer: bad signature.
      const refused = await ping(explicit, await explicit.issuer.mint());
      assert.equal(refused.status, 401);
      assert.equal(explicit.issuer.discoveryHits + explicit.issuer.jwksHits, 0);
      assert.equal(issuer.jwksHits, 1);
    } finally {
      await explicit.close();
      await issuer.close();
    }
  });

  test('JWKS server down after the first fetch: stale keys still verify, with a warning', async () => {
    const s = await setup({}, { jwks_cache_secs: 1 });
    try {
      assert.equal((await ping(s, await s.issuer.mint())).status, 200);
      await s.issuer.stop();
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const stale = await ping(s, await s.issuer.mint());
      assert.equal(stale.status, 200, stale.text);
      assert.ok(
        s.warnings.some((w) => /JWKS refresh failed, serving the cached keys/.test(w)),
        s.warnings.join('\n'),
      );
      // Still down: no new fetch within the retry window, still verified.
      assert.equal((await ping(s, await s.issuer.mint({ kid: 'es-1' }))).status, 200);
    } finally {
      await s.close();
    }
  });

  test('keys never fetched and the issuer down: refused, saying why', async () => {
    const s = await setup();
    try {
      await s.issuer.stop();
      const refused = await ping(s, await s.issuer.mint());
      assert.equal(refused.status, 401);
      assert.match(
        refused.text,
        /provider "ci" refused: cannot fetch its signing keys: GET .*openid-configuration failed/,
      );
    } finally {
      await s.close();
    }
  });
});

describe('OIDC tokens: namespace scope, kill switch', () => {
  test('namespace_scope team/**: push to team/app allowed, other/app denied (403)', async () => {
    const s = await setup({ namespace_scope: ['team/**'] });
    try {
      const token = await s.issuer.mint();
      assert.equal((await startUpload(s, 'team/app', token)).status, 202);
      const denied = await startUpload(s, 'other/app', token);
      assert.equal(denied.status, 403, denied.text);
      assert.match(denied.text, /limited to namespace scope \[team\/\*\*\]/);
      const metrics = await (await fetch(`${s.server.url}/metrics`)).text();
      assert.match(
        metrics,
        /nora_auth_namespace_scope_total\{provider="ci",decision="allow"\} [1-9]/,
      );
      assert.match(metrics, /nora_auth_namespace_scope_total\{provider="ci",decision="deny"\} 1/);
    } finally {
      await s.close();
    }
  });

  test('audit mode: the out-of-scope push is allowed and logged', async () => {
    const s = await setup({ namespace_scope: ['team/**'], namespace_scope_enforcement: 'audit' });
    try {
      const token = await s.issuer.mint();
      assert.equal((await startUpload(s, 'other/app', token)).status, 202);
      assert.ok(
        s.warnings.some((w) => /audit mode.*would deny write on other\/app/.test(w)),
        s.warnings.join('\n'),
      );
    } finally {
      await s.close();
    }
  });

  test('a role rule namespace_scope narrows the provider scope', async () => {
    const s = await setup({
      namespace_scope: ['team/**'],
      role_rules: [
        { pattern: 'repo:myorg/*:ref:refs/heads/main', role: 'write', namespace_scope: ['*/app'] },
      ],
    });
    try {
      const token = await s.issuer.mint();
      assert.equal((await startUpload(s, 'team/app', token)).status, 202);
      assert.equal((await startUpload(s, 'team/lib', token)).status, 403);
      assert.equal((await startUpload(s, 'other/app', token)).status, 403);
    } finally {
      await s.close();
    }
  });

  test('a disabled provider refuses its tokens; OIDC off ignores them', async () => {
    const disabled = await setup({ enabled: false });
    try {
      const refused = await ping(disabled, await disabled.issuer.mint());
      assert.equal(refused.status, 401);
      assert.match(refused.text, /provider is disabled/);
    } finally {
      await disabled.close();
    }
    const off = await setup({}, { enabled: false });
    try {
      const refused = await ping(off, await off.issuer.mint());
      assert.equal(refused.status, 401);
      assert.doesNotMatch(refused.text, /OIDC/);
      assert.equal(off.issuer.jwksHits, 0);
    } finally {
      await off.close();
    }
  });
});

describe('OIDC tokens: SIGHUP reload', () => {
  test('a reload that disables the provider refuses its tokens at once', async () => {
    const s = await setup();
    try {
      const token = await s.issuer.mint();
      assert.equal((await ping(s, token)).status, 200);
      const running = s.server.app.context.config();
      const [provider] = running.auth.oidc.providers;
      assert.ok(provider);
      s.server.app.reload({
        ...running,
        auth: {
          ...running.auth,
          oidc: { ...running.auth.oidc, providers: [{ ...provider, enabled: false }] },
        },
      });
      const refused = await ping(s, token);
      assert.equal(refused.status, 401);
      assert.match(refused.text, /provider is disabled/);
    } finally {
      await s.close();
    }
  });
});
