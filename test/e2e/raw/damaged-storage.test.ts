/**
 * Stored bytes damaged behind NORA's back (a disk error, an operator's edit), same size, read
 * with curl:
 * - hosted, small file (read after a restart: raw keeps small files it has read in memory): a
 *   410 at once in raw's error shape (text) naming the integrity check (nothing refills hosted
 *   bytes, so no 503 for curl to retry: trial 17 auth F3), the file removed, `nora_storage_operations_total{operation="verify",status="integrity_fail"}` counted;
 *   DELETE + PUT of the file repairs it; the damaged file is kept under `quarantine/` (its bytes
 *   as found), with an `integrity-fail` audit event and an error log line naming the repository
 *   and path (trial 35: it was deleted, with no audit event);
 * - hosted, large file (over 64 MiB: smaller ones are checked before the first byte, as the
 *   small one is): curl receives less than the announced length and fails (exit 18), never
 *   a complete damaged copy; its audit event is made although the answer was cut;
 * - proxy: the damaged cached copy is refused once, then fetched again from the origin and
 *   served intact.
 * A missing curl skips and says so.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PRECHECK_FILE_BYTES } from '../../../src/storage/blob-store.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';

const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex');

/** The answer memo keeps a small answer up to 1 s: wait it out before reading storage again. */
const pastMemo = () => new Promise((resolve) => setTimeout(resolve, 1100));

describe('damaged stored bytes are refused, removed and repaired (curl)', () => {
  let server: TestServer;
  let origin: http.Server;
  let originUrl = '';
  let originHits = 0;
  const originFiles = new Map<string, Buffer>();
  let work = '';

  const blobFile = (body: Buffer) => {
    const hex = sha256(body);
    return path.join(work, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex);
  };
  const damage = async (body: Buffer, at: number) => {
    const handle = await fs.open(blobFile(body), 'r+');
    try {
      await handle.write(Buffer.from([(body[at] ?? 0) ^ 0xff]), 0, 1, at);
    } finally {
      await handle.close();
    }
  };
  /**
   * The damaged file is removed before the connection is cut (send-body.ts waits for it); polled
   * all the same, up to 5 s.
   */
  const removed = async (body: Buffer) => {
    for (let i = 0; i < 100; i += 1) {
      if (
        !(await fs.stat(blobFile(body)).then(
          () => true,
          () => false,
        ))
      )
        return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail('the damaged file was not removed');
  };
  const curl = (args: string[]) => run('curl', ['-sS', ...args], { check: false });
  const logLines: Record<string, unknown>[] = [];
  /** The damaged file of `body` kept under quarantine/: its one file there, read. */
  const quarantined = async (body: Buffer) => {
    const dir = path.join(work, 'storage', 'quarantine', 'sha256');
    const names = (await fs.readdir(dir)).filter((n) => n.startsWith(`${sha256(body)}.`));
    assert.equal(names.length, 1, `one kept file of the blob in ${dir}: ${names.join(', ')}`);
    return fs.readFile(path.join(dir, names[0] ?? ''));
  };
  /** The `integrity-fail` audit event of `artifact` (audit.jsonl is written every 0.5 s). */
  const auditEvent = async (artifact: string) => {
    for (let i = 0; i < 100; i += 1) {
      const text = await fs
        .readFile(path.join(work, 'storage', 'audit.jsonl'), 'utf8')
        .catch(() => '');
      const events = text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const found = events.find(
        (e) => e['action'] === 'integrity-fail' && e['artifact'] === artifact,
      );
      if (found !== undefined) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return assert.fail(`no integrity-fail audit event of ${artifact}`);
  };
  /** The error log line of the damaged blob of `body`. */
  const logLine = (body: Buffer) =>
    logLines.find((l) => l['blob'] === `sha256:${sha256(body)}` && l['repository'] !== undefined);

  before(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-e2e-damaged-'));
    origin = http.createServer((req, res) => {
      originHits += 1;
      const body = originFiles.get(req.url ?? '');
      if (body === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': String(body.length) }).end(body);
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/dl`;
    server = await start();
  });
  const start = () =>
    startTestServer({
      dataDir: work,
      logLevel: 'error',
      logStream: {
        write: (line: string) => {
          logLines.push(JSON.parse(line) as Record<string, unknown>);
        },
      },
      config: {
        circuit_breaker: { enabled: false },
        repositories: [
          { name: 'mirror', format: 'raw', kind: 'proxy', upstreams: [{ url: originUrl }] },
        ],
      },
    });
  after(async () => {
    await server.close();
    await new Promise<void>((resolve) => {
      origin.close(() => {
        resolve();
      });
    });
    await removeDir(work);
  });

  test(
    'hosted small file: 410 naming the check, removed, counted; DELETE + PUT repairs it',
    { skip: missingTools('curl') },
    async () => {
      const body = Buffer.from('release notes of 1.0\n'.repeat(40));
      const file = path.join(work, 'notes.txt');
      await fs.writeFile(file, body);
      const at = () => `${server.url}/raw/docs/notes.txt`;
      assert.equal((await curl(['-f', '-T', file, at()])).code, 0);
      assert.equal((await curl(['-f', at()])).stdout, body.toString());
      // Raw keeps small hosted files it has read (verified) in memory: a restart after a disk
      // problem reads the store again.
      await server.close();
      await damage(body, 7);
      server = await start();
      const refused = await curl(['-w', '\\n%{http_code}', at()]);
      assert.equal(refused.stdout.slice(-3), '410');
      assert.match(
        refused.stdout,
        /stored file failed its integrity check and was removed, so retrying will not help/,
      );
      await removed(body);
      // Kept as evidence, its bytes as found; an audit event and a log line name the repository
      // and path (trial 35: the file was deleted and no audit event said so).
      const kept = await quarantined(body);
      assert.equal(kept.length, body.length);
      assert.notEqual(sha256(kept), sha256(body));
      const event = await auditEvent('docs/notes.txt');
      assert.equal(event['repository'], 'raw-hosted');
      assert.equal(event['status'], 410);
      assert.match(
        String(event['detail']),
        new RegExp(
          `^sha256:${sha256(body)} failed its integrity check; its file moved to quarantine/sha256/${sha256(body)}\\.`,
        ),
      );
      const line = logLine(body);
      assert.equal(line?.['repository'], 'raw-hosted', JSON.stringify(logLines));
      assert.equal(line['path'], 'docs/notes.txt');
      assert.match(String(line['msg']), /moved to quarantine\/sha256\//);
      const metrics = (await curl(['-f', `${server.url}/metrics`])).stdout;
      assert.match(
        metrics,
        /nora_storage_operations_total\{operation="verify",status="integrity_fail"\} 1/,
      );

      assert.equal((await curl(['-f', '-X', 'DELETE', at()])).code, 0);
      assert.equal((await curl(['-f', '-T', file, at()])).code, 0);
      assert.equal((await curl(['-f', at()])).stdout, body.toString());
    },
  );

  test(
    'hosted large file: curl gets less than announced and fails, never a whole damaged copy',
    { skip: missingTools('curl') },
    async () => {
      const body = Buffer.alloc(PRECHECK_FILE_BYTES + 1024);
      for (let i = 0; i < body.length; i += 1) body[i] = (i * 31) & 0xff;
      const file = path.join(work, 'tool.tar.gz');
      await fs.writeFile(file, body);
      const url = `${server.url}/raw/tools/tool.tar.gz`;
      assert.equal((await curl(['-f', '-T', file, url])).code, 0);
      const good = path.join(work, 'good.bin');
      assert.equal((await curl(['-f', '-o', good, url])).code, 0);
      assert.equal(sha256(await fs.readFile(good)), sha256(body));

      await damage(body, body.length - 1);
      const out = path.join(work, 'damaged.bin');
      const cut = await curl(['-o', out, url]);
      assert.equal(cut.code, 18, `curl: partial file expected, got ${cut.code}: ${cut.stderr}`);
      assert.ok((await fs.stat(out)).size < body.length);
      await removed(body);
      assert.equal((await quarantined(body)).length, body.length);
      // The answer was cut (a 200 whose body ends short): its event is made all the same.
      const event = await auditEvent('tools/tool.tar.gz');
      assert.equal(event['repository'], 'raw-hosted');
      // Removed: the next read says the content is missing (410: hosted, nothing refills it)
      // rather than sending it again.
      const after = await curl(['-o', '/dev/null', '-w', '%{http_code}', url]);
      assert.equal(after.stdout, '410');
    },
  );

  test(
    'proxy: a damaged cached copy is refused once, then fetched again and served intact',
    { skip: missingTools('curl') },
    async () => {
      const small = Buffer.from('checksums of tool 2.0\n'.repeat(30));
      const large = Buffer.alloc(PRECHECK_FILE_BYTES + 5, 0x5a);
      originFiles.set('/dl/tool/2.0/SHA256SUMS', small);
      originFiles.set('/dl/tool/2.0/tool.tgz', large);
      const base = `${server.url}/repository/mirror/tool/2.0`;
      const out = path.join(work, 'proxied.bin');
      assert.equal((await curl(['-f', `${base}/SHA256SUMS`])).stdout, small.toString());
      assert.equal((await curl(['-f', '-o', out, `${base}/tool.tgz`])).code, 0);
      // A proxied file read from the store (not the fill): verified and trusted from now on.
      await pastMemo();
      assert.equal((await curl(['-f', `${base}/SHA256SUMS`])).stdout, small.toString());
      const hitsBefore = originHits;
      await pastMemo();

      await damage(small, 0);
      await damage(large, 100);
      const refused = await curl(['-o', '/dev/null', '-w', '%{http_code}', `${base}/SHA256SUMS`]);
      assert.equal(refused.stdout, '503');
      const cut = await curl(['-o', out, `${base}/tool.tgz`]);
      assert.equal(cut.code, 18, `curl: partial file expected, got ${cut.code}: ${cut.stderr}`);
      await removed(small);
      await removed(large);
      // A proxy's damaged copy is kept too: one file may back a hosted artifact as well, and
      // the bytes say what damaged them, which fetching them again does not.
      assert.equal((await quarantined(small)).length, small.length);
      assert.equal((await auditEvent('tool/2.0/SHA256SUMS'))['repository'], 'mirror');

      assert.equal((await curl(['-f', `${base}/SHA256SUMS`])).stdout, small.toString());
      assert.equal((await curl(['-f', '-o', out, `${base}/tool.tgz`])).code, 0);
      assert.equal(sha256(await fs.readFile(out)), sha256(large));
      assert.equal(originHits - hitsBefore, 2, 'each damaged file fetched again once');
    },
  );
});
