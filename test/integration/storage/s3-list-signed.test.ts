/**
 * ListObjectsV2 with signed requests: continuation tokens and prefixes holding characters that
 * need encoding, against a stand-in that checks every request's SigV4 signature with its own
 * computation (not the aws4 package the driver signs with), then against moto_server (skipped,
 * and said so, when it is not installed).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { StorageKey } from '../../../src/storage/driver.ts';
import { S3Driver } from '../../../src/storage/drivers/s3-driver.ts';
import { MOTO_MISSING, startFakeS3 } from '../../helpers/fake-s3.ts';

const key = (k: string) => k as StorageKey;
const ACCESS = 'AKIDLISTTEST';
const SECRET = 'list/secret+key=';
const REGION = 'eu-west-3';

/** RFC 3986 as SigV4 wants it: unreserved characters stay, everything else is %XX. */
const rfc3986 = (text: string) =>
  encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const hmac = (k: Buffer | string, text: string) => createHmac('sha256', k).update(text).digest();

/**
 * True when `req` carries a valid SigV4 header signature for ACCESS/SECRET (AWS SigV4
 * "Create a canonical request": the path and query decoded and encoded again, sorted).
 */
function signatureValid(req: http.IncomingMessage): boolean {
  const auth =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      req.headers.authorization ?? '',
    );
  if (auth === null || auth[1] !== ACCESS || auth[3] !== REGION) return false;
  const [, , date = '', , signed = '', signature = ''] = auth;
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const rawPath = q === -1 ? raw : raw.slice(0, q);
  const rawQuery = q === -1 ? '' : raw.slice(q + 1);
  const uri = rawPath
    .split('/')
    .map((s) => rfc3986(decodeURIComponent(s)))
    .join('/');
  const query = rawQuery
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const [name = '', value = ''] = p.split('=');
      return [rfc3986(decodeURIComponent(name)), rfc3986(decodeURIComponent(value))] as const;
    })
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([n, v]) => `${n}=${v}`)
    .join('&');
  const names = signed.split(';');
  const headers = names
    .map(
      (n) =>
        `${n}:${String(req.headers[n] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const canonical = [
    req.method,
    uri,
    query,
    headers,
    signed,
    String(req.headers['x-amz-content-sha256']),
  ].join('\n');
  const amzDate = String(req.headers['x-amz-date']);
  const scope = `${date}/${REGION}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${SECRET}`, date), REGION), 's3'), 'aws4_request');
  return names.includes('host') && hmac(signingKey, toSign).toString('hex') === signature;
}

/** Keys whose names need encoding in a query: space, +, =, &, %, non-ASCII. */
const KEYS = [
  'raw/a b+c=d&e%f/1.txt',
  'raw/a b+c=d&e%f/2.txt',
  'raw/a b+c=d&e%f/sub/é 3.txt',
  'raw/a b+c=d&e%f/sub/4',
  'raw/a b+c=d&e%f/5',
  'raw/a b+c=d&e%f-not-under/x',
  'raw/other/y',
];

test('ListObjectsV2, signed: continuation tokens and encoded prefixes pass a SigV4 check', async () => {
  const seen: string[] = [];
  let rejected = 0;
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    if (!signatureValid(req)) {
      rejected += 1;
      res.writeHead(403).end('<Error><Code>SignatureDoesNotMatch</Code></Error>');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://stand');
    const prefix = url.searchParams.get('prefix') ?? '';
    const after = url.searchParams.get('continuation-token');
    const all = KEYS.filter((k) => k.startsWith(prefix)).sort();
    // Pages of two; the token is the last key given, dressed in characters that need encoding.
    const from = after === null ? 0 : all.indexOf(after.slice('tok+/='.length)) + 1;
    const page = all.slice(from, from + 2);
    const more = from + 2 < all.length;
    const esc = (t: string) => t.replace(/&/g, '&amp;');
    res.end(
      `<ListBucketResult>${page
        .map((k) => `<Contents><Key>${esc(k)}</Key><Size>1</Size><ETag>"e"</ETag></Contents>`)
        .join('')}<IsTruncated>${String(more)}</IsTruncated>${
        more
          ? `<NextContinuationToken>${esc(`tok+/=${page.at(-1) ?? ''}`)}</NextContinuationToken>`
          : ''
      }</ListBucketResult>`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const driver = await S3Driver.open({
    url: `http://127.0.0.1:${port}`,
    bucket: 'registry',
    accessKey: ACCESS,
    secretKey: SECRET,
    region: REGION,
    localDir: await fs.mkdtemp(path.join(os.tmpdir(), 'nora-s3-list-')),
  });
  try {
    const listed: string[] = [];
    for await (const info of driver.list(key('raw/a b+c=d&e%f'))) listed.push(info.key);
    assert.deepEqual(listed, KEYS.slice(0, 5).sort());
    assert.equal(rejected, 0, 'every request passed the signature check');
    assert.equal(seen.length, 3, 'three pages');
    // The stand rejects a wrong signature (the check is not vacuous).
    const wrong = await S3Driver.open({
      url: `http://127.0.0.1:${port}`,
      bucket: 'registry',
      accessKey: ACCESS,
      secretKey: 'not-the-secret',
      region: REGION,
      localDir: await fs.mkdtemp(path.join(os.tmpdir(), 'nora-s3-list-')),
    });
    await assert.rejects(
      (async () => {
        for await (const info of wrong.list(key('raw/other'))) assert.ok(info);
      })(),
      /HTTP 403 SignatureDoesNotMatch/,
    );
    await wrong.close();
  } finally {
    await driver.close();
    server.closeAllConnections();
    server.close();
  }
});

test(
  'ListObjectsV2 against moto_server: pages of continuation tokens under an encoded prefix',
  { skip: MOTO_MISSING },
  async () => {
    await using s3 = await startFakeS3({ buckets: ['listing'] });
    const driver = await S3Driver.open({
      url: s3.url,
      bucket: 'listing',
      accessKey: 'test-access',
      secretKey: 'test-secret',
      region: 'us-east-1',
      localDir: await fs.mkdtemp(path.join(os.tmpdir(), 'nora-s3-list-')),
    });
    try {
      // More than one page of 1,000 (moto's and S3's page size): the token is followed.
      const many = Array.from(
        { length: 1005 },
        (_, i) => `blobs/p q+r/${String(i).padStart(4, '0')}`,
      );
      for (const k of [...many, ...KEYS]) await driver.write(key(k), Buffer.from('x'));
      const listed: string[] = [];
      for await (const info of driver.list(key('blobs/p q+r'))) listed.push(info.key);
      assert.deepEqual(listed, many);
      const encoded: string[] = [];
      for await (const info of driver.list(key('raw/a b+c=d&e%f'))) encoded.push(info.key);
      assert.deepEqual(encoded, KEYS.slice(0, 5).sort());
    } finally {
      await driver.close();
    }
  },
);
