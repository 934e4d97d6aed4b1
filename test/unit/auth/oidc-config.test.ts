/** `[auth.oidc]` validation: NORA's keys and defaults, and the configs refused with a clear error. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'smol-toml';
import { candidateToken } from '../../../src/auth/oidc.ts';
import { ConfigError, parseConfigObject } from '../../../src/config/load.ts';
import { redactText } from '../../../src/core/redact.ts';
import { PROJECT_ROOT } from '../../helpers/tools.ts';

const provider = (extra: Record<string, unknown> = {}) => ({
  name: 'github',
  issuer: 'https://token.actions.githubusercontent.com',
  audience: 'https://nora.example',
  role_rules: [{ pattern: 'repo:myorg/*:ref:refs/heads/main', role: 'write' }],
  ...extra,
});

function parseOidc(oidc: Record<string, unknown>, env: Record<string, string> = {}) {
  return parseConfigObject({ auth: { oidc } }, env).config.auth.oidc;
}

function configError(oidc: Record<string, unknown>): string {
  try {
    parseOidc(oidc);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a config error');
}

test("NORA's defaults", () => {
  const oidc = parseConfigObject({}).config.auth.oidc;
  assert.deepEqual(oidc, { enabled: false, leeway_secs: 60, jwks_cache_secs: 3600, providers: [] });
  const p = parseOidc({ providers: [provider()] }).providers[0]!;
  assert.deepEqual(p.algorithms, ['RS256', 'ES256']);
  assert.equal(p.max_token_lifetime_secs, 900);
  assert.deepEqual(p.namespace_scope, ['*']);
  assert.equal(p.namespace_scope_enforcement, 'enforce');
  assert.equal(p.enabled, true);
  assert.equal(p.jwks_uri, undefined);
});

test('NORA_AUTH_OIDC_* variables set [auth.oidc] and keep the providers of the file', () => {
  const oidc = parseOidc(
    { providers: [provider()], leeway_secs: 5 },
    { NORA_AUTH_OIDC_ENABLED: 'true', NORA_AUTH_OIDC_JWKS_CACHE_SECS: '120' },
  );
  assert.equal(oidc.enabled, true);
  assert.equal(oidc.jwks_cache_secs, 120);
  assert.equal(oidc.leeway_secs, 5);
  assert.equal(oidc.providers.length, 1);
});

test('HS* algorithms are a config error, also when configured', () => {
  const message = configError({ providers: [provider({ algorithms: ['RS256', 'HS256'] })] });
  assert.match(message, /auth\.oidc\.providers\[0\]\.algorithms\[1\]/);
  assert.match(message, /HS\* tokens are always rejected/);
  assert.match(configError({ providers: [provider({ algorithms: ['none'] })] }), /unsupported/);
});

test('other invalid provider settings name their key', () => {
  assert.match(configError({ providers: [provider({ audience: undefined })] }), /audience/);
  assert.match(configError({ providers: [provider({ issuer: 'not a url' })] }), /issuer/);
  assert.match(
    configError({ providers: [provider({ role_rules: [] })] }),
    /role_rules: a provider needs at least one/,
  );
  assert.match(
    configError({ providers: [provider({ role_rules: [{ pattern: 'x', role: 'owner' }] })] }),
    /role_rules\[0\]\.role/,
  );
  assert.match(
    configError({ providers: [provider({ namespace_scope_enforcement: 'warn' })] }),
    /namespace_scope_enforcement/,
  );
  assert.match(
    configError({ providers: [provider({ namespace_scope: ['a:b:c'] })] }),
    /namespace_scope\[0\]: "a:b:c" has more than one ":"/,
  );
  assert.match(
    configError({ providers: [provider(), provider({ issuer: 'https://gitlab.example' })] }),
    /duplicate provider name "github"/,
  );
  assert.match(
    configError({
      providers: [provider(), provider({ name: 'gh2', issuer: `${provider().issuer}/` })],
    }),
    /already configured by another provider/,
  );
  assert.match(configError({ enabled: true }), /no \[\[auth\.oidc\.providers\]\] is configured/);
});

test('candidate tokens: Bearer JWT or Basic password JWT, nothing else', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
  assert.equal(candidateToken(`Bearer ${jwt}`), jwt);
  assert.equal(candidateToken(`Basic ${Buffer.from(`oidc:${jwt}`).toString('base64')}`), jwt);
  assert.equal(candidateToken(`Basic ${Buffer.from(`:${jwt}`).toString('base64')}`), jwt);
  assert.equal(candidateToken('Bearer nra_0123456789abcdef'), undefined);
  assert.equal(candidateToken(`Basic ${Buffer.from('alice:pw').toString('base64')}`), undefined);
  assert.equal(candidateToken(undefined), undefined);
});

test('a bare JWT is redacted from log text', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
  assert.equal(redactText(`token ${jwt} refused`), 'token [redacted] refused');
});

test('the configuration example of docs/auth.md is valid', async () => {
  const text = await fs.readFile(path.join(PROJECT_ROOT, 'docs', 'auth.md'), 'utf8');
  const section = text.slice(text.indexOf('## CI identity (OIDC)'));
  const toml = /```toml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const oidc = parseConfigObject(parse(toml)).config.auth.oidc;
  assert.equal(oidc.enabled, true);
  assert.deepEqual(
    oidc.providers.map((p) => [p.name, p.role_rules.length]),
    [
      ['github', 2],
      ['gitlab', 1],
    ],
  );
});
