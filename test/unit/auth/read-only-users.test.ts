/**
 * `[auth] read_only_users` (new-user trial, sixteenth session): users of the htpasswd file always
 * had read + write, and the rule a user writes for a read-only user (`users = ["reader"],
 * actions = ["read"]` over everything) takes read and write from everyone else by ownership.
 * Here: the setting's parsing (file, comma string, NORA_AUTH_READ_ONLY_USERS, a name also in
 * admin_users refused), the decision for every credential of a listed user (password, a write
 * token made before, a Docker registry token carrying write roles), rules granting it write,
 * tokens it mints (token API, admin endpoint), a reload taking it in and out, and the config
 * check's warnings (a rule granting write to a read-only user; the ownership trap).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it, test } from 'node:test';
import { AccessControl, type Principal } from '../../../src/auth/access.ts';
import { TokenApi, tokenJson } from '../../../src/auth/api/tokens.ts';
import { createIdentity, type Identity } from '../../../src/auth/identity.ts';
import { authMigrations } from '../../../src/auth/migrations.ts';
import {
  namedByConfig,
  ownershipLockouts,
  readOnlyUserGrants,
  RuleSet,
} from '../../../src/auth/rules.ts';
import { checkConfig } from '../../../src/app.ts';
import { ConfigError, parseConfigObject } from '../../../src/config/load.ts';
import { redactText } from '../../../src/core/redact.ts';
import { isRegistryError } from '../../../src/core/errors.ts';
import { type Db, openDatabase } from '../../../src/db/database.ts';
import type { Repository } from '../../../src/repos/repository.ts';
import { basic, htpasswdOf, quietLogger, rule } from '../../helpers/auth.ts';
import { tempDir } from '../../helpers/tmp.ts';

const repo = (name: string) => ({ name, kind: 'hosted', format: 'raw' }) as unknown as Repository;

/** The refusal `authorize` throws (a 403 whose message is matched), or a failure. */
function denied(fn: () => void, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isRegistryError(err), String(err));
    assert.equal(err.status, 403);
    assert.match(err.message, message);
    return true;
  });
}

const READ_ONLY = /^reader is a read-only user \(\[auth\] read_only_users\): it may not write /;

describe('[auth] read_only_users: parsing', () => {
  test('a list, a comma list as a string, or NORA_AUTH_READ_ONLY_USERS, as admin_users', () => {
    const parse = (auth: Record<string, unknown>, env: Record<string, string> = {}) =>
      parseConfigObject({ auth }, env).config.auth.read_only_users;
    assert.deepEqual(parse({}), []);
    assert.deepEqual(parse({ read_only_users: ['a', 'b'] }), ['a', 'b']);
    assert.deepEqual(parse({ read_only_users: 'ci, ops ,' }), ['ci', 'ops']);
    assert.deepEqual(parse({}, { NORA_AUTH_READ_ONLY_USERS: 'x,y' }), ['x', 'y']);
    assert.throws(() => parse({ read_only_users: 5 }), ConfigError);
  });

  test('a listed name is reserved from self-registration (npm adduser), in any case', () => {
    const auth = { rules: [], groups: {}, read_only_users: ['Carol'] };
    assert.equal(namedByConfig(auth, 'carol'), '[auth] read_only_users');
    assert.equal(namedByConfig(auth, 'dave'), undefined);
  });

  test('a user in both admin_users and read_only_users is a configuration error', () => {
    assert.throws(
      () =>
        parseConfigObject(
          { auth: { admin_users: ['root', 'reader'] } },
          { NORA_AUTH_READ_ONLY_USERS: 'reader' },
        ),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(
          err.message,
          /auth\.read_only_users \(from NORA_AUTH_READ_ONLY_USERS\): user "reader" is also in \[auth\] admin_users: a user is either an admin or read-only/,
        );
        return true;
      },
    );
  });

  test('the conflict names NORA_AUTH_ADMIN_USERS only when that variable set admin_users (trial 20 authx F2)', () => {
    const message = (raw: Record<string, unknown>, env: Record<string, string>) => {
      try {
        parseConfigObject(raw, env);
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.message;
      }
      return assert.fail('expected a ConfigError');
    };
    // Both lists from the file: no variable named at all.
    const file = message({ auth: { admin_users: ['carol'], read_only_users: ['carol'] } }, {});
    assert.match(
      file,
      /auth\.read_only_users: user "carol" is also in \[auth\] admin_users: a user/,
    );
    assert.doesNotMatch(file, /NORA_/);
    // admin_users from the variable: named.
    assert.match(
      message({ auth: { read_only_users: ['carol'] } }, { NORA_AUTH_ADMIN_USERS: 'carol' }),
      /auth\.read_only_users: user "carol" is also in \[auth\] admin_users \(NORA_AUTH_ADMIN_USERS\): a user/,
    );
  });

  test('the error names the users as the CLI prints it, from the file too (trial 17 F5: "[redacted]")', () => {
    assert.throws(
      () =>
        parseConfigObject({ auth: { admin_users: ['root', 'dave'], read_only_users: ['dave'] } }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        // What `nora config check` writes: the message through the CLI's redaction.
        assert.match(redactText(err.message), /user "dave" is also in \[auth\] admin_users/);
        return true;
      },
    );
    assert.throws(
      () =>
        parseConfigObject({
          auth: { admin_users: ['dave', 'erin'], read_only_users: ['dave', 'erin'] },
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(redactText(err.message), /users "dave", "erin" are also in/);
        return true;
      },
    );
  });
});

describe('[auth] read_only_users: the decision', () => {
  let db: Db;
  let access: AccessControl;
  let identity: Identity;
  let dir: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let htpasswd: string;

  beforeEach(async () => {
    dir = await tempDir('nora-readonly-');
    htpasswd = path.join(dir.path, 'users.htpasswd');
    await fs.writeFile(
      htpasswd,
      htpasswdOf({ reader: 'reader-pw', writer: 'writer-pw', root: 'root-pw' }),
    );
    db = await openDatabase({ file: ':memory:', migrations: authMigrations });
    // A rule granting reader write everywhere: read_only_users wins over it.
    access = new AccessControl(
      { authEnabled: true, anonymousRead: true },
      new RuleSet({
        rules: [
          rule({ users: ['reader', 'writer'], actions: ['read', 'write', 'delete'] }),
          rule({ anonymous: true, actions: ['read'] }),
        ],
      }),
    );
    identity = await createIdentity(
      db,
      access,
      { htpasswd_file: htpasswd, admin_users: ['root'], read_only_users: ['reader'] },
      { log: quietLogger },
    );
  });
  afterEach(async () => {
    identity.close();
    await db.destroy();
    await dir[Symbol.asyncDispose]();
  });

  const login = (user: string, password: string) =>
    access.authenticate({ authorization: basic(user, password) });

  test("the user's password reads, and every change is refused naming the setting, whatever a rule grants", async () => {
    const reader = await login('reader', 'reader-pw');
    assert.deepEqual(reader, {
      kind: 'user',
      name: 'reader',
      roles: ['read'],
      credential: 'password',
      readOnlyUser: true,
    });
    access.authorize(reader, repo('raw'), 'read', 'a.txt');
    for (const action of ['write', 'delete'] as const) {
      denied(
        () => {
          access.authorize(reader, repo('raw'), action, 'a.txt');
        },
        new RegExp(
          `^reader is a read-only user \\(\\[auth\\] read_only_users\\): it may not ${action} a\\.txt in raw$`,
        ),
      );
    }
    // Others are untouched: writer writes (the rule), root passes, anonymous reads.
    access.authorize(await login('writer', 'writer-pw'), repo('raw'), 'write', 'a.txt');
    access.authorize(await login('root', 'root-pw'), repo('raw'), 'delete', 'a.txt');
    access.authorize({ kind: 'anonymous' }, repo('raw'), 'read', 'a.txt');
  });

  test('a write token made before the user was listed reads, and writes again once it is not', async () => {
    const { secret } = await identity.tokens.create('reader', { role: 'write' });
    const bearer = () => access.authenticate({ authorization: `Bearer ${secret}` });
    const capped = await bearer();
    assert.equal(capped.kind === 'user' && capped.readOnlyUser, true);
    assert.deepEqual(capped.kind === 'user' && capped.roles, ['read']);
    denied(() => {
      access.authorize(capped, repo('raw'), 'write', 'a.txt');
    }, READ_ONLY);
    // Listings say what it can do, and what it was made with (trial 17 F9): the token API, npm
    // token list and nora token list all read TokenStore.list.
    const [listed] = await identity.tokens.list('reader');
    assert.deepEqual([listed?.role, listed?.readonly, listed?.cappedFrom], ['read', true, 'write']);
    assert.deepEqual(
      listed === undefined
        ? undefined
        : [
            tokenJson(listed)['role'],
            tokenJson(listed)['role_granted'],
            tokenJson(listed)['capped_by'],
          ],
      ['read', 'write', '[auth] read_only_users'],
    );
    // SIGHUP without reader in the list: the token writes, the password too.
    await identity.reload({ htpasswd_file: htpasswd, admin_users: ['root'], read_only_users: [] });
    const [unlisted] = await identity.tokens.list('reader');
    assert.deepEqual([unlisted?.role, unlisted?.cappedFrom], ['write', undefined]);
    access.authorize(await bearer(), repo('raw'), 'write', 'a.txt');
    access.authorize(await login('reader', 'reader-pw'), repo('raw'), 'write', 'a.txt');
    // And back in it: refused again at the next request (nothing remembered from before).
    await identity.reload({
      htpasswd_file: htpasswd,
      admin_users: ['root'],
      read_only_users: ['reader'],
    });
    denied(() => {
      access.authorize(capped, repo('raw'), 'write', 'a.txt');
    }, READ_ONLY);
    const again = await login('reader', 'reader-pw');
    denied(() => {
      access.authorize(again, repo('raw'), 'write', 'a.txt');
    }, READ_ONLY);
  });

  test('a Docker registry token issued with write roles reads once its user is listed', async () => {
    const principal: Principal = {
      kind: 'user',
      name: 'reader',
      roles: ['read', 'write'],
      credential: 'password',
    };
    const { token } = await identity.registryTokens.issueAccess({
      principal,
      service: 'nora',
      access: [{ type: 'repository', name: 'app', actions: ['pull', 'push'] }],
      grants: [{ repository: 'docker', path: 'app', actions: ['read', 'write'] }],
      ttlSeconds: 300,
    });
    const used = await access.authenticate({ authorization: `Bearer ${token}` });
    assert.deepEqual(used.kind === 'user' && used.roles, ['read']);
    access.authorize(used, repo('docker'), 'read', 'app');
    denied(() => {
      access.authorize(used, repo('docker'), 'write', 'app');
    }, READ_ONLY);
  });

  test('tokens it mints: read, and asking for write or admin is a 403 naming the setting', async () => {
    const api = new TokenApi(identity.directory, identity.tokens);
    const reader = await login('reader', 'reader-pw');
    const made = await api.create(reader, { role: 'read' });
    assert.equal(made['role'], 'read');
    // With the password in the body too (POST /api/tokens {"username","password"}).
    const body = await api.create(
      { kind: 'anonymous' },
      { username: 'reader', password: 'reader-pw' },
    );
    assert.equal(body['role'], 'read');
    for (const role of ['write', 'admin']) {
      await assert.rejects(api.create(reader, { role }), (err: unknown) => {
        assert.ok(isRegistryError(err));
        assert.equal(err.status, 403);
        assert.match(
          err.message,
          new RegExp(
            `^reader is a read-only user \\(\\[auth\\] read_only_users\\): it may only have read tokens, not ${role} \\(ask for "role":"read"\\)$`,
          ),
        );
        return true;
      });
    }
    // A read token made by it cannot make more (a read-only credential), as for anyone.
    const minted = await access.authenticate({ authorization: `Bearer ${String(made['token'])}` });
    await assert.rejects(api.create(minted, { role: 'read' }), /read-only credential/);
    // An admin making a write token for it: refused too.
    const root = await login('root', 'root-pw');
    await assert.rejects(
      api.admin(root, { action: 'create', user: 'reader', role: 'write' }),
      /reader is a read-only user \(\[auth\] read_only_users\): it may only have read tokens, not write/,
    );
    const forReader = await api.admin(root, { action: 'create', user: 'reader', role: 'read' });
    assert.equal(forReader['role'], 'read');
    // Another user's write tokens are unaffected.
    const writer = await login('writer', 'writer-pw');
    assert.equal((await api.create(writer, { role: 'write' }))['role'], 'write');
  });
});

describe('[auth] read_only_users: config check warnings', () => {
  it('warns about a rule that grants write to a read-only user (by name or group)', () => {
    const warnings = readOnlyUserGrants({
      read_only_users: ['reader'],
      groups: { team: ['reader', 'alice'] },
      rules: [
        rule({ users: ['reader'], actions: ['read'] }),
        rule({ groups: ['team'], actions: ['read', 'write'] }),
        rule({ users: ['alice'], actions: ['read', 'write'] }),
      ],
    });
    assert.deepEqual(warnings, [
      'auth.rules[1] grants write to reader, a read-only user ([auth] read_only_users): it only reads all the same (read_only_users wins over rules); remove it from read_only_users to let the rule apply',
    ]);
    // A rule naming nobody but the read-only user still owns its space: said too (trial 17 F12).
    assert.deepEqual(
      readOnlyUserGrants({
        read_only_users: ['carol'],
        groups: {},
        rules: [rule({ repositories: ['raw-hosted'], users: ['carol'], actions: ['write'] })],
      }),
      [
        'auth.rules[0] grants write to carol, a read-only user ([auth] read_only_users): it only reads all the same (read_only_users wins over rules); remove it from read_only_users to let the rule apply. And since it names nobody else, it still owns raw-hosted (paths **): there other users and anonymous clients lose their role defaults and may do only what other rules grant them — remove the rule, or name the users it is meant for',
      ],
    );
  });

  it('with auth off, the read-only grant is said without the ownership half (trial 20 authx F8)', () => {
    // Rules take nothing away while auth is off: "others lose their role defaults" was false.
    assert.deepEqual(
      readOnlyUserGrants({
        enabled: false,
        read_only_users: ['carol'],
        groups: {},
        rules: [rule({ repositories: ['raw-hosted'], users: ['carol'], actions: ['write'] })],
      }),
      [
        'auth.rules[0] grants write to carol, a read-only user ([auth] read_only_users): it only reads all the same (read_only_users wins over rules); remove it from read_only_users to let the rule apply',
      ],
    );
  });

  it('warns about the ownership trap: a rule naming only some users over every repository and path', () => {
    const trap = rule({ users: ['reader'], actions: ['read'] });
    assert.deepEqual(ownershipLockouts([trap]), [
      'auth.rules[0] names only reader and covers every repository: by ownership, other users and anonymous clients lose read/write everywhere (every path of every repository is owned, and only admins and reader are granted anything there; docs/auth.md "Semantics"); for a read-only user use [auth] read_only_users (NORA_AUTH_READ_ONLY_USERS) instead of this rule',
    ]);
    // When another rule grants someone else something, the certain part is said: nobody keeps
    // the role defaults anywhere (trial 17 F4: one more rule silenced the warning).
    const weaker =
      'auth.rules[0] names only reader and covers every repository: by ownership every path of every repository is owned, so nobody keeps the role defaults anywhere (a user\'s read and write, anonymous_read): other users and anonymous clients may do only what the other rules grant them (docs/auth.md "Semantics"); for a read-only user use [auth] read_only_users (NORA_AUTH_READ_ONLY_USERS) instead of this rule';
    for (const other of [
      rule({ groups: ['writers'], actions: ['write'] }),
      rule({ anonymous: true, actions: ['read'] }),
      rule({ users: ['bob'], paths: ['x/**'], actions: ['read'] }),
      rule({ repositories: ['raw-hosted'], users: ['alice'], actions: ['read', 'write'] }),
    ]) {
      assert.deepEqual(ownershipLockouts([trap, other])[0], weaker);
    }
    // A group of some users (or anonymous clients, or tokens) owning everything locks the others
    // out the same way (trial 18 authx F1).
    assert.match(
      ownershipLockouts([rule({ groups: ['ro'], actions: ['read'] })])[0] ?? '',
      /^auth\.rules\[0\] names only group ro and covers every repository: by ownership every path/,
    );
    assert.match(
      ownershipLockouts([rule({ users: ['carol'], anonymous: true, actions: ['read'] })])[0] ?? '',
      /^auth\.rules\[0\] names only carol and anonymous clients and covers every repository/,
    );
    // Not for a rule over some repositories or paths, nor for one naming "*".
    assert.deepEqual(ownershipLockouts([{ ...trap, repositories: ['npm'] }]), []);
    assert.deepEqual(ownershipLockouts([{ ...trap, paths: ['team/**'] }]), []);
    assert.deepEqual(ownershipLockouts([rule({ users: ['*'], actions: ['read'] })]), []);
    // Another rule for the same user changes nothing: still a trap.
    assert.equal(
      ownershipLockouts([trap, rule({ users: ['reader'], paths: ['x/**'], actions: ['write'] })])
        .length,
      1,
    );
  });

  it('no trap warning for a rule naming only anonymous clients, nor for rules giving back what ownership takes (trial 19 authx F1)', () => {
    // Owns nothing (Semantics 2): opens a closed server to anonymous reads, takes nothing away.
    assert.deepEqual(ownershipLockouts([rule({ anonymous: true, actions: ['read'] })]), []);
    assert.deepEqual(
      ownershipLockouts([rule({ anonymous: true, actions: ['read'] })], { anonymousRead: false }),
      [],
    );
    // The docs' "said with rules alone" example: the writers are named, anonymous keep reading.
    const docs = [
      rule({ users: ['carol'], actions: ['read'] }),
      rule({ groups: ['writers'], actions: ['read', 'write', 'delete'] }),
      rule({ anonymous: true, actions: ['read'] }),
    ];
    assert.deepEqual(ownershipLockouts(docs), []);
    // Without the anonymous rule, anonymous clients lose their reads: still warned, unless
    // anonymous_read is off (nothing to lose then).
    assert.equal(ownershipLockouts(docs.slice(0, 2)).length, 2);
    assert.deepEqual(ownershipLockouts(docs.slice(0, 2), { anonymousRead: false }), []);
    // A rule granting write gets no "for a read-only user" advice.
    const writers = ownershipLockouts([rule({ groups: ['w'], actions: ['read', 'write'] })])[0];
    assert.ok(writers !== undefined && !writers.includes('read_only_users'), writers);
  });

  it("the docs' own recommended configurations (docs/auth.md) get no trap warning from config check", async () => {
    const doc = await fs.readFile(path.join(import.meta.dirname, '../../../docs/auth.md'), 'utf8');
    const at = doc.indexOf('Said with rules alone');
    const block = /```toml\n([\s\S]*?)```/.exec(doc.slice(at))?.[1];
    assert.ok(at !== -1 && block !== undefined, 'the example is in docs/auth.md');
    const { parse } = await import('smol-toml');
    const example = parse(block) as { auth: Record<string, unknown> };
    for (const anonymousRead of [true, false]) {
      const { config } = parseConfigObject(
        { auth: { ...example.auth, enabled: true, anonymous_read: anonymousRead } },
        {},
      );
      const warnings = checkConfig(config).filter((w) => w.includes('covers every repository'));
      assert.deepEqual(warnings, []);
    }
    // The report's anonymous-only configuration (a closed server opened to anonymous reads).
    const { config } = parseConfigObject(
      {
        auth: {
          enabled: true,
          admin_users: ['alice'],
          anonymous_read: false,
          rules: [{ anonymous: true, actions: ['read'] }],
        },
      },
      {},
    );
    assert.deepEqual(
      checkConfig(config).filter((w) => w.includes('covers every repository')),
      [],
    );
  });

  it('auth off: every setting that waits for auth is named, and no ownership-trap warning (trial 19 authx F10)', () => {
    const { config } = parseConfigObject(
      {
        auth: {
          enabled: false,
          admin_users: ['alice'],
          read_only_users: ['carol'],
          anonymous_read: false,
          allow_registration: true,
          public_metrics: false,
          groups: { platform: ['alice', 'bob'] },
          rules: [{ users: ['carol'], actions: ['read'] }],
        },
      },
      {},
    );
    const warnings = checkConfig(config);
    assert.ok(
      warnings.includes(
        '[auth] enabled = false: read_only_users, admin_users, anonymous_read = false, public_metrics = false, allow_registration, [auth.groups], [[auth.rules]] have no effect until it is true',
      ),
      warnings.join('\n'),
    );
    assert.deepEqual(
      warnings.filter((w) => w.includes('covers every repository')),
      [],
    );
    // The same rules with auth on: warned.
    const { config: on } = parseConfigObject(
      { auth: { enabled: true, rules: [{ users: ['carol'], actions: ['read'] }] } },
      {},
    );
    assert.equal(checkConfig(on).filter((w) => w.includes('covers every repository')).length, 1);
  });

  it('nora config check (checkConfig) says both', () => {
    const { config } = parseConfigObject(
      {
        auth: {
          enabled: true,
          read_only_users: ['carol'],
          rules: [
            { repositories: ['*'], users: ['reader'], actions: ['read'] },
            { repositories: ['npm'], users: ['carol'], paths: ['x/**'], actions: ['write'] },
          ],
        },
      },
      {},
    );
    const warnings = checkConfig(config);
    // carol is granted something by another rule: no total lockout is certain, but the loss of
    // the role defaults everywhere is, and said.
    assert.ok(
      warnings.some((w) =>
        w.startsWith(
          'auth.rules[0] names only reader and covers every repository: by ownership every path of every repository is owned, so nobody keeps the role defaults anywhere',
        ),
      ),
      warnings.join('\n'),
    );
    assert.ok(
      warnings.some((w) => w.startsWith('auth.rules[1] grants write to carol, a read-only user')),
      warnings.join('\n'),
    );
    const { config: trap } = parseConfigObject(
      { auth: { enabled: true, rules: [{ users: ['reader'], actions: ['read'] }] } },
      {},
    );
    assert.ok(
      checkConfig(trap).some((w) =>
        w.startsWith('auth.rules[0] names only reader and covers every repository'),
      ),
    );
  });
});

test('nora config check: a read_only_users or admin_users name that is no htpasswd user is warned, with the nearest name (trial 17 F6)', async () => {
  await using dir = await tempDir('nora-listed-');
  const htpasswd = path.join(dir.path, 'users.htpasswd');
  await fs.writeFile(htpasswd, htpasswdOf({ carol: 'pw', root: 'pw' }));
  const check = (auth: Record<string, unknown>) =>
    checkConfig(
      parseConfigObject({ auth: { enabled: true, htpasswd_file: htpasswd, ...auth } }, {}).config,
    ).filter((w) => w.includes('is not in the htpasswd file'));
  assert.deepEqual(check({ read_only_users: ['carol'], admin_users: ['root'] }), []);
  const [typo, cased, admin, ...rest] = check({
    read_only_users: ['carl', 'Carol'],
    admin_users: ['rooot'],
  });
  assert.deepEqual(rest, []);
  assert.match(
    typo ?? '',
    /^\[auth\] read_only_users: user "carl" is not in the htpasswd file \(did you mean "carol"\?/,
  );
  assert.match(
    cased ?? '',
    /user "Carol" is not in the htpasswd file \(did you mean "carol"\? names are compared exactly\)/,
  );
  assert.match(admin ?? '', /^\[auth\] admin_users: user "rooot"/);
  // A rule's users and [auth.groups] members too (trial 18 authx F9); "*" is any user.
  const [ruleUser, member, ...others] = check({
    rules: [{ repositories: ['*'], users: ['alcie', '*', 'carol'], actions: ['read'] }],
    groups: { release: ['carol', 'Root'] },
  });
  assert.deepEqual(others, []);
  assert.match(
    ruleUser ?? '',
    /^auth\.rules\[0\]\.users: user "alcie" is not in the htpasswd file/,
  );
  assert.match(
    member ?? '',
    /^\[auth\.groups\] release: user "Root" is not in the htpasswd file \(did you mean "root"\?/,
  );
  // Auth off: nobody logs in, no name to check; said instead that the list does nothing yet
  // (trial 18 authx F14).
  const off = checkConfig(
    parseConfigObject({ auth: { htpasswd_file: htpasswd, read_only_users: ['carl'] } }, {}).config,
  );
  assert.deepEqual(
    off.filter((w) => w.includes('is not in the htpasswd file')),
    [],
  );
  assert.ok(
    off.includes('[auth] enabled = false: read_only_users has no effect until it is true'),
    off.join('\n'),
  );
});
