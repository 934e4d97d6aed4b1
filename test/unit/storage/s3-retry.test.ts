/**
 * The S3 driver's retries, against a small in-process S3 stand-in (PUT/GET/HEAD/DELETE of
 * objects, multipart uploads) that fails the requests a test plans (a status with an S3 error
 * code, a Retry-After, or a connection reset) before answering normally.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer, text } from 'node:stream/consumers';
import type { StorageKey } from '../../../src/storage/driver.ts';
import { S3Driver } from '../../../src/storage/drivers/s3-driver.ts';

const key = (k: string) => k as StorageKey;

/**
 * One planned failure: an HTTP status with an S3 code (a 200 with an `<Error>` body as S3's
 * CompleteMultipartUpload and CopyObject may send), a reset connection, or `lost`: the request
 * is carried out, then the connection reset instead of the answer; `cut`: a GET's headers and
 * its first `cut` body bytes, then the connection reset.
 */
type Failure =
  | { readonly status: number; readonly code: string; readonly retryAfter?: string }
  | 'reset'
  | 'lost'
  | { readonly cut: number };

interface Stand {
  readonly url: string;
  /** Every request seen, `METHOD path?query`, in order. */
  readonly seen: string[];
  /** Bytes of every PUT body received (whole or not), in order. */
  readonly putSizes: number[];
  /** `Range If-Match` of every GET, in order (`-` for a header not sent). */
  readonly gets: string[];
  /**
   * Failures for the next requests matching `method` (any method when undefined; `POST?uploadId`:
   * a POST whose query has `uploadId`, CompleteMultipartUpload).
   */
  fail(failures: readonly Failure[], method?: string): void;
  close(): Promise<void>;
}

/** An ETag that changes with the bytes, as S3's does. */
const etagOf = (bytes: Buffer) => `"${createHash('md5').update(bytes).digest('hex')}"`;

async function startStand(): Promise<Stand> {
  const objects = new Map<string, Buffer>();
  const uploads = new Map<string, Map<number, Buffer>>();
  const seen: string[] = [];
  const putSizes: number[] = [];
  const gets: string[] = [];
  let plan: { failures: Failure[]; method: string | undefined } = {
    failures: [],
    method: undefined,
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stand');
      const method = req.method ?? 'GET';
      seen.push(`${method} ${url.pathname}${url.search}`);
      const body = Buffer.concat(chunks);
      if (method === 'PUT') putSizes.push(body.length);
      if (method === 'GET' && !url.search) {
        gets.push(`${req.headers.range ?? '-'} ${req.headers['if-match'] ?? '-'}`);
      }
      const [planMethod, planQuery] = (plan.method ?? '').split('?');
      let lost = false;
      let cut: number | undefined;
      if (
        plan.method === undefined ||
        (planMethod === method && (planQuery === undefined || url.searchParams.has(planQuery)))
      ) {
        const failure = plan.failures.shift();
        lost = failure === 'lost';
        if (typeof failure === 'object' && 'cut' in failure) cut = failure.cut;
        if (failure === 'reset') {
          req.socket.destroy();
          return;
        }
        if (typeof failure === 'object' && 'status' in failure) {
          const headers: Record<string, string> = { 'Content-Type': 'application/xml' };
          if (failure.retryAfter !== undefined) headers['Retry-After'] = failure.retryAfter;
          res.writeHead(failure.status, headers);
          res.end(
            method === 'HEAD'
              ? undefined
              : `<?xml version="1.0"?><Error><Code>${failure.code}</Code><Message>planned</Message></Error>`,
          );
          return;
        }
      }
      if (lost) {
        // Carried out, its answer lost: a server that is to reset the connection answers it
        // with nothing (the request's effect stays).
        const destroy = () => {
          req.socket.destroy();
          return res;
        };
        res.writeHead = destroy;
        res.end = destroy;
      }
      const objectKey = url.pathname;
      const uploadId = url.searchParams.get('uploadId');
      if (method === 'POST' && url.searchParams.has('uploads')) {
        const id = `u${uploads.size + 1}`;
        uploads.set(id, new Map());
        res.end(
          `<InitiateMultipartUploadResult><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`,
        );
      } else if (method === 'PUT' && uploadId !== null) {
        const part = Number(url.searchParams.get('partNumber'));
        uploads.get(uploadId)?.set(part, body);
        res.writeHead(200, { ETag: `"p${part}"` }).end();
      } else if (method === 'POST' && uploadId !== null) {
        const upload = uploads.get(uploadId);
        if (upload === undefined) {
          res.writeHead(404).end('<Error><Code>NoSuchUpload</Code></Error>');
          return;
        }
        const parts = [...upload.entries()].sort(([a], [b]) => a - b).map(([, bytes]) => bytes);
        objects.set(objectKey, Buffer.concat(parts));
        uploads.delete(uploadId);
        res.end(
          '<CompleteMultipartUploadResult><ETag>"multi"</ETag></CompleteMultipartUploadResult>',
        );
      } else if (method === 'PUT' && req.headers['x-amz-copy-source'] !== undefined) {
        const source = objects.get(String(req.headers['x-amz-copy-source']));
        if (source === undefined) {
          res.writeHead(404).end('<Error><Code>NoSuchKey</Code></Error>');
          return;
        }
        objects.set(objectKey, source);
        res.end('<CopyObjectResult><ETag>"e"</ETag></CopyObjectResult>');
      } else if (method === 'DELETE' && uploadId !== null) {
        uploads.delete(uploadId);
        res.writeHead(204).end();
      } else if (method === 'PUT') {
        objects.set(objectKey, body);
        res.writeHead(200, { ETag: etagOf(body) }).end();
      } else if (method === 'GET' || method === 'HEAD') {
        const object = objects.get(objectKey);
        if (object === undefined) {
          res.writeHead(404).end();
          return;
        }
        const etag = etagOf(object);
        const ifMatch = req.headers['if-match'];
        if (ifMatch !== undefined && ifMatch !== etag) {
          res.writeHead(412).end('<Error><Code>PreconditionFailed</Code></Error>');
          return;
        }
        // `bytes=a-` or `bytes=a-b`, as the driver asks.
        const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
        const from = Number(range?.[1] ?? 0);
        const to = range?.[2] ? Number(range[2]) : object.length - 1;
        const part = object.subarray(from, to + 1);
        res.writeHead(range ? 206 : 200, { 'Content-Length': String(part.length), ETag: etag });
        if (method === 'HEAD') res.end();
        else if (cut === undefined) res.end(part);
        else res.write(part.subarray(0, cut), () => setTimeout(() => req.socket.destroy(), 20));
      } else if (method === 'DELETE') {
        objects.delete(objectKey);
        res.writeHead(204).end();
      } else {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    putSizes,
    gets,
    fail(failures, method) {
      plan = { failures: [...failures], method };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

async function driverOn(
  stand: Stand,
  extra: { multipartThreshold?: number; partSize?: number } = {},
) {
  return S3Driver.open({
    url: stand.url,
    bucket: 'registry',
    accessKey: 'AKIDEXAMPLE',
    secretKey: 'secret',
    region: 'us-east-1',
    localDir: await fs.mkdtemp(path.join(os.tmpdir(), 'nora-s3-retry-')),
    retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 },
    ...extra,
  });
}

const count = (seen: readonly string[], prefix: string) =>
  seen.filter((line) => line.startsWith(prefix)).length;

test('S3 retries: a spooled PUT after 503 SlowDown, 500 InternalError and a reset is sent whole again', async () => {
  const stand = await startStand();
  const driver = await driverOn(stand);
  try {
    const file = path.join(driver.spoolDir(), 'upload');
    const bytes = Buffer.alloc(200_000, 3);
    await fs.writeFile(file, bytes);
    stand.fail(
      [{ status: 503, code: 'SlowDown' }, { status: 500, code: 'InternalError' }, 'reset'],
      'PUT',
    );
    const info = await driver.writeFile(key('blobs/sha256/ab/abc'), file);
    assert.equal(info.size, 200_000);
    assert.equal(count(stand.seen, 'PUT '), 4);
    // Every attempt carried the whole body: the spool file was opened afresh each time.
    assert.deepEqual(stand.putSizes.slice(0, 2), [200_000, 200_000]);
    assert.deepEqual(await buffer(await driver.read(key('blobs/sha256/ab/abc'))), bytes);
    // In-memory bodies (write of bytes) go again too.
    stand.fail([{ status: 502, code: 'BadGateway' }], 'PUT');
    await driver.write(key('blobs/small'), [Buffer.from('ab'), Buffer.from('cd')]);
    assert.equal(await text(await driver.read(key('blobs/small'))), 'abcd');
    // A stream given to write() is spooled first, then sent (and retried) from the spool.
    stand.fail([{ status: 503, code: 'SlowDown' }], 'PUT');
    await driver.write(key('blobs/streamed'), Readable.from([Buffer.from('streamed')]));
    assert.equal(await text(await driver.read(key('blobs/streamed'))), 'streamed');
  } finally {
    await driver.close();
    await stand.close();
  }
});

test('S3 retries: GET, HEAD, DELETE and a 400 RequestTimeout are retried; other 4xx are not', async () => {
  const stand = await startStand();
  const driver = await driverOn(stand);
  try {
    await driver.write(key('blobs/a'), Buffer.from('hello'));
    stand.fail(['reset', { status: 504, code: 'GatewayTimeout' }], 'GET');
    assert.equal(await text(await driver.read(key('blobs/a'))), 'hello');
    stand.fail([{ status: 503, code: 'SlowDown' }], 'HEAD');
    assert.equal((await driver.stat(key('blobs/a')))?.size, 5);
    stand.fail([{ status: 400, code: 'RequestTimeout' }], 'PUT');
    await driver.write(key('blobs/b'), Buffer.from('again'));
    assert.equal(await text(await driver.read(key('blobs/b'))), 'again');
    stand.fail([{ status: 500, code: 'InternalError' }], 'DELETE');
    assert.equal(await driver.delete(key('blobs/b')), true);
    assert.equal(await driver.stat(key('blobs/b')), undefined);
    // A 400 of another code is the caller's at once, its code still in the error.
    const before = count(stand.seen, 'PUT ');
    stand.fail([{ status: 400, code: 'InvalidArgument' }], 'PUT');
    await assert.rejects(
      driver.write(key('blobs/c'), Buffer.from('x')),
      /HTTP 400 InvalidArgument \(planned\)/,
    );
    assert.equal(count(stand.seen, 'PUT ') - before, 1);
  } finally {
    await driver.close();
    await stand.close();
  }
});

test('S3 retries: bounded (gives up after the attempts with the last error) and Retry-After is honoured', async () => {
  const stand = await startStand();
  const driver = await driverOn(stand);
  try {
    await driver.write(key('blobs/a'), Buffer.from('hello'));
    const failures = Array.from({ length: 10 }, () => ({ status: 503, code: 'SlowDown' }));
    stand.fail(failures, 'GET');
    await assert.rejects(driver.read(key('blobs/a')), /GET blobs\/a: HTTP 503 SlowDown/);
    assert.equal(count(stand.seen, 'GET '), 4);
    stand.fail([{ status: 503, code: 'SlowDown', retryAfter: '1' }], 'GET');
    const started = Date.now();
    assert.equal(await text(await driver.read(key('blobs/a'))), 'hello');
    assert.ok(Date.now() - started >= 900, 'waited the second Retry-After asked for');
  } finally {
    await driver.close();
    await stand.close();
  }
});

test('S3 retries: a multipart part is re-sent from its range of the spool; POSTs are not retried', async () => {
  const stand = await startStand();
  const driver = await driverOn(stand, { multipartThreshold: 1024, partSize: 5 * 1024 * 1024 });
  try {
    const file = path.join(driver.spoolDir(), 'multi');
    const bytes = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = i % 251;
    await fs.writeFile(file, bytes);
    stand.fail(['reset', { status: 503, code: 'SlowDown' }], 'PUT');
    assert.equal((await driver.writeFile(key('blobs/multi'), file)).size, bytes.length);
    // Two parts (5 MiB + 1 MiB), the first sent three times, each time its whole range.
    assert.equal(count(stand.seen, 'PUT '), 4);
    assert.deepEqual(stand.putSizes, [5242880, 5242880, 5242880, 1048576]);
    assert.deepEqual(await buffer(await driver.read(key('blobs/multi'))), bytes);
    // CreateMultipartUpload is not idempotent (a second would leave an upload behind).
    const file2 = path.join(driver.spoolDir(), 'multi2');
    await fs.writeFile(file2, bytes);
    const posts = count(stand.seen, 'POST ');
    stand.fail([{ status: 503, code: 'SlowDown' }], 'POST');
    await assert.rejects(driver.writeFile(key('blobs/multi2'), file2), /HTTP 503 SlowDown/);
    assert.equal(count(stand.seen, 'POST ') - posts, 1);
  } finally {
    await driver.close();
    await stand.close();
  }
});

test('S3 200 with an <Error> body: CompleteMultipartUpload and CopyObject are errors, retried when transient', async () => {
  const stand = await startStand();
  const driver = await driverOn(stand, { multipartThreshold: 1024, partSize: 5 * 1024 * 1024 });
  const bytes = Buffer.alloc(6 * 1024 * 1024, 7);
  const spooled = async (name: string) => {
    const file = path.join(driver.spoolDir(), name);
    await fs.writeFile(file, bytes);
    return file;
  };
  try {
    // 200 InternalError, 200 SlowDown: the assembly failed; sent again, then it succeeds.
    stand.fail(
      [
        { status: 200, code: 'InternalError' },
        { status: 200, code: 'SlowDown' },
      ],
      'POST?uploadId',
    );
    assert.equal((await driver.writeFile(key('blobs/m1'), await spooled('m1'))).size, bytes.length);
    assert.equal(count(stand.seen, 'POST /registry/blobs/m1?uploadId'), 3);
    assert.deepEqual(await buffer(await driver.read(key('blobs/m1'))), bytes);

    // A 200 whose error is not transient: the write fails with it, nothing is stored, the
    // upload is aborted.
    stand.fail([{ status: 200, code: 'InvalidPart' }], 'POST?uploadId');
    await assert.rejects(
      driver.writeFile(key('blobs/m2'), await spooled('m2')),
      /CompleteMultipartUpload blobs\/m2: HTTP 200 InvalidPart \(planned\)/,
    );
    assert.equal(await driver.stat(key('blobs/m2')), undefined);
    assert.equal(count(stand.seen, 'DELETE /registry/blobs/m2?uploadId'), 1);

    // Transient every time: bounded, then the last error.
    stand.fail(
      Array.from({ length: 10 }, () => ({ status: 200, code: 'InternalError' })),
      'POST?uploadId',
    );
    await assert.rejects(
      driver.writeFile(key('blobs/m3'), await spooled('m3')),
      /HTTP 200 InternalError/,
    );
    assert.equal(count(stand.seen, 'POST /registry/blobs/m3?uploadId'), 4);
    assert.equal(await driver.stat(key('blobs/m3')), undefined);

    // Completed, its answer lost: the retry's NoSuchUpload with the whole object stored is
    // that success.
    stand.fail(['lost'], 'POST?uploadId');
    assert.equal((await driver.writeFile(key('blobs/m4'), await spooled('m4'))).size, bytes.length);
    assert.deepEqual(await buffer(await driver.read(key('blobs/m4'))), bytes);

    // CopyObject: 200 SlowDown is retried; 200 AccessDenied fails the copy.
    await driver.write(key('blobs/src'), Buffer.from('copied'));
    stand.fail([{ status: 200, code: 'SlowDown' }], 'PUT');
    assert.equal((await driver.copy(key('blobs/src'), key('blobs/dst'))).size, 6);
    assert.equal(await text(await driver.read(key('blobs/dst'))), 'copied');
    stand.fail([{ status: 200, code: 'AccessDenied' }], 'PUT');
    await assert.rejects(
      driver.copy(key('blobs/src'), key('blobs/dst2')),
      /CopyObject blobs\/src -> blobs\/dst2: HTTP 200 AccessDenied/,
    );
    assert.equal(await driver.stat(key('blobs/dst2')), undefined);
  } finally {
    await driver.close();
    await stand.close();
  }
});

test('S3 GET whose body breaks: resumed from the byte reached on the same ETag, else an error, never short', async () => {
  const stand = await startStand();
  const driver = await driverOn(stand);
  try {
    const bytes = Buffer.alloc(300_000);
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = i % 253;
    await driver.write(key('blobs/big'), bytes);
    const etag = etagOf(bytes);

    // Broken twice: two resumes, each from where the bytes reached, on the same ETag.
    stand.gets.length = 0;
    stand.fail([{ cut: 100_000 }, { cut: 50_000 }], 'GET');
    assert.deepEqual(await buffer(await driver.read(key('blobs/big'))), bytes);
    assert.deepEqual(stand.gets, ['- -', `bytes=100000- ${etag}`, `bytes=150000- ${etag}`]);

    // A ranged read resumes inside its range.
    stand.gets.length = 0;
    stand.fail([{ cut: 1000 }], 'GET');
    const part = await buffer(await driver.read(key('blobs/big'), { start: 10, end: 20_009 }));
    assert.deepEqual(part, bytes.subarray(10, 20_010));
    assert.deepEqual(stand.gets, ['bytes=10-20009 -', `bytes=1010-20009 ${etag}`]);

    // Broken more often than the retry policy allows: an error naming the bytes reached.
    stand.fail(
      Array.from({ length: 6 }, () => ({ cut: 10 })),
      'GET',
    );
    const chunks: Buffer[] = [];
    const stream = await driver.read(key('blobs/big'));
    await assert.rejects(
      (async () => {
        for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
      })(),
      /S3 GET blobs\/big: the body broke at 40 of 300000 bytes, 3 resumes/,
    );
    assert.equal(Buffer.concat(chunks).length, 40);

    // Rewritten between the break and the resume: the old bytes are not stitched to the new.
    stand.fail([{ cut: 100_000 }], 'GET');
    const changing = await driver.read(key('blobs/big'));
    await driver.write(key('blobs/big'), Buffer.alloc(300_000, 1));
    await assert.rejects(
      buffer(changing),
      /the object changed \(ETag no longer .*\) after 100000 of 300000 bytes; not resumed/,
    );
  } finally {
    await driver.close();
    await stand.close();
  }
});
