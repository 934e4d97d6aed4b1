/**
 * `nora import run|assess --with-permissions [--grant-write]`: the fixture source
 * (test/helpers/import-source.ts) answers the Artifactory permission-target v2 API or the Nexus 3
 * Security API; the fragment written is checked line by line, validated by `nora config check`
 * pasted into a config, and enforced by a running NORA after a SIGHUP (who may read and write
 * what). Also: the credential cannot read permissions → exit 1 before any download;
 * `--grant-write` alone → exit 2.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { htpasswdOf } from '../../helpers/auth.ts';
import { nora } from '../../helpers/cli.ts';
import {
  type FixtureFile,
  type FixtureRepo,
  startSourceFixture,
} from '../../helpers/import-source.ts';
import { serveNora, waitFor, writeConfigToml } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';

const file = (text: string): FixtureFile => ({ data: Buffer.from(text) });
const pom = (version: string, group = 'com.acme', artifact = 'lib'): string =>
  `<project><modelVersion>4.0.0</modelVersion><groupId>${group}</groupId><artifactId>${artifact}</artifactId><version>${version}</version></project>`;

const MAVEN: FixtureRepo = {
  name: 'libs-release-local',
  packageType: 'maven',
  kind: 'local',
  files: new Map([['com/acme/lib/1.0/lib-1.0.pom', file(pom('1.0'))]]),
};
const RAW: FixtureRepo = {
  name: 'files',
  packageType: 'generic',
  kind: 'local',
  files: new Map([['tools/a.txt', file('a\n')]]),
};
const REMOTE: FixtureRepo = {
  name: 'npm-remote',
  packageType: 'npm',
  kind: 'remote',
  files: new Map(),
};

const ARTIFACTORY_SECURITY = {
  permissionTargets: {
    devs: {
      name: 'devs',
      repo: {
        repositories: ['libs-release-local'],
        'include-patterns': ['**'],
        'exclude-patterns': [''],
        actions: {
          users: { bob: ['read', 'write', 'delete', 'annotate'], carol: ['read'] },
          groups: { builders: ['read', 'write'] },
        },
      },
    },
    'anonymous-read': {
      name: 'anonymous-read',
      repo: {
        repositories: ['ANY LOCAL'],
        actions: { users: { anonymous: ['read', 'write'] } },
      },
    },
    tools: {
      name: 'tools',
      repo: {
        repositories: ['files'],
        'include-patterns': ['tools/**'],
        actions: { users: { carol: ['read', 'write'] }, groups: { ops: ['read'] } },
      },
    },
    'no-secrets': {
      name: 'no-secrets',
      repo: {
        repositories: ['files'],
        'include-patterns': ['**'],
        'exclude-patterns': ['secret/**'],
        actions: { users: { dave: ['read'] } },
      },
    },
    admins: {
      name: 'admins',
      repo: {
        repositories: ['libs-release-local'],
        actions: { users: { erin: ['read', 'manage'] } },
      },
    },
    elsewhere: {
      name: 'elsewhere',
      repo: { repositories: ['npm-remote'], actions: { users: { zed: ['read'] } } },
    },
  },
  // ops' members are not readable (404): the fragment says so.
  groups: { builders: ['frank', 'bob'] },
};

const USERS = {
  admin: 'admin-pw-1',
  bob: 'bob-pw-1',
  carol: 'carol-pw-1',
  frank: 'frank-pw-1',
  dave: 'dave-pw-1',
};

const basic = (user: keyof typeof USERS): string =>
  `Basic ${Buffer.from(`${user}:${USERS[user]}`).toString('base64')}`;

/** USERS in an htpasswd file in `dir` and a config.toml turning auth on with it (admin: admin). */
async function authConfig(dir: string): Promise<string> {
  await fs.writeFile(path.join(dir, 'users.htpasswd'), htpasswdOf(USERS));
  return await writeConfigToml(dir, [
    '[auth]',
    'enabled = true',
    `htpasswd_file = ${JSON.stringify(path.join(dir, 'users.htpasswd'))}`,
    'admin_users = ["admin"]',
  ]);
}

async function status(
  url: string,
  user?: keyof typeof USERS,
  method = 'GET',
  body?: string,
): Promise<number> {
  const res = await fetch(url, {
    method,
    headers: user === undefined ? {} : { authorization: basic(user) },
    ...(body === undefined ? {} : { body }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('nora import --with-permissions', () => {
  test('artifactory: read-only fragment, then --grant-write; config check accepts it and NORA enforces it', async () => {
    await using work = await tempDir('nora-import-perm-');
    await fs.writeFile(path.join(work.path, 'users.htpasswd'), htpasswdOf(USERS));
    // The upstream of /maven2/'s proxy member: a second NORA holding a public artifact.
    await using upstreamDir = await tempDir('nora-import-perm-up-');
    await using upstream = await serveNora({ dir: upstreamDir.path });
    const publicPom = 'org/up/pub/1.0/pub-1.0.pom';
    assert.equal(
      await status(
        `${upstream.url}/maven2/${publicPom}`,
        undefined,
        'PUT',
        pom('1.0', 'org.up', 'pub'),
      ),
      201,
    );
    const base = [
      '[auth]',
      'enabled = true',
      `htpasswd_file = ${JSON.stringify(path.join(work.path, 'users.htpasswd'))}`,
      'admin_users = ["admin"]',
      '[maven]',
      `proxies = [${JSON.stringify(`${upstream.url}/maven2`)}]`,
    ];
    const config = await writeConfigToml(work.path, base);
    await using server = await serveNora({ dir: work.path });
    await using source = await startSourceFixture({
      flavour: 'artifactory',
      repos: [MAVEN, RAW, REMOTE],
      security: ARTIFACTORY_SECURITY,
    });
    const env = { NORA_IMPORT_TARGET_USER: 'admin', NORA_IMPORT_TARGET_PASSWORD: 'admin-pw-1' };
    const common = [
      '--source',
      'artifactory',
      '--url',
      source.url,
      '--registry',
      server.url,
      '--allow-private-cidrs',
    ];
    const state = path.join(work.path, 'state', 'src.jsonl');
    const ran = await nora(
      ['import', 'run', ...common, '--state', state, '--with-permissions'],
      env,
    );
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    assert.match(ran.stdout, /imported 2 files/);
    // Default place: next to the state file.
    const readOnlyFile = path.join(work.path, 'state', 'src.permissions.toml');
    assert.match(ran.stderr, /permissions: 5 rules written to .*src\.permissions\.toml/);
    const readOnly = await fs.readFile(readOnlyFile, 'utf8');
    assert.match(readOnly, /Read only \(no --grant-write\)/);
    assert.doesNotMatch(readOnly, /"write"|"delete"|"admin"/);
    assert.match(
      readOnly,
      /# Artifactory permission target "devs": libs-release-local → maven-hosted\n\[\[auth\.rules\]\]\nrepositories = \["maven-hosted"\]\npaths = \["\*\*"\]\nusers = \["bob", "carol"\]\ngroups = \["builders"\]\nactions = \["read"\]/,
    );
    assert.match(
      readOnly,
      /repositories = \["maven-hosted", "raw-hosted"\]\npaths = \["\*\*"\]\nanonymous = true\nactions = \["read"\]/,
    );
    assert.match(
      readOnly,
      /repositories = \["raw-hosted"\]\npaths = \["tools\/\*\*"\]\nusers = \["carol"\]\ngroups = \["ops"\]/,
    );
    assert.match(
      readOnly,
      /\[auth\.groups\]\n"builders" = \["bob", "frank"\]\n# members not readable from the source: fill in\n"ops" = \[\]/,
    );
    for (const reason of [
      /"devs", user bob on libs-release-local: "annotate" not mapped/,
      /"devs", user bob on libs-release-local: write, delete not mapped \(read only; pass --grant-write\)/,
      /"no-secrets", user dave on files: not mapped at all: exclude patterns secret\/\*\*/,
      /"admins", user erin on libs-release-local: "manage" not mapped \(repository administration/,
      /group ops: its members could not be read/,
    ]) {
      assert.match(readOnly, reason);
      assert.match(ran.stderr, reason);
    }
    assert.doesNotMatch(readOnly, /zed|npm-remote/, 'a repository not imported is left out');
    const stat = await fs.stat(readOnlyFile);
    assert.equal(stat.mode & 0o777, 0o600);

    // --grant-write, into a chosen file; assess reads no file list for it.
    const out = path.join(work.path, 'rules.toml');
    const assessed = await nora(
      [
        'import',
        'assess',
        ...common,
        '--with-permissions',
        '--grant-write',
        '--permissions-out',
        out,
      ],
      env,
    );
    assert.equal(assessed.code, 0, assessed.stderr);
    const fragment = await fs.readFile(out, 'utf8');
    // Read and write in rules of their own: a rule granting both over "**" of maven-hosted would
    // make /maven2/ answer every name from maven-hosted only, its proxy shut out.
    assert.match(
      fragment,
      /users = \["bob", "carol"\]\ngroups = \["builders"\]\nactions = \["read"\]\n\n# Artifactory permission target "devs": libs-release-local → maven-hosted \(write without read: restricts writes, leaves the groups holding these repositories answering from every member\)\n/,
    );
    assert.match(fragment, /users = \["bob"\]\nactions = \["write", "delete"\]/);
    assert.match(fragment, /groups = \["builders"\]\nactions = \["write"\]/);
    assert.doesNotMatch(fragment, /actions = \["read", "write"/);
    assert.match(
      fragment,
      /"anonymous-read", anonymous on .*: write not mapped \(NORA's anonymous rules may only read\)/,
    );
    assert.match(fragment, /paths = \["tools\/\*\*"\]\nusers = \["carol"\]\nactions = \["write"\]/);
    assert.match(fragment, /in rules\n# without read \(read has its own rule\)/);

    // NORA's own validation, then NORA's own enforcement.
    await fs.writeFile(config, `${await fs.readFile(config, 'utf8')}\n${fragment}`);
    const checked = await nora(['config', 'check', config]);
    assert.equal(checked.code, 0, checked.stderr);
    assert.doesNotMatch(checked.stderr, /no longer answers/, 'no rule shuts the proxy out');
    assert.match(checked.stdout, /effective configuration/);
    server.child.kill('SIGHUP');
    await waitFor(() => server.output().includes('configuration reloaded'));
    const first = `${server.url}/repository/maven-hosted/com/acme/lib/1.0/lib-1.0.pom`;
    assert.equal(await status(first), 200, 'anonymous reads (anonymous-read)');
    assert.equal(await status(first, 'carol'), 200);
    const next = `${server.url}/repository/maven-hosted/com/acme/lib/1.1/lib-1.1.pom`;
    assert.equal(await status(next, 'carol', 'PUT', pom('1.1')), 403, 'carol only reads');
    assert.equal(await status(next, 'frank', 'PUT', pom('1.1')), 201, 'builders write');
    // Through the group: whom the source let read still gets the proxy's artifacts (carol reads
    // only, frank writes too); a publish through it is the writers' alone.
    const group = `${server.url}/maven2`;
    assert.equal(await status(`${group}/${publicPom}`, 'carol'), 200, 'proxied, reader');
    assert.equal(await status(`${group}/${publicPom}`, 'frank'), 200, 'proxied, writer');
    assert.equal(await status(`${group}/com/acme/lib/1.0/lib-1.0.pom`, 'carol'), 200);
    const viaGroup = `${group}/com/acme/lib/1.2/lib-1.2.pom`;
    assert.equal(await status(viaGroup, 'carol', 'PUT', pom('1.2')), 403, 'carol only reads');
    assert.equal(await status(viaGroup, 'frank', 'PUT', pom('1.2')), 201, 'builders write');
    assert.equal(await status(`${server.url}/raw/tools/b.txt`, 'carol', 'PUT', 'b'), 201);
    assert.equal(await status(`${server.url}/raw/other/c.txt`, 'carol', 'PUT', 'c'), 403);
    assert.equal(await status(`${server.url}/raw/tools/a.txt`, 'dave'), 200, 'anonymous rule');
    assert.equal(await status(`${server.url}/raw/other/c.txt`, 'dave', 'PUT', 'c'), 403);
  });

  test('artifactory: a target with include patterns on several formats maps its Maven part; a re-run keeps a differing fragment', async () => {
    await using work = await tempDir('nora-import-perm-inc-');
    const config = await authConfig(work.path);
    await using server = await serveNora({ dir: work.path });
    const cliPom = 'commons-cli/commons-cli/1.0/commons-cli-1.0.pom';
    await using source = await startSourceFixture({
      flavour: 'artifactory',
      repos: [
        { ...MAVEN, files: new Map([[cliPom, file(pom('1.0', 'commons-cli', 'commons-cli'))]]) },
        { name: 'npm-local', packageType: 'npm', kind: 'local', files: new Map() },
        { name: 'pypi-local', packageType: 'pypi', kind: 'local', files: new Map() },
      ],
      security: {
        permissionTargets: {
          cli: {
            name: 'cli',
            repo: {
              repositories: ['ANY LOCAL'],
              'include-patterns': ['commons-cli/**'],
              actions: { users: { bob: ['read', 'write', 'delete', 'manage'] } },
            },
          },
        },
        groups: {},
      },
    });
    const env = { NORA_IMPORT_TARGET_USER: 'admin', NORA_IMPORT_TARGET_PASSWORD: 'admin-pw-1' };
    const out = path.join(work.path, 'rules.toml');
    const run = (...extra: string[]): ReturnType<typeof nora> =>
      nora(
        [
          'import',
          'run',
          '--source',
          'artifactory',
          '--url',
          source.url,
          '--registry',
          server.url,
          '--allow-private-cidrs',
          '--state',
          path.join(work.path, 'state.jsonl'),
          '--with-permissions',
          '--permissions-out',
          out,
          ...extra,
        ],
        env,
      );
    const ran = await run('--grant-write');
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    const fragment = await fs.readFile(out, 'utf8');
    assert.match(
      fragment,
      /# Artifactory permission target "cli": libs-release-local → maven-hosted\n\[\[auth\.rules\]\]\nrepositories = \["maven-hosted"\]\npaths = \["commons-cli\/\*\*"\]\nusers = \["bob"\]\nactions = \["read"\]/,
    );
    assert.match(
      fragment,
      /paths = \["commons-cli\/\*\*"\]\nusers = \["bob"\]\nactions = \["write", "delete"\]/,
    );
    for (const reason of [
      /"cli", user bob on npm-local: not mapped: include patterns commons-cli\/\*\* \(file patterns do not name npm packages in NORA\)/,
      /"cli", user bob on pypi-local: not mapped: include patterns commons-cli\/\*\* \(file patterns do not name pypi packages in NORA\)/,
      /"cli", user bob on [^\n]*: "manage" not mapped/,
    ]) {
      assert.match(fragment, reason);
      assert.match(ran.stderr, reason);
    }
    assert.doesNotMatch(fragment, /not mapped at all/);

    // Again, read only: the reviewed --grant-write fragment stays, the new one goes beside it.
    const again = await run();
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal(await fs.readFile(out, 'utf8'), fragment, 'the reviewed fragment is kept');
    const beside = path.join(work.path, 'rules-2.toml');
    assert.match(again.stderr, /rules\.toml exists with other rules: left as it is/);
    assert.match(again.stderr, /permissions: \d+ rules written to .*rules-2\.toml/);
    assert.match(await fs.readFile(beside, 'utf8'), /Read only \(no --grant-write\)/);
    const same = await run();
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stderr, /written to .*rules-2\.toml/, 'the same rules: the same file');
    await assert.rejects(fs.stat(path.join(work.path, 'rules-3.toml')));

    await fs.writeFile(config, `${await fs.readFile(config, 'utf8')}\n${fragment}`);
    const checked = await nora(['config', 'check', config]);
    assert.equal(checked.code, 0, checked.stderr);
    server.child.kill('SIGHUP');
    await waitFor(() => server.output().includes('configuration reloaded'));
    const url = `${server.url}/repository/maven-hosted/${cliPom}`;
    assert.equal(await status(url, 'bob'), 200, 'bob reads the POM');
    assert.equal(await status(url, 'carol'), 403, 'carol is granted nothing');
    const next = `${server.url}/repository/maven-hosted/commons-cli/commons-cli/1.1/commons-cli-1.1.pom`;
    assert.equal(await status(next, 'bob', 'PUT', pom('1.1', 'commons-cli', 'commons-cli')), 201);
  });

  test('nexus: roles become groups, view privileges rules; nx-all and content selectors are said', async () => {
    await using work = await tempDir('nora-import-perm-nx-');
    const config = await authConfig(work.path);
    await using server = await serveNora({ dir: work.path });
    await using source = await startSourceFixture({
      flavour: 'nexus',
      repos: [
        { ...MAVEN, name: 'maven-releases', packageType: 'maven2' },
        { ...RAW, name: 'raw-files', packageType: 'raw' },
      ],
      security: {
        privileges: [
          {
            name: 'nx-repository-view-maven2-maven-releases-*',
            type: 'repository-view',
            format: 'maven2',
            repository: 'maven-releases',
            actions: ['ALL'],
          },
          {
            name: 'nx-repository-view-*-*-read',
            type: 'repository-view',
            format: '*',
            repository: '*',
            actions: ['READ'],
          },
          {
            name: 'nx-repository-view-raw-*-browse',
            type: 'repository-view',
            format: 'raw',
            repository: '*',
            actions: ['BROWSE', 'EDIT'],
          },
          { name: 'nx-all', type: 'wildcard', pattern: 'nexus:*' },
          {
            name: 'team-csel',
            type: 'repository-content-selector',
            format: 'raw',
            repository: 'raw-files',
            contentSelector: 'team',
            actions: ['READ'],
          },
          { name: 'nx-users-read', type: 'application', domain: 'users', actions: ['READ'] },
        ],
        roles: [
          {
            id: 'dev',
            privileges: ['nx-repository-view-maven2-maven-releases-*'],
            roles: ['readers'],
          },
          { id: 'readers', privileges: ['nx-repository-view-*-*-read', 'team-csel'], roles: [] },
          { id: 'nx-admin', privileges: ['nx-all'], roles: [] },
          { id: 'nx-anonymous', privileges: ['nx-repository-view-raw-*-browse'], roles: [] },
        ],
        users: [
          { userId: 'bob', roles: ['dev'] },
          { userId: 'carol', roles: ['readers'] },
          { userId: 'admin', roles: ['nx-admin'] },
          { userId: 'anonymous', roles: ['nx-anonymous'] },
        ],
        anonymous: { enabled: true, userId: 'anonymous', realmName: 'NexusAuthorizingRealm' },
      },
    });
    const out = path.join(work.path, 'rules.toml');
    const ran = await nora(
      [
        'import',
        'run',
        '--source',
        'nexus',
        '--url',
        source.url,
        '--registry',
        server.url,
        '--allow-private-cidrs',
        '--state',
        path.join(work.path, 'state.jsonl'),
        '--with-permissions',
        '--grant-write',
        '--permissions-out',
        out,
      ],
      { NORA_IMPORT_TARGET_USER: 'admin', NORA_IMPORT_TARGET_PASSWORD: 'admin-pw-1' },
    );
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    const fragment = await fs.readFile(out, 'utf8');
    assert.match(fragment, /\[auth\.groups\]\n"dev" = \["bob"\]\n"readers" = \["carol"\]/);
    assert.match(
      fragment,
      /maven-releases → maven-hosted\n\[\[auth\.rules\]\]\nrepositories = \["maven-hosted"\]\npaths = \["\*\*"\]\ngroups = \["dev"\]\nactions = \["read"\]\n\n# [^\n]*\(write without read[^\n]*\n\[\[auth\.rules\]\]\nrepositories = \["maven-hosted"\]\npaths = \["\*\*"\]\ngroups = \["dev"\]\nactions = \["write", "delete"\]/,
    );
    // dev holds readers' privileges too (nested role), readers its own.
    assert.match(
      fragment,
      /repositories = \["maven-hosted", "raw-hosted"\]\npaths = \["\*\*"\]\ngroups = \["dev"\]\nactions = \["read"\]/,
    );
    assert.match(
      fragment,
      /repositories = \["maven-hosted", "raw-hosted"\]\npaths = \["\*\*"\]\ngroups = \["readers"\]\nactions = \["read"\]/,
    );
    assert.match(
      fragment,
      /repositories = \["raw-hosted"\]\npaths = \["\*\*"\]\nanonymous = true\nactions = \["read"\]/,
    );
    assert.match(
      fragment,
      /anonymous on raw-files: write not mapped \(NORA's anonymous rules may only read\)/,
    );
    assert.match(fragment, /"nx-all"\), group nx-admin: every permission \(nx-all\) not mapped/);
    assert.match(
      fragment,
      /"team-csel"\), group readers on raw-files: not mapped \(content selectors/,
    );
    assert.doesNotMatch(fragment, /nx-users-read|"admin"/);

    await fs.writeFile(config, `${await fs.readFile(config, 'utf8')}\n${fragment}`);
    const checked = await nora(['config', 'check', config]);
    assert.equal(checked.code, 0, checked.stderr);
  });

  test('a credential that cannot read permissions: exit 1 before any download; --grant-write alone: exit 2', async () => {
    await using work = await tempDir('nora-import-perm-403-');
    await using server = await serveNora({ dir: work.path });
    await using source = await startSourceFixture({ flavour: 'artifactory', repos: [RAW] });
    const common = [
      '--source',
      'artifactory',
      '--url',
      source.url,
      '--registry',
      server.url,
      '--allow-private-cidrs',
      '--state',
      path.join(work.path, 's.jsonl'),
    ];
    const refused = await nora(['import', 'run', ...common, '--with-permissions']);
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /403 Forbidden from GET .*\/api\/v2\/security\/permissions/);
    assert.equal(source.requests.filter((r) => r.startsWith('GET /files/')).length, 0);
    const alone = await nora(['import', 'run', ...common, '--grant-write']);
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /--grant-write goes with --with-permissions/);
  });
});
