/**
 * `nora config check` warns about a rule that grants `write` over every path of a member of a
 * group with proxies: that rule makes the group answer every name from the member it names
 * only (RuleSet.answeringMembers), shutting the proxies out for every name (docs/auth.md
 * "Permissions"). Narrower paths, a read-only rule, a rule on the group or on every member, auth
 * off or a group without proxies: no warning.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkConfig } from '../../../src/app.ts';
import { parseConfigObject } from '../../../src/config/load.ts';

const checked = (
  rules: Record<string, unknown>[],
  options: { enabled?: boolean; pypi?: Record<string, unknown> } = {},
): string[] =>
  checkConfig(
    parseConfigObject(
      {
        auth: { enabled: options.enabled ?? true, rules },
        ...(options.pypi === undefined ? {} : { pypi: options.pypi }),
      },
      {},
    ).config,
  )
    // The ownership warning about a rule like `users = ["bob"]` over everything is another's.
    .filter((w) => w.includes('every path') && !w.includes(' names only '));

const releaseTeam = (extra: Record<string, unknown> = {}) => ({
  repositories: ['pypi-hosted'],
  users: ['root'],
  actions: ['read', 'write'],
  ...extra,
});

test('a write rule over every path of a member of a group with a proxy is warned about', () => {
  const warnings = checked([{ users: ['bob'], actions: ['read'] }, releaseTeam()]);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.equal(
    warnings[0],
    'auth.rules[1] grants write over every path ("**") of pypi-hosted, a member of group pypi: ' +
      'the group now answers every name from pypi-hosted only, and its proxy pypi-proxy no longer ' +
      'answers through it for any name (a name only a proxy has is a 404 at pypi). To keep the ' +
      'proxies, narrow the rule\'s paths to the names pypi-hosted holds (e.g. paths = ["corp-*"]), ' +
      'or put a rule over all paths on the group pypi instead (it covers the members without ' +
      'reserving them); see docs/auth.md "Permissions"',
  );
  // A glob naming hosted members of several groups: one warning per group, in its format's words.
  const all = checked([releaseTeam({ repositories: ['*-hosted'] })]);
  assert.ok(
    all.some((w) => w.includes('group docker') && w.includes('"corp/**"')),
    all.join('\n'),
  );
  assert.ok(all.some((w) => w.includes('group maven') && w.includes('"com/corp/**"')));
});

test('a write-only rule over every path of a hosted member: warned when the group has another hosted member', () => {
  const writers = { repositories: ['team'], users: ['root'], actions: ['write'] };
  const config = (repositories: Record<string, unknown>[]) =>
    checkConfig(
      parseConfigObject(
        {
          auth: { enabled: true, rules: [{ users: ['bob'], actions: ['read'] }, writers] },
          repositories,
        },
        {},
      ).config,
    ).filter((w) => w.includes('every path') && !w.includes(' names only '));
  const team = { name: 'team', format: 'pypi', kind: 'hosted' };
  const both = {
    name: 'both',
    format: 'pypi',
    kind: 'group',
    members: ['pypi-hosted', 'team', 'pypi-proxy'],
  };
  assert.deepEqual(config([team, both]), [
    'auth.rules[1] grants write without read over every path ("**") of team, a member of group both: ' +
      "the group's proxies still answer through it, but its hosted member pypi-hosted no longer " +
      'answers through it for any name (a name only pypi-hosted has is a 404 at both). To keep them, ' +
      'narrow the rule\'s paths to the names team holds (e.g. paths = ["corp-*"]), or put a rule ' +
      'over all paths on the group both instead (it covers the members without reserving them); ' +
      'see docs/auth.md "Permissions"',
  ]);
  // The default groups: one hosted member each, nothing shut out.
  assert.deepEqual(checked([{ ...writers, repositories: ['*-hosted'] }]), []);
  assert.deepEqual(config([team, { ...both, members: ['team', 'pypi-proxy'] }]), []);
});

test('rules that leave the proxies answering are not warned about', () => {
  for (const [why, rules, options] of [
    ['narrowed paths', [releaseTeam({ paths: ['corp-*'] })], {}],
    ['read only', [releaseTeam({ actions: ['read'] })], {}],
    ['on the group', [releaseTeam({ repositories: ['pypi'] })], {}],
    ['on every member', [releaseTeam({ repositories: ['pypi-*'] })], {}],
    ['anonymous only', [{ repositories: ['pypi-hosted'], anonymous: true, actions: ['read'] }], {}],
    ['auth off', [releaseTeam()], { enabled: false }],
    ['no proxy in the group', [releaseTeam()], { pypi: { proxy: 'none' } }],
  ] as const) {
    assert.deepEqual(checked([...rules], options), [], why);
  }
});
