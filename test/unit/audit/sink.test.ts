/**
 * The audit sink (src/audit/sink.ts): batching, stdout, rotation, the bounded queue, a failing
 * file, the activity ring.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ACTIVITY_CAPACITY, ActivityRing } from '../../../src/audit/activity.ts';
import { AuditLog, QUEUE_CAP } from '../../../src/audit/sink.ts';
import {
  type AuditEvent,
  type AuditSettings,
  DEFAULT_AUDIT_ACTIONS,
} from '../../../src/audit/types.ts';
import { Metrics } from '../../../src/metrics/metrics.ts';
import { tempDir } from '../../helpers/tmp.ts';

const event = (n: number, action: AuditEvent['action'] = 'pull'): AuditEvent => ({
  ts: new Date(Date.UTC(2026, 11, 8, 10, 0, 0, n % 1000)).toISOString(),
  action,
  actor: 'alice',
  artifact: `pkg/-/pkg-${n}.tgz`,
  registry: 'npm',
  repository: 'npm',
  format: 'npm',
});

const settings = (file: string, over: Partial<AuditSettings> = {}): AuditSettings => ({
  log: 'file',
  path: file,
  maxSizeMb: 0,
  keep: 2,
  actions: DEFAULT_AUDIT_ACTIONS,
  ...over,
});

interface Logged {
  readonly errors: string[];
}
const logger = (logged: Logged) => ({
  error: (first: object | string, message?: string) => {
    logged.errors.push(typeof first === 'string' ? first : (message ?? ''));
  },
  warn: () => undefined,
});

const lines = (file: string): string[] =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '');

const metric = async (metrics: Metrics, name: string): Promise<string> =>
  (await metrics.registry.metrics())
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');

/** A file log rotating at 1 MiB, keeping 2 files. */
const rotating = (file: string): AuditLog =>
  AuditLog.open({
    settings: settings(file, { maxSizeMb: 1, keep: 2 }),
    metrics: new Metrics(),
    log: logger({ errors: [] }),
  });

describe('AuditLog', () => {
  test('batches events into one append per flush; close writes what is queued', async () => {
    await using dir = await tempDir('nora-audit-');
    const file = path.join(dir.path, 'sub', 'audit.jsonl');
    const audit = AuditLog.open({
      settings: settings(file),
      metrics: new Metrics(),
      log: logger({ errors: [] }),
    });
    // Opened at start (mode 0640), empty until the first flush.
    assert.equal(fs.statSync(file).mode & 0o777, 0o640);
    for (let i = 0; i < 3; i++) audit.record(event(i));
    assert.equal(fs.readFileSync(file, 'utf8'), '');
    await audit.flush();
    assert.equal(lines(file).length, 3);
    assert.deepEqual(JSON.parse(lines(file)[0] ?? ''), event(0));
    audit.record(event(3));
    audit.close();
    assert.equal(lines(file).length, 4);
    // After close nothing more is written, nothing throws.
    audit.record(event(4));
    assert.equal(lines(file).length, 4);
  });

  test('actions not configured are not recorded anywhere', async () => {
    await using dir = await tempDir('nora-audit-');
    const file = path.join(dir.path, 'audit.jsonl');
    const audit = AuditLog.open({
      settings: settings(file, { actions: ['push'] }),
      metrics: new Metrics(),
      log: logger({ errors: [] }),
    });
    audit.record(event(1, 'pull'));
    audit.record(event(2, 'push'));
    audit.close();
    assert.deepEqual(
      lines(file).map((l) => (JSON.parse(l) as AuditEvent).action),
      ['push'],
    );
    assert.deepEqual(
      audit.feed.recent().map((e) => e.action),
      ['push'],
    );
    assert.equal(audit.wants('pull'), false);
  });

  test('stdout: lines go to stdout, no file; both: to each', async () => {
    await using dir = await tempDir('nora-audit-');
    for (const log of ['stdout', 'both'] as const) {
      const file = path.join(dir.path, `${log}.jsonl`);
      let out = '';
      const audit = AuditLog.open({
        settings: settings(file, { log }),
        metrics: new Metrics(),
        log: logger({ errors: [] }),
        stdout: { write: (chunk: string) => (out += chunk) },
      });
      audit.record(event(1));
      audit.record(event(2));
      await audit.flush();
      audit.close();
      assert.equal(out.split('\n').filter((l) => l !== '').length, 2, log);
      assert.equal(fs.existsSync(file), log === 'both', log);
    }
  });

  test('events queued while an append is in flight are encoded at once, not kept as objects', async () => {
    // A pull's event must die young: held as an object until the thread pool finished the
    // previous append, it outlived young collections and was promoted (docs/performance.md,
    // "Memo hit: the audit queue's promotions"). stdout shows when a batch was taken.
    await using dir = await tempDir('nora-audit-');
    const file = path.join(dir.path, 'audit.jsonl');
    let out = '';
    const audit = AuditLog.open({
      settings: settings(file, { log: 'both' }),
      metrics: new Metrics(),
      log: logger({ errors: [] }),
      stdout: { write: (chunk: string | Uint8Array) => (out += chunk.toString()) },
    });
    const taken = () => out.split('\n').filter((l) => l !== '').length;
    audit.record(event(1));
    const first = audit.flush(); // the first append, now in the thread pool
    audit.record(event(2));
    const second = audit.flush(); // while it is in flight
    assert.equal(taken(), 2);
    await first;
    await second;
    audit.close();
    assert.deepEqual(
      lines(file).map((l) => (JSON.parse(l) as AuditEvent).artifact),
      ['pkg/-/pkg-1.tgz', 'pkg/-/pkg-2.tgz'],
    );
  });

  test('rotates before an append would pass max_size_mb, keeping `keep` files', async () => {
    await using dir = await tempDir('nora-audit-');
    const file = path.join(dir.path, 'audit.jsonl');
    const audit = rotating(file);
    // ~150 bytes a line: 3000 lines (~450 KB) a flush; four flushes pass 1 MiB, twice.
    let n = 0;
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 3000; i++) audit.record(event(n++));
      await audit.flush();
    }
    audit.close();
    const names = fs.readdirSync(dir.path).sort();
    assert.deepEqual(names, ['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2']);
    for (const name of names) {
      assert.ok(fs.statSync(path.join(dir.path, name)).size <= 1024 * 1024, name);
    }
    // Every line whole, the newest in the current file, none lost across the kept files.
    const current = lines(file).map((l) => JSON.parse(l) as AuditEvent);
    assert.equal(current.at(-1)?.artifact, `pkg/-/pkg-${n - 1}.tgz`);
    // Whole batches only: a rotation never splits one append.
    const kept = names.flatMap((name) => lines(path.join(dir.path, name)));
    assert.equal(kept.length % 3000, 0);
    for (const line of kept) JSON.parse(line);
  });

  test('rotation sees appends from outside the process (another writer, a `cat >>`)', async () => {
    await using dir = await tempDir('nora-audit-');
    const file = path.join(dir.path, 'audit.jsonl');
    const audit = rotating(file);
    audit.record(event(1));
    await audit.flush();
    // 1.4 MB appended by someone else while the file is open: the next append rotates first.
    const outside = `${JSON.stringify(event(2))}\n`.repeat(Math.ceil(1.4e6 / 150));
    fs.appendFileSync(file, outside);
    audit.record(event(3));
    await audit.flush();
    audit.close();
    assert.deepEqual(fs.readdirSync(dir.path).sort(), ['audit.jsonl', 'audit.jsonl.1']);
    assert.deepEqual(
      lines(file).map((l) => (JSON.parse(l) as AuditEvent).artifact),
      ['pkg/-/pkg-3.tgz'],
    );
    assert.ok(outside.length > 1024 * 1024);
    assert.ok(fs.statSync(`${file}.1`).size > outside.length, 'the outside bytes are rotated');
  });

  test('a full queue drops and counts (nora_audit_dropped_total), never throws', async () => {
    await using dir = await tempDir('nora-audit-');
    const metrics = new Metrics();
    const audit = AuditLog.open({
      settings: settings(path.join(dir.path, 'audit.jsonl')),
      metrics,
      log: logger({ errors: [] }),
    });
    for (let i = 0; i < QUEUE_CAP + 10; i++) audit.record(event(i));
    assert.match(
      await metric(metrics, 'nora_audit_dropped_total'),
      /nora_audit_dropped_total\{reason="queue_full"\} 10/,
    );
    audit.close();
  });

  test('a file that cannot be written: logged once a minute, events counted, nothing thrown', async () => {
    await using dir = await tempDir('nora-audit-');
    // A directory where the file should be: every open fails (EISDIR), as a read-only mount does.
    const file = path.join(dir.path, 'audit.jsonl');
    fs.mkdirSync(file);
    const logged: Logged = { errors: [] };
    let now = 0;
    const metrics = new Metrics();
    const audit = AuditLog.open({
      settings: settings(file),
      metrics,
      log: logger(logged),
      now: () => now,
    });
    assert.equal(logged.errors.length, 1);
    audit.record(event(1));
    await audit.flush();
    now += 30_000;
    audit.record(event(2));
    await audit.flush();
    assert.equal(logged.errors.length, 1, 'logged again within a minute');
    now += 31_000;
    audit.record(event(3));
    await audit.flush();
    assert.equal(logged.errors.length, 2);
    assert.match(logged.errors[0] ?? '', /audit log write failed/);
    assert.match(
      await metric(metrics, 'nora_audit_dropped_total'),
      /nora_audit_dropped_total\{reason="write_failed"\} 3/,
    );
    audit.close();
  });
});

describe('ActivityRing', () => {
  test('keeps the newest 50, newest first; limit and filters', () => {
    const ring = new ActivityRing();
    assert.deepEqual(ring.recent(), []);
    for (let i = 0; i < 60; i++) ring.push({ ...event(i), registry: i % 2 === 0 ? 'npm' : 'raw' });
    const all = ring.recent();
    assert.equal(all.length, ACTIVITY_CAPACITY);
    assert.equal(all[0]?.artifact, 'pkg/-/pkg-59.tgz');
    assert.equal(all.at(-1)?.artifact, 'pkg/-/pkg-10.tgz');
    assert.deepEqual(
      ring.recent(2, { format: 'npm' }).map((e) => e.artifact),
      ['pkg/-/pkg-58.tgz', 'pkg/-/pkg-56.tgz'],
    );
    assert.equal(ring.recent(500).length, ACTIVITY_CAPACITY);
    assert.equal(ring.recent(0).length, 0);
    assert.equal(ring.recent(5, { actions: ['push'] }).length, 0);
  });
});
