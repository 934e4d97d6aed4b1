/**
 * Database migrations (src/db/migrate.ts): each migration and its `kysely_migration` row commit
 * together, so a process killed inside one leaves the previous schema and the next start runs it
 * again (trial 25 ops F14: a kill mid-migration left "table … already exists" at every later
 * start); and a database an earlier build left half-migrated that way is repaired at start.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import { openDatabase } from '../../../src/db/database.ts';

const createTable = (name: string): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable(name)
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .execute();
  },
});

const first: Record<string, Migration> = { '9000_test_one': createTable('test_one') };

/** The second migration: a table, an index and a column on the first one's table. */
const second: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('test_two')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('name', 'text')
      .execute();
    await db.schema.createIndex('test_two_name').on('test_two').column('name').execute();
    await db.schema.alterTable('test_one').addColumn('label', 'text').execute();
  },
};

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nora-migrate-'));
  t.after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

function schema(file: string): { objects: string[]; recorded: string[]; columns: string[] } {
  const db = new DatabaseSync(file);
  try {
    const objects = (
      db.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'test_%' ORDER BY name").all() as {
        name: string;
      }[]
    ).map((r) => r.name);
    const recorded = (
      db.prepare("SELECT name FROM kysely_migration WHERE name LIKE '9%' ORDER BY name").all() as {
        name: string;
      }[]
    ).map((r) => r.name);
    const columns = (
      db.prepare("SELECT name FROM pragma_table_info('test_one') ORDER BY name").all() as {
        name: string;
      }[]
    ).map((r) => r.name);
    return { objects, recorded, columns };
  } finally {
    db.close();
  }
}

test('a migration that fails midway leaves nothing of itself, and the next start runs it', async (t) => {
  const file = path.join(tempDir(t), 'nora.db');
  const failing: Migration = {
    async up(db: Kysely<unknown>) {
      await second.up(db);
      throw new Error('stopped midway');
    },
  };
  await assert.rejects(
    openDatabase({ file, reserveBytes: 0, migrations: { ...first, '9001_test_two': failing } }),
    /database migration 9001_test_two failed: Error: stopped midway/,
  );
  assert.deepEqual(schema(file), {
    objects: ['test_one'],
    recorded: ['9000_test_one'],
    columns: ['id'],
  });

  const db = await openDatabase({
    file,
    reserveBytes: 0,
    migrations: { ...first, '9001_test_two': second },
  });
  await db.destroy();
  assert.deepEqual(schema(file), {
    objects: ['test_one', 'test_two', 'test_two_name'],
    recorded: ['9000_test_one', '9001_test_two'],
    columns: ['id', 'label'],
  });
});

test('a process killed (SIGKILL) inside a migration leaves a database the next start migrates', async (t) => {
  const file = path.join(tempDir(t), 'nora.db');
  const database = pathToFileURL(path.resolve(import.meta.dirname, '../../../src/db/database.ts'));
  // The child runs the second migration up to its last statement, then is killed: the moment
  // between a migration's schema change and its bookkeeping row.
  const child = `
    import { openDatabase } from ${JSON.stringify(database.href)};
    const table = (name) => ({ up: (db) => db.schema.createTable(name).addColumn('id', 'integer', (c) => c.primaryKey()).execute() });
    await openDatabase({ file: ${JSON.stringify(file)}, reserveBytes: 0, migrations: {
      '9000_test_one': table('test_one'),
      '9001_test_two': { async up(db) {
        await db.schema.createTable('test_two').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'text').execute();
        await db.schema.createIndex('test_two_name').on('test_two').column('name').execute();
        await db.schema.alterTable('test_one').addColumn('label', 'text').execute();
        process.kill(process.pid, 'SIGKILL');
      } },
    } });
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', child], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(run.signal, 'SIGKILL', run.stderr);
  assert.deepEqual(schema(file), {
    objects: ['test_one'],
    recorded: ['9000_test_one'],
    columns: ['id'],
  });

  const warnings: string[] = [];
  const db = await openDatabase({
    file,
    reserveBytes: 0,
    migrations: { ...first, '9001_test_two': second },
    warn: (message) => warnings.push(message),
  });
  await db.destroy();
  assert.deepEqual(warnings, []);
  assert.deepEqual(schema(file).recorded, ['9000_test_one', '9001_test_two']);
});

test('a database an earlier build left half-migrated is repaired at start, with a warning', async (t) => {
  const file = path.join(tempDir(t), 'nora.db');
  const db = await openDatabase({ file, reserveBytes: 0, migrations: first });
  await sql`INSERT INTO test_one (id) VALUES (7)`.execute(db);
  await db.destroy();
  // What a build before this one left when killed inside 9001: its statements committed one by
  // one, the bookkeeping row never written.
  const raw = new DatabaseSync(file);
  raw.exec(`CREATE TABLE test_two (id integer primary key, name text);
    CREATE INDEX test_two_name ON test_two (name);
    ALTER TABLE test_one ADD COLUMN label text;`);
  raw.close();

  const warnings: string[] = [];
  const reopened = await openDatabase({
    file,
    reserveBytes: 0,
    migrations: { ...first, '9001_test_two': second },
    warn: (message) => warnings.push(message),
  });
  const rows = await sql<{ id: number }>`SELECT id FROM test_one`.execute(reopened);
  await reopened.destroy();
  assert.deepEqual(
    rows.rows.map((r) => r.id),
    [7],
  );
  assert.deepEqual(schema(file), {
    objects: ['test_one', 'test_two', 'test_two_name'],
    recorded: ['9000_test_one', '9001_test_two'],
    columns: ['id', 'label'],
  });
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0] ?? '',
    /database migration 9001_test_two: removed what a process stopped while it ran this migration had left \(index test_two_name, column test_one\.label, table test_two\), then ran it again/,
  );
});

test('a database recording a migration this build does not know is refused', async (t) => {
  const file = path.join(tempDir(t), 'nora.db');
  const db = await openDatabase({
    file,
    reserveBytes: 0,
    migrations: { ...first, '9001_test_two': second },
  });
  await db.destroy();
  await assert.rejects(
    openDatabase({ file, reserveBytes: 0, migrations: first }),
    /database migration 9001_test_two recorded in the database is unknown to this build/,
  );
});
