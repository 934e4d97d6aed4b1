/**
 * `[auth]` configuration as `nora config check`, start-up and SIGHUP judge it (trial 21 authx):
 * - F1: bracketed IPv6 in trusted_proxies (`[::1]`, `[fd00::1]/64`), in the file and the variable;
 * - F2: a malformed upstream table in a variable's array form names both forms, the unknown key,
 *   no validator wording; a wrong list in brackets gets an ungarbled suggestion;
 * - F3: the auth-off warning names each list's variable when the variable set it;
 * - F6: trusted_proxies of every address, allow_registration, a token secret in a rule's tokens;
 * - F7: a rule's unknown key is numbered `auth.rules[0]` with a "did you mean";
 * - F8: an unknown key of `[auth]` is an error with a "did you mean", as a rule's is;
 * - trial 23: so is one of `[auth.oidc]`, a provider or a role rule; `groups = ["*"]` is an error.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfigObject } from '../../../src/config/load.ts';
import { PROJECT_ROOT } from '../../helpers/tools.ts';
import { configWarnings as check, configError } from '../../helpers/config.ts';

/** Any readable file: the htpasswd check only needs one to exist. */
const HTPASSWD = path.join(PROJECT_ROOT, 'package.json');

test('F1: bracketed IPv6 in trusted_proxies is the address, in the variable and the file', () => {
  const proxies = (raw: Record<string, unknown>, env: Record<string, string> = {}) =>
    parseConfigObject(raw, env).config.auth.trusted_proxies;
  assert.deepEqual(proxies({}, { NORA_AUTH_TRUSTED_PROXIES: '[::1]' }), ['::1']);
  assert.deepEqual(proxies({}, { NORA_AUTH_TRUSTED_PROXIES: '[fd00::1]/64' }), ['fd00::1/64']);
  assert.deepEqual(proxies({}, { NORA_AUTH_TRUSTED_PROXIES: '[::1], [fd00::1]/64, 10.0.0.1' }), [
    '::1',
    'fd00::1/64',
    '10.0.0.1',
  ]);
  assert.deepEqual(proxies({ auth: { trusted_proxies: ['[::1]', '[fd00::1]/64'] } }), [
    '::1',
    'fd00::1/64',
  ]);
  // A port is no address: still refused, and so is a list in brackets that is no TOML array.
  assert.match(
    configError(() => parseConfigObject({ auth: { trusted_proxies: ['[::1]:8080'] } })),
    /auth\.trusted_proxies: expected IP addresses or CIDR ranges, got "\[::1\]:8080"/,
  );
  assert.match(
    configError(() => parseConfigObject({}, { NORA_AUTH_READ_ONLY_USERS: '[carol, dave]' })),
    /not a TOML array of strings/,
  );
});

test('F2: a malformed table in an upstream variable names both forms and the unknown key', () => {
  const maven = configError(() =>
    parseConfigObject({}, { NORA_MAVEN_PROXIES: '[{ uri = "https://x.example" }]' }),
  );
  assert.ok(
    maven.includes(
      'maven.proxies[0].url (from NORA_MAVEN_PROXIES): missing: expected a string; NORA_MAVEN_PROXIES takes "url1,url2|user:pass" or the file\'s array \'["https://a.example", { url = "https://b.example", auth = "user:pass" }]\'',
    ),
    maven,
  );
  assert.ok(
    maven.includes(
      'note: unknown key "maven.proxies[0].uri" (from NORA_MAVEN_PROXIES) (ignored) (did you mean "maven.proxies[0].url"?)',
    ),
    maven,
  );
  assert.doesNotMatch(maven, /Invalid input|received/);
  const docker = configError(() =>
    parseConfigObject({}, { NORA_DOCKER_UPSTREAMS: '["https://a.example", { url = 1 }]' }),
  );
  assert.match(
    docker,
    /docker\.upstreams\[1\]\.url \(from NORA_DOCKER_UPSTREAMS\): expected a string, got a number; .*or the file's array/,
  );
  // A table that loads but carries a misspelt key: warned, with the variable.
  const { warnings } = parseConfigObject(
    {},
    { NORA_MAVEN_PROXIES: '[{ url = "https://x.example", auht = "u:p" }]' },
  );
  assert.deepEqual(warnings, [
    'unknown key "maven.proxies[0].auht" (from NORA_MAVEN_PROXIES) (ignored) (did you mean "maven.proxies[0].auth"?)',
  ]);
  // The suggestion of a list in brackets quotes the items, not the brackets around them.
  const shadow = configError(() => parseConfigObject({}, { NORA_MAVEN_SHADOW_NAMES: '["a:b"],x' }));
  assert.ok(
    shadow.includes(
      `quote each item, '["a:b", "x"]', or write a comma list without brackets, a:b,x`,
    ),
    shadow,
  );
});

test('F3: auth off names admin_users/read_only_users with the variable that set them', () => {
  assert.deepEqual(
    check(
      { auth: { enabled: false } },
      { NORA_AUTH_ADMIN_USERS: 'bob', NORA_AUTH_READ_ONLY_USERS: 'carol' },
    ),
    [
      '[auth] enabled = false: read_only_users (NORA_AUTH_READ_ONLY_USERS), admin_users (NORA_AUTH_ADMIN_USERS) have no effect until it is true',
    ],
  );
  assert.deepEqual(
    check(
      { auth: { enabled: false, admin_users: ['bob'] } },
      { NORA_AUTH_ANONYMOUS_READ: 'false' },
    ),
    [
      '[auth] enabled = false: admin_users, anonymous_read = false (NORA_AUTH_ANONYMOUS_READ) have no effect until it is true',
    ],
  );
});

test('F6: trusted_proxies of every address, allow_registration and a token secret in a rule are warned', () => {
  const every = check({ auth: { trusted_proxies: ['10.0.0.1', '0.0.0.0/0'] } });
  assert.deepEqual(
    every.filter((w) => w.includes('trusts every address')),
    [
      "[auth] trusted_proxies trusts every address with 0.0.0.0/0: any client can forge X-Forwarded-For (the address rate limits, the lockout and token address ranges see) and X-Forwarded-Proto/-Host (the URLs handed to clients); list only your reverse proxies' addresses",
    ],
  );
  // Two halves of the Internet are every address too; a /8 private range is not warned.
  const halves = check({ auth: { trusted_proxies: ['0.0.0.0/1', '128.0.0.0/1', '10.0.0.0/8'] } });
  assert.ok(
    halves.some((w) =>
      w.startsWith(
        '[auth] trusted_proxies trusts every address or a range wider than a /8 (IPv4) or /7 (IPv6), public addresses included, with 0.0.0.0/1, 128.0.0.0/1: any client can forge',
      ),
    ),
    halves.join('\n'),
  );
  assert.ok(
    !check({ auth: { trusted_proxies: ['10.0.0.0/8', 'fc00::/7'] } }).some((w) =>
      w.includes('trusted_proxies trusts'),
    ),
  );
  assert.ok(
    check({}, { NORA_AUTH_TRUSTED_PROXIES: '::/0' }).some((w) =>
      w.startsWith(
        '[auth] trusted_proxies (NORA_AUTH_TRUSTED_PROXIES) trusts every address with ::/0:',
      ),
    ),
  );
  assert.deepEqual(
    check({ auth: { trusted_proxies: ['10.0.0.0/8', '::1'] } }).filter((w) =>
      w.includes('trusted_proxies'),
    ),
    [],
  );

  const registration = (raw: Record<string, unknown>, env: Record<string, string> = {}) =>
    check(raw, env).filter((w) => w.startsWith('[auth] allow_registration = true'));
  assert.equal(
    registration({ auth: { enabled: true, allow_registration: true, htpasswd_file: HTPASSWD } })
      .length,
    1,
  );
  assert.match(
    registration(
      { auth: { enabled: true, htpasswd_file: HTPASSWD } },
      { NORA_AUTH_ALLOW_REGISTRATION: 'true' },
    )[0] ?? '',
    /^\[auth\] allow_registration = true \(NORA_AUTH_ALLOW_REGISTRATION\): anyone who can reach this server can create an account/,
  );
  // Auth off: the auth-off warning names it; nothing more.
  assert.deepEqual(registration({ auth: { allow_registration: true } }), []);

  const secret = `nra_${'Ab3'.repeat(15)}`;
  const all = check({
    auth: {
      enabled: true,
      htpasswd_file: HTPASSWD,
      rules: [
        { users: ['alice'], actions: ['read'] },
        { tokens: ['3f2a9c1b3f2a9c1b3f2a9c1b3f2a9c1b', secret, 'nra_ab12'], actions: ['read'] },
      ],
    },
  });
  const tokens = all.filter((w) => w.includes('.tokens['));
  assert.deepEqual(tokens, [
    'auth.rules[1].tokens[1] is a token secret, not a token id: it matches no token, and the secret is now written in the configuration; revoke that token (nora token revoke) and name tokens by id (the id column of nora token list)',
    'auth.rules[1].tokens[2] starts like a token secret (nra_…), not a token id: it matches no token; name tokens by id (the id column of nora token list)',
  ]);
  // Nor by the other warnings about the rule (the ownership trap names its tokens).
  assert.ok(
    all.some((w) => w.includes('token nra_…')),
    all.join('\n'),
  );
  assert.ok(!all.some((w) => w.includes(secret)), 'the secret is not repeated');
});

test('F7: an unknown key in a rule: auth.rules[0] and "did you mean"', () => {
  const message = configError(() =>
    parseConfigObject({ auth: { rules: [{ path: ['x/**'], actions: ['read'] }] } }),
  );
  assert.ok(
    message.includes(
      'auth.rules[0]: unknown key "path" (did you mean "paths"?): refused, since a misspelt key here would otherwise leave access wider than written',
    ),
    message,
  );
  assert.doesNotMatch(message, /auth\.rules\.0|Unrecognized/);
});

test('F8: an unknown key of [auth] is an error naming the key it was meant to be', () => {
  for (const [typo, meant] of [
    ['enable', 'enabled'],
    ['anonymous_reads', 'anonymous_read'],
    ['read_only_user', 'read_only_users'],
  ] as const) {
    const message = configError(() => parseConfigObject({ auth: { [typo]: false } }));
    assert.ok(message.includes(`auth: unknown key "${typo}" (did you mean "${meant}"?)`), message);
    assert.doesNotMatch(message, /\(ignored\)/, 'a refused key is not called ignored');
  }
  // [auth.groups] takes any group name ([auth.oidc]'s sub-tables: the next test).
  assert.doesNotThrow(() => parseConfigObject({ auth: { groups: { anything: ['alice'] } } }));
});

test('trial 23: an unknown key of [auth.oidc], a provider or a role rule is an error with a "did you mean"', () => {
  const provider = {
    name: 'ci',
    issuer: 'https://ci.example',
    audience: 'nora',
    role_rules: [{ pattern: 'repo:myorg/*', role: 'read' }],
  };
  for (const [oidc, where, typo, meant] of [
    [{ enable: true }, 'auth.oidc', 'enable', 'enabled'],
    [{ leeway_sec: 5 }, 'auth.oidc', 'leeway_sec', 'leeway_secs'],
    [
      { providers: [{ ...provider, namespace_scopes: ['team/**'] }] },
      'auth.oidc.providers[0]',
      'namespace_scopes',
      'namespace_scope',
    ],
    [
      { providers: [{ ...provider, role_rules: [{ pattern: 'x', role: 'read', rol: 'admin' }] }] },
      'auth.oidc.providers[0].role_rules[0]',
      'rol',
      'role',
    ],
  ] as const) {
    const message = configError(() => parseConfigObject({ auth: { oidc } }));
    assert.ok(
      message.includes(
        `${where}: unknown key "${typo}" (did you mean "${meant}"?): refused, since a misspelt key here would otherwise leave access wider than written`,
      ),
      message,
    );
    assert.doesNotMatch(message, /\(ignored\)/, 'a refused key is not called ignored');
  }
  // Every documented key is taken.
  assert.doesNotThrow(() =>
    parseConfigObject({
      auth: {
        oidc: {
          enabled: true,
          leeway_secs: 30,
          jwks_cache_secs: 600,
          providers: [
            {
              ...provider,
              jwks_uri: 'https://ci.example/jwks',
              algorithms: ['RS256'],
              max_token_lifetime_secs: 600,
              namespace_scope: ['team/**'],
              namespace_scope_enforcement: 'audit',
              enabled: true,
              role_rules: [{ pattern: 'repo:x/*', role: 'write', namespace_scope: ['team/x/**'] }],
            },
          ],
        },
      },
    }),
  );
});

test('trial 23: groups = ["*"] in a rule is an error saying to write users = ["*"]', () => {
  for (const groups of [['*'], ['platform', '**']]) {
    const message = configError(() =>
      parseConfigObject({
        auth: { groups: { platform: ['alice'] }, rules: [{ groups, actions: ['read'] }] },
      }),
    );
    const starred = groups.at(-1) ?? '';
    assert.ok(
      message.includes(
        `auth.rules[0]: groups: group names have no wildcard: "${starred}" would name a group called "${starred}", not every group or user; for every signed-in user write users = ["*"] in the rule instead (docs/auth.md "Rules")`,
      ),
      message,
    );
  }
  // A group name holding a `*` among other characters is a name like any other (warned when
  // [auth.groups] does not define it), and users = ["*"] stays the way to say it.
  assert.doesNotThrow(() =>
    parseConfigObject({ auth: { rules: [{ groups: ['team*'], actions: ['read'] }] } }),
  );
  assert.doesNotThrow(() =>
    parseConfigObject({ auth: { rules: [{ users: ['*'], actions: ['read'] }] } }),
  );
});

test('F8, trial 23: no shipped example config has an unknown [auth] or [auth.*] key', async () => {
  for (const name of await fs.readdir(path.join(PROJECT_ROOT, 'examples'))) {
    if (!name.endsWith('.toml')) continue;
    const { parse } = await import('smol-toml');
    const raw = parse(await fs.readFile(path.join(PROJECT_ROOT, 'examples', name), 'utf8'));
    assert.doesNotThrow(() => parseConfigObject(raw), name);
  }
});
