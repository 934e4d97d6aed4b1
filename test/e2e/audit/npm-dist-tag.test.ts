/**
 * Trial 35 newB F3 with the real npm: `npm dist-tag add` and `npm dist-tag rm` are audited
 * (`dist-tag`, artifact `<package>@<tag>`, the detail naming the version before and after),
 * although they are requests to npm's `/-/` plumbing: moving `latest` is how a version reaches
 * every `npm install`. Before the fix the log had no line for either.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools } from '../../helpers/tools.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { NpmCli } from '../npm/clients.ts';
import { auditFile, untilEvents } from './helpers.ts';

test(
  'npm dist-tag add and rm write dist-tag audit events naming the versions',
  { skip: missingTools('npm'), timeout: 180_000 },
  async () => {
    await using server = await startTestServer();
    const http = new NpmHttp(`${server.url}/npm`);
    for (const version of ['1.0.0', '1.1.0']) {
      assert.equal((await http.publish({ name: 'tagged-pkg', version })).status, 201);
    }
    await using tmp = await tempDir('nora-audit-dist-tag-');
    const npm = new NpmCli();
    // npm sends dist-tag writes only with a token; auth is off, so any is taken.
    await npm.configure({ registry: `${server.url}/npm/`, token: 'anonymous', home: tmp.path });
    const moved = await npm.distTagAdd('tagged-pkg@1.0.0', 'latest');
    assert.equal(moved.code, 0, moved.stderr);
    const added = await npm.distTagAdd('tagged-pkg@1.1.0', 'next');
    assert.equal(added.code, 0, added.stderr);
    const removed = await npm.distTagRemove('tagged-pkg', 'next');
    assert.equal(removed.code, 0, removed.stderr);

    const events = await untilEvents(
      auditFile(server),
      (all) => all.filter((e) => e.action === 'dist-tag').length >= 3,
    );
    const tags = events
      .filter((e) => e.action === 'dist-tag')
      .map((e) => `${e.artifact} ${e.detail ?? ''} ${e.repository ?? ''} ${e.member ?? ''}`);
    assert.deepEqual(tags, [
      'tagged-pkg@latest set to 1.0.0 (was 1.1.0) npm npm-hosted',
      'tagged-pkg@next set to 1.1.0 (new tag) npm npm-hosted',
      'tagged-pkg@next removed (was 1.1.0) npm npm-hosted',
    ]);
    for (const event of events.filter((e) => e.action === 'dist-tag')) {
      assert.equal(event.registry, 'npm');
      assert.equal(event.actor, 'anonymous');
    }
  },
);
