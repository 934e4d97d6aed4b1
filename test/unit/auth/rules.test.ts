import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccessControl, type Action, type Principal } from '../../../src/auth/access.ts';
import { ruleProblem, RuleSet, type RulesOptions } from '../../../src/auth/rules.ts';
import { parseConfigObject } from '../../../src/config/load.ts';
import { type Repository, toRepository } from '../../../src/repos/repository.ts';
import { rule } from '../../helpers/auth.ts';

function repo(name: string, format: Repository['format'] = 'docker'): Repository {
  return toRepository({ name, format, kind: 'hosted', members: [], upstreams: [] }, false);
}

const alice: Principal = { kind: 'user', name: 'alice', roles: ['read', 'write'] };
const bob: Principal = { kind: 'user', name: 'bob', roles: ['read', 'write'] };
const carol: Principal = { kind: 'user', name: 'carol', roles: ['read', 'write'] };
const reader: Principal = { kind: 'user', name: 'alice', roles: ['read'], readOnly: true };
const admin: Principal = { kind: 'user', name: 'root', roles: ['admin'] };
const anonymous: Principal = { kind: 'anonymous' };

function access(
  options: Partial<RulesOptions> & Pick<RulesOptions, 'rules'>,
  anonymousRead = false,
) {
  return new AccessControl({ authEnabled: true, anonymousRead }, new RuleSet(options));
}

const docker = repo('docker');
const npm = repo('npm', 'npm');

describe('permission rules', () => {
  it('readsEveryPath: true only where no path rule covers the repository (listing fast path)', () => {
    const helm = repo('helm', 'helm');
    const a = access({
      rules: [
        rule({ repositories: ['helm'], paths: ['secret*'], users: ['root'], actions: ['read'] }),
      ],
      groupsContaining: (name) => (name === 'helm-hosted' ? ['helm'] : []),
    });
    assert.ok(!a.readsEveryPath(bob, helm));
    assert.ok(!a.readsEveryPath(anonymous, helm));
    assert.ok(!a.readsEveryPath(bob, repo('helm-hosted', 'helm')), 'a rule on its group covers it');
    assert.ok(a.readsEveryPath(admin, helm));
    assert.ok(a.readsEveryPath(bob, npm));
    const everything = access({
      rules: [rule({ repositories: ['helm'], users: ['alice'], actions: ['read'] })],
    });
    assert.ok(everything.readsEveryPath(bob, helm), 'a ** rule speaks for the whole repository');
    const scoped: Principal = {
      ...alice,
      scope: { allows: () => true, description: 'something' },
    };
    assert.ok(!access({ rules: [] }).readsEveryPath(scoped, helm), 'a scope may narrow paths');
    assert.ok(access({ rules: [] }).readsEveryPath(bob, helm));
  });

  it('readsEveryPathUnder: true where no path rule speaks about a path under the prefix', () => {
    const maven = repo('maven', 'maven');
    const hosted = repo('maven-hosted', 'maven');
    const a = access({
      rules: [
        rule({
          repositories: ['maven-hosted'],
          paths: ['com/acme/lib/2.0/**', 'org/*/secret/**'],
          users: ['alice'],
          actions: ['read'],
        }),
      ],
      groupsContaining: (name) => (name === 'maven-hosted' ? ['maven'] : []),
      membersOf: (name) => (name === 'maven' ? ['maven-hosted'] : []),
    });
    for (const r of [maven, hosted]) {
      assert.ok(!a.readsEveryPathUnder(bob, r, 'com/acme/lib'), r.name);
      assert.ok(!a.readsEveryPathUnder(anonymous, r, 'com/acme'), 'a group level too');
      assert.ok(!a.readsEveryPathUnder(bob, r, 'org/x/secret'));
      assert.ok(a.readsEveryPathUnder(bob, r, 'com/acme/other'));
      assert.ok(a.readsEveryPathUnder(bob, r, 'org/x/public'));
      assert.ok(a.readsEveryPathUnder(bob, r, 'net'));
      assert.ok(a.readsEveryPathUnder(admin, r, 'com/acme/lib'));
    }
    assert.ok(a.readsEveryPathUnder(bob, repo('maven-proxy', 'maven'), 'com/acme/lib'));
    const deep = access({
      rules: [rule({ paths: ['**/internal/**'], users: ['alice'], actions: ['read'] })],
    });
    assert.ok(!deep.readsEveryPathUnder(bob, hosted, 'com/acme/lib'), 'a ** may match anywhere');
  });

  it('no rules: the role defaults decide', () => {
    const a = access({ rules: [] });
    assert.ok(a.can(bob, docker, 'write', 'any/app'));
    assert.ok(!a.can(bob, docker, 'admin', 'any/app'));
    assert.ok(!a.can(anonymous, docker, 'read', 'any/app'));
    assert.ok(access({ rules: [] }, true).can(anonymous, docker, 'read', 'any/app'));
  });

  it('a namespace rule owns its namespace only; outside it the defaults hold', () => {
    const a = access({
      rules: [
        rule({
          repositories: ['docker'],
          paths: ['team/**'],
          users: ['alice'],
          actions: ['read', 'write'],
        }),
      ],
    });
    assert.ok(a.can(alice, docker, 'write', 'team/app'));
    assert.ok(a.can(alice, docker, 'read', 'team/a/b'));
    assert.ok(!a.can(alice, docker, 'delete', 'team/app'), 'only the granted actions');
    assert.ok(!a.can(bob, docker, 'read', 'team/app'), 'an owned space admits only grants');
    assert.ok(a.can(bob, docker, 'write', 'other/app'), 'unowned: role defaults');
    assert.ok(a.can(alice, docker, 'delete', 'other/app'));
    assert.ok(a.can(bob, npm, 'write', '@corp/pkg'), 'other repositories are untouched');
    assert.ok(a.can(admin, docker, 'delete', 'team/app'), 'admins pass');
  });

  it('roles cap what a rule grants; anonymous rules grant read to everyone', () => {
    const a = access({
      rules: [
        rule({
          repositories: ['docker'],
          paths: ['team/**'],
          users: ['alice'],
          actions: ['read', 'write'],
        }),
        rule({
          repositories: ['docker'],
          paths: ['team/public/**'],
          anonymous: true,
          actions: ['read'],
        }),
      ],
    });
    assert.ok(a.can(reader, docker, 'read', 'team/app'));
    assert.ok(!a.can(reader, docker, 'write', 'team/app'), 'a read-only token never writes');
    const noRoles: Principal = { kind: 'user', name: 'alice', roles: [] };
    assert.ok(!a.can(noRoles, docker, 'read', 'team/app'));
    assert.ok(a.can(anonymous, docker, 'read', 'team/public/x'));
    assert.ok(a.can(bob, docker, 'read', 'team/public/x'), 'what anonymous reads, users read');
    assert.ok(!a.can(bob, docker, 'write', 'team/public/x'));
    assert.ok(!a.can(anonymous, docker, 'read', 'team/app'));
  });

  it('an anonymous-only rule opens reads without taking anything from users', () => {
    const a = access({
      rules: [rule({ repositories: ['npm'], anonymous: true, actions: ['read'] })],
    });
    assert.ok(a.can(anonymous, npm, 'read', 'lodash'));
    assert.ok(a.can(anonymous, npm, 'read'), 'search');
    assert.ok(!a.can(anonymous, npm, 'write', 'lodash'), 'still 401 for writes');
    assert.ok(a.can(bob, npm, 'write', 'lodash'), 'publishing is not locked');
    assert.ok(!a.can(anonymous, docker, 'read', 'x'));
  });

  it('groups from [auth.groups] and from the principal; tokens by id; "*" users', () => {
    const a = access({
      rules: [
        rule({
          repositories: ['maven*'],
          paths: ['com/example/**'],
          groups: ['devs'],
          actions: ['read', 'write'],
        }),
        rule({ repositories: ['cargo'], paths: ['serde'], tokens: ['tok1'], actions: ['write'] }),
        rule({ repositories: ['cargo'], paths: ['serde'], users: ['*'], actions: ['read'] }),
      ],
      groups: { devs: ['alice'] },
    });
    const maven = repo('maven-hosted', 'maven');
    const cargo = repo('cargo', 'cargo');
    assert.ok(a.can(alice, maven, 'write', 'com/example/lib/1.0/lib-1.0.jar'));
    assert.ok(!a.can(bob, maven, 'read', 'com/example/lib/1.0/lib-1.0.jar'));
    const oidcBob: Principal = { kind: 'user', name: 'bob', roles: ['write'], groups: ['devs'] };
    assert.ok(a.can(oidcBob, maven, 'write', 'com/example/x'));
    const token: Principal = { kind: 'user', name: 'carol', roles: ['write'], tokenId: 'tok1' };
    assert.ok(a.can(token, cargo, 'write', 'serde'));
    assert.ok(!a.can(bob, cargo, 'write', 'serde'));
    assert.ok(a.can(bob, cargo, 'read', 'serde'));
    assert.ok(!a.can(anonymous, cargo, 'read', 'serde'));
    assert.ok(a.can(bob, cargo, 'write', 'tokio'), 'another crate is unowned');
  });

  it('a rule on a group covers its members', () => {
    const a = access({
      rules: [
        rule({
          repositories: ['npm'],
          paths: ['@corp/*'],
          users: ['alice'],
          actions: ['read', 'write'],
        }),
      ],
      groupsContaining: (name) => (name === 'npm-hosted' ? ['npm'] : []),
    });
    const hosted = repo('npm-hosted', 'npm');
    assert.ok(a.can(alice, hosted, 'write', '@corp/pkg'));
    assert.ok(!a.can(bob, hosted, 'write', '@corp/pkg'), 'no way around the group');
    assert.ok(a.can(bob, hosted, 'write', '@other/pkg'));
  });

  it('a rule on a member covers the groups it is in: no reading around it through the group', () => {
    const a = access(
      {
        rules: [
          rule({
            repositories: ['maven-hosted'],
            paths: ['com/priv/**'],
            users: ['bob'],
            actions: ['read', 'write'],
          }),
        ],
        membersOf: (name) => (name === 'maven2' ? ['maven-hosted', 'maven-proxy'] : []),
      },
      true,
    );
    const group = repo('maven2', 'maven');
    const jar = 'com/priv/p/1.0/p-1.0.jar';
    assert.ok(a.can(bob, group, 'read', jar));
    assert.ok(!a.can(alice, group, 'read', jar), 'the member refuses alice: so does the group');
    assert.ok(!a.can(anonymous, group, 'read', jar));
    assert.ok(a.can(anonymous, group, 'read', 'org/pub/q/1.0/q-1.0.jar'), 'other paths unowned');
    assert.ok(a.can(alice, group, 'read'), 'listings stay open, filtered name by name');
    assert.ok(!a.readsEveryPath(alice, group));
  });

  it('a rule reaching a member only through its group does not open what the member reserved', () => {
    // The trial's configuration: alice's space on maven-hosted, then the rule docs/auth.md
    // recommends to open the default group to anonymous installs.
    const members: Record<string, string[]> = {
      maven: ['maven-hosted', 'maven-proxy'],
      go: ['go-hosted', 'go-proxy'],
    };
    const containing = (name: string) =>
      Object.keys(members).filter((group) => members[group]?.includes(name));
    const rules = [
      rule({
        repositories: ['maven-hosted', 'go-hosted'],
        paths: ['org/priv/**', 'corp.example.com/priv/**'],
        users: ['alice'],
        actions: ['read', 'write', 'delete'],
      }),
      rule({ repositories: ['maven'], anonymous: true, actions: ['read'] }),
      rule({ repositories: ['go'], anonymous: true, actions: ['read'] }),
      rule({ repositories: ['maven'], users: ['*'], actions: ['read'] }),
    ];
    const ruleSet = new RuleSet({
      rules,
      groupsContaining: containing,
      membersOf: (name) => members[name] ?? [],
    });
    const a = new AccessControl({ authEnabled: true, anonymousRead: false }, ruleSet);
    const group = repo('maven', 'maven');
    const hosted = repo('maven-hosted', 'maven');
    const proxy = repo('maven-proxy', 'maven');
    const jar = 'org/priv/lib/1.0/lib-1.0.jar';
    for (const target of [group, hosted]) {
      assert.ok(!a.can(anonymous, target, 'read', jar), `anonymous, ${target.name}`);
      assert.ok(!a.can(bob, target, 'read', jar), `bob, ${target.name}`);
      assert.ok(a.can(alice, target, 'read', jar), `alice, ${target.name}`);
    }
    assert.ok(a.can(alice, hosted, 'write', jar));
    assert.ok(!a.can(bob, hosted, 'write', jar));
    // The refusal names the member whose rule decides, read through the group.
    const refusal = (principal: Principal, target: Repository) => {
      try {
        a.authorize(principal, target, 'read', jar);
        return 'allowed';
      } catch (error) {
        return (error as Error).message;
      }
    };
    assert.match(refusal(bob, group), /\(a rule on its member maven-hosted owns it\)$/);
    assert.doesNotMatch(refusal(bob, hosted), /\(a rule on/);
    assert.match(refusal(anonymous, hosted), /authentication required/);
    // Everything the member did not reserve: the group's rules hold, on the member too.
    const pub = 'org/pub/lib/1.0/lib-1.0.jar';
    for (const target of [group, hosted, proxy]) {
      assert.ok(a.can(anonymous, target, 'read', pub), `anonymous, public, ${target.name}`);
      assert.ok(a.can(bob, target, 'read', pub), `bob, public, ${target.name}`);
    }
    assert.ok(a.can(anonymous, proxy, 'read', jar), 'the proxy member reserved nothing');
    assert.ok(!a.can(bob, hosted, 'write', pub), 'the group\'s users = ["*"] rule owns the rest');
    assert.ok(a.can(bob, repo('maven-other', 'maven'), 'write', pub), 'elsewhere: role defaults');
    // Go, the same through /go/ and the member's own URL.
    const mod = 'corp.example.com/priv/m';
    for (const target of [repo('go', 'go'), repo('go-hosted', 'go')]) {
      assert.ok(!a.can(anonymous, target, 'read', mod), `anonymous, ${target.name}`);
      assert.ok(!a.can(bob, target, 'read', mod), `bob, ${target.name}`);
      assert.ok(a.can(alice, target, 'read', mod), `alice, ${target.name}`);
      assert.ok(a.can(anonymous, target, 'read', 'corp.example.com/pub/m'));
    }
    // Listings stay open and are filtered name by name.
    assert.ok(a.can(anonymous, group, 'read'));
    assert.ok(!a.readsEveryPath(anonymous, group));
    assert.ok(!a.readsEveryPath(anonymous, hosted));
    // Without the member's rule the group's anonymous rule opens the same path (the rule is what
    // reserves it, nothing else).
    const open = new AccessControl(
      { authEnabled: true, anonymousRead: false },
      new RuleSet({
        rules: rules.slice(1),
        groupsContaining: containing,
        membersOf: (name) => members[name] ?? [],
      }),
    );
    assert.ok(open.can(anonymous, hosted, 'read', jar));
    assert.ok(open.can(anonymous, group, 'read', jar));
  });

  it('precedence: a member rule over all paths, an anonymous rule on a sibling member, nested groups', () => {
    const members: Record<string, string[]> = {
      outer: ['inner', 'npm-hosted', 'npm-proxy'],
      inner: ['npm-hosted'],
      all: ['reserved-all', 'other'],
    };
    const a = access({
      rules: [
        // The member's own anonymous rule is one of its own rules: it opens what it names.
        rule({
          repositories: ['npm-hosted'],
          paths: ['@corp/*'],
          users: ['alice'],
          actions: ['read', 'write'],
        }),
        rule({
          repositories: ['npm-hosted'],
          paths: ['@corp/open'],
          anonymous: true,
          actions: ['read'],
        }),
        // An anonymous rule on another member of the group does not open npm-hosted's space.
        rule({ repositories: ['npm-proxy'], anonymous: true, actions: ['read'] }),
        // A group rule owning the same path: the member's rules decide on the member's path.
        rule({ repositories: ['inner'], paths: ['@corp/*'], users: ['carol'], actions: ['read'] }),
        // A group reserving a path no member reserves: the group's own space.
        rule({ repositories: ['outer'], paths: ['@grp/*'], users: ['carol'], actions: ['read'] }),
        rule({ repositories: ['reserved-all'], users: ['alice'], actions: ['read'] }),
        rule({ repositories: ['all'], anonymous: true, actions: ['read'] }),
      ],
      groupsContaining: (name) =>
        Object.keys(members).filter((group) => members[group]?.includes(name)),
      membersOf: (name) => (name === 'all' ? ['reserved-all', 'other'] : (members[name] ?? [])),
    });
    const hosted = repo('npm-hosted', 'npm');
    for (const target of [repo('outer', 'npm'), repo('inner', 'npm'), hosted]) {
      assert.ok(!a.can(anonymous, target, 'read', '@corp/pkg'), `anonymous, ${target.name}`);
      assert.ok(!a.can(carol, target, 'read', '@corp/pkg'), `carol, ${target.name}`);
      assert.ok(a.can(alice, target, 'read', '@corp/pkg'), `alice, ${target.name}`);
      assert.ok(a.can(anonymous, target, 'read', '@corp/open'), `open, ${target.name}`);
    }
    assert.ok(a.can(anonymous, repo('npm-proxy', 'npm'), 'read', '@corp/pkg'));
    const outer = repo('outer', 'npm');
    assert.ok(a.can(carol, outer, 'read', '@grp/x'));
    assert.ok(!a.can(bob, outer, 'read', '@grp/x'));
    assert.ok(!a.can(anonymous, outer, 'read', '@grp/x'), 'the group reserved it from the proxy');
    assert.ok(a.can(anonymous, outer, 'read', 'lodash'), 'the proxy member opens the rest');
    // A member reserved over all its paths: the group's anonymous rule opens none of them, and
    // the group's listing is refused to anonymous (every path of it may be the member's).
    const all = repo('all', 'npm');
    assert.ok(!a.can(anonymous, all, 'read', 'lodash'));
    assert.ok(!a.can(anonymous, all, 'read'));
    assert.ok(!a.can(anonymous, repo('reserved-all', 'npm'), 'read', 'lodash'));
    assert.ok(a.can(anonymous, repo('other', 'npm'), 'read', 'lodash'));
    assert.ok(a.can(alice, all, 'read'));
    // A group reserving every path for carol, a member reserving some for alice: alice still
    // lists the group (filtered name by name) and reads her paths through it; others do not.
    const b = access({
      rules: [
        rule({ repositories: ['grp'], users: ['carol'], actions: ['read'] }),
        rule({
          repositories: ['grp-hosted'],
          paths: ['@corp/*'],
          users: ['alice'],
          actions: ['read'],
        }),
      ],
      groupsContaining: (name) => (name === 'grp-hosted' ? ['grp'] : []),
      membersOf: (name) => (name === 'grp' ? ['grp-hosted'] : []),
    });
    const grp = repo('grp', 'npm');
    assert.ok(b.can(alice, grp, 'read'), 'alice lists the group');
    assert.ok(b.can(alice, grp, 'read', '@corp/pkg'));
    assert.ok(!b.can(alice, grp, 'read', 'lodash'), "the group's rule reserves the rest");
    assert.ok(b.can(carol, grp, 'read', 'lodash'));
    assert.ok(!b.can(carol, grp, 'read', '@corp/pkg'), "the member's rule decides its paths");
    assert.ok(!b.can(anonymous, grp, 'read', '@corp/pkg'));
    assert.ok(!b.can(anonymous, grp, 'read'), 'nothing grants anonymous a listing');
    assert.ok(!b.can(bob, grp, 'read'));
    assert.ok(!b.readsEveryPath(alice, grp));
  });

  it('a member closed to anonymous reads closes its groups to them', () => {
    const a = access(
      {
        rules: [],
        repositoryAnonymousRead: new Map([
          ['team-py', false],
          ['py-grp', true],
        ]),
        membersOf: (name) => (name === 'py-grp' ? ['team-py', 'pypi-proxy'] : []),
      },
      true,
    );
    assert.ok(!a.can(anonymous, repo('py-grp', 'pypi'), 'read', 'trialpkg'));
    assert.ok(!a.can(anonymous, repo('team-py', 'pypi'), 'read', 'trialpkg'));
    assert.ok(a.can(anonymous, repo('pypi-proxy', 'pypi'), 'read', 'trialpkg'));
    assert.ok(a.can(bob, repo('py-grp', 'pypi'), 'read', 'trialpkg'), 'signed-in users read');
  });

  it('repository-wide reads: allowed unless a rule owns every path and grants nothing', () => {
    const a = access({
      rules: [
        rule({ repositories: ['docker'], paths: ['team/**'], users: ['alice'], actions: ['read'] }),
        rule({ repositories: ['secret'], users: ['alice'], actions: ['read'] }),
        rule({ repositories: ['docker'], paths: ['pub/**'], anonymous: true, actions: ['read'] }),
      ],
    });
    const secret = repo('secret');
    assert.ok(a.can(bob, docker, 'read'), 'bob lists what he may read');
    assert.ok(a.can(anonymous, docker, 'read'), 'anonymous may list pub/**');
    assert.ok(!a.can(bob, secret, 'read'));
    assert.ok(a.can(alice, secret, 'read'));
  });

  it('per-repository anonymous_read and the per-format hook, on unowned targets', () => {
    const a = access(
      {
        rules: [],
        repositoryAnonymousRead: new Map([
          ['open', true],
          ['closed', false],
        ]),
        anonymousReadDefault: (t) => (t.repository.format === 'docker' ? false : undefined),
      },
      true,
    );
    assert.ok(a.can(anonymous, repo('open'), 'read', 'x'));
    assert.ok(!a.can(anonymous, repo('closed', 'npm'), 'read', 'x'));
    assert.ok(!a.can(anonymous, repo('dock'), 'read', 'x'), 'the format hook');
    assert.ok(a.can(anonymous, repo('npmx', 'npm'), 'read', 'x'), 'the global default');
    assert.ok(!a.can(anonymous, repo('open'), 'write', 'x'));
  });

  it('validation: patterns, anonymous writes, misspelt keys', () => {
    assert.match(
      ruleProblem(rule({ repositories: ['a/b'], actions: ['read'] })) ?? '',
      /repository name/,
    );
    assert.match(ruleProblem(rule({ paths: ['x:y'], actions: ['read'] })) ?? '', /":"/);
    assert.match(ruleProblem(rule({ paths: [''], actions: ['read'] })) ?? '', /empty/);
    assert.match(ruleProblem(rule({ anonymous: true, actions: ['write'] })) ?? '', /anonymous/);
    assert.equal(ruleProblem(rule({ actions: ['read'] })), undefined);
    const parse = (auth: Record<string, unknown>) => () => parseConfigObject({ auth }, {});
    assert.throws(
      parse({ rules: [{ users: ['a'], path: ['x/**'], actions: ['read'] }] }),
      (err) => {
        // Numbered as everywhere else, with the key it was meant to be (trial 21 authx F7).
        assert.match(
          String(err),
          /auth\.rules\[0\]: unknown key "path" \(did you mean "paths"\?\)/,
        );
        assert.doesNotMatch(String(err), /ignored/, 'a refused key is not called ignored');
        return true;
      },
    );
    assert.throws(parse({ rules: [{ users: ['a'], actions: ['fly'] }] }), /actions/);
    assert.throws(parse({ rules: [{ users: ['a'] }] }), /actions/);
    const { config } = parseConfigObject(
      {
        auth: {
          groups: { devs: ['alice'] },
          rules: [{ groups: ['devs'], actions: ['read'] as Action[] }],
        },
      },
      {},
    );
    assert.deepEqual(config.auth.rules[0]?.repositories, ['*']);
    assert.deepEqual(config.auth.rules[0].paths, ['**']);
  });
});

describe('answeringMembers: which members a group reads a reserved path from', () => {
  const members: Record<string, string[]> = {
    outer: ['all', 'extra'],
    outer2: ['all', 'lone', 'extra'],
    all: ['pub', 'priv', 'team'],
  };
  // Transitive, as permissionsFromConfig gives them.
  const flat: Record<string, string[]> = {
    outer: ['all', 'extra', 'pub', 'priv', 'team'],
    outer2: ['all', 'lone', 'extra', 'pub', 'priv', 'team'],
    all: ['pub', 'priv', 'team'],
  };
  const containing = (name: string) =>
    Object.entries(members).flatMap(([group, list]) => (list.includes(name) ? [group] : []));
  const kinds: Record<string, 'hosted' | 'proxy' | 'group'> = {
    outer: 'group',
    outer2: 'group',
    all: 'group',
    lone: 'hosted',
    pub: 'hosted',
    priv: 'hosted',
    team: 'hosted',
    extra: 'proxy',
  };
  const ruleSet = new RuleSet({
    rules: [
      rule({
        repositories: ['priv'],
        paths: ['x/**'],
        users: ['alice'],
        actions: ['read', 'write'],
      }),
      rule({
        repositories: ['team'],
        paths: ['x/shared/**'],
        users: ['bob'],
        actions: ['read', 'write'],
      }),
      // Write without read: restricts who writes and reserves the path against the other
      // hosted members only, never against proxies (26th/27th sessions).
      rule({ repositories: ['team'], paths: ['w/**'], users: ['bob'], actions: ['write'] }),
      rule({ repositories: ['pub'], paths: ['readers/**'], users: ['carol'], actions: ['read'] }),
      rule({ repositories: ['all'], users: ['*'], actions: ['read'] }),
      rule({ repositories: ['*'], paths: ['open/**'], users: ['*'], actions: ['read', 'write'] }),
      rule({ repositories: ['pub'], paths: ['anon/**'], anonymous: true, actions: ['read'] }),
      rule({ repositories: ['extra'], users: ['*'], actions: ['read', 'write'] }),
    ],
    groupsContaining: containing,
    membersOf: (name) => flat[name] ?? [],
    kindOf: (name) => kinds[name],
  });
  const pick = (group: string, path: string | undefined) =>
    ruleSet.answeringMembers({ repository: repo(group, 'raw'), path }, members[group] ?? []);

  it('a path a rule gives writers of a member: that member only; two such members: both, in order', () => {
    assert.deepEqual(pick('all', 'x/top.txt'), ['priv']);
    assert.deepEqual(pick('all', 'x/shared/a.txt'), ['priv', 'team']);
  });
  it('no member holds it (the group own rule, an anonymous-only rule, no path): every member', () => {
    assert.equal(pick('all', 'y/top.txt'), undefined);
    assert.equal(pick('all', 'anon/a.txt'), undefined);
    assert.equal(pick('all', undefined), undefined);
  });
  it('a rule granting write without read: its hosted member keeps the path from the other hosted members, proxies still answer', () => {
    assert.deepEqual(pick('all', 'w/a.txt'), ['team'], 'hosted members pub, priv step aside');
    assert.equal(pick('outer', 'w/a.txt'), undefined, 'the proxy extra and the group holding team');
    assert.deepEqual(
      pick('outer2', 'w/a.txt'),
      ['all', 'extra'],
      'a hosted member of the outer group steps aside too',
    );
  });
  it('a rule that says only who may read chooses no member (tenth trial F4)', () => {
    assert.equal(pick('all', 'readers/a.txt'), undefined);
  });
  it('a rule whose glob names every member chooses none of them', () => {
    assert.equal(pick('all', 'open/a.txt'), undefined);
  });
  it('a rule on a proxy member never makes it hold a name (tenth trial F4)', () => {
    assert.equal(pick('outer', 'z/a.txt'), undefined);
  });
  it('a nested group answers through the inner group holding the member', () => {
    assert.deepEqual(pick('outer', 'x/top.txt'), ['all']);
  });
  it('auth off: rules do not apply, every member answers', () => {
    const off = new AccessControl({ authEnabled: false, anonymousRead: true }, ruleSet);
    assert.equal(
      off.answeringMembers(repo('all', 'raw'), 'x/top.txt', members['all'] ?? []),
      undefined,
    );
  });
});

describe('a refusal names a rule on every repository as configured (trial 33 newB F4)', () => {
  const members: Record<string, string[]> = { docker: ['docker-hosted', 'docker-proxy'] };
  const group = toRepository(
    {
      name: 'docker',
      format: 'docker',
      kind: 'group',
      members: members['docker'] ?? [],
      upstreams: [],
    },
    true,
  );
  const dave: Principal = { kind: 'user', name: 'dave', roles: ['read', 'write'] };
  const refusal = (rules: ReturnType<typeof rule>[]): string => {
    const a = access({
      rules,
      groupsContaining: (name) => (members['docker']?.includes(name) ? ['docker'] : []),
      membersOf: (name) => members[name] ?? [],
      writeMemberOf: (name) => (name === 'docker' ? 'docker-hosted' : undefined),
    });
    try {
      a.authorize(dave, group, 'read', 'drop/x');
      return 'allowed';
    } catch (error) {
      return (error as Error).message;
    }
  };

  it('repositories = ["*"] is no rule "on its member"', () => {
    const carols = rule({
      repositories: ['*'],
      paths: ['drop/**'],
      users: ['carol'],
      actions: ['read', 'write'],
    });
    assert.equal(
      refusal([carols]),
      'dave may not read drop/x in docker (no rule there grants dave read)',
    );
    const daves = rule({
      repositories: ['*'],
      paths: ['drop/**'],
      users: ['dave'],
      actions: ['write'],
    });
    assert.equal(
      refusal([daves]),
      'dave may not read drop/x in docker (auth.rules[0] grants dave write only)',
    );
  });

  it('a rule on the member alone is still said so', () => {
    const hosted = rule({
      repositories: ['docker-hosted'],
      paths: ['drop/**'],
      users: ['carol'],
      actions: ['read', 'write'],
    });
    assert.match(refusal([hosted]), /\(a rule on its member docker-hosted owns it\)$/);
  });
});
