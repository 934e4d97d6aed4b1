/**
 * The audit log with the real npm: `npm publish` to NORA's /npm (push), `npm install` of a
 * package only the upstream (another NORA) has, through the proxy (proxy_fetch), then again with
 * a fresh npm cache (cache_hit), and of the package published here (pull).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools } from '../../helpers/tools.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { NpmCli, writePublisher } from '../npm/clients.ts';
import { auditFile, untilEvents } from './helpers.ts';

test(
  'npm publish, then install through the proxy twice: push, proxy_fetch, cache_hit, pull',
  { skip: missingTools('npm'), timeout: 300_000 },
  async () => {
    await using upstream = await startTestServer();
    const up = new NpmHttp(`${upstream.url}/npm`);
    assert.equal((await up.publish({ name: 'far-pkg', version: '1.0.0' })).status, 201);
    await using server = await startTestServer({
      config: { npm: { proxy: `${upstream.url}/npm/` } },
    });
    await using tmp = await tempDir('nora-audit-npm-');
    const registry = `${server.url}/npm/`;
    const publisher = await writePublisher(tmp.path, registry, 'near-pkg');
    const npm = async (home: string, token = '') => {
      const client = new NpmCli();
      await fs.mkdir(home, { recursive: true });
      await client.configure({ registry, token, home });
      return client;
    };
    // npm publishes only with a token; auth is off, so any is taken.
    const publishing = await npm(publisher.home, 'anonymous');
    const published = await publishing.publish(publisher.pkg);
    assert.equal(published.code, 0, published.stderr);

    for (const round of ['cold', 'warm']) {
      const home = path.join(tmp.path, `home-${round}`);
      const project = path.join(tmp.path, `project-${round}`);
      const client = await npm(home);
      await fs.mkdir(project, { recursive: true });
      await fs.writeFile(path.join(project, 'package.json'), '{"name":"p","version":"1.0.0"}');
      await client.prepareProject(project);
      const installed = await client.install(project, ['far-pkg@1.0.0', 'near-pkg@1.0.0']);
      assert.equal(installed.code, 0, installed.stderr);
    }

    const tarball = 'far-pkg/-/far-pkg-1.0.0.tgz';
    const events = await untilEvents(
      auditFile(server),
      (all) => all.filter((e) => e.artifact === tarball).length >= 2,
    );
    const of = (artifact: string) =>
      events.filter((e) => e.artifact === artifact).map((e) => e.action);
    // A publish names the version it stored (trial 28 newU F2), in the group's hosted member.
    assert.deepEqual(of('near-pkg@1.0.0'), ['push']);
    assert.equal(events.find((e) => e.artifact === 'near-pkg@1.0.0')?.member, 'npm-hosted');
    assert.deepEqual(of('near-pkg'), ['pull', 'pull']);
    assert.deepEqual(of(tarball), ['proxy_fetch', 'cache_hit']);
    assert.deepEqual(of('near-pkg/-/near-pkg-1.0.0.tgz'), ['pull', 'pull']);
    assert.equal(of('far-pkg')[0], 'proxy_fetch');
    for (const event of events) {
      assert.equal(event.registry, 'npm');
      assert.equal(event.actor, 'anonymous');
    }
    // The upstream NORA logged its own side: the proxy's fetch is a pull there.
    const upstreamEvents = await untilEvents(auditFile(upstream), (all) =>
      all.some((e) => e.artifact === tarball),
    );
    assert.deepEqual(
      upstreamEvents.filter((e) => e.artifact === tarball).map((e) => e.action),
      ['pull'],
    );
  },
);
