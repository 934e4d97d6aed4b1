/**
 * Hosted raw repositories over HTTP (a started server): PUT/GET/HEAD/DELETE, immutability and
 * conditional writes (If-None-Match: *, If-Match compare-and-swap, racing writers), Range and
 * If-Range, conditional GETs, the size limit (declared and mid-stream), bad paths, file/folder
 * conflicts, listings (JSON, HTML, pagination), and auth (anonymous read on/off, tokens, rules).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import fs from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { send } from '../../helpers/send.ts';

const sha256 = (body: string | Buffer) => createHash('sha256').update(body).digest('hex');

describe('raw hosted (auth off)', () => {
  let server: TestServer;
  let port = 0;
  const put = (p: string, body: string, headers: Record<string, string> = {}) =>
    send(
      port,
      'PUT',
      `/raw/${p}`,
      { 'content-type': 'application/octet-stream', ...headers },
      body,
    );
  const get = (p: string, headers: Record<string, string> = {}) =>
    send(port, 'GET', `/raw/${p}`, headers);

  before(async () => {
    server = await startTestServer({
      config: { raw: { max_file_size: 4096, cache_control: 'public, max-age=60' } },
    });
    port = server.port;
  });
  after(async () => {
    await server.close();
  });

  test('PUT then GET/HEAD: type by extension, ETag = sha256, Last-Modified, Cache-Control', async () => {
    const put1 = await put('tools/1.0/notes.txt', 'hello raw\n');
    assert.equal(put1.status, 201, put1.body);
    assert.equal(put1.headers.etag, `"${sha256('hello raw\n')}"`);
    assert.equal(put1.headers.location, '/raw/tools/1.0/notes.txt');
    const got = await get('tools/1.0/notes.txt');
    assert.equal(got.status, 200);
    assert.equal(got.body, 'hello raw\n');
    assert.equal(got.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(got.headers.etag, `"${sha256('hello raw\n')}"`);
    assert.equal(got.headers['cache-control'], 'public, max-age=60');
    assert.ok(got.headers['last-modified']);
    assert.match(String(got.headers['content-security-policy']), /sandbox/);
    const head = await send(port, 'HEAD', '/raw/tools/1.0/notes.txt');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '10');
    assert.equal(head.body, '');
    assert.equal(
      put1.body,
      `stored tools/1.0/notes.txt (10 bytes, sha256 ${sha256('hello raw\n')})\n`,
    );
    // One byte is "1 byte", never "1 bytes" (twenty-ninth session).
    const one = await put('tools/1.0/tool.tar.gz', 'x');
    assert.equal(one.status, 201);
    assert.equal(one.body, `stored tools/1.0/tool.tar.gz (1 byte, sha256 ${sha256('x')})\n`);
    assert.equal((await get('tools/1.0/tool.tar.gz')).headers['content-type'], 'application/gzip');
    assert.equal((await get('tools/1.0/absent.bin')).status, 404);
  });

  test('immutable by default; If-None-Match: * creates only; If-Match overwrites', async () => {
    assert.equal((await put('cas/a.bin', 'one')).status, 201);
    const again = await put('cas/a.bin', 'two');
    assert.equal(again.status, 409);
    assert.match(again.body, /immutable/);
    assert.equal((await put('cas/a.bin', 'two', { 'if-none-match': '*' })).status, 412);
    assert.equal((await put('cas/b.bin', 'new', { 'if-none-match': '*' })).status, 201);
    assert.equal(
      (await put('cas/a.bin', 'two', { 'if-match': `"${sha256('nope')}"` })).status,
      412,
    );
    assert.equal((await put('cas/missing.bin', 'x', { 'if-match': '*' })).status, 412);
    // If-Match compares strongly (RFC 9110 §13.1.1): the current ETag marked weak never matches.
    const weak = await put('cas/a.bin', 'two', { 'if-match': `W/"${sha256('one')}"` });
    assert.equal(weak.status, 412);
    assert.match(weak.body, /never matches; send the ETag without W\//);
    const weakDelete = await send(port, 'DELETE', '/raw/cas/a.bin', {
      'if-match': `W/"${sha256('one')}"`,
    });
    assert.equal(weakDelete.status, 412);
    assert.match(weakDelete.body, /never matches/);
    const swapped = await put('cas/a.bin', 'two', { 'if-match': `"${sha256('one')}"` });
    assert.equal(swapped.status, 200, swapped.body);
    assert.equal(swapped.headers.etag, `"${sha256('two')}"`);
    assert.equal((await get('cas/a.bin')).body, 'two');
    // The old ETag no longer matches.
    assert.equal(
      (await put('cas/a.bin', 'three', { 'if-match': `"${sha256('one')}"` })).status,
      412,
    );
    assert.equal(
      (await put('cas/a.bin', 'x', { 'if-match': '"a"', 'if-none-match': '*' })).status,
      400,
    );
    assert.equal((await put('cas/a.bin', 'x', { 'if-match': 'garbage' })).status, 400);
  });

  test('racing If-Match writers: exactly one wins, the file holds its bytes', async () => {
    assert.equal((await put('race/f.txt', 'base')).status, 201);
    const etag = `"${sha256('base')}"`;
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => put('race/f.txt', `writer ${i}`, { 'if-match': etag })),
    );
    const winners = answers.flatMap((a, i) => (a.status === 200 ? [i] : []));
    assert.equal(winners.length, 1, answers.map((a) => a.status).join(','));
    assert.ok(answers.every((a) => a.status === 200 || a.status === 412));
    assert.equal((await get('race/f.txt')).body, `writer ${winners[0] ?? -1}`);
    const creates = await Promise.all(
      Array.from({ length: 8 }, (_, i) => put('race/new.txt', `c${i}`, { 'if-none-match': '*' })),
    );
    assert.equal(creates.filter((a) => a.status === 201).length, 1);
  });

  test('Range, If-Range, 416; conditional GET (304) by ETag and by date', async () => {
    assert.equal((await put('range/r.txt', '0123456789')).status, 201);
    const part = await get('range/r.txt', { range: 'bytes=2-4' });
    assert.equal(part.status, 206);
    assert.equal(part.body, '234');
    assert.equal(part.headers['content-range'], 'bytes 2-4/10');
    assert.equal((await get('range/r.txt', { range: 'bytes=-3' })).body, '789');
    assert.equal((await get('range/r.txt', { range: 'bytes=20-' })).status, 416);
    const etag = `"${sha256('0123456789')}"`;
    const same = await get('range/r.txt', { range: 'bytes=0-0', 'if-range': etag });
    assert.equal(same.status, 206);
    const changed = await get('range/r.txt', { range: 'bytes=0-0', 'if-range': '"other"' });
    assert.equal(changed.status, 200);
    assert.equal(changed.body, '0123456789');
    assert.equal((await get('range/r.txt', { 'if-none-match': etag })).status, 304);
    assert.equal((await get('range/r.txt', { 'if-none-match': '"x", ' + etag })).status, 304);
    assert.equal((await get('range/r.txt', { 'if-none-match': '"x"' })).status, 200);
    const lastModified = (await get('range/r.txt')).headers['last-modified'] ?? '';
    assert.equal((await get('range/r.txt', { 'if-modified-since': lastModified })).status, 304);
    const earlier = new Date(Date.parse(lastModified) - 10_000).toUTCString();
    assert.equal((await get('range/r.txt', { 'if-modified-since': earlier })).status, 200);
    assert.equal((await get('range/r.txt', { 'if-match': '"x"' })).status, 412);
  });

  test('size limit: declared (413 before reading) and mid-stream (chunked): nothing stored', async () => {
    const big = 'x'.repeat(5000);
    const declared = await put('big/declared.bin', big);
    assert.equal(declared.status, 413);
    const chunked = await send(
      port,
      'PUT',
      '/raw/big/chunked.bin',
      { 'transfer-encoding': 'chunked' },
      (req) => {
        req.write('x'.repeat(3000));
        req.end('x'.repeat(3000));
      },
    );
    assert.equal(chunked.status, 413);
    // A streamed body has no length to compare up front: the 413 still names what to raise.
    assert.match(
      chunked.body,
      /limit of 4096 bytes \(\[raw\] max_file_size, NORA_RAW_MAX_FILE_SIZE\)/,
    );
    assert.equal((await get('big/chunked.bin')).status, 404);
    assert.equal((await get('big/')).status, 404);
    // Exactly at the limit is fine.
    assert.equal((await put('big/exact.bin', 'y'.repeat(4096))).status, 201);
  });

  test('bad paths are 400 and nothing is written', async () => {
    for (const p of [
      '/raw/a/%2e%2e/x',
      '/raw/a/%2E%2E%2Fx',
      '/raw/a/..%2Fx',
      '/raw/a%2Fb',
      '/raw/a%5Cb',
      '/raw/a//b',
      '/raw//a',
      '/raw/a%00b',
      '/raw/a%0d%0ab',
      '/raw/a%7fb',
      '/raw/a%zz',
      '/raw/a/../../etc/passwd',
    ]) {
      const answer = await send(port, 'PUT', p, {}, 'evil');
      assert.equal(answer.status, 400, `${p}: ${answer.status} ${answer.body}`);
      assert.equal((await send(port, 'GET', p)).status, 400, p);
    }
    const root = JSON.parse((await get('', { accept: 'application/json' })).body) as {
      entries: { name: string }[];
    };
    assert.ok(!root.entries.some((e) => e.name.startsWith('a')));
  });

  test('a file cannot be a folder and a folder cannot be a file (409)', async () => {
    assert.equal((await put('shape/file.txt', 'f')).status, 201);
    assert.equal((await put('shape/file.txt/inner', 'g')).status, 409);
    assert.equal((await put('shape/dir/inner.txt', 'h')).status, 201);
    assert.equal((await put('shape/dir', 'i')).status, 409);
    assert.equal((await send(port, 'PUT', '/raw/shape/dir2/', {}, 'j')).status, 400);
  });

  test('listing: JSON (name, size, modified, sha256, folders), HTML, pagination with Link', async () => {
    const names = Array.from({ length: 23 }, (_, i) => `f${String(i).padStart(2, '0')}.txt`);
    for (const n of names) assert.equal((await put(`list/${n}`, n)).status, 201);
    assert.equal((await put('list/sub/deep/x.txt', 'x')).status, 201);
    const all: string[] = [];
    let url: string | undefined = '/raw/list/?limit=10';
    let pages = 0;
    while (url !== undefined) {
      const page = await send(port, 'GET', url, { accept: 'application/json' });
      assert.equal(page.status, 200, page.body);
      assert.match(page.headers['content-type'] ?? '', /^application\/json/);
      const json = JSON.parse(page.body) as {
        path: string;
        entries: { name: string; type: string; size?: number; sha256?: string; modified: string }[];
        next: string | null;
      };
      assert.equal(json.path, '/list/');
      for (const e of json.entries) {
        all.push(e.name);
        if (e.type === 'file') {
          assert.equal(e.sha256, sha256(e.name));
          assert.equal(e.size, e.name.length);
        }
        assert.ok(Date.parse(e.modified) > 0);
      }
      const link = page.headers.link;
      if (json.next === null) assert.equal(link, undefined);
      else assert.equal(link, `<${json.next}>; rel="next"`);
      url = json.next ?? undefined;
      pages++;
    }
    assert.equal(pages, 3);
    assert.deepEqual(all, [...names, 'sub/']);
    const html = await get('list/');
    assert.equal(html.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(html.body, /<a href="f00.txt">f00.txt<\/a>/);
    assert.match(html.body, /<a href="sub\/">sub\/<\/a>/);
    // A folder without its slash: browsers are redirected, JSON clients answered.
    const redirect = await get('list/sub?limit=5');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, '/raw/list/sub/?limit=5');
    const json = await get('list/sub', { accept: 'application/json' });
    assert.equal(json.status, 200);
    assert.match(json.body, /"deep\/"/);
    assert.equal((await get('nothing-here/')).status, 404);
    assert.equal((await get('list/?limit=0')).status, 400);
    assert.equal((await get('list/?limit=abc')).status, 400);
    assert.equal((await get('list/?limit=10001')).status, 400);
    const rootHead = await send(port, 'HEAD', '/raw/');
    assert.equal(rootHead.status, 200);
  });

  test('paging with ?format=json: next keeps the format; after= takes a folder name with its slash', async () => {
    for (const n of ['a.txt', 'b.txt', 'c.txt'])
      assert.equal((await put(`fmt/${n}`, n)).status, 201);
    assert.equal((await put('fmt/auth/x.txt', 'x')).status, 201);
    assert.equal((await put('fmt/zz.txt', 'z')).status, 201);
    // Page by page with no Accept header at all: only the query asks for JSON.
    const names: string[] = [];
    let url: string | undefined = '/raw/fmt/?limit=2&format=json';
    while (url !== undefined) {
      const page = await send(port, 'GET', url);
      assert.equal(page.status, 200, page.body);
      assert.match(page.headers['content-type'] ?? '', /^application\/json/, url);
      const json = JSON.parse(page.body) as { entries: { name: string }[]; next: string | null };
      names.push(...json.entries.map((e) => e.name));
      if (json.next !== null) {
        assert.match(json.next, /[?&]format=json(&|$)/);
        assert.equal(page.headers.link, `<${json.next}>; rel="next"`);
      }
      url = json.next ?? undefined;
    }
    assert.deepEqual(names, ['a.txt', 'auth/', 'b.txt', 'c.txt', 'zz.txt']);
    // The HTML listing's next link (no format asked) stays format-free.
    const html = await get('fmt/?limit=2');
    assert.match(html.body, /href="\/raw\/fmt\/\?limit=2&amp;after=auth"/);
    // A cursor built from a folder entry's JSON name (`auth/`) is that folder.
    const withSlash = await get('fmt/?format=json&limit=2&after=auth/');
    assert.equal(withSlash.status, 200, withSlash.body);
    const bare = await get('fmt/?format=json&limit=2&after=auth');
    assert.equal(withSlash.body, bare.body);
    assert.deepEqual(
      (JSON.parse(withSlash.body) as { entries: { name: string }[] }).entries.map((e) => e.name),
      ['b.txt', 'c.txt'],
    );
    assert.equal((await get('fmt/?after=a/b')).status, 400);
  });

  test('DELETE: 204, then gone; empty folders disappear; If-Match honoured', async () => {
    assert.equal((await put('del/one/a.txt', 'a')).status, 201);
    assert.equal(
      (await send(port, 'DELETE', '/raw/del/one/a.txt', { 'if-match': '"x"' })).status,
      412,
    );
    assert.equal((await send(port, 'DELETE', '/raw/del/one/a.txt')).status, 204);
    assert.equal((await get('del/one/a.txt')).status, 404);
    assert.equal((await get('del/one/')).status, 404);
    assert.equal((await get('del/')).status, 404);
    assert.equal((await send(port, 'DELETE', '/raw/del/one/a.txt')).status, 404);
    // Deleted: the path may be created again.
    assert.equal((await put('del/one/a.txt', 'again')).status, 201);
    assert.equal((await send(port, 'DELETE', '/raw/del/one')).status, 409);
    assert.equal((await send(port, 'DELETE', '/raw/del/one/')).status, 400);
  });

  test('reindex (NORA) answers and changes nothing; unknown methods 405', async () => {
    const reindex = await send(port, 'POST', '/raw/-/reindex');
    assert.equal(reindex.status, 200);
    assert.match(reindex.body, /source of truth/);
    assert.equal((await send(port, 'PATCH', '/raw/x.txt', {}, 'x')).status, 405);
    assert.equal((await send(port, 'GET', '/raw/-/other')).status, 404);
    // Storing under the reserved segment says so (it said "no such endpoint").
    const reserved = await send(port, 'PUT', '/raw/-/x.txt', {}, 'x');
    assert.equal(reserved.status, 400);
    assert.match(reserved.body, /"-" is reserved/);
    assert.equal((await send(port, 'DELETE', '/raw/-/x.txt')).status, 400);
  });
});

describe('raw with auth on', () => {
  let server: TestServer;
  let port = 0;
  let dir = '';
  let readToken = '';
  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-raw-auth-'));
    const htpasswd = path.join(dir, 'users.htpasswd');
    await fs.writeFile(
      htpasswd,
      `writer:${bcrypt.hashSync('writer-pw', 4)}\nreader:${bcrypt.hashSync('reader-pw', 4)}\n`,
    );
    server = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: false,
          htpasswd_file: htpasswd,
          rules: [
            { users: ['reader'], paths: ['public/**'], actions: ['read'] },
            {
              users: ['writer'],
              repositories: ['raw-hosted'],
              actions: ['read', 'write', 'delete'],
            },
          ],
        },
        repositories: [{ name: 'open-files', format: 'raw', kind: 'hosted', anonymous_read: true }],
      },
    });
    port = server.port;
    const { tokens } = server.app.context.identity;
    readToken = (await tokens.create('writer', { role: 'read' })).secret;
  });
  after(async () => {
    await server.close();
    await removeDir(dir);
  });

  test('anonymous read off: 401 with a Basic challenge; writes need a user', async () => {
    const anon = await send(port, 'GET', '/raw/x.txt');
    assert.equal(anon.status, 401);
    assert.match(anon.headers['www-authenticate'] ?? '', /^Basic/);
    assert.equal((await send(port, 'PUT', '/raw/public/a.txt', {}, 'a')).status, 401);
    const writer = { authorization: basic('writer', 'writer-pw') };
    assert.equal((await send(port, 'PUT', '/raw/public/a.txt', writer, 'a')).status, 201);
    assert.equal((await send(port, 'PUT', '/raw/secret/b.txt', writer, 'b')).status, 201);
    assert.equal((await send(port, 'GET', '/raw/public/a.txt', writer)).status, 200);
    const token = { authorization: `Bearer ${readToken}` };
    assert.equal((await send(port, 'GET', '/raw/public/a.txt', token)).status, 200);
    assert.equal((await send(port, 'PUT', '/raw/public/c.txt', token, 'c')).status, 403);
    assert.equal((await send(port, 'DELETE', '/raw/public/a.txt', token)).status, 403);
    assert.equal(
      (await send(port, 'PUT', '/raw/public/d.txt', { authorization: basic('writer', 'bad') }, 'd'))
        .status,
      401,
    );
  });

  test('a repository root without its slash redirects to it (after the access check)', async () => {
    const writer = { authorization: basic('writer', 'writer-pw') };
    assert.equal((await send(port, 'PUT', '/raw/rootdir/a.txt', writer, 'a')).status, 201);
    for (const method of ['GET', 'HEAD']) {
      const root = await send(port, method, '/raw?limit=2', writer);
      assert.equal(root.status, 301, `${method} ${root.body}`);
      assert.equal(root.headers.location, '/raw/?limit=2');
    }
    // The listing it leads to links `rootdir/`, which resolves under /raw/ from there.
    const listing = await send(port, 'GET', '/raw/', writer);
    assert.match(listing.body, /<a href="rootdir\/">/);
    // A JSON client is answered directly, as for any folder.
    const json = await send(port, 'GET', '/raw?format=json', writer);
    assert.equal(json.status, 200);
    assert.match(json.body, /"rootdir\/"/);
    // Whoever may not read gets the 401 a closed repository gives, not a redirect.
    assert.equal((await send(port, 'GET', '/raw')).status, 401);
    // A named repository's root, anonymous read allowed there.
    const named = await send(port, 'GET', '/repository/open-files');
    assert.equal(named.status, 301);
    assert.equal(named.headers.location, '/repository/open-files/');
    assert.equal((await send(port, 'GET', '/repository/open-files/')).status, 200);
    // A file is never redirected.
    assert.equal((await send(port, 'GET', '/raw/rootdir/a.txt', writer)).status, 200);
  });

  test('rules per path: a reader sees and lists only its paths', async () => {
    const reader = { authorization: basic('reader', 'reader-pw'), accept: 'application/json' };
    assert.equal((await send(port, 'GET', '/raw/public/a.txt', reader)).status, 200);
    assert.equal((await send(port, 'GET', '/raw/secret/b.txt', reader)).status, 403);
    assert.equal((await send(port, 'GET', '/raw/secret/', reader)).status, 403);
    assert.equal((await send(port, 'PUT', '/raw/public/e.txt', reader, 'e')).status, 403);
    const writerRoot = await send(port, 'GET', '/raw/', {
      authorization: basic('writer', 'writer-pw'),
      accept: 'application/json',
    });
    assert.match(writerRoot.body, /secret/);
  });

  test('a repository with anonymous_read = true: anonymous reads, not writes', async () => {
    const writer = { authorization: basic('writer', 'writer-pw') };
    assert.equal(
      (await send(port, 'PUT', '/repository/open-files/f.txt', writer, 'f')).status,
      201,
    );
    assert.equal((await send(port, 'GET', '/repository/open-files/f.txt')).status, 200);
    assert.equal((await send(port, 'GET', '/repository/open-files/')).status, 200);
    assert.equal((await send(port, 'PUT', '/repository/open-files/g.txt', {}, 'g')).status, 401);
  });
});

describe('raw under a server body limit below max_file_size', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ config: { server: { body_limit_mb: 1 } } });
  });
  after(async () => {
    await server.close();
  });

  test('a chunked body past [server] body_limit_mb is refused mid-stream (413), nothing stored', async () => {
    const chunk = 'z'.repeat(512 * 1024);
    const chunked = await send(
      server.port,
      'PUT',
      '/raw/limit/chunked.bin',
      { 'transfer-encoding': 'chunked' },
      (req) => {
        req.write(chunk);
        req.write(chunk);
        req.end(chunk);
      },
    );
    assert.equal(chunked.status, 413);
    assert.match(chunked.body, /\(\[server\] body_limit_mb, NORA_BODY_LIMIT_MB\)/);
    assert.equal((await send(server.port, 'GET', '/raw/limit/chunked.bin')).status, 404);
  });
});
