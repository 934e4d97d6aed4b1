/**
 * The web UI's proxy cache index (src/ui/cache-index.ts): rows cached before the upgrade are
 * indexed by the migration (backfill), and every later write of the proxy rows — a fill, a
 * refresh, a delete (gc, the upstream sweep), Helm's chart record written before or after its
 * file or renamed — keeps the per-name summaries a list page reads.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { openDatabase } from '../../../src/db/database.ts';
import { runMigrations } from '../../../src/db/migrate.ts';
import { coreMigrations } from '../../../src/db/core-migrations.ts';
import { proxyMigrations } from '../../../src/proxy/state.ts';
import { helmMigrations } from '../../../src/formats/helm/migrations.ts';
import { mavenProxyMigrations } from '../../../src/formats/maven/proxy.ts';
import { cacheIndexMigration } from '../../../src/ui/cache-index.ts';
import { CARGO_CACHE } from '../../../src/formats/cargo/browse.ts';
import { GO_CACHE } from '../../../src/formats/go/browse.ts';
import { PYPI_CACHE } from '../../../src/formats/pypi/browse.ts';
import { HELM_CACHE } from '../../../src/formats/helm/browse.ts';
import { MAVEN_CACHE } from '../../../src/formats/maven/browse.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;

test('backfill, fills, refreshes and deletes keep the per-name summaries', async () => {
  const before = { ...proxyMigrations, ...helmMigrations, ...mavenProxyMigrations };
  const db = await openDatabase({ file: ':memory:', migrations: before });
  try {
    const entry = (repository: string, key: string, size: number, at: number) =>
      sql`INSERT INTO proxy_entries (repository, key, digest, size, fetched_at)
        VALUES (${repository}, ${key}, ${DIGEST}, ${size}, ${at})`.execute(db);
    const names = async (repository: string) =>
      (
        await sql<{ name: string; versions: number; at: number; bytes: number }>`
          SELECT name, versions, at, bytes FROM ui_proxy_names
          WHERE repository = ${repository} ORDER BY name`.execute(db)
      ).rows.map((r) => ({ ...r }));

    // Cached before the upgrade.
    await entry('cargo-px', 'cargo-crate:Serde/1.0.0', 10, 1);
    await entry('cargo-px', 'cargo-crate:Serde/1.1.0', 20, 2);
    await entry('cargo-px', 'cargo-index:se/rd/serde', 5, 3); // an index file: no version
    await runMigrations(db as unknown as Kysely<unknown>, {
      ...coreMigrations,
      ...before,
      '0930_cargo_ui_cache': cacheIndexMigration(CARGO_CACHE),
      '0931_go_ui_cache': cacheIndexMigration(GO_CACHE),
      '0932_pypi_ui_cache': cacheIndexMigration(PYPI_CACHE),
      '0933_maven_ui_cache': cacheIndexMigration(MAVEN_CACHE),
      '0934_helm_ui_cache': cacheIndexMigration(HELM_CACHE),
    });
    assert.deepEqual(await names('cargo-px'), [{ name: 'serde', versions: 2, at: 2, bytes: 30 }]);

    // A fill, then a refresh of the same row (ON CONFLICT DO UPDATE, as the state store writes).
    await entry('cargo-px', 'cargo-crate:Serde/1.2.0', 30, 4);
    await sql`INSERT INTO proxy_entries (repository, key, digest, size, fetched_at)
      VALUES ('cargo-px', 'cargo-crate:Serde/1.2.0', ${DIGEST}, 31, 9)
      ON CONFLICT (repository, key) DO UPDATE SET size = excluded.size,
        fetched_at = excluded.fetched_at`.execute(db);
    assert.deepEqual(await names('cargo-px'), [{ name: 'serde', versions: 3, at: 9, bytes: 61 }]);

    // Deletes (gc, the upstream sweep): one version, then the last ones.
    await sql`DELETE FROM proxy_entries WHERE key = 'cargo-crate:Serde/1.2.0'`.execute(db);
    assert.deepEqual(await names('cargo-px'), [{ name: 'serde', versions: 2, at: 2, bytes: 30 }]);
    await sql`DELETE FROM proxy_entries WHERE repository = 'cargo-px'`.execute(db);
    assert.deepEqual(await names('cargo-px'), []);

    // Go and PyPI: files of a version counted once per version.
    await entry('go-px', 'info:example.com/m@v1.0.0', 1, 1);
    await entry('go-px', 'zip:example.com/m@v1.0.0', 2, 2);
    await entry('go-px', 'list:example.com/m', 3, 3);
    assert.deepEqual(await names('go-px'), [
      { name: 'example.com/m', versions: 1, at: 2, bytes: 3 },
    ]);
    await entry('pypi-px', 'pypi-file:my-lib/my_lib-2.0-py3-none-any.whl', 7, 1);
    await entry('pypi-px', 'pypi-file:my-lib/my_lib-2.0.tar.gz', 8, 2);
    assert.deepEqual(await names('pypi-px'), [{ name: 'my-lib', versions: 1, at: 2, bytes: 15 }]);

    // Maven: its own table, checksums left out.
    const maven = (path: string, size: number) =>
      sql`INSERT INTO maven_proxy_files (repository, path, digest, size, md5, sha1, sha256,
          sha512, verified_by, upstream, fetched_at)
        VALUES ('maven-px', ${path}, ${DIGEST}, ${size}, '', '', ${'a'.repeat(64)}, '', '',
          'up', 5)`.execute(db);
    await maven('com/example/lib/1.0/lib-1.0.jar', 100);
    await maven('com/example/lib/1.0/lib-1.0.jar.sha1', 40);
    await maven('com/example/lib/1.0/lib-1.0.pom', 10);
    assert.deepEqual(await names('maven-px'), [
      { name: 'com.example:lib', versions: 1, at: 5, bytes: 110 },
    ]);
    await sql`DELETE FROM maven_proxy_files WHERE path LIKE '%.jar'`.execute(db);
    assert.deepEqual(await names('maven-px'), [
      { name: 'com.example:lib', versions: 1, at: 5, bytes: 10 },
    ]);

    // Helm: the chart record before its file, after it, and renamed.
    const chart = (key: string, name: string, version: string) =>
      sql`INSERT INTO helm_proxy_charts (repository, key, name, version)
        VALUES ('helm-px', ${key}, ${name}, ${version})
        ON CONFLICT (repository, key) DO UPDATE SET name = excluded.name,
          version = excluded.version`.execute(db);
    await chart('chart@u:nginx-1-ingress-1.2.3-rc.1.tgz', 'nginx-1-ingress', '1.2.3-rc.1');
    await entry('helm-px', 'chart@u:nginx-1-ingress-1.2.3-rc.1.tgz', 50, 1);
    await entry('helm-px', 'chart@u:other-2.0.0.tgz', 60, 2);
    await chart('chart@u:other-2.0.0.tgz', 'other', '2.0.0');
    await entry('helm-px', 'index@u', 1, 3); // the upstream index: no chart
    assert.deepEqual(await names('helm-px'), [
      { name: 'nginx-1-ingress', versions: 1, at: 1, bytes: 50 },
      { name: 'other', versions: 1, at: 2, bytes: 60 },
    ]);
    await chart('chart@u:other-2.0.0.tgz', 'renamed', '2.0.0');
    assert.deepEqual(
      (await names('helm-px')).map((n) => n.name),
      ['nginx-1-ingress', 'renamed'],
    );
    await sql`DELETE FROM helm_proxy_charts WHERE name = 'renamed'`.execute(db);
    await sql`DELETE FROM proxy_entries WHERE key LIKE 'chart@u:nginx%'`.execute(db);
    assert.deepEqual(await names('helm-px'), []);
  } finally {
    await db.destroy();
  }
});
