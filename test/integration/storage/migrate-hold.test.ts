/**
 * `nora migrate` holds the storage for the whole copy (trial 28 newO F1): a `nora serve` or
 * `nora gc` started on it meanwhile refuses, naming the migrate; a server that slipped in anyway
 * (here: a live process named in `.nora-serve/` during the copy) makes the run fail at its end
 * instead of saying every object is at the target. And the refusal beside a server whose
 * database is kept in the source directory names that server's own storage (F3).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config/load.ts';
import { databaseInUse } from '../../../src/db/in-use.ts';
import { MigrateCommandError, runMigrate } from '../../../src/storage/migrate.ts';
import { BIN, cleanEnv, nora } from '../../helpers/cli.ts';
import { freePort, startNoraProcess } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';

const BASE = { NORA_RATE_LIMIT_ENABLED: 'false', NORA_AUTH_ENABLED: 'false' };

async function fillBlobs(storage: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const bytes = randomBytes(500 + i);
    const hex = createHash('sha256').update(bytes).digest('hex');
    const key = `blobs/sha256/${hex.slice(0, 2)}/${hex}`;
    await fs.mkdir(path.join(storage, path.dirname(key)), { recursive: true });
    await fs.writeFile(path.join(storage, key), bytes);
  }
}

/** A WAL database file where NORA keeps it, as a server that ran before leaves one. */
function makeDatabase(file: string): void {
  const db = new DatabaseSync(file);
  db.exec('PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER)');
  db.close();
}

async function configFor(dir: string, storage: string) {
  return (await loadConfig({ env: { NORA_STORAGE_PATH: storage }, cwd: dir })).config;
}

test('during the copy, nora serve and nora gc on the storage refuse, naming the migrate', async () => {
  await using work = await tempDir('nora-migrate-hold-');
  const source = path.join(work.path, 'storage');
  const target = path.join(work.path, 'other');
  await fillBlobs(source, 3);
  makeDatabase(path.join(source, 'nora.db'));
  const port = await freePort();
  const env = { ...cleanEnv(), ...BASE, NORA_STORAGE_PATH: source };
  const seen = new Map<string, SpawnSyncReturns<string>>();
  let held = false;
  const report = await runMigrate(await configFor(work.path, source), {
    from: 'local',
    to: 'local',
    toPath: target,
    dryRun: false,
    concurrency: 1,
    onObject: () => {
      if (seen.size > 0) return;
      held = databaseInUse(path.join(source, 'nora.db'));
      // Synchronous: the migrate is mid-copy while these start. A serve that wrongly starts is
      // killed by the timeout (status null).
      const run = (args: string[]) =>
        spawnSync(process.execPath, [BIN, ...args], {
          cwd: work.path,
          env: { ...env, NORA_HOST: '127.0.0.1', NORA_PORT: String(port) },
          encoding: 'utf8',
          timeout: 20_000,
          killSignal: 'SIGKILL',
        });
      seen.set('serve', run(['serve']));
      seen.set('gc', run(['gc']));
    },
  });
  assert.equal(report.copied.objects, 3);
  assert.ok(held, 'the database is held open during the copy');
  const marker = new RegExp(
    `nora migrate \\(pid ${String(process.pid)}\\) is copying the storage ${source} to another backend`,
  );
  assert.equal(seen.get('serve')?.status, 1, String(seen.get('serve')?.stderr));
  assert.match(String(seen.get('serve')?.stderr), marker);
  assert.equal(seen.get('gc')?.status, 1, String(seen.get('gc')?.stderr));
  assert.match(String(seen.get('gc')?.stderr), /^nora gc: nora migrate \(pid \d+\) is copying/);
  assert.match(String(seen.get('gc')?.stderr), marker);
  // Released at the end: no marker of the migrate left, the database free.
  await assert.rejects(fs.stat(path.join(source, '.nora-serve', String(process.pid))), /ENOENT/);
  await assert.rejects(fs.stat(path.join(target, '.nora-serve', String(process.pid))), /ENOENT/);
  assert.equal(databaseInUse(path.join(source, 'nora.db')), false);
});

test('a server that appears on the storage during the copy fails the run at its end', async () => {
  await using work = await tempDir('nora-migrate-late-');
  const source = path.join(work.path, 'storage');
  await fillBlobs(source, 3);
  // Stands for a server started by a build that does not check: a live node process named in
  // `.nora-serve/` with a server's marker.
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
    stdio: 'ignore',
  });
  try {
    const pid = String(sleeper.pid);
    let named = false;
    await assert.rejects(
      runMigrate(await configFor(work.path, source), {
        from: 'local',
        to: 'local',
        toPath: path.join(work.path, 'other'),
        dryRun: false,
        concurrency: 1,
        onObject: () => {
          if (named) return;
          named = true;
          mkdirSync(path.join(source, '.nora-serve'), { recursive: true });
          writeFileSync(
            path.join(source, '.nora-serve', pid),
            JSON.stringify({ storage: source, database: path.join(source, 'nora.db') }),
          );
        },
      }),
      (err: unknown) => {
        assert.ok(err instanceof MigrateCommandError, String(err));
        assert.equal(
          err.message,
          `a NORA server (pid ${pid}) is running on ${source}, started during the copy (copied 3, skipped 0, failed 0): what it stored meanwhile may be missing from the target. Stop it, then run the same command again (what was copied is skipped) before switching`,
        );
        return true;
      },
    );
  } finally {
    sleeper.kill('SIGKILL');
  }
});

test('refused beside a server whose database is kept in the source: names its own storage', async () => {
  await using work = await tempDir('nora-migrate-apart-');
  const source = path.join(work.path, 'a');
  const served = path.join(work.path, 'c');
  await fillBlobs(source, 1);
  await fs.mkdir(served);
  const database = path.join(source, 'nora.db');
  await using server = await startNoraProcess({
    env: { ...BASE, NORA_STORAGE_PATH: served, NORA_DATABASE_PATH: database },
    port: await freePort(),
  });
  const refused = await nora(
    ['migrate', '--from', 'local', '--to', 'local', '--to-path', path.join(work.path, 'x')],
    { NORA_STORAGE_PATH: source },
    work.path,
    60_000,
  );
  assert.equal(refused.code, 2, refused.stdout);
  assert.equal(
    refused.stderr,
    `nora migrate: the database ${database} is open in a NORA server (pid ${String(server.child.pid)}) that runs on the storage ${served}: stop it first (objects it stores during the copy would be missing from the target)\n`,
  );
});
