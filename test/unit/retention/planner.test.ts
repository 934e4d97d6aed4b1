import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RetentionRule } from '../../../src/config/schema.ts';
import { planRetention, type RetentionInput } from '../../../src/retention/planner.ts';
import type { RetentionVersion } from '../../../src/retention/types.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 7);

function rule(partial: Partial<RetentionRule>): RetentionRule {
  return { registry: '*', repository: '*', name_glob: '**', exclude_tags: [], ...partial };
}

/** `count` versions of `name`, 1.0.<i> stored i days ago... newest = 1.0.<count-1> stored 0+offset days ago. */
function versions(name: string, count: number, extra: Partial<RetentionVersion>[] = []) {
  return Array.from({ length: count }, (_, i) => ({
    name,
    version: `1.0.${i}`,
    storedAt: NOW - (count - 1 - i) * 10 * DAY,
    bytes: 100,
    tags: [],
    ...extra[i],
  }));
}

function input(
  versionsOf: RetentionVersion[],
  repository = 'hosted',
  format: RetentionInput['format'] = 'npm',
): RetentionInput {
  return { repository, format, versions: versionsOf };
}

const deleted = (plan: ReturnType<typeof planRetention>) =>
  plan.delete.map((p) => `${p.repository}/${p.version.name}@${p.version.version}`);

describe('retention planner', () => {
  it('keep_last keeps the newest N per name, by stored time not by version string', () => {
    // 1.0.0 stored last: newest although its string is the smallest.
    const list = versions('a', 5, [{ storedAt: NOW + 1 }]);
    const plan = planRetention([rule({ keep_last: 2 })], [input(list)], NOW);
    assert.deepEqual(deleted(plan), ['hosted/a@1.0.3', 'hosted/a@1.0.2', 'hosted/a@1.0.1']);
    assert.equal(plan.examined, 5);
    assert.equal(plan.kept, 2);
    assert.equal(plan.bytes, 300);
    assert.match(plan.delete[0]!.reason, /^not among the newest 2; stored 10 days ago$/);
  });

  it('keep_last counts per name', () => {
    const plan = planRetention(
      [rule({ keep_last: 1 })],
      [input([...versions('a', 2), ...versions('b', 3)])],
      NOW,
    );
    assert.deepEqual(deleted(plan), ['hosted/a@1.0.0', 'hosted/b@1.0.1', 'hosted/b@1.0.0']);
  });

  it('keep_last = 0 with older_than_days deletes every old version', () => {
    const plan = planRetention(
      [rule({ keep_last: 0, older_than_days: 15 })],
      [input(versions('a', 4))],
      NOW,
    );
    // ages 30, 20, 10, 0 days
    assert.deepEqual(deleted(plan), ['hosted/a@1.0.1', 'hosted/a@1.0.0']);
  });

  it('older_than_days alone deletes only versions older than it (not exactly as old)', () => {
    const plan = planRetention([rule({ older_than_days: 20 })], [input(versions('a', 4))], NOW);
    // ages 30, 20, 10, 0: only the 30-day one is older than 20 days
    assert.deepEqual(deleted(plan), ['hosted/a@1.0.0']);
    assert.match(plan.delete[0]!.reason, /^stored 30 days ago \(older than 20\)$/);
  });

  it('both: deleted only when outside the newest N AND older than the age', () => {
    const plan = planRetention(
      [rule({ keep_last: 1, older_than_days: 15 })],
      [input(versions('a', 4))],
      NOW,
    );
    // 1.0.2 (10 days) is outside the newest 1 but young: kept.
    assert.deepEqual(deleted(plan), ['hosted/a@1.0.1', 'hosted/a@1.0.0']);
  });

  it('exclude_tags spares a tagged version, which still takes its place among the newest', () => {
    const list = versions('a', 5, [{ tags: ['stable'] }, {}, {}, { tags: ['next'] }]);
    const plan = planRetention(
      [rule({ keep_last: 2, exclude_tags: ['sta*'] })],
      [input(list)],
      NOW,
    );
    // newest first: 1.0.4, 1.0.3 (kept: newest 2), 1.0.2, 1.0.1 deleted, 1.0.0 spared.
    assert.deepEqual(deleted(plan), ['hosted/a@1.0.2', 'hosted/a@1.0.1']);
    assert.equal(plan.spared.length, 1);
    assert.equal(plan.spared[0]!.version.version, '1.0.0');
    assert.match(plan.spared[0]!.reason, /tag stable matches exclude_tags/);
    assert.equal(plan.kept, 3);
  });

  it('a protected version is never deleted, whatever the rule', () => {
    const list = versions('a', 3, [{ protectedBy: 'dist-tag latest points to it' }]);
    const plan = planRetention([rule({ keep_last: 0, older_than_days: 1 })], [input(list)], NOW);
    assert.deepEqual(deleted(plan), ['hosted/a@1.0.1']);
    assert.match(plan.spared[0]!.reason, /kept: dist-tag latest points to it/);
  });

  it('the first matching rule wins', () => {
    const plan = planRetention(
      [rule({ name_glob: 'a', keep_last: 4 }), rule({ keep_last: 1 })],
      [input([...versions('a', 5), ...versions('b', 3)])],
      NOW,
    );
    assert.deepEqual(deleted(plan), ['hosted/a@1.0.0', 'hosted/b@1.0.1', 'hosted/b@1.0.0']);
    assert.deepEqual(
      plan.delete.map((p) => p.rule),
      [0, 1, 1],
    );
  });

  it('a name no rule matches is kept whole', () => {
    const plan = planRetention(
      [rule({ name_glob: 'team/*', keep_last: 1 })],
      [
        input(
          [...versions('team/app', 3), ...versions('other/app', 3), ...versions('team/x/y', 3)],
          'docker-hosted',
          'docker',
        ),
      ],
      NOW,
    );
    // `*` stays within one segment: team/x/y is not matched.
    assert.deepEqual(deleted(plan), [
      'docker-hosted/team/app@1.0.1',
      'docker-hosted/team/app@1.0.0',
    ]);
    assert.equal(plan.kept, 7);
  });

  it('name_glob ** crosses segments; npm scopes match @scope/*', () => {
    const plan = planRetention(
      [rule({ name_glob: '@corp/*', keep_last: 1 }), rule({ name_glob: 'team/**', keep_last: 2 })],
      [
        input([...versions('@corp/a', 2), ...versions('plain', 2)]),
        input(versions('team/x/y', 3), 'oci', 'docker'),
      ],
      NOW,
    );
    assert.deepEqual(deleted(plan), ['hosted/@corp/a@1.0.0', 'oci/team/x/y@1.0.0']);
  });

  it('registry selects the format; repository globs the repository name', () => {
    const rules = [
      rule({ registry: 'docker', keep_last: 1 }),
      rule({ registry: 'npm', repository: 'npm-ci*', keep_last: 2 }),
    ];
    const plan = planRetention(
      rules,
      [
        input(versions('app', 3), 'oci', 'docker'),
        input(versions('pkg', 3), 'npm-ci-builds', 'npm'),
        input(versions('pkg', 3), 'npm-release', 'npm'),
        input(versions('file', 3), 'raw-hosted', 'raw'),
      ],
      NOW,
    );
    assert.deepEqual(deleted(plan), ['oci/app@1.0.1', 'oci/app@1.0.0', 'npm-ci-builds/pkg@1.0.0']);
  });

  it('ties in stored time order by version string, greater first', () => {
    const list = ['b', 'a', 'c'].map((v) => ({
      name: 'n',
      version: v,
      storedAt: NOW,
      bytes: 1,
      tags: [],
    }));
    const plan = planRetention([rule({ keep_last: 1 })], [input(list)], NOW);
    assert.deepEqual(deleted(plan), ['hosted/n@b', 'hosted/n@a']);
  });

  it('no rules, or no versions: nothing to delete', () => {
    assert.equal(planRetention([], [input(versions('a', 3))], NOW).delete.length, 0);
    const empty = planRetention([rule({ keep_last: 1 })], [], NOW);
    assert.deepEqual([empty.examined, empty.kept, empty.bytes], [0, 0, 0]);
  });
});
