/**
 * The first-seen table grows with every proxied artifact; rows older than 90 days were pruned
 * only at start (one unbounded DELETE), so a server running for months kept them all. pruneOld
 * deletes the oldest in bounded runs, startPruning repeats it on a timer (unref'd).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { openDatabase } from '../../../src/db/database.ts';
import {
  firstSeenMigrations,
  PRUNE_BATCH_ROWS,
  SqlFirstSeenStore,
  startPruning,
  type FirstSeenTables,
} from '../../../src/curation/first-seen.ts';
import { FIRST_SEEN_KEEP_MS } from '../../../src/curation/types.ts';
import { tempDir } from '../../helpers/tmp.ts';

const T0 = Date.parse('2026-12-05T00:00:00Z');

test('a running server prunes first-seen rows older than 90 days on a timer, bounded per run', async () => {
  await using tmp = await tempDir('nora-first-seen-prune-');
  const db = await openDatabase({ file: `${tmp.path}/nora.db`, migrations: firstSeenMigrations });
  const table = db.$extendTables<FirstSeenTables>();
  const count = async (): Promise<number> =>
    Number(
      (
        await table
          .selectFrom('curation_first_seen')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  try {
    const store = new SqlFirstSeenStore(db, (err) => {
      throw err;
    });
    assert.equal(await store.load(Date.now()), 0);
    // Rows first seen after the start: old ones (an artifact cached ~91 days ago by a server
    // never restarted since), more than one batch, and a fresh one.
    const old = PRUNE_BATCH_ROWS + 1200;
    const stale = Date.now() - FIRST_SEEN_KEEP_MS - 3_600_000;
    for (let from = 0; from < old; from += 500) {
      const rows = [];
      for (let i = from; i < Math.min(old, from + 500); i++) {
        rows.push({
          registry: 'npm',
          name: `p${i}`,
          version: '1.0.0',
          digest: '',
          first_seen_at: stale + i,
        });
      }
      await table.insertInto('curation_first_seen').values(rows).execute();
    }
    const fresh = { registry: 'npm', name: 'fresh', version: '1.0.0', digest: '' } as const;
    store.record(fresh, T0);
    await store.flush();
    assert.equal(await count(), old + 1);

    // One run is bounded: 1000 rows at most, the oldest first.
    assert.equal(await store.pruneOld(Date.now(), 1000), 1000);
    assert.equal(await count(), old + 1 - 1000);
    assert.equal(
      store.get({ registry: 'npm', name: 'p999', version: '1.0.0', digest: '' }),
      undefined,
    );
    assert.equal(
      store.get({ registry: 'npm', name: 'p1000', version: '1.0.0', digest: '' }),
      stale + 1000,
    );

    // The timer's runs take the rest; the fresh row stays.
    const counts: number[] = [];
    const prunes = startPruning(
      store,
      (n) => counts.push(n),
      (err) => assert.fail(String(err)),
      0.02,
    );
    try {
      const deadline = Date.now() + 10_000;
      while ((await count()) > 1 && Date.now() < deadline) await sleep(20);
    } finally {
      await prunes.stop();
    }
    assert.equal(await count(), 1);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      old - 1000,
    );
    assert.equal(store.get(fresh), T0);
  } finally {
    await db.destroy();
  }
});

test('the prune uses the first_seen_at index (no table scan)', async () => {
  await using tmp = await tempDir('nora-first-seen-prune-');
  const db = await openDatabase({ file: `${tmp.path}/nora.db`, migrations: firstSeenMigrations });
  try {
    const { sql } = await import('kysely');
    const plan = await sql<{
      detail: string;
    }>`EXPLAIN QUERY PLAN SELECT rowid FROM curation_first_seen WHERE first_seen_at < ${T0} ORDER BY first_seen_at LIMIT 10`.execute(
      db,
    );
    const details = plan.rows.map((row) => row.detail).join('\n');
    assert.match(details, /USING (COVERING )?INDEX curation_first_seen_at/, details);
  } finally {
    await db.destroy();
  }
});
