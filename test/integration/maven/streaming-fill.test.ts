/**
 * A proxied file streams to its first client as it arrives from the upstream (trial13 F8): the
 * Maven proxy used to answer only once the whole upstream download was verified, so a large jar
 * from a slow upstream sent no header and no byte for as long as the download took, and Gradle
 * (30 s read timeout) failed "Read timed out" on every new large artifact. Now the answer goes
 * out once the upstream's `.sha1` and length are known; the fill still holds back the last byte
 * until the body matches that `.sha1`. A body that fails it cuts the download short, is not
 * stored, and the next request waits for verification again, so a later upstream with good
 * bytes is reached.
 *
 * The upstream pauses each body after its first MiB until the test releases it: the answer's
 * headers and first bytes must arrive while it is paused (a fallback timer releases it, so the
 * old behaviour fails the assertions instead of hanging).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const SIZE = 3 * 1024 * 1024;
const FIRST = 1024 * 1024;
/** Releases a paused body if the test never does (the old behaviour): no hang, a failure. */
const FALLBACK_MS = 20_000;

const sha1 = (body: Buffer) => createHash('sha1').update(body).digest('hex');

/** One paused body: the upstream sent its first FIRST bytes and waits for `release`. */
class Paused {
  released = false;
  /** Resolves when the upstream has written the first FIRST bytes. */
  readonly sent: Promise<void>;
  readonly whenReleased: Promise<void>;
  markSent!: () => void;
  #release!: () => void;

  constructor() {
    this.sent = new Promise<void>((resolve) => {
      this.markSent = resolve;
    });
    this.whenReleased = new Promise<void>((resolve) => {
      this.#release = resolve;
    });
    setTimeout(() => {
      this.release();
    }, FALLBACK_MS).unref();
  }

  release(): void {
    this.released = true;
    this.#release();
  }
}

/** An upstream whose file bodies pause after FIRST bytes until released (`.sha1` at once). */
async function pausingUpstream(files: Map<string, { body: Buffer; sha1: string }>) {
  const paused = new Map<string, Paused>();
  const pauseOf = (path: string): Paused => {
    let entry = paused.get(path);
    if (entry === undefined) {
      entry = new Paused();
      paused.set(path, entry);
    }
    return entry;
  };
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').slice(1);
    if (path.endsWith('.sha1')) {
      const file = files.get(path.slice(0, -'.sha1'.length));
      if (file === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-length': 40 }).end(file.sha1);
      return;
    }
    const file = files.get(path);
    if (file === undefined || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': file.body.length });
    const pause = pauseOf(path);
    res.write(file.body.subarray(0, FIRST), () => {
      pause.markSent();
    });
    void pause.whenReleased.then(() => res.end(file.body.subarray(FIRST)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    pauseOf,
    async close() {
      for (const p of paused.values()) p.release();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Reads `res`'s body until at least `bytes` arrived (or it ends); returns the chunks so far. */
async function readAtLeast(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  bytes: number,
): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let total = 0;
  while (total < bytes) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(Buffer.from(value));
    total += value.length;
  }
  return chunks;
}

describe('maven proxy: a slow upstream file streams to its first client', () => {
  const good = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i++) good[i] = (i * 7919) % 251;
  good.write('PK', 0, 'latin1');
  const bad = Buffer.from(good);
  bad[SIZE - 10] = (bad[SIZE - 10] ?? 0) ^ 0xff;
  const first = new Map([
    ['com/t/slowbig/1.0/slowbig-1.0.jar', { body: good, sha1: sha1(good) }],
    ['com/t/group/1.0/group-1.0.jar', { body: good, sha1: sha1(good) }],
    ['com/t/head/1.0/head-1.0.jar', { body: good, sha1: sha1(good) }],
    // Upstream #0 sends bytes that do not match its own .sha1.
    ['com/t/bad/1.0/bad-1.0.jar', { body: bad, sha1: sha1(good) }],
  ]);
  const second = new Map([['com/t/bad/1.0/bad-1.0.jar', { body: good, sha1: sha1(good) }]]);
  let upstream0: Awaited<ReturnType<typeof pausingUpstream>>;
  let upstream1: Awaited<ReturnType<typeof pausingUpstream>>;
  let server: TestServer;

  before(async () => {
    upstream0 = await pausingUpstream(first);
    upstream1 = await pausingUpstream(second);
    server = await startTestServer({
      config: { maven: { proxies: [{ url: upstream0.url }, { url: upstream1.url }] } },
    });
  });
  after(async () => {
    await server.close();
    await upstream0.close();
    await upstream1.close();
  });

  for (const [base, path] of [
    ['/repository/maven-proxy', 'com/t/slowbig/1.0/slowbig-1.0.jar'],
    ['/maven2', 'com/t/group/1.0/group-1.0.jar'],
  ] as const) {
    test(`GET ${base}: headers and bytes before the upstream finished; the last byte after`, async () => {
      const pause = upstream0.pauseOf(path);
      const res = await fetch(`${server.url}${base}/${path}`);
      assert.equal(pause.released, false, 'the answer started while the upstream was paused');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), String(SIZE));
      assert.equal(res.headers.get('etag'), `"${sha1(good)}"`);
      const reader = (res.body ?? assert.fail('no body')).getReader();
      const head = await readAtLeast(reader, 512 * 1024);
      await pause.sent;
      assert.equal(pause.released, false, 'bytes arrived while the upstream was paused');
      pause.release();
      const rest = await readAtLeast(reader, SIZE);
      const body = Buffer.concat([...head, ...rest]);
      assert.equal(body.length, SIZE);
      assert.ok(body.equals(good));
      // Its checksums are those of the verified bytes; later reads come from the store.
      const sum = await fetch(`${server.url}${base}/${path}.sha1`);
      assert.equal(await sum.text(), sha1(good));
      const md5 = await fetch(`${server.url}${base}/${path}.md5`);
      assert.equal(await md5.text(), createHash('md5').update(good).digest('hex'));
      const again = await fetch(`${server.url}${base}/${path}`);
      assert.ok(Buffer.from(await again.arrayBuffer()).equals(good));
    });
  }

  test('HEAD of an uncached file answers before the download ends (Gradle asks HEAD first)', async () => {
    const path = 'com/t/head/1.0/head-1.0.jar';
    const pause = upstream0.pauseOf(path);
    const res = await fetch(`${server.url}/maven2/${path}`, { method: 'HEAD' });
    assert.equal(pause.released, false, 'answered while the upstream was paused');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(SIZE));
    assert.equal(res.headers.get('etag'), `"${sha1(good)}"`);
    pause.release();
    // The fill went on without a reader: the file is stored.
    const get = await fetch(`${server.url}/maven2/${path}`);
    assert.ok(Buffer.from(await get.arrayBuffer()).equals(good));
  });

  test('bytes failing the .sha1: the download is cut short, nothing stored, the next request reaches the next upstream', async () => {
    const path = 'com/t/bad/1.0/bad-1.0.jar';
    const pause = upstream0.pauseOf(path);
    const res = await fetch(`${server.url}/maven2/${path}`);
    assert.equal(res.status, 200);
    const reader = (res.body ?? assert.fail('no body')).getReader();
    await readAtLeast(reader, 512 * 1024);
    pause.release();
    // Never the whole body: the last byte is held until the check, which fails.
    await assert.rejects(readAtLeast(reader, SIZE));
    // Answered once verified now: upstream #0 fails its check, upstream #1 has it.
    upstream1.pauseOf(path).release();
    const next = await fetch(`${server.url}/maven2/${path}`);
    assert.equal(next.status, 200);
    assert.ok(Buffer.from(await next.arrayBuffer()).equals(good));
  });
});
