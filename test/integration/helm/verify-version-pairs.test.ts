/**
 * A database written by stop 51's build may hold one chart version in both spellings, `1.2.3`
 * and `v1.2.3` (that build took both; since stop 52 they are one version, stored once). Then
 * index.yaml lists the version twice. `nora verify` (a real process on the stopped server's
 * storage) names each pair with the DELETE that keeps the newer upload, exits 1; following it
 * leaves the version listed once, and the next `nora verify` is clean (exit 0). A chart with only
 * one spelling, and the same version number under another chart, are not reported.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { parse } from 'yaml';
import { nora } from '../../helpers/cli.ts';
import { buildChart, type IndexFile } from '../../helpers/helm.ts';
import { startTestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';

describe('nora verify: a Helm version stored as both 1.2.3 and v1.2.3', () => {
  test('named with the DELETE that keeps one; after it, listed once and verify is clean', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-verify-helm-'));
    try {
      const upload = async (url: string, name: string, version: string) => {
        const r = await fetch(`${url}/helm/api/charts`, {
          method: 'POST',
          body: await buildChart({ name, version }),
        });
        assert.equal(r.status, 201, await r.text());
      };
      const versions = async (url: string, name: string) =>
        (parse(await (await fetch(`${url}/helm/index.yaml`)).text()) as IndexFile).entries[
          name
        ]?.map((e) => e.version);
      {
        await using server = await startTestServer({ dataDir });
        const db = server.app.context.db;
        // Stop 51's build stored the second spelling beside the first: upload v1.2.3, park its
        // row under another version so this build takes 1.2.3 too, then put the row back.
        await upload(server.url, 'demo', 'v1.2.3');
        await sql`UPDATE helm_charts SET version = 'parked', updated_at = 1000
          WHERE name = 'demo' AND version = 'v1.2.3'`.execute(db);
        await upload(server.url, 'demo', '1.2.3');
        await sql`UPDATE helm_charts SET version = 'v1.2.3'
          WHERE name = 'demo' AND version = 'parked'`.execute(db);
        await sql`UPDATE helm_charts SET updated_at = 2000
          WHERE name = 'demo' AND version = '1.2.3'`.execute(db);
        // Not pairs: one spelling only, and v2.0.0 of another chart than 2.0.0.
        await upload(server.url, 'demo', 'v2.0.0');
        await upload(server.url, 'other', '2.0.0');
      }
      const env = { NORA_STORAGE_PATH: path.join(dataDir, 'storage') };
      const found = await nora(['verify'], env);
      assert.equal(found.code, 1, found.stdout + found.stderr);
      assert.match(found.stdout, /no damaged blob/);
      assert.match(
        found.stdout,
        /^1 Helm chart version is stored in both spellings \(1\.2\.3 and v1\.2\.3, one SemVer version to Helm; .*index\.yaml lists it twice .*Keep one per chart: DELETE <repository>\/api\/charts\/<name>\/<version> with the spelling to drop removes exactly that row/m,
      );
      const line =
        '  helm_charts repo=helm-hosted name=demo: 1.2.3 (uploaded 1970-01-01T00:00:02.000Z) and v1.2.3 (uploaded 1970-01-01T00:00:01.000Z); to keep the newer: DELETE /repository/helm-hosted/api/charts/demo/v1.2.3\n';
      assert.ok(found.stdout.includes(line), found.stdout);
      assert.doesNotMatch(found.stdout, /v2\.0\.0|name=other/);

      {
        await using server = await startTestServer({ dataDir });
        // The version twice (in either order: one SemVer precedence).
        assert.deepEqual((await versions(server.url, 'demo'))?.sort(), [
          '1.2.3',
          'v1.2.3',
          'v2.0.0',
        ]);
        const deletePath = /DELETE (\/repository\/\S+)/.exec(line)?.[1] ?? '';
        const deleted = await fetch(`${server.url}${deletePath}`, { method: 'DELETE' });
        assert.equal(deleted.status, 200, await deleted.text());
        assert.deepEqual(await versions(server.url, 'demo'), ['v2.0.0', '1.2.3']);
        const kept = await fetch(`${server.url}/helm/api/charts/demo/v1.2.3`);
        assert.equal(kept.status, 200);
        assert.equal(((await kept.json()) as { version: string }).version, '1.2.3');
      }
      const clean = await nora(['verify'], env);
      assert.equal(clean.code, 0, clean.stdout + clean.stderr);
      assert.doesNotMatch(clean.stdout, /both spellings/);
    } finally {
      await removeDir(dataDir);
    }
  });
});
