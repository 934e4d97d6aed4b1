/**
 * Every proxy fill records a first-seen row (whatever the curation settings), written in the
 * background in batches. On SQLite a batch is one transaction of precompiled statements, not a
 * Kysely transaction: compiling Kysely's multi-row INSERT and its connection turns cost a cold
 * `cargo fetch` ~3-4% of its main thread (docs/performance.md, perfC 2026-12-06). The rows, their
 * earliest time and "a duplicate changes nothing" stay as they were.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CompiledQuery } from 'kysely';
import { openDatabase } from '../../../src/db/database.ts';
import {
  firstSeenMigrations,
  SqlFirstSeenStore,
  type FirstSeenTables,
} from '../../../src/curation/first-seen.ts';
import { tempDir } from '../../helpers/tmp.ts';

const T0 = Date.parse('2026-12-06T00:00:00Z');

test('first-seen batches are written on SQLite without a Kysely query, rows as before', async () => {
  await using tmp = await tempDir('nora-first-seen-writes-');
  const db = await openDatabase({ file: `${tmp.path}/nora.db`, migrations: firstSeenMigrations });
  try {
    const store = new SqlFirstSeenStore(db, (err) => {
      throw err;
    });
    await store.load(T0);
    // Every Kysely query (its executors' shared prototype: a transaction runs on an executor
    // of its own).
    let proto: object | null = Object.getPrototypeOf(db.getExecutor()) as object | null;
    while (proto !== null && !Object.hasOwn(proto, 'executeQuery')) {
      proto = Object.getPrototypeOf(proto) as object | null;
    }
    assert.ok(proto !== null);
    const executorClass = proto as { executeQuery: (...args: unknown[]) => unknown };
    const execute = executorClass.executeQuery;
    const queries: string[] = [];
    executorClass.executeQuery = function (this: unknown, ...args: unknown[]) {
      queries.push((args[0] as CompiledQuery).sql);
      return execute.apply(this, args);
    };
    const digest = `sha256:${'a'.repeat(64)}`;
    const first = { registry: 'cargo', name: 'serde', version: '1.0.0', digest } as const;
    const later = { registry: 'cargo', name: 'serde', version: '1.0.1', digest: '' } as const;
    assert.equal(store.record(first, T0), T0);
    assert.equal(store.record(later, T0 + 5), T0 + 5);
    // Already known: the earlier time stays, no second row.
    assert.equal(store.record(first, T0 + 10), T0);
    await store.flush();
    assert.deepEqual(queries, [], 'the batch ran no Kysely query');
    executorClass.executeQuery = execute;

    const rows = await db
      .$extendTables<FirstSeenTables>()
      .selectFrom('curation_first_seen')
      .selectAll()
      .orderBy('version')
      .execute();
    assert.deepEqual(
      rows.map((row) => ({ ...row })),
      [
        { ...first, first_seen_at: T0 },
        { ...later, first_seen_at: T0 + 5 },
      ],
    );
    // A second store (a restart) reads them from SQL; a duplicate written again changes nothing.
    const again = new SqlFirstSeenStore(db, (err) => {
      throw err;
    });
    await again.load(T0);
    assert.equal(again.get(first), T0);
    assert.equal(again.get({ ...later, digest: '' }), T0 + 5);
    again.record({ ...first, version: '1.0.0' }, T0 - 1);
    await again.flush();
    const count = await db
      .$extendTables<FirstSeenTables>()
      .selectFrom('curation_first_seen')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    assert.equal(Number(count.n), 2);
  } finally {
    await db.destroy();
  }
});
