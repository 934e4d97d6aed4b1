/**
 * The web UI's proxy cache index (src/ui/cache-index.ts): rows cached before the upgrade are
 * indexed by the migration (backfill), and every later write of the proxy rows — a fill, a
 * refresh, a delete (gc, the upstream sweep), Helm's chart record written before or after its
 * file or renamed — keeps the per-name summaries a list page reads; with stop 50's triggers
 * (0930–0934) and with the O(1) upkeep replacing them (0940–0944), and an upgrade from the former
 * ends with the same index as a rebuild from the cache rows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Kysely, sql } from 'kysely';
import type { Migration } from 'kysely/migration';
import { openDatabase } from '../../../src/db/database.ts';
import { runMigrations } from '../../../src/db/migrate.ts';
import { coreMigrations } from '../../../src/db/core-migrations.ts';
import { proxyMigrations } from '../../../src/proxy/state.ts';
import { helmMigrations } from '../../../src/formats/helm/migrations.ts';
import { mavenProxyMigrations } from '../../../src/formats/maven/proxy.ts';
import {
  type CacheIndexSource,
  cacheIndexMigration,
  cacheIndexUpkeepMigration,
} from '../../../src/ui/cache-index.ts';
import { CARGO_CACHE } from '../../../src/formats/cargo/browse.ts';
import { GO_CACHE } from '../../../src/formats/go/browse.ts';
import { PYPI_CACHE } from '../../../src/formats/pypi/browse.ts';
import { HELM_CACHE } from '../../../src/formats/helm/browse.ts';
import { MAVEN_CACHE } from '../../../src/formats/maven/browse.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const SOURCES: readonly CacheIndexSource[] = [
  CARGO_CACHE,
  GO_CACHE,
  PYPI_CACHE,
  MAVEN_CACHE,
  HELM_CACHE,
];
const before = { ...proxyMigrations, ...helmMigrations, ...mavenProxyMigrations };
const STOP_50 = {
  '0930_cargo_ui_cache': cacheIndexMigration(CARGO_CACHE),
  '0931_go_ui_cache': cacheIndexMigration(GO_CACHE),
  '0932_pypi_ui_cache': cacheIndexMigration(PYPI_CACHE),
  '0933_maven_ui_cache': cacheIndexMigration(MAVEN_CACHE),
  '0934_helm_ui_cache': cacheIndexMigration(HELM_CACHE),
};
const UPKEEP = {
  '0940_cargo_ui_cache_upkeep': cacheIndexUpkeepMigration(CARGO_CACHE),
  '0941_go_ui_cache_upkeep': cacheIndexUpkeepMigration(GO_CACHE),
  '0942_pypi_ui_cache_upkeep': cacheIndexUpkeepMigration(PYPI_CACHE),
  '0943_maven_ui_cache_upkeep': cacheIndexUpkeepMigration(MAVEN_CACHE),
  '0944_helm_ui_cache_upkeep': cacheIndexUpkeepMigration(HELM_CACHE),
};

for (const [label, index] of [
  ['stop 50 triggers', STOP_50],
  ['O(1) upkeep', { ...STOP_50, ...UPKEEP }],
] as const) {
  test(`backfill, fills, refreshes and deletes keep the per-name summaries (${label})`, () =>
    scenario(index));
}

async function scenario(index: Record<string, Migration>): Promise<void> {
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
      ...index,
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
}

/**
 * A mixed workload of cache writes: fills of every format (other formats' rows and companions
 * among them), refreshes moving a name's newest time forward and back, size changes, deletes of
 * single files, of a name's newest file and of whole names, Helm charts recorded before and after
 * their file and renamed. `round` varies keys and times between calls.
 */
async function workload(db: Kysely<unknown>, round: number): Promise<void> {
  const entry = (repository: string, key: string, size: number, at: number) =>
    sql`INSERT INTO proxy_entries (repository, key, digest, size, fetched_at)
      VALUES (${repository}, ${key}, ${DIGEST}, ${size}, ${at})
      ON CONFLICT (repository, key) DO UPDATE SET size = excluded.size,
        fetched_at = excluded.fetched_at`.execute(db);
  const maven = (path: string, size: number, at: number) =>
    sql`INSERT INTO maven_proxy_files (repository, path, digest, size, md5, sha1, sha256,
        sha512, verified_by, upstream, fetched_at)
      VALUES ('maven-px', ${path}, ${DIGEST}, ${size}, '', '', ${'b'.repeat(64)}, '', '', 'up',
        ${at}) ON CONFLICT (repository, path) DO UPDATE SET size = excluded.size,
        fetched_at = excluded.fetched_at`.execute(db);
  const chart = (key: string, name: string, version: string) =>
    sql`INSERT INTO helm_proxy_charts (repository, key, name, version)
      VALUES ('helm-px', ${key}, ${name}, ${version})
      ON CONFLICT (repository, key) DO UPDATE SET name = excluded.name,
        version = excluded.version`.execute(db);
  for (let i = 0; i < 40; i++) {
    const at = round * 100 + ((i * 37) % 50); // not monotonic: refreshes move times back too
    const v = `${round}.${i % 7}.0`;
    await entry('cargo-px', `cargo-crate:Crate${i % 5}/${v}`, i + 1, at);
    await entry('cargo-px', `cargo-index:cr/at/crate${i % 5}`, 3, at);
    await entry('go-px', `${['mod', 'zip', 'info'][i % 3]}:example.com/m${i % 4}@v${v}`, i, at);
    await entry('pypi-px', `pypi-file:lib-${i % 3}/lib_${i % 3}-${v}-py3-none-any.whl`, i, at);
    await entry('pypi-px', `pypi-file:lib-${i % 3}/lib_${i % 3}-${v}.tar.gz`, i + 2, at);
    await entry('npm-px', `npm-tarball:p${i}/-/p${i}-1.0.0.tgz`, i, at);
    const g = `org/ex${i % 3}/lib${i % 4}/${v}/lib${i % 4}-${v}`;
    await maven(`${g}.pom`, i + 5, at);
    await maven(`${g}.jar`, i * 10, at - 1);
    await maven(`${g}.jar.sha1`, 40, at);
    await maven(`org/ex${i % 3}/lib${i % 4}/maven-metadata.xml`, 90, at);
    const file = `chart@u:c${i % 3}-${v}.tgz`;
    if (i % 2 === 0) await chart(file, `c${i % 3}`, v);
    await entry('helm-px', file, i + 7, at);
    if (i % 2 === 1) await chart(file, `c${i % 3}`, v);
    if (i % 11 === 10) await chart(file, `renamed${i % 3}`, v);
  }
  // Deletes: a file, the newest of a name, whole names.
  await sql`DELETE FROM proxy_entries WHERE key = ${`cargo-crate:Crate1/${round}.1.0`}`.execute(db);
  await sql`DELETE FROM proxy_entries WHERE rowid = (SELECT rowid FROM proxy_entries
    WHERE repository = 'go-px' ORDER BY fetched_at DESC LIMIT 1)`.execute(db);
  await sql`DELETE FROM maven_proxy_files WHERE path LIKE 'org/ex2/lib%'`.execute(db);
  await sql`DELETE FROM helm_proxy_charts WHERE name = 'c1'`.execute(db);
  await sql`DELETE FROM proxy_entries WHERE key LIKE 'pypi-file:lib-2/%'`.execute(db);
}

/** The index's contents: its files and names, in a fixed order. */
async function contents(db: Kysely<unknown>): Promise<unknown> {
  const files = await sql`SELECT * FROM ui_proxy_files ORDER BY repository, source, key`.execute(
    db,
  );
  const names = await sql`SELECT * FROM ui_proxy_names ORDER BY repository, name`.execute(db);
  return { files: files.rows, names: names.rows };
}

/** The index rebuilt from the cache rows, as stop 50's backfill builds it. */
async function rebuilt(db: Kysely<unknown>): Promise<unknown> {
  await sql`DELETE FROM ui_proxy_files`.execute(db);
  await sql`DELETE FROM ui_proxy_names`.execute(db);
  for (const source of SOURCES) {
    await sql
      .raw(
        `INSERT INTO ui_proxy_files (repository, source, key, name, version, at, bytes, file,
          digest) SELECT repository, '${source.table}', key, name, version, at, bytes, file,
          digest FROM (${source.select(source.table)})`,
      )
      .execute(db);
  }
  await sql`DELETE FROM ui_proxy_names`.execute(db);
  await sql`INSERT INTO ui_proxy_names (repository, name, versions, at, bytes)
    SELECT repository, name, COUNT(DISTINCT version), MAX(at), SUM(bytes) FROM ui_proxy_files
    GROUP BY repository, name`.execute(db);
  return await contents(db);
}

test('an upgrade from stop 50 triggers keeps the index: same contents as a rebuild, and as the old triggers', async () => {
  const open = async (index: Record<string, Migration>) => {
    const db = await openDatabase({ file: ':memory:', migrations: { ...before, ...index } });
    return db as unknown as Kysely<unknown>;
  };
  const upgraded = await open(STOP_50);
  const old = await open(STOP_50);
  try {
    await workload(upgraded, 1);
    await workload(old, 1);
    await runMigrations(upgraded, { ...coreMigrations, ...before, ...STOP_50, ...UPKEEP });
    const kept = await contents(upgraded);
    assert.deepEqual(kept, await contents(old), 'the upgrade changed the index');
    for (let round = 2; round <= 4; round++) {
      await workload(upgraded, round);
      await workload(old, round);
    }
    const after = await contents(upgraded);
    assert.ok((after as { names: unknown[] }).names.length > 20, 'the workload indexes names');
    assert.deepEqual(after, await contents(old), 'new triggers and stop 50 ones differ');
    assert.deepEqual(after, await rebuilt(upgraded), 'the upkeep drifted from the cache rows');
  } finally {
    await upgraded.destroy();
    await old.destroy();
  }
});

test("Maven's row split compiles to a few hundred VDBE instructions, not thousands", async () => {
  // Flattened nested subqueries repeat each level's expression at every use: 2,657 instructions
  // and ~290 µs per written row before the `LIMIT -1` levels.
  const db = await openDatabase({ file: ':memory:', migrations: before });
  try {
    const one = `(SELECT 'r' AS repository, 'a/b/1/b-1.jar' AS path, 1 AS fetched_at,
      2 AS size, 'x' AS sha256)`;
    const plan = await sql.raw(`EXPLAIN ${MAVEN_CACHE.select(one)}`).execute(db);
    assert.ok(plan.rows.length < 500, `${plan.rows.length} instructions`);
  } finally {
    await db.destroy();
  }
});
