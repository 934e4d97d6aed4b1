/**
 * Scratch measurement of the first-seen store (src/curation/first-seen.ts) at N rows: the time
 * `load` takes at start and the heap/RSS it keeps, then the cost of one `get`.
 * `node bench/first-seen-load.ts [rows=1000000] [dir]` prints one JSON line.
 */
import { DatabaseSync } from 'node:sqlite';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { openDatabase } from '../src/db/database.ts';
import { firstSeenMigrations, SqlFirstSeenStore } from '../src/curation/first-seen.ts';

const rows = Number(process.argv[2] ?? 1_000_000);
const dir = process.argv[3] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nora-first-seen-'));
const file = path.join(dir, 'nora.db');
const now = Date.now();
if (!fs.existsSync(file)) {
  const init = await openDatabase({ file, migrations: firstSeenMigrations, reserveBytes: 0 });
  await init.destroy();
  const sqlite = new DatabaseSync(file);
  const insert = sqlite.prepare('INSERT INTO curation_first_seen VALUES (?, ?, ?, ?, ?)');
  sqlite.exec('BEGIN');
  for (let i = 0; i < rows; i++) {
    // Half version-keyed (npm-like), half digest-keyed (PyPI-like), as a busy mixed proxy.
    if (i % 2 === 0)
      insert.run('npm', `pkg-${i % 50_000}`, `1.${i}.0`, '', now - (i % 80) * 86_400_000);
    else
      insert.run(
        'pypi',
        `lib-${i % 50_000}`,
        `2.${i}`,
        `sha256:${i.toString(16).padStart(64, '0')}`,
        now - (i % 80) * 86_400_000,
      );
  }
  sqlite.exec('COMMIT');
  sqlite.close();
}
globalThis.gc?.();
const before = process.memoryUsage();
const db = await openDatabase({ file, migrations: firstSeenMigrations, reserveBytes: 0 });
const store = new SqlFirstSeenStore(db, (err) => {
  console.error(err);
});
const t0 = performance.now();
await store.load(now);
const loadMs = performance.now() - t0;
globalThis.gc?.();
const after = process.memoryUsage();
const lookups = 50_000;
let found = 0;
/** ns per `get` over `lookups` keys (the same keys at every call). */
function timeLookups(): number {
  const start = performance.now();
  for (let i = 0; i < lookups; i++) {
    const j = (i * 7919) % rows;
    const key =
      j % 2 === 0
        ? ({ registry: 'npm', name: `pkg-${j % 50_000}`, version: `1.${j}.0`, digest: '' } as const)
        : ({
            registry: 'pypi',
            name: `lib-${j % 50_000}`,
            version: `2.${j}`,
            digest: `sha256:${j.toString(16).padStart(64, '0')}`,
          } as const);
    if (store.get(key) !== undefined) found++;
  }
  return ((performance.now() - start) * 1e6) / lookups;
}
const getNs = timeLookups();
// The same keys again: what a cache hit of an artifact asked before costs (LRU hits on SQLite).
const againNs = timeLookups();
console.log(
  JSON.stringify({
    rows,
    dbBytes: fs.statSync(file).size,
    loadMs: Math.round(loadMs),
    rssMiB: Math.round((after.rss - before.rss) / 2 ** 20),
    heapMiB: Math.round((after.heapUsed - before.heapUsed) / 2 ** 20),
    rssTotalMiB: Math.round(after.rss / 2 ** 20),
    firstGetNs: Math.round(getNs),
    againGetNs: Math.round(againNs),
    found,
  }),
);
await db.destroy();
