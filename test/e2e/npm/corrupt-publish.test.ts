/**
 * Upload-archive refusal with the real npm (src/formats/npm/publish.ts, tarball-facts.ts): a
 * package whose tarball is corrupt must be refused with a 400 whose reason npm shows, nothing
 * stored. npm will not send one itself: `npm publish <file>.tgz` of a tarball with a damaged
 * gzip trailer fails in npm ("zlib: incorrect data check", checked below, exit before any
 * request). So npm publishes a good package through a small relay on 127.0.0.1 that swaps the
 * tarball in npm's own PUT body for the damaged one (and sets `integrity`, `shasum` and
 * `length` to match it, so only the archive check can refuse it): what a buggy client or a
 * disk error on the publisher's side would send. npm must fail showing NORA's 400 and reason;
 * the packument stays 404; the same publish without the swap then succeeds.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { npmHome } from '../../helpers/npm-ci.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';

interface PublishBody {
  versions: Record<string, { dist: { integrity?: string; shasum?: string } }>;
  _attachments: Record<string, { data: string; length: number }>;
}

/**
 * A relay to `target` (a server URL) on a free loopback port; while `swap` holds bytes, the
 * tarball of a publish (`PUT` with `_attachments`) is replaced by them, its integrity, shasum
 * and length rewritten to match. Everything else passes through as is.
 */
async function startRelay(
  target: string,
  swap: { bytes?: Buffer | undefined },
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.method === 'PUT' && swap.bytes !== undefined && body.length > 0) {
        const doc = JSON.parse(body.toString('utf8')) as PublishBody;
        const bytes = swap.bytes;
        for (const attachment of Object.values(doc._attachments)) {
          attachment.data = bytes.toString('base64');
          attachment.length = bytes.length;
          for (const version of Object.values(doc.versions)) {
            version.dist.integrity = `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
            version.dist.shasum = createHash('sha1').update(bytes).digest('hex');
          }
        }
        body = Buffer.from(JSON.stringify(doc));
      }
      const headers = { ...req.headers, 'content-length': String(body.length) };
      delete headers['transfer-encoding'];
      const out = http.request(
        new URL(req.url ?? '/', target),
        { method: req.method, headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      out.on('error', () => res.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('relay did not bind');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

describe('npm publish of a corrupt tarball', () => {
  test(
    'npm shows the 400 and its reason; nothing is stored; the intact tarball publishes',
    { skip: missingTools('npm'), timeout: 90_000 },
    async () => {
      await using work = await tempDir('nora-e2e-npm-corrupt-');
      await using server = await startTestServer();
      const swap: { bytes?: Buffer | undefined } = {};
      const relay = await startRelay(server.url, swap);
      try {
        const registry = `${relay.url}/npm/`;
        const home = path.join(work.path, 'home');
        const env = await npmHome(home, registry);
        const npm = (args: string[], cwd: string) =>
          run('npm', args, { cwd, env, check: false, timeoutMs: 45_000 });
        const packument = () => fetch(`${server.url}/npm/nora-corrupt-tarball`);

        const pkg = path.join(work.path, 'pkg');
        await fs.mkdir(pkg);
        await fs.writeFile(
          path.join(pkg, 'package.json'),
          JSON.stringify({ name: 'nora-corrupt-tarball', version: '1.0.0', main: 'index.js' }),
        );
        await fs.writeFile(path.join(pkg, 'index.js'), 'module.exports = 1;\n'.repeat(50));
        const packed = await npm(['pack', '--pack-destination', work.path], pkg);
        assert.equal(packed.code, 0, output(packed));
        const bytes = Buffer.from(
          await fs.readFile(path.join(work.path, 'nora-corrupt-tarball-1.0.0.tgz')),
        );
        const crcAt = bytes.length - 8;
        bytes.writeUInt32LE(~bytes.readUInt32LE(crcAt) >>> 0, crcAt);
        const bad = path.join(work.path, 'bad', 'nora-corrupt-tarball-1.0.0.tgz');
        await fs.mkdir(path.dirname(bad));
        await fs.writeFile(bad, bytes);

        // npm's own check: it reads the whole tarball it is given, and refuses it.
        const local = await npm(['publish', bad, '--access', 'public'], work.path);
        assert.notEqual(local.code, 0, output(local));
        assert.match(output(local), /incorrect data check/, output(local));
        assert.equal((await packument()).status, 404, 'npm sent nothing');

        // The same damage in the body npm sends: refused by NORA, npm shows why.
        swap.bytes = bytes;
        const refused = await npm(['publish', '--access', 'public'], pkg);
        assert.notEqual(refused.code, 0, output(refused));
        assert.match(output(refused), /\b400\b/, output(refused));
        assert.match(
          output(refused),
          /attachment of 1\.0\.0 is not a valid gzipped tarball/,
          output(refused),
        );
        assert.doesNotMatch(output(refused), /\b500\b|Internal Server Error/, output(refused));
        assert.equal((await packument()).status, 404, 'nothing stored');

        swap.bytes = undefined;
        const published = await npm(['publish', '--access', 'public'], pkg);
        assert.equal(published.code, 0, output(published));
        assert.equal((await packument()).status, 200);
      } finally {
        await relay.close();
      }
    },
  );
});
