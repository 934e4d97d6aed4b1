/**
 * A fake S3 for tests: moto's `moto_server` (Python) on a free port of 127.0.0.1, when it is
 * installed (`pip install 'moto[server]'`); tests that need it skip with `MOTO_MISSING` where it
 * is not. By default moto accepts any access key and checks no signature; `{ signed: true }`
 * makes it check them (startFakeS3).
 */
import { spawn } from 'node:child_process';
import aws4 from 'aws4';
import { findTool } from './tools.ts';
import { freePort } from './process.ts';

/** For `test(name, { skip: MOTO_MISSING }, …)`: a reason string, or false. */
export const MOTO_MISSING: string | false =
  findTool('moto_server') === undefined
    ? 'moto_server not installed (pip install "moto[server]"): the S3 tests need a fake S3'
    : false;

export interface FakeS3 extends AsyncDisposable {
  readonly url: string;
  /** `{ signed: true }`: the keys of the one IAM user (allowed s3:*) whose signatures pass. */
  readonly credentials?: { readonly accessKey: string; readonly secretKey: string };
  /**
   * Creates a bucket (PUT /<name>): NORA never creates one. `open`: anyone may read and write
   * it (the ACL `public-read-write`), for an anonymous driver.
   */
  createBucket(name: string, options?: { readonly open?: boolean }): Promise<void>;
}

/**
 * Starts moto_server; resolves once it answers. `await using` stops it. `signed`: moto checks
 * every request's SigV4 signature (after the first `INITIAL_NO_AUTH_ACTION_COUNT` requests,
 * the readiness probe, the making of an IAM user and its keys, and of `buckets`); `credentials` are the keys that pass.
 * moto's check (its server's, not AWS's) rejects keys or query values holding `@ + = , /`,
 * even as boto3 signs them: a signed moto suits single-object requests on plain keys only.
 */
export async function startFakeS3(
  options: { readonly signed?: boolean; readonly buckets?: readonly string[] } = {},
): Promise<FakeS3> {
  const tool = findTool('moto_server');
  if (tool === undefined) throw new Error(String(MOTO_MISSING));
  const port = await freePort();
  const buckets = options.buckets ?? [];
  const child = spawn(tool, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env:
      options.signed === true
        ? { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: String(4 + buckets.length) }
        : process.env,
  });
  let output = '';
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) =>
    child.on('exit', () => {
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await fetch(`${url}/`).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not start: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const createBucket = async (name: string, open = false) => {
    const headers: Record<string, string> = open ? { 'x-amz-acl': 'public-read-write' } : {};
    const response = await fetch(`${url}/${name}`, { method: 'PUT', headers });
    if (!response.ok) throw new Error(`create bucket ${name}: HTTP ${response.status}`);
  };
  let credentials: FakeS3['credentials'];
  if (options.signed === true) {
    const iam = async (params: Record<string, string>): Promise<string> => {
      const body = new URLSearchParams({ ...params, Version: '2010-05-08' }).toString();
      const signed = aws4.sign(
        {
          host: `127.0.0.1:${port}`,
          path: '/',
          method: 'POST',
          service: 'iam',
          region: 'us-east-1',
          body,
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        },
        { accessKeyId: 'AKIDSETUP', secretAccessKey: 'setup' },
      );
      const response = await fetch(`${url}/`, {
        method: 'POST',
        headers: signed.headers as Record<string, string>,
        body,
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`moto IAM ${params['Action'] ?? ''}: ${text}`);
      return text;
    };
    await iam({ Action: 'CreateUser', UserName: 'nora' });
    const keys = await iam({ Action: 'CreateAccessKey', UserName: 'nora' });
    await iam({
      Action: 'PutUserPolicy',
      UserName: 'nora',
      PolicyName: 'all-s3',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }],
      }),
    });
    const accessKey = /<AccessKeyId>([^<]+)</.exec(keys)?.[1];
    const secretKey = /<SecretAccessKey>([^<]+)</.exec(keys)?.[1];
    if (accessKey === undefined || secretKey === undefined) throw new Error(`no keys: ${keys}`);
    credentials = { accessKey, secretKey };
  }
  for (const bucket of buckets) await createBucket(bucket);
  return {
    url,
    ...(credentials === undefined ? {} : { credentials }),
    createBucket: (name, createOptions = {}) => createBucket(name, createOptions.open === true),
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
