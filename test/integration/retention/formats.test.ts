/**
 * Retention of OCI tags (real skopeo), raw files (real curl) and Helm chart versions (curl on
 * ChartMuseum's API): 5 versions each, a rule keeping the newest 2 (OCI: `stable` excluded),
 * then the client sees only the kept ones, deleted ones 404, kept ones still download.
 * OCI and Helm through the running server's admin endpoint; raw through the offline CLI.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { buildOciLayout } from '../../e2e/oci-proxy/fixtures.ts';
import { buildChart } from '../../helpers/helm.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';
import { retentionRig } from './rig.ts';

const pause = () => new Promise((resolve) => setTimeout(resolve, 20));

async function applyInServer(url: string): Promise<{ deleted: number; planned: number }> {
  const reply = await fetch(`${url}/api/v1/admin/retention?apply=true`, { method: 'POST' });
  assert.equal(reply.status, 200, await reply.clone().text());
  return (await reply.json()) as { deleted: number; planned: number };
}

describe('retention of OCI, raw and Helm', () => {
  test(
    'OCI: 5 tags pushed with skopeo, newest 2 and `stable` kept',
    { skip: missingTools('skopeo') },
    async () => {
      await using dir = await tempDir('nora-ret-oci-');
      await using rig = await retentionRig(dir.path, [
        { registry: 'docker', name_glob: 'team/*', keep_last: 2, exclude_tags: ['stable'] },
      ]);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        HOME: dir.path,
        REGISTRY_AUTH_FILE: path.join(dir.path, 'auth.json'),
        CONTAINERS_REGISTRIES_CONF: path.join(dir.path, 'registries.conf'),
      };
      await fs.writeFile(env['REGISTRY_AUTH_FILE'] ?? '', '{"auths":{}}');
      await fs.writeFile(
        env['CONTAINERS_REGISTRIES_CONF'] ?? '',
        'unqualified-search-registries = []\n',
      );
      const skopeo = (args: string[]) =>
        run('skopeo', args, { env, cwd: dir.path, check: false, timeoutMs: 120_000 });
      const tags = ['v1', 'v2', 'stable', 'v4', 'v5'];
      for (const [i, tag] of tags.entries()) {
        const layout = path.join(dir.path, `layout-${i}`);
        await buildOciLayout(layout, tag, { layerSizes: [300 + i] });
        const pushed = await skopeo([
          'copy',
          '--dest-tls-verify=false',
          `oci:${layout}:${tag}`,
          `docker://${rig.server.host}/team/app:${tag}`,
        ]);
        assert.equal(pushed.code, 0, output(pushed));
        await pause();
      }
      const report = await applyInServer(rig.server.url);
      assert.deepEqual([report.planned, report.deleted], [2, 2]);
      const listed = await skopeo([
        'list-tags',
        '--tls-verify=false',
        `docker://${rig.server.host}/team/app`,
      ]);
      assert.equal(listed.code, 0, output(listed));
      assert.deepEqual((JSON.parse(listed.stdout) as { Tags: string[] }).Tags.sort(), [
        'stable',
        'v4',
        'v5',
      ]);
      for (const gone of ['v1', 'v2']) {
        const inspect = await skopeo([
          'inspect',
          '--raw',
          '--tls-verify=false',
          `docker://${rig.server.host}/team/app:${gone}`,
        ]);
        assert.notEqual(inspect.code, 0, output(inspect));
      }
      const kept = await skopeo([
        'copy',
        '--src-tls-verify=false',
        `docker://${rig.server.host}/team/app:v4`,
        `oci:${path.join(dir.path, 'pulled')}:v4`,
      ]);
      assert.equal(kept.code, 0, output(kept));
    },
  );

  test(
    'raw: 5 files of a folder put with curl; nora retention-plan/-apply keep the newest 2',
    { skip: missingTools('curl') },
    async () => {
      await using dir = await tempDir('nora-ret-raw-');
      await using rig = await retentionRig(dir.path, [
        { registry: 'raw', name_glob: 'nightly/**', keep_last: 2 },
      ]);
      for (const i of [1, 2, 3, 4, 5]) {
        const file = path.join(dir.path, `build-${i}.tar.gz`);
        await fs.writeFile(file, `build ${i}\n`);
        const put = await run(
          'curl',
          ['-sS', '-f', '-T', file, `${rig.server.url}/raw/nightly/tool/build-${i}.tar.gz`],
          { check: false },
        );
        assert.equal(put.code, 0, output(put));
        await pause();
      }
      const other = path.join(dir.path, 'readme.txt');
      await fs.writeFile(other, 'hi\n');
      await run('curl', ['-sS', '-f', '-T', other, `${rig.server.url}/raw/docs/readme.txt`]);
      await rig.stop();
      const plan = await rig.cli(['retention-plan']);
      assert.equal(plan.code, 0, output(plan));
      assert.match(plan.stdout, /examined 6 versions of hosted repositories: 3 to delete/);
      assert.match(
        plan.stdout,
        /delete raw-hosted nightly\/tool build-3\.tar\.gz \(8 bytes\): rule 1/,
      );
      const applied = await rig.cli(['retention-apply', '--yes']);
      assert.equal(applied.code, 0, output(applied));
      assert.match(applied.stdout, /deleted 3 versions, 24 bytes of versions deleted/);
      const server = await rig.restart();
      const listing = await run('curl', [
        '-sS',
        '-f',
        '-H',
        'accept: application/json',
        `${server.url}/raw/nightly/tool/`,
      ]);
      for (const kept of ['build-4.tar.gz', 'build-5.tar.gz'])
        assert.match(listing.stdout, new RegExp(kept.replace('.', '\\.')));
      assert.doesNotMatch(listing.stdout, /build-[123]/);
      const gone = await run(
        'curl',
        [
          '-sS',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          `${server.url}/raw/nightly/tool/build-1.tar.gz`,
        ],
        { check: false },
      );
      assert.equal(gone.stdout, '404');
      const kept = await run('curl', [
        '-sS',
        '-f',
        `${server.url}/raw/nightly/tool/build-5.tar.gz`,
      ]);
      assert.equal(kept.stdout, 'build 5\n');
      assert.equal(
        (await run('curl', ['-sS', '-f', `${server.url}/raw/docs/readme.txt`])).stdout,
        'hi\n',
      );
    },
  );

  test(
    'Helm: 5 chart versions uploaded with curl; index.yaml lists the newest 2',
    { skip: missingTools('curl') },
    async () => {
      await using dir = await tempDir('nora-ret-helm-');
      await using rig = await retentionRig(dir.path, [{ registry: 'helm', keep_last: 2 }]);
      for (const v of ['0.1.0', '0.2.0', '0.3.0', '0.4.0', '0.5.0']) {
        const file = path.join(dir.path, `demo-${v}.tgz`);
        await fs.writeFile(file, await buildChart({ name: 'demo', version: v }));
        const up = await run(
          'curl',
          ['-sS', '-f', '--data-binary', `@${file}`, `${rig.server.url}/helm/api/charts`],
          { check: false },
        );
        assert.equal(up.code, 0, output(up));
        await pause();
      }
      // The index is rendered (and kept) before the delete.
      assert.match(
        await (await fetch(`${rig.server.url}/helm/index.yaml`)).text(),
        /"version":"0\.1\.0"/,
      );
      const report = await applyInServer(rig.server.url);
      assert.equal(report.deleted, 3);
      const index = await (await fetch(`${rig.server.url}/helm/index.yaml`)).text();
      assert.match(index, /"version":"0\.5\.0"/);
      assert.match(index, /"version":"0\.4\.0"/);
      assert.doesNotMatch(index, /"version":"0\.[123]\.0"/);
      assert.equal((await fetch(`${rig.server.url}/helm/charts/demo-0.1.0.tgz`)).status, 404);
      assert.equal((await fetch(`${rig.server.url}/helm/charts/demo-0.5.0.tgz`)).status, 200);
      const api = (await (await fetch(`${rig.server.url}/helm/api/charts/demo`)).json()) as {
        version: string;
      }[];
      assert.deepEqual(api.map((c) => c.version).sort(), ['0.4.0', '0.5.0']);
    },
  );
});
