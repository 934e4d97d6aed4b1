/**
 * The `nora import` Helm writer against a listening NORA, with charts the Helm test helper
 * builds: a chart under its canonical file name is PUT (and skipped on a second run), one under
 * another file name goes through the upload API (NORA reads Chart.yaml), the source's index.yaml
 * is ignored, and NORA's own index.yaml then lists both.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { helmWriter } from '../../../src/import/helm.ts';
import { buildChart } from '../../helpers/helm.ts';
import { defaultTarget, failureReason, writeFile } from '../../helpers/import-writer.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

describe('nora import: Helm writer', () => {
  test('imports charts under any file name, skips on re-run, NORA rebuilds the index', async () => {
    await using work = await tempDir('nora-import-helm-');
    await using server = await startTestServer();
    const target = defaultTarget('helm', '/helm');
    const web = path.join(work.path, 'web-1.2.0.tgz');
    await fs.writeFile(web, await buildChart({ name: 'web', version: '1.2.0' }));
    const odd = path.join(work.path, 'uploaded-by-ci.tgz');
    await fs.writeFile(odd, await buildChart({ name: 'db', version: '0.3.1' }));

    const source = { path: 'index.yaml', size: 10 };
    assert.equal(
      helmWriter.accepts(source, { name: 'h', packageType: 'helm', kind: 'local' }).action,
      'ignore',
    );

    assert.equal(
      (await writeFile(helmWriter, server.url, target, web, 'web-1.2.0.tgz')).status,
      'imported',
    );
    assert.equal(
      (await writeFile(helmWriter, server.url, target, web, 'web-1.2.0.tgz')).status,
      'skipped',
    );
    assert.equal(
      (await writeFile(helmWriter, server.url, target, odd, 'charts/uploaded-by-ci.tgz')).status,
      'imported',
    );
    // A chart that is no gzip: NORA's refusal is the reason.
    const junk = path.join(work.path, 'junk-1.0.0.tgz');
    await fs.writeFile(junk, 'junk');
    const bad = await writeFile(helmWriter, server.url, target, junk, 'junk-1.0.0.tgz');
    assert.equal(bad.status, 'failed');
    assert.match(failureReason(bad), /^4\d\d .* from PUT \/helm\/junk-1\.0\.0\.tgz/);

    const index = parseYaml(await (await fetch(`${server.url}/helm/index.yaml`)).text()) as {
      entries: Record<string, { version: string }[]>;
    };
    assert.deepEqual(Object.keys(index.entries).sort(), ['db', 'web']);
    assert.equal(index.entries['db']?.[0]?.version, '0.3.1');
    const pulled = await fetch(`${server.url}/helm/db-0.3.1.tgz`);
    assert.deepEqual(Buffer.from(await pulled.arrayBuffer()), await fs.readFile(odd));
  });
});
