/**
 * MavenStore's precompiled lookups (`file`, `hasArtifact`) never see a deploy's rows before its
 * transaction commits, nor after it rolls back: while a Kysely transaction is open they wait for
 * the connection; otherwise they run at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Kysely } from 'kysely';
import { openDatabase } from '../../../src/db/database.ts';
import { type MavenTables, mavenMigrations } from '../../../src/formats/maven/migrations.ts';
import { MavenStore, type NewMavenFile } from '../../../src/formats/maven/store.ts';

function row(path: string): NewMavenFile {
  return {
    repo: 'r',
    path,
    group_id: 'org.example',
    artifact_id: 'lib',
    version: '1.0',
    classifier: '',
    extension: 'pom',
    snapshot_ts: null,
    build_number: null,
    digest: `sha256:${'a'.repeat(64)}`,
    size: 1,
    md5: 'm',
    sha1: 's',
    sha256: 'a'.repeat(64),
    sha512: 'x',
    packaging: null,
    plugin_prefix: null,
    plugin_name: null,
  };
}

describe('MavenStore lookups and open transactions', () => {
  let db: Kysely<MavenTables>;
  let store: MavenStore;

  before(async () => {
    db = (await openDatabase({ file: ':memory:', migrations: mavenMigrations })) as never;
    store = new MavenStore(db);
  });

  after(async () => {
    await db.destroy();
  });

  test('a row is seen once its transaction commits, never while open or after a rollback', async () => {
    const path = 'org/example/lib/1.0/lib-1.0.pom';
    let inside!: () => void;
    const holding = new Promise<void>((resolve) => {
      inside = resolve;
    });
    let finish!: (commit: boolean) => void;
    const decided = new Promise<boolean>((resolve) => {
      finish = resolve;
    });
    const rolledBack = db
      .transaction()
      .execute(async (trx) => {
        const now = Date.now();
        await trx
          .insertInto('maven_files')
          .values({ ...row(path), created_at: now, updated_at: now })
          .execute();
        inside();
        if (!(await decided)) throw new Error('rolled back');
      })
      .catch((err: unknown) => err);
    await holding;
    const during = store.file('r', path);
    const hasDuring = store.hasArtifact('r', 'org.example', 'lib');
    finish(false);
    assert.ok((await rolledBack) instanceof Error);
    assert.equal(await during, undefined, 'not seen while open, gone after the rollback');
    assert.equal(await hasDuring, false);

    const now = Date.now();
    await db
      .insertInto('maven_files')
      .values({ ...row(path), created_at: now, updated_at: now })
      .execute();
    assert.equal((await store.file('r', path))?.path, path);
    assert.equal(await store.hasArtifact('r', 'org.example', 'lib'), true);
    assert.equal(await store.hasArtifact('r', 'org.example', 'other'), false);
  });
});
