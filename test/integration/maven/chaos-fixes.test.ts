/**
 * Findings of the chaos run (2026-12-02), over HTTP against a listening server:
 * 1. A release redeployed with other bytes (409) while the same bytes were deployed at a new
 *    path: both uploads saw the blob missing and reported it created, the refused one deleted
 *    it, and the accepted artifact (201) then answered 500 to every GET: its bytes were gone.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { zipLike } from '../../helpers/zip-fixtures.ts';

describe('maven: findings of the chaos run', () => {
  test('1: a refused redeploy racing a deploy of the same bytes leaves the deployed file whole', async () => {
    await using server = await startTestServer({});
    const put = async (path: string, body: Buffer) => {
      const res = await fetch(`${server.url}/maven2/${path}`, { method: 'PUT', body });
      await res.arrayBuffer();
      return res.status;
    };
    assert.equal(await put('com/chaos/a/1.0/a-1.0.jar', zipLike(1000)), 201);
    for (let round = 0; round < 4; round++) {
      const bytes = zipLike(300_000);
      const statuses = await Promise.all(
        Array.from({ length: 10 }, (_, i) => [
          put('com/chaos/a/1.0/a-1.0.jar', bytes),
          put(`com/chaos/b${round}/1.${i}/b${round}-1.${i}.jar`, bytes),
        ]).flat(),
      );
      assert.deepEqual(
        statuses,
        Array.from({ length: 10 }, () => [409, 201]).flat(),
        `round ${round}`,
      );
      for (let i = 0; i < 10; i++) {
        const res = await fetch(
          `${server.url}/maven2/com/chaos/b${round}/1.${i}/b${round}-1.${i}.jar`,
        );
        assert.equal(res.status, 200, `round ${round}, file ${i}`);
        assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
      }
    }
  });
});
