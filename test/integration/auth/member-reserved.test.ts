/**
 * A rule reaching a member only through a group does not open what a rule on the member itself
 * reserved (docs/auth.md "Semantics", precedence). Found by a new-user trial: with alice's space
 * on maven-hosted and go-hosted, the anonymous rule docs/auth.md recommends to open a default
 * group (`repositories = ["maven"]`, `anonymous = true`) let anonymous and bob read alice's files
 * through the group and through the member's own URL.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { writeModuleZip } from '../../../src/formats/go/zip-create.ts';
import { basic, rule } from '../../helpers/auth.ts';
import { buildChart } from '../../helpers/helm.ts';
import type { TestServer } from '../../helpers/server.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { emptyJar } from '../../helpers/zip-fixtures.ts';

/** The trial's rule: alice's space in five hosted repositories. */
const aliceRule = rule({
  repositories: ['maven-hosted', 'raw-hosted', 'cargo-hosted', 'helm-hosted', 'go-hosted'],
  paths: ['org/priv/**', 'priv/**', 't7-priv*', 'secretchart', 'corp.example.com/priv/**'],
  users: ['alice'],
  actions: ['read', 'write', 'delete'],
});

describe('a group rule does not open what a rule on its member reserved', () => {
  let server: TestServer;
  const alice = basic('alice', 'alice-pw-1');
  const bob = basic('bob', 'bob-pw-1');
  const privateJar = 'org/priv/lib/1.0/lib-1.0.jar';
  const publicJar = 'org/pub/lib/1.0/lib-1.0.jar';
  const privateModule = 'corp.example.com/priv/m';

  before(async () => {
    server = await startTestServer({
      config: {
        maven: { proxies: [] },
        helm: { proxies: [] },
        go: { proxy: '', sumdb: [] },
        auth: { enabled: true, anonymous_read: false, rules: [aliceRule] },
      },
    });
    const { users } = server.app.context.identity;
    await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']);
    await users.create('bob', 'bob-pw-1', undefined, ['read', 'write']);
    for (const jar of [privateJar, publicJar]) {
      const put = await fetch(`${server.url}/repository/maven-hosted/${jar}`, {
        method: 'PUT',
        headers: { authorization: alice },
        body: Buffer.from(emptyJar(`jar ${jar}`)),
      });
      assert.equal(put.status, 201, jar);
    }
    await using dir = await tempDir('member-reserved-go-');
    await fs.writeFile(path.join(dir.path, 'go.mod'), `module ${privateModule}\n`);
    const zip = path.join(dir.path, 'm.zip');
    await writeModuleZip(zip, privateModule, 'v1.0.0', [
      { path: 'go.mod', localPath: path.join(dir.path, 'go.mod'), size: 32 },
    ]);
    const put = await fetch(`${server.url}/go/${privateModule}/@v/v1.0.0.zip`, {
      method: 'PUT',
      headers: { authorization: alice },
      body: await fs.readFile(zip),
    });
    assert.equal(put.status, 201, await put.text());
    for (const name of ['secretchart', 'webchart']) {
      const chart = await fetch(`${server.url}/helm/api/charts`, {
        method: 'POST',
        headers: { authorization: alice },
        body: await buildChart({ name, version: '1.0.0' }),
      });
      assert.equal(chart.status, 201, await chart.text());
    }
  });
  after(() => server.close());

  const status = async (url: string, authorization?: string) => {
    const res = await fetch(`${server.url}${url}`, {
      headers: authorization === undefined ? {} : { authorization },
    });
    await res.arrayBuffer();
    return res.status;
  };

  const reserved = [
    `/maven2/${privateJar}`,
    `/repository/maven-hosted/${privateJar}`,
    `/go/${privateModule}/@v/list`,
    `/repository/go-hosted/${privateModule}/@v/list`,
  ];

  const checkReserved = async (when: string) => {
    for (const url of reserved) {
      assert.equal(await status(url), 401, `anonymous ${url} (${when})`);
      assert.equal(await status(url, bob), 403, `bob ${url} (${when})`);
      assert.equal(await status(url, alice), 200, `alice ${url} (${when})`);
    }
  };

  const chartsIn = async (authorization?: string) => {
    const res = await fetch(`${server.url}/helm/index.yaml`, {
      headers: authorization === undefined ? {} : { authorization },
    });
    assert.equal(res.status, 200);
    return Object.keys((parseYaml(await res.text()) as { entries: object }).entries).sort();
  };

  test('alice only, before and after anonymous rules open the default groups', async () => {
    await checkReserved('member rule alone');
    assert.equal(await status(`/maven2/${publicJar}`), 401, 'anonymous_read = false');
    assert.equal(await status(`/maven2/${publicJar}`, bob), 200);

    // The rules docs/auth.md recommends for anonymous installs from a default repository.
    server.app.reload({
      ...server.config,
      auth: {
        ...server.config.auth,
        rules: [
          aliceRule,
          rule({ repositories: ['maven'], anonymous: true, actions: ['read'] }),
          rule({ repositories: ['go'], anonymous: true, actions: ['read'] }),
          rule({ repositories: ['helm'], anonymous: true, actions: ['read'] }),
        ],
      },
    });
    await checkReserved('anonymous rules on the groups');
    const refused = await fetch(`${server.url}/maven2/${privateJar}`, {
      headers: { authorization: bob },
    });
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /\(a rule on its member maven-hosted owns it\)/);
    // What alice did not reserve, the group rules open, through the group and the member.
    for (const url of [`/maven2/${publicJar}`, `/repository/maven-hosted/${publicJar}`]) {
      assert.equal(await status(url), 200, url);
      assert.equal(await status(url, bob), 200, url);
    }
    // The group's listing is filtered the same way.
    assert.deepEqual(await chartsIn(), ['webchart']);
    assert.deepEqual(await chartsIn(bob), ['webchart']);
    assert.deepEqual(await chartsIn(alice), ['secretchart', 'webchart']);
    assert.equal(await status('/helm/charts/secretchart-1.0.0.tgz'), 401);
    assert.equal(await status('/helm/charts/webchart-1.0.0.tgz'), 200);
  });
});
