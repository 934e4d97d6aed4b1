/**
 * Findings of the chaos run (2026-12-02), over HTTP against a listening server:
 * 1. The same refused provenance file uploaded concurrently: each refusal removes the blob it
 *    stored, and a concurrent upload of the same bytes, between its rename into place and its
 *    stat of the target, failed with ENOENT → 500. Every answer must be the refusal (4xx).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';

const PROV = [
  '-----BEGIN PGP SIGNED MESSAGE-----',
  'Hash: SHA512',
  '',
  'name: web',
  'version: 1.1.0',
  'files:',
  '  web-1.1.0.tgz: sha256:00',
  '-----BEGIN PGP SIGNATURE-----',
  'xx',
  '-----END PGP SIGNATURE-----',
  '',
].join('\n');

describe('helm: findings of the chaos run', () => {
  test('1: a refused provenance file raced 25 times is a 404 each time, never a 500', async () => {
    await using server = await startTestServer({});
    for (let round = 0; round < 8; round++) {
      const statuses = await Promise.all(
        Array.from({ length: 25 }, async () => {
          const res = await fetch(`${server.url}/helm/api/prov`, { method: 'POST', body: PROV });
          await res.arrayBuffer();
          return res.status;
        }),
      );
      // No chart web-1.1.0 is stored: 404 (a stored one the file does not sign: 400).
      assert.deepEqual(new Set(statuses), new Set([404]), `round ${round}: ${statuses.join(',')}`);
    }
  });
});
