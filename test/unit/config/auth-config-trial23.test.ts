/**
 * `[auth]` configuration as `nora config check`, start-up and SIGHUP judge it (trial 23 authx):
 * - F2: trusted_proxies ranges holding the IPv4-mapped space (`::ffff:0.0.0.0/96`, `::/8`) are
 *   judged by their IPv4 share and warned as wide IPv4 ranges are;
 * - F6: a rule's `users` (or an [auth.groups] list) naming an OIDC identity `<provider>:<sub>`
 *   is not said to "have no effect"; one that could not sign in, or in admin_users, is;
 * - F8: a misspelt `NORA_AUTH_*` variable, and a `[[repositories]]` entry's misspelt
 *   `anonymous_read`, are errors with a "did you mean", as the file's `[auth]` typos are.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listedNonUsers } from '../../../src/app.ts';
import { ipv4Share } from '../../../src/auth/exposure.ts';
import { parseConfigObject } from '../../../src/config/load.ts';
import { configWarnings as check, configError } from '../../helpers/config.ts';

test('F8: an unknown NORA_AUTH_* variable is an error naming the variable it was meant to be', () => {
  for (const [typo, meant] of [
    ['NORA_AUTH_ENABLE', 'NORA_AUTH_ENABLED'],
    ['NORA_AUTH_ANONYMOUS_READS', 'NORA_AUTH_ANONYMOUS_READ'],
    ['NORA_AUTH_READ_ONLY_USER', 'NORA_AUTH_READ_ONLY_USERS'],
    ['NORA_AUTH_OIDC_ENABLE', 'NORA_AUTH_OIDC_ENABLED'],
  ] as const) {
    const message = configError(() => parseConfigObject({}, { [typo]: 'x' }));
    assert.ok(
      message.startsWith(
        `invalid configuration:\n  ${typo}: unknown NORA_AUTH_* variable (did you mean ${meant}?): refused`,
      ),
      message,
    );
    assert.doesNotMatch(message, /\(ignored\)/, 'a refused variable is not called ignored');
  }
  // With a schema error too: both are said, and the other unknown variables stay notes.
  const both = configError(() =>
    parseConfigObject(
      { auth: { enable: true } },
      { NORA_AUTH_ENABLE: 'true', NORA_PROT: '1', NORA_AUTH_ENABLED: 'true' },
    ),
  );
  assert.match(both, /auth: unknown key "enable"/);
  assert.match(both, /NORA_AUTH_ENABLE: unknown NORA_AUTH_\* variable/);
  assert.match(both, /note: unknown environment variable NORA_PROT \(ignored\)/);
  // Outside the NORA_AUTH_ prefix an unknown variable is still a warning.
  const { warnings } = parseConfigObject({}, { NORA_PROT: '1', NORA_HTPASSWD_FILE: 'x' });
  assert.deepEqual(warnings, [
    'unknown environment variable NORA_HTPASSWD_FILE (ignored) (did you mean NORA_AUTH_HTPASSWD_FILE?)',
    'unknown environment variable NORA_PROT (ignored) (did you mean NORA_PORT?)',
  ]);
  // The known ones are taken.
  assert.equal(parseConfigObject({}, { NORA_AUTH_ENABLED: 'true' }).config.auth.enabled, true);
});

test('F8: a [[repositories]] entry misspelling anonymous_read is an error; other typos warn', () => {
  const repo = (extra: Record<string, unknown>) => ({
    repositories: [
      { name: 'public-raw', format: 'raw', kind: 'hosted' },
      { name: 'secret-raw', format: 'raw', kind: 'hosted', ...extra },
    ],
  });
  for (const typo of ['anonymous_reads', 'anonymous_raed', 'anon_read']) {
    const message = configError(() => parseConfigObject(repo({ [typo]: false })));
    assert.ok(
      message.includes(
        `repositories[1]: unknown key "${typo}"${typo === 'anon_read' ? '' : ' (did you mean "anonymous_read"?)'}: refused, since a misspelt key here would otherwise leave access wider than written`,
      ),
      message,
    );
  }
  // A typo that leaves nothing more open is still a warning.
  const { warnings, config } = parseConfigObject(repo({ metadata_tll: 5 }));
  assert.deepEqual(warnings, [
    'unknown config key "repositories[1].metadata_tll" (ignored) (did you mean "repositories[1].metadata_ttl"?)',
  ]);
  assert.equal(config.repositories.length, 2);
  assert.equal(
    parseConfigObject(repo({ anonymous_read: false })).config.repositories[1]?.anonymous_read,
    false,
  );
});

test('F2: an IPv6 range holding IPv4-mapped addresses is judged by its IPv4 share', () => {
  assert.deepEqual(ipv4Share('::ffff:0.0.0.0', 96), { address: '0.0.0.0', prefix: 0 });
  assert.deepEqual(ipv4Share('::ffff:0.0.0.0', 97), { address: '0.0.0.0', prefix: 1 });
  assert.deepEqual(ipv4Share('::ffff:10.0.0.0', 100), { address: '10.0.0.0', prefix: 4 });
  assert.deepEqual(ipv4Share('::ffff:10.0.0.0', 104), { address: '10.0.0.0', prefix: 8 });
  assert.deepEqual(ipv4Share('::', 8), { address: '0.0.0.0', prefix: 0 });
  assert.deepEqual(ipv4Share('::', 80), { address: '0.0.0.0', prefix: 0 });
  assert.equal(ipv4Share('fd00::', 8), undefined);
  assert.equal(ipv4Share('::1', 128), undefined);
  assert.equal(ipv4Share('::', 96), undefined, '::/96 is the IPv4-compatible block, not mapped');

  const trusted = (entries: string[]) =>
    check({ auth: { trusted_proxies: entries } }).filter((w) => w.includes('trusted_proxies'));
  for (const [entry, share] of [
    ['::ffff:0.0.0.0/96', '0.0.0.0/0'],
    ['::ffff:0:0/96', '0.0.0.0/0'],
    ['::ffff:0.0.0.0/97', '0.0.0.0/1'],
    ['::ffff:128.0.0.0/97', '128.0.0.0/1'],
    ['::ffff:10.0.0.0/100', '10.0.0.0/4'],
    ['::/8', '0.0.0.0/0'],
    ['::/64', '0.0.0.0/0'],
  ] as const) {
    const warned = trusted(['10.0.0.1', entry]);
    assert.equal(warned.length, 1, `${entry}: ${warned.join('\n')}`);
    assert.ok(
      warned[0]?.startsWith(
        `[auth] trusted_proxies trusts every address or a range wider than a /8 (IPv4) or /7 (IPv6), public addresses included, with ${entry} (${share} for IPv4 clients): any client can forge`,
      ),
      warned[0],
    );
  }
  // A mapped /8 (or narrower), a single mapped address, ordinary IPv6 ranges: not warned.
  assert.deepEqual(
    trusted([
      '::ffff:10.0.0.0/104',
      '::ffff:10.1.2.3',
      'fd00::/8',
      'fc00::/7',
      '::1',
      '2001:db8::/32',
    ]),
    [],
  );
  // The variable is named when it set the value.
  assert.ok(
    check({}, { NORA_AUTH_TRUSTED_PROXIES: '::ffff:0.0.0.0/96' }).some((w) =>
      w.startsWith('[auth] trusted_proxies (NORA_AUTH_TRUSTED_PROXIES) trusts every address or'),
    ),
  );
});

test('F6: a rule naming an OIDC identity <provider>:<sub> is not warned; one that cannot sign in is', () => {
  const MAIN = 'gh:repo:myorg/app:ref:refs/heads/main';
  const config = (oidc: Record<string, unknown>, provider: Record<string, unknown> = {}) =>
    parseConfigObject({
      auth: {
        enabled: true,
        oidc: {
          enabled: true,
          providers: [
            {
              name: 'gh',
              issuer: 'https://issuer.example',
              audience: 'https://reg',
              role_rules: [{ pattern: 'repo:myorg/*:ref:refs/heads/main', role: 'write' }],
              ...provider,
            },
          ],
          ...oidc,
        },
        groups: { ci: [MAIN, 'alice'] },
        rules: [
          { repositories: ['raw-hosted'], paths: ['rel/**'], users: [MAIN], actions: ['write'] },
          { repositories: ['raw-hosted'], paths: ['ci/**'], groups: ['ci'], actions: ['write'] },
        ],
      },
    }).config;
  const about = (warnings: string[]) => warnings.filter((w) => w.includes('gh:'));
  // Works (rules.ts matches principal names): nothing said, in config check or at start-up.
  assert.deepEqual(about(listedNonUsers(config({}), ['alice'], undefined)), []);
  assert.deepEqual(about(listedNonUsers(config({}), ['alice'], new Set())), []);
  // A sub no role rule matches: no token of it is accepted, so the rule names no one.
  const pr = config(
    {},
    { role_rules: [{ pattern: 'repo:myorg/*:ref:refs/pull/*', role: 'read' }] },
  );
  assert.deepEqual(about(listedNonUsers(pr, ['alice'], undefined)), [
    `auth.rules[0].users: "${MAIN}" is an identity of OIDC provider "gh", but no role rule of the provider matches sub "repo:myorg/app:ref:refs/heads/main", so no token of it is accepted: it has no effect`,
    `[auth.groups] ci: "${MAIN}" is an identity of OIDC provider "gh", but no role rule of the provider matches sub "repo:myorg/app:ref:refs/heads/main", so no token of it is accepted: it has no effect`,
  ]);
  assert.match(
    about(listedNonUsers(config({}, { enabled: false }), ['alice'], undefined))[0] ?? '',
    /but the provider is disabled: it has no effect$/,
  );
  // admin_users does not reach OIDC identities (their role rules give their role): still warned.
  const admin = parseConfigObject({
    auth: {
      enabled: true,
      admin_users: [MAIN],
      oidc: config({}).auth.oidc,
    },
  }).config;
  assert.deepEqual(about(listedNonUsers(admin, ['alice'], undefined)), [
    `[auth] admin_users: "${MAIN}" is an identity of OIDC provider "gh": it has no effect here, an OIDC identity's role is given by its provider's role_rules (a rule's users or an [auth.groups] list may name it)`,
  ]);
  // A name whose prefix is no configured provider is judged as any user name.
  const other = listedNonUsers(
    parseConfigObject({
      auth: { enabled: true, rules: [{ users: ['gl:project_path:x'], actions: ['read'] }] },
    }).config,
    ['alice'],
    undefined,
  );
  assert.match(other[0] ?? '', /user "gl:project_path:x" is not in the htpasswd file/);
});
