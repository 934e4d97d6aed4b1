/**
 * The hosted index is kept up to date by writes (entries inserted at their sorted place, removed,
 * replaced) instead of being reloaded: after a shuffled series of uploads, force-replacements and
 * deletes, it must equal the index a fresh process builds from the rows.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';

function entriesOf(text: string): unknown {
  const doc = parseYaml(text) as { entries: Record<string, Record<string, unknown>[]> };
  return doc.entries;
}

test('incremental index equals the index rebuilt from the rows', async () => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-helm-inc-'));
  try {
    const versions = ['1.0.0', '0.9.0', '1.10.0', '1.2.0', '2.0.0-rc.1', '2.0.0', '1.2.0-alpha'];
    const names = ['b', 'a', 'c-d'];
    const ops: { name: string; version: string }[] = [];
    for (const name of names) for (const version of versions) ops.push({ name, version });
    ops.sort((x, y) => (x.version + x.name < y.version + y.name ? 1 : -1));
    let live = '';
    {
      await using server = await startTestServer({ dataDir });
      // A first read makes the snapshot, so every later write updates it in place.
      assert.equal((await fetch(`${server.url}/helm/index.yaml`)).status, 200);
      for (const { name, version } of ops) {
        const body = await buildChart({ name, version });
        const r = await fetch(`${server.url}/helm/api/charts`, { method: 'POST', body });
        assert.equal(r.status, 201);
      }
      const replaced = await buildChart({ name: 'a', version: '1.2.0', description: 'again' });
      let r = await fetch(`${server.url}/helm/api/charts?force`, {
        method: 'POST',
        body: replaced,
      });
      assert.equal(r.status, 200);
      for (const [name, version] of [
        ['b', '2.0.0'],
        ['c-d', '0.9.0'],
        ['a', '1.2.0-alpha'],
      ] as const) {
        r = await fetch(`${server.url}/helm/api/charts/${name}/${version}`, { method: 'DELETE' });
        assert.equal(r.status, 200);
      }
      live = await (await fetch(`${server.url}/helm/index.yaml`)).text();
      const doc = entriesOf(live) as Record<string, { version: string; description: string }[]>;
      assert.deepEqual(
        doc['a']?.map((e) => e.version),
        ['2.0.0', '2.0.0-rc.1', '1.10.0', '1.2.0', '1.0.0', '0.9.0'],
      );
      assert.equal(doc['a'].find((e) => e.version === '1.2.0')?.description, 'again');
    }
    await using restarted = await startTestServer({ dataDir });
    const rebuilt = await (await fetch(`${restarted.url}/helm/index.yaml`)).text();
    assert.deepEqual(entriesOf(rebuilt), entriesOf(live));
  } finally {
    await removeDir(dataDir);
  }
});
