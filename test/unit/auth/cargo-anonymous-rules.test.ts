/**
 * `nora config check` (start-up, SIGHUP) warns about a rule letting anonymous clients read some
 * crates of a Cargo repository whose other crates they may not read (trial 21 authx F4): its
 * config.json says auth-required, so cargo without a token reads nothing there, not even those
 * crates. With anonymous reads on, a rule over all paths, another format or auth off: no warning.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkConfig } from '../../../src/app.ts';
import { parseConfigObject } from '../../../src/config/load.ts';

const CORP = { repositories: ['cargo'], paths: ['corp-*'], anonymous: true, actions: ['read'] };

const checked = (auth: Record<string, unknown>): string[] =>
  checkConfig(parseConfigObject({ auth: { enabled: true, ...auth } }, {}).config).filter((w) =>
    w.includes('lets anonymous clients read'),
  );

test('an anonymous rule on some crates with anonymous_read = false is warned about', () => {
  const warnings = checked({
    anonymous_read: false,
    rules: [
      { repositories: ['cargo'], paths: ['corp-*'], users: ['carol'], actions: ['read', 'write'] },
      CORP,
    ],
  });
  assert.deepEqual(warnings, [
    'auth.rules[1] lets anonymous clients read corp-* in cargo, whose other crates they may not ' +
      'read (anonymous_read = false): config.json says "auth-required", so cargo sends its token ' +
      'for every request and, without one, reads nothing there ("no token found"); the rule ' +
      'opens these crates to other clients (curl) only. Cargo users need a token (a read token ' +
      'is enough); remove the rule if it was meant for cargo without one (docs/cargo.md ' +
      '"Authentication")',
  ]);
  // Every repository the rule's globs reach (all three cargo repositories here).
  const wide = checked({ anonymous_read: false, rules: [{ ...CORP, repositories: ['*'] }] });
  assert.equal(wide.length, 1);
  assert.match(wide[0] ?? '', /in cargo-hosted, cargo-proxy, cargo, whose/);
});

test('no warning where anonymous clients read the other crates, or it is no cargo repository', () => {
  for (const [why, auth] of [
    ['anonymous_read on', { rules: [CORP] }],
    [
      'an anonymous rule over all crates',
      {
        anonymous_read: false,
        rules: [CORP, { repositories: ['cargo'], anonymous: true, actions: ['read'] }],
      },
    ],
    // Trial 23: `*` is every crate (names have no "/"), as `**` is.
    [
      'an anonymous rule with paths = ["*"]',
      {
        anonymous_read: false,
        rules: [
          CORP,
          { repositories: ['cargo'], paths: ['*'], anonymous: true, actions: ['read'] },
        ],
      },
    ],
    [
      'only an anonymous rule with paths = ["*"]',
      {
        anonymous_read: false,
        rules: [{ repositories: ['cargo'], paths: ['*'], anonymous: true, actions: ['read'] }],
      },
    ],
    ['another format', { anonymous_read: false, rules: [{ ...CORP, repositories: ['pypi'] }] }],
    ['auth off', { enabled: false, anonymous_read: false, rules: [CORP] }],
  ] as const) {
    assert.deepEqual(checked(auth), [], why);
  }
});
