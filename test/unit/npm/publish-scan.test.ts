/** The streaming publish-body scanner: same JSON, attachments decoded to spool files, any chunking. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import { isRegistryError } from '../../../src/core/errors.ts';
import { PUBLISH_LIMITS, scanPublishBody } from '../../../src/formats/npm/publish-scan.ts';

function chunked(buffer: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buffer.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let start = 0;
  for (const p of points) {
    out.push(buffer.subarray(start, p));
    start = p;
  }
  out.push(buffer.subarray(start));
  return out.filter((b) => b.length > 0);
}

async function scan(chunks: Buffer[], max = 1 << 30) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-scan-'));
  try {
    const result = await scanPublishBody(
      Readable.from(chunks),
      () => Promise.resolve(path.join(dir, randomUUID())),
      max,
    );
    const files = new Map<string, Buffer>();
    for (const [id, spool] of result.spools) files.set(id, await fs.readFile(spool.path));
    await result.cleanup();
    assert.deepEqual(await fs.readdir(dir), [], 'cleanup removes every spool');
    return { text: result.text, files };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('any chunking: metadata kept verbatim, attachments decoded to spools', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 300 }),
      fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 })),
      fc.array(fc.nat(2000), { maxLength: 8 }),
      async (bytes, extra, cuts) => {
        const data = Buffer.from(bytes);
        const body = {
          ...extra,
          name: 'p\u00e9',
          _attachments: {
            'p-1.0.0.tgz': {
              content_type: 'x',
              data: data.toString('base64'),
              length: data.length,
            },
          },
        };
        const raw = Buffer.from(JSON.stringify(body));
        const { text, files } = await scan(chunked(raw, cuts));
        const parsed = JSON.parse(text) as { _attachments: Record<string, { data: string }> };
        const id = parsed._attachments['p-1.0.0.tgz']!.data;
        assert.deepEqual(files.get(id), data);
        assert.deepEqual(
          { ...parsed, _attachments: {} },
          { ...JSON.parse(raw.toString()), _attachments: {} },
        );
      },
    ),
    { numRuns: 150 },
  );
});

test('bad base64, escapes in data, truncation and oversize are 4xx', async () => {
  const cases: [string, number][] = [
    ['{"_attachments":{"a.tgz":{"data":"@@@@"}}}', 400],
    ['{"_attachments":{"a.tgz":{"data":"QQ==QQ=="}}}', 400],
    ['{"_attachments":{"a.tgz":{"data":"QU\\u0042"}}}', 400],
    ['{"_attachments":{"a.tgz":{"data":"QUJD', 400],
    ['{"_attachments":{"a.tgz":{"data":"QUJ"}}}', 400],
  ];
  for (const [body, status] of cases) {
    await assert.rejects(
      scan([Buffer.from(body)]),
      (err) => isRegistryError(err) && err.status === status,
      body,
    );
  }
  await assert.rejects(
    scan([Buffer.from('{"a":"' + 'x'.repeat(100) + '"}')], 50),
    (err) => isRegistryError(err) && err.status === 413,
  );
});

test('a refused body leaves no spool file, even one whose open had not settled yet', async () => {
  // The refusal came while the spool's write stream was still opening its file: the removal
  // found nothing and the open then created it, after the 400 (a few in 300 here, unloaded).
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-scan-refused-'));
  try {
    const body = Buffer.from('{"name":"x","versions":{},"_attachments":{"x.tgz":{"data":"***"}}}');
    for (let i = 0; i < 1000; i++) {
      await assert.rejects(
        scanPublishBody(
          Readable.from([body]),
          () => Promise.resolve(path.join(dir, randomUUID())),
          1 << 20,
        ),
        (err) => isRegistryError(err) && err.status === 400,
      );
    }
    assert.deepEqual(await fs.readdir(dir), []);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('spool files and counts are bounded by the limits, refused before the entry past them', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-scan-'));
  let created = 0;
  const spoolPath = () => {
    created++;
    return Promise.resolve(path.join(dir, randomUUID()));
  };
  const entries = (n: number) =>
    Array.from({ length: n }, (_, i) => `"a${i}.tgz":{"data":"QUJD"}`).join(',');
  try {
    // Exactly at the bound: accepted, one spool each.
    const ok = await scanPublishBody(
      Readable.from([Buffer.from(`{"_attachments":{${entries(PUBLISH_LIMITS.attachments)}}}`)]),
      spoolPath,
      1 << 30,
    );
    assert.equal(ok.spools.size, PUBLISH_LIMITS.attachments);
    await ok.cleanup();
    created = 0;
    // 200,000 entries: refused at entry 17, with 16 spools created and all removed.
    await assert.rejects(
      scanPublishBody(
        Readable.from([Buffer.from(`{"_attachments":{${entries(200_000)}}}`)]),
        spoolPath,
        1 << 30,
      ),
      (err) => isRegistryError(err) && err.status === 400 && /attachments/.test(err.message),
    );
    assert.equal(created, PUBLISH_LIMITS.attachments);
    assert.deepEqual(await fs.readdir(dir), []);
    // More versions than attachments allow, in either order.
    const versions = Array.from({ length: 17 }, (_, i) => `"1.0.${i}":{}`).join(',');
    for (const body of [
      `{"versions":{${versions}},"_attachments":{"a.tgz":{"data":""}}}`,
      `{"_attachments":{"a.tgz":{"data":""}},"versions":{${versions}}}`,
    ]) {
      await assert.rejects(
        scanPublishBody(Readable.from([Buffer.from(body)]), spoolPath, 1 << 30),
        (err) => isRegistryError(err) && /at most 16 versions/.test(err.message),
      );
    }
    // Without attachments (a deprecate), many versions are fine.
    const update = await scanPublishBody(
      Readable.from([Buffer.from(`{"versions":{${versions}},"_attachments":{}}`)]),
      spoolPath,
      1 << 30,
    );
    await update.cleanup();
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
