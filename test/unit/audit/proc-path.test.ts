/**
 * Configured paths under a pseudo file system that answers ENOENT to every mkdir
 * (`NORA_AUDIT_PATH=/proc/nora/audit.jsonl`): Node's recursive mkdir loops forever there, which
 * hung start-up at 60% CPU (trial 28 newU F14). The audit log, the database and the S3 driver's
 * local spool now fail at once with ENOENT. Each runs in a child process with a deadline: the
 * unfixed loop is synchronous and would hang this runner.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../../helpers/tools.ts';

const skip = fs.existsSync('/proc/self') ? false : 'no /proc on this system';
const src = (file: string) => pathToFileURL(path.join(PROJECT_ROOT, 'src', file)).href;

/** Runs `code` (an ES module) in a child node; its stdout, or a failure after 10 s. */
function child(code: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', code],
      { timeout: 10_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message} (killed: ${String(err.killed)})\n${stderr}`));
        else resolve(stdout.trim());
      },
    );
  });
}

test(
  'the audit log under /proc: opened at once, the failure logged, serving goes on',
  { skip },
  async () => {
    const out = await child(`
    import { AuditLog } from '${src('audit/sink.ts')}';
    import { Metrics } from '${src('metrics/metrics.ts')}';
    import { DEFAULT_AUDIT_ACTIONS } from '${src('audit/types.ts')}';
    const errors = [];
    const log = AuditLog.open({
      settings: { log: 'file', path: '/proc/nora/audit.jsonl', maxSizeMb: 0, keep: 1, actions: DEFAULT_AUDIT_ACTIONS },
      metrics: new Metrics(),
      log: { error: (o) => errors.push(o.err?.code), warn: () => undefined },
    });
    log.close();
    console.log(JSON.stringify(errors));
  `);
    assert.deepEqual(JSON.parse(out), ['ENOENT']);
  },
);

test('the database and the S3 spool under /proc: ENOENT at once', { skip }, async () => {
  const out = await child(`
    import { openDatabase } from '${src('db/database.ts')}';
    import { S3Driver } from '${src('storage/drivers/s3-driver.ts')}';
    const codes = [];
    await openDatabase({ file: '/proc/nora/nora.db' }).catch((e) => codes.push(e.code));
    await S3Driver.open({ localDir: '/proc/nora', url: 'http://127.0.0.1:9', bucket: 'b', region: 'r' })
      .catch((e) => codes.push(e.code));
    console.log(JSON.stringify(codes));
  `);
  assert.deepEqual(JSON.parse(out), ['ENOENT', 'ENOENT']);
});
