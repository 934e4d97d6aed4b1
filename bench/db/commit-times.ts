/**
 * Preload (bench only): times every write SQLite call on NORA's main thread — `exec` of COMMIT,
 * and `run` of COMMIT / INSERT / UPDATE / DELETE / REPLACE statements (an autocommit, or a
 * statement inside a transaction) — and writes them at exit to
 * `$BENCH_COMMIT_TIMES_DIR/<pid>.json` as `{ startedAt, calls: [[msSinceStart, ms, sql], …] }`.
 * A commit that crosses `wal_autocheckpoint` runs the checkpoint inside it: its time is what this
 * catches (docs/performance.md, "WAL checkpoint off the event loop").
 *
 *   BENCH_COMMIT_TIMES_DIR=/tmp/ct BENCH_NODE_FLAGS="--import $PWD/bench/db/commit-times.ts" \
 *     BENCH_NORA_ROOTS=/tmp/a,/tmp/b node bench/cargo/compare.ts
 *   node bench/db/commit-times.ts /tmp/ct      # the distribution per file
 *
 * Only the main thread is patched (a checkpoint worker's connection is not timed: its time is
 * what no request waits for).
 */
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync, StatementSync, type StatementResultingChanges } from 'node:sqlite';
import { isMainThread } from 'node:worker_threads';

const WRITE = /^\s*(commit|end|insert|update|delete|replace)\b/i;

/* eslint-disable @typescript-eslint/unbound-method, @typescript-eslint/no-confusing-void-expression -- wrapping node:sqlite's own methods, `this` passed on */
function patch(): void {
  const dir = process.env['BENCH_COMMIT_TIMES_DIR'];
  if (dir === undefined || dir === '' || !isMainThread) return;
  const started = performance.now();
  const calls: [number, number, string][] = [];
  const exec = DatabaseSync.prototype.exec;
  DatabaseSync.prototype.exec = function (this: DatabaseSync, sql: string) {
    if (!WRITE.test(sql)) return exec.call(this, sql);
    const t0 = performance.now();
    try {
      return exec.call(this, sql);
    } finally {
      const t1 = performance.now();
      calls.push([t0 - started, t1 - t0, sql.slice(0, 40)]);
    }
  };
  const run = StatementSync.prototype.run as (...args: unknown[]) => StatementResultingChanges;
  StatementSync.prototype.run = function (this: StatementSync, ...args: unknown[]) {
    if (!WRITE.test(this.sourceSQL)) return run.apply(this, args);
    const t0 = performance.now();
    try {
      return run.apply(this, args);
    } finally {
      const t1 = performance.now();
      calls.push([t0 - started, t1 - t0, this.sourceSQL.slice(0, 40)]);
    }
  };
  process.on('exit', () => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, `${process.pid}.json`),
      JSON.stringify({ cwd: process.cwd(), startedAt: Date.now(), calls }),
    );
  });
}

/* eslint-enable @typescript-eslint/unbound-method, @typescript-eslint/no-confusing-void-expression */

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** `node bench/db/commit-times.ts DIR`: per file (one NORA life), count, p50, p99, max, over 5 ms. */
function report(dir: string): void {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
  const rows = files.map((f) => {
    const data = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as {
      cwd: string;
      startedAt: number;
      calls: [number, number, string][];
    };
    // Start-up (migrations, the TRUNCATE checkpoint after them) is not a round's: skipped up to
    // the first write that is not a migration's.
    const first = data.calls.findIndex(([, , sql]) => !/kysely_migration|^\s*commit/i.test(sql));
    const calls = data.calls.slice(Math.max(0, first));
    const ms = calls.map(([, d]) => d).sort((a, b) => a - b);
    return {
      at: data.startedAt,
      line: `${new Date(data.startedAt).toISOString().slice(11, 19)} ${path.basename(data.cwd)} calls ${ms.length} p50 ${quantile(ms, 0.5).toFixed(2)} p99 ${quantile(ms, 0.99).toFixed(1)} max ${(ms.at(-1) ?? 0).toFixed(1)} ms; over 5 ms: ${ms.filter((d) => d > 5).length} (${ms
        .filter((d) => d > 5)
        .map((d) => d.toFixed(0))
        .join(' ')})`,
    };
  });
  for (const row of rows.sort((a, b) => a.at - b.at)) console.log(row.line);
}

if (import.meta.main) report(process.argv[2] ?? '.');
else patch();
