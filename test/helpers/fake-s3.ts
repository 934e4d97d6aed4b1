/**
 * A fake S3 for tests: moto's `moto_server` (Python) on a free port of 127.0.0.1, when it is
 * installed (`pip install 'moto[server]'`); tests that need it skip with `MOTO_MISSING` where it
 * is not. moto accepts any access key and does not check signatures, so the tests that need a
 * refusal (403) use their own tiny server.
 */
import { spawn } from 'node:child_process';
import { findTool } from './tools.ts';
import { freePort } from './process.ts';

/** For `test(name, { skip: MOTO_MISSING }, …)`: a reason string, or false. */
export const MOTO_MISSING: string | false =
  findTool('moto_server') === undefined
    ? 'moto_server not installed (pip install "moto[server]"): the S3 tests need a fake S3'
    : false;

export interface FakeS3 extends AsyncDisposable {
  readonly url: string;
  /**
   * Creates a bucket (PUT /<name>): NORA never creates one. `open`: anyone may read and write
   * it (the ACL `public-read-write`), for an anonymous driver.
   */
  createBucket(name: string, options?: { readonly open?: boolean }): Promise<void>;
}

/** Starts moto_server; resolves once it answers. `await using` stops it. */
export async function startFakeS3(): Promise<FakeS3> {
  const tool = findTool('moto_server');
  if (tool === undefined) throw new Error(String(MOTO_MISSING));
  const port = await freePort();
  const child = spawn(tool, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
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
  return {
    url,
    async createBucket(name, options = {}) {
      const headers: Record<string, string> =
        options.open === true ? { 'x-amz-acl': 'public-read-write' } : {};
      const response = await fetch(`${url}/${name}`, { method: 'PUT', headers });
      if (!response.ok) throw new Error(`create bucket ${name}: HTTP ${response.status}`);
    },
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
