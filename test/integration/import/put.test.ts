/**
 * putIfMissing (src/import/put.ts, the raw and Maven writers' publish) against a listening NORA,
 * when another import stores the same path between its HEAD and its PUT: NORA answers 409
 * (immutable); the same bytes are then `skipped`, different bytes stay `failed`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { putIfMissing } from '../../../src/import/put.ts';
import type { NoraTarget, WriteContext } from '../../../src/import/types.ts';
import { defaultTarget, failureReason, noraTarget } from '../../helpers/import-writer.ts';
import { startTestServer } from '../../helpers/server.ts';

/** `base` as a NoraTarget whose first HEAD says 404: the other run's PUT lands after it. */
function lateTarget(base: string): NoraTarget {
  const real = noraTarget(base);
  let first = true;
  return {
    ...real,
    async request(method, path, options) {
      if (method === 'HEAD' && first) {
        first = false;
        return real.request('HEAD', '/raw/never/there.txt');
      }
      return real.request(method, path, options);
    },
  };
}

function context(base: string, path: string, data: Buffer): WriteContext {
  return {
    source: { name: 'files', packageType: 'generic', kind: 'local' },
    file: { path, size: data.length, sha256: createHash('sha256').update(data).digest('hex') },
    target: defaultTarget('raw', '/raw'),
    nora: lateTarget(base),
    open: () => Promise.resolve({ stream: Readable.from([data]), length: data.length }),
    sourceRegistry: () => {
      throw new Error('no Docker source');
    },
    signal: new AbortController().signal,
  };
}

test('a 409 for the same bytes stored meanwhile is skipped; for other bytes it fails', async () => {
  await using server = await startTestServer();
  const data = Buffer.from('stored by the other run\n');
  for (const p of ['same.txt', 'other.txt']) {
    const put = await fetch(`${server.url}/raw/${p}`, { method: 'PUT', body: data });
    assert.equal(put.status, 201);
  }
  const same = await putIfMissing(context(server.url, 'same.txt', data), '/raw/same.txt');
  assert.equal(same.status, 'skipped', JSON.stringify(same));
  const other = await putIfMissing(
    context(server.url, 'other.txt', Buffer.from('different\n')),
    '/raw/other.txt',
  );
  assert.match(failureReason(other), /^409 /);
});
