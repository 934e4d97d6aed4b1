/**
 * `shadowedByRules`: a rule that another rule makes redundant (it covers every repository, path
 * and principal the rule covers, grants at least its actions, owns where it owns) never changes
 * a decision, since rules add up (no first match). The new-user trial's case: a narrower rule
 * meant as an exception under a broad one (`users = ["*"]` read and write everywhere, then bob
 * read-only on `@corp/*`) silently did nothing. Only certain cases are warned about.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccessControl, type Principal } from '../../../src/auth/access.ts';
import { RuleSet, shadowedByRules } from '../../../src/auth/rules.ts';
import { checkConfig } from '../../../src/app.ts';
import { parseConfigObject } from '../../../src/config/load.ts';
import { toRepository } from '../../../src/repos/repository.ts';
import { rule, type Rule } from '../../helpers/auth.ts';

const everyone = rule({ users: ['*'], actions: ['read', 'write'] });
const bobReads = rule({
  repositories: ['npm-hosted'],
  paths: ['@corp/*'],
  users: ['bob'],
  actions: ['read'],
});

describe('shadowedByRules', () => {
  it('names the rule that never applies and the broader rule before it', () => {
    const warnings = shadowedByRules([everyone, bobReads]);
    assert.deepEqual(warnings, [
      'auth.rules[1] (users ["bob"]; actions ["read"] on repositories ["npm-hosted"], paths ["@corp/*"]) never applies: ' +
        'auth.rules[0] (users ["*"]; actions ["read","write"] on repositories ["*"], paths ["**"]) before it covers every ' +
        'repository, path and principal it covers and grants at least its actions. Rules add up (there is no first ' +
        'match): a narrower rule cannot take away what a broader one grants, so to limit someone there, narrow or ' +
        'remove auth.rules[0]; else delete auth.rules[1] (docs/auth.md "Semantics"). It still keeps npm ' +
        'names matching "@corp/*" out of the npm audits sent upstream (docs/npm.md "What npm audit sends ' +
        'upstream"): to keep that, leave a rule owning those paths.',
    ]);
    // Without a named path (nothing for npm audits), the warning ends at the advice.
    const [plain] = shadowedByRules([everyone, { ...bobReads, paths: ['**'] }]);
    assert.match(plain ?? '', /else delete auth\.rules\[1\] \(docs\/auth\.md "Semantics"\)\.$/);
    // A broader rule owning a namespace that covers it: nothing left to say either.
    const [covered] = shadowedByRules([{ ...everyone, paths: ['@corp/**'] }, bobReads]);
    assert.match(covered ?? '', /\(docs\/auth\.md "Semantics"\)\.$/);
    // What the warning says is what happens: bob still writes there, with or without rule 1.
    const bob: Principal = { kind: 'user', name: 'bob', roles: ['read', 'write'] };
    const npmHosted = toRepository(
      { name: 'npm-hosted', format: 'npm', kind: 'hosted', members: [], upstreams: [] },
      false,
    );
    for (const rules of [[everyone, bobReads], [everyone]]) {
      const access = new AccessControl(
        { authEnabled: true, anonymousRead: false },
        new RuleSet({ rules }),
      );
      assert.ok(access.can(bob, npmHosted, 'write', '@corp/app'));
    }
  });

  it('a broader rule after the redundant one is named too ("after it")', () => {
    const [warning] = shadowedByRules([bobReads, everyone]);
    assert.match(warning ?? '', /^auth\.rules\[0\] .* never applies: auth\.rules\[1\] .* after it/);
  });

  it('of two identical rules only the later one is named', () => {
    const warnings = shadowedByRules([bobReads, everyone, bobReads, everyone]);
    assert.deepEqual(
      warnings.map((w) =>
        /^auth\.rules\[(\d)\].*never applies: auth\.rules\[(\d)\]/.exec(w)?.slice(1),
      ),
      [
        ['0', '1'],
        ['2', '0'],
        ['3', '1'],
      ],
    );
  });

  it('covering principals: "*" covers users, groups and tokens; anonymous covers everyone', () => {
    const anonRead = rule({ anonymous: true, users: ['bob'], actions: ['read'] });
    assert.equal(
      shadowedByRules([everyone, rule({ groups: ['dev'], actions: ['write'] })]).length,
      1,
    );
    assert.equal(
      shadowedByRules([everyone, rule({ tokens: ['t1'], actions: ['read'] })]).length,
      1,
    );
    assert.equal(shadowedByRules([anonRead, rule({ users: ['*'], actions: ['read'] })]).length, 1);
    const named = rule({ users: ['alice', 'bob'], groups: ['dev'], actions: ['read', 'write'] });
    assert.equal(shadowedByRules([named, rule({ users: ['bob'], actions: ['read'] })]).length, 1);
  });

  it('no warning where the rule does change something, or where it is not certain', () => {
    const cases: [string, Rule[]][] = [
      [
        'more actions',
        [rule({ users: ['*'], actions: ['read'] }), { ...bobReads, actions: ['read', 'write'] }],
      ],
      ['other principals', [rule({ users: ['alice'], actions: ['read', 'write'] }), bobReads]],
      ['anonymous rule named', [everyone, rule({ anonymous: true, actions: ['read'] })]],
      [
        'a group the broad rule lacks',
        [
          rule({ groups: ['dev'], actions: ['read'] }),
          rule({ groups: ['ops'], actions: ['read'] }),
        ],
      ],
      [
        'a user beyond a named list',
        [rule({ users: ['alice'], actions: ['read'] }), rule({ users: ['*'], actions: ['read'] })],
      ],
      // An anonymous-only rule owns nothing; a rule naming users owns (takes writes away).
      [
        'owns where the broad one does not',
        [rule({ anonymous: true, actions: ['read'] }), rule({ users: ['*'], actions: ['read'] })],
      ],
      // A write rule on a member chooses which members of a group answer; one on every repository does not.
      [
        'write on fewer repositories',
        [
          everyone,
          rule({ repositories: ['npm-hosted'], users: ['bob'], actions: ['read', 'write'] }),
        ],
      ],
      [
        'more repositories',
        [
          { ...everyone, repositories: ['npm-hosted'] },
          { ...bobReads, repositories: ['npm-proxy'] },
        ],
      ],
      [
        'a wider path',
        [
          { ...everyone, paths: ['@corp/*'] },
          { ...bobReads, paths: ['**'] },
        ],
      ],
      // Uncertain (a glob inside a glob): said only when certain.
      [
        'glob in glob',
        [
          { ...everyone, paths: ['@corp*/*'] },
          { ...bobReads, paths: ['@corp-a*/*'] },
        ],
      ],
      // A rule over all paths of npm-hosted reserves it: a listing of the group npm is then
      // granted by the narrow rule (over some paths), not by the broad rule on npm over all paths.
      [
        'reservation by another rule',
        [
          rule({ repositories: ['npm'], users: ['*'], actions: ['read'] }),
          rule({ repositories: ['npm'], paths: ['@corp/*'], users: ['bob'], actions: ['read'] }),
          rule({ repositories: ['npm-hosted'], users: ['carol'], actions: ['read'] }),
        ],
      ],
    ];
    // The rule at index 1 changes something: it is never named as redundant.
    for (const [why, rules] of cases) {
      const named = shadowedByRules(rules).filter((w) => w.startsWith('auth.rules[1] '));
      assert.deepEqual(named, [], why);
    }
  });

  it('path globs: "**" and "prefix/**" cover what is under the prefix', () => {
    const corp = { ...everyone, paths: ['com/corp/**'] };
    assert.equal(
      shadowedByRules([corp, { ...bobReads, repositories: ['*'], paths: ['com/corp/app/**'] }])
        .length,
      1,
    );
    assert.equal(
      shadowedByRules([corp, { ...bobReads, repositories: ['*'], paths: ['com/corp'] }]).length,
      1,
    );
    assert.equal(
      shadowedByRules([corp, { ...bobReads, repositories: ['*'], paths: ['com/corporate/**'] }])
        .length,
      0,
    );
  });

  it('nora config check (checkConfig) reports it', () => {
    const { config } = parseConfigObject(
      {
        auth: {
          enabled: true,
          rules: [
            { users: ['*'], actions: ['read', 'write'] },
            { repositories: ['npm-hosted'], paths: ['@corp/*'], users: ['bob'], actions: ['read'] },
          ],
        },
      },
      {},
    );
    const warnings = checkConfig(config).filter((w) => w.includes('never applies'));
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(
      warnings[0] ?? '',
      /^auth\.rules\[1\] \(users \["bob"\].*auth\.rules\[0\] \(users \["\*"\]/,
    );
  });
});
