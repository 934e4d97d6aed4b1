/**
 * Bad paths under `/ui/` answer the UI's HTML 400 page (trial 30: they answered the HTTP layer's
 * JSON 400, which a browser shows as a broken page); `/api/ui/` keeps JSON. Sent with curl
 * `--path-as-is` (fetch would resolve the dot segments itself). An empty segment in a name
 * (`/ui/raw/dir//x`) is refused with 400 too, as docs/ui.md says, not a 404.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';
import { translator } from '../../../src/ui/i18n.ts';

async function curl(
  url: string,
  headers: readonly string[] = [],
): Promise<{ status: number; type: string; body: string }> {
  const done = await run(
    'curl',
    [
      '-sS',
      '--path-as-is',
      ...headers.flatMap((h) => ['-H', h]),
      '-w',
      '\n%{http_code} %{content_type}',
      url,
    ],
    { check: false },
  );
  assert.equal(done.code, 0, output(done));
  const at = done.stdout.lastIndexOf('\n');
  const [status = '', type = ''] = done.stdout.slice(at + 1).split(' ');
  return { status: Number(status), type, body: done.stdout.slice(0, at) };
}

describe('web UI: bad paths', { skip: missingTools('curl') }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({});
    const put = await fetch(`${server.url}/raw/dir/x`, { method: 'PUT', body: 'x' });
    assert.ok(put.status < 300, String(put.status));
  });
  after(async () => {
    await server.close();
  });

  test('the UI answers its HTML 400 page, /api/ui its JSON', async () => {
    for (const bad of [
      '/raw/dir/..%2Fx',
      '/raw/a/../b',
      '/maven/..%2F..%2Fx',
      '/npm/a%2F..%2F..%2Fb',
      '/raw/%00',
      '/raw/dir//x',
      '/raw//dir',
      '/raw/dir/%01',
    ]) {
      const page = await curl(`${server.url}/ui${bad}`, ['Accept-Language: ru']);
      assert.equal(page.status, 400, `${bad}: ${page.body}`);
      assert.match(page.type, /^text\/html/, bad);
      assert.match(page.body, /^<!DOCTYPE html>[\s\S]*<html lang="ru">/, bad);
      assert.ok(page.body.includes(translator('ru')('error.badRequest')), bad);
      const api = await curl(`${server.url}/api/ui${bad}`);
      assert.equal(api.status, 400, `api ${bad}: ${api.body}`);
      assert.match(api.type, /^application\/json/, bad);
      assert.equal(typeof (JSON.parse(api.body) as { error?: unknown }).error, 'string');
    }
    // What is fine still opens: the folder, the file, the root.
    for (const good of ['/raw/dir', '/raw/dir/x', '/raw/%2F', '/raw/dir/']) {
      assert.equal((await curl(`${server.url}/ui${good}`)).status, 200, good);
    }
  });
});
