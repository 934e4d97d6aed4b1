/**
 * Raw errors to JSON clients (trial 33): a client that asks for JSON as a listing's does
 * (`?format=json`, or `Accept: application/json` without `text/html`) gets its 4xx as
 * `{"error": "<message>"}` with `Content-Type: application/json`; other clients keep the one
 * line of plain text. `?format=` other than json or html is a 400 naming the accepted values
 * (it used to answer the HTML listing). Requests with curl, the client the docs show.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { missingTools, run } from '../../helpers/tools.ts';

describe(
  'raw: errors in the representation the client asked for',
  { skip: missingTools('curl') },
  () => {
    let server: TestServer;

    /** curl's status, Content-Type and body of a GET with `headers`. */
    const curl = async (path: string, ...headers: string[]) => {
      const done = await run(
        'curl',
        [
          '-sS',
          '-w',
          '\n%{http_code} %{content_type}',
          ...headers.flatMap((h) => ['-H', h]),
          `${server.url}${path}`,
        ],
        { check: false },
      );
      const at = done.stdout.lastIndexOf('\n');
      const [status, type] = done.stdout.slice(at + 1).split(' ');
      return { status: Number(status), type: type ?? '', body: done.stdout.slice(0, at) };
    };

    before(async () => {
      server = await startTestServer();
      const put = await fetch(`${server.url}/raw/mir/a.txt`, { method: 'PUT', body: 'a\n' });
      assert.equal(put.status, 201);
    });
    after(async () => {
      await server.close();
    });

    test('?format=json: a bad limit is a JSON 400', async () => {
      const res = await curl('/raw/mir/?format=json&limit=0');
      assert.equal(res.status, 400);
      assert.match(res.type, /^application\/json/);
      assert.deepEqual(JSON.parse(res.body), { error: 'limit must be an integer from 1 to 10000' });
    });

    test('Accept: application/json: a missing folder and a missing file are JSON 404s', async () => {
      for (const path of ['/raw/nothing/', '/raw/mir/nothing.txt']) {
        const res = await curl(path, 'Accept: application/json');
        assert.equal(res.status, 404, path);
        assert.match(res.type, /^application\/json/, path);
        const body = JSON.parse(res.body) as { error?: unknown };
        assert.equal(typeof body.error, 'string', res.body);
        assert.match(String(body.error), /not found/, res.body);
      }
    });

    test('other clients keep the plain text line', async () => {
      const res = await curl('/raw/nothing/');
      assert.equal(res.status, 404);
      assert.match(res.type, /^text\/plain/);
      assert.doesNotMatch(res.body, /^\{/);
    });

    test('?format=xml is a 400 naming json and html; html and json still answer', async () => {
      const xml = await curl('/raw/mir/?format=xml');
      assert.equal(xml.status, 400, xml.body);
      assert.match(xml.body, /format must be json or html/);
      assert.equal((await curl('/raw/mir/?format=json&format=xml')).status, 400);
      const html = await curl('/raw/mir/?format=html');
      assert.equal(html.status, 200);
      assert.match(html.type, /^text\/html/);
      const json = await curl('/raw/mir/?format=json');
      assert.equal(json.status, 200);
      assert.equal((JSON.parse(json.body) as { entries: unknown[] }).entries.length, 1);
      // A file is a file whatever the query says.
      assert.equal((await curl('/raw/mir/a.txt?format=xml')).status, 200);
    });
  },
);
