/**
 * Curation findings of trial 27 newC around a running server: a reload whose list does not load
 * keeps the previous `[curation]` (mode included) and the reload's log line says the curation
 * part was NOT applied (F2), and one that re-reads the lists says so (F3); an answer to a request carrying the bypass header is never
 * cacheable by a shared cache (F5); with auth on, the bypass needs an authenticated user, and
 * every use or refusal of it is logged with request id, principal and client address, never the
 * token (F6).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfigObject } from '../../../src/config/load.ts';
import { reloadMessage } from '../../../src/server.ts';
import { htpasswdOf } from '../../helpers/auth.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { type FixtureUpstream, startFixtureUpstream } from '../maven/fixture-upstream.ts';
import { tempDir } from '../../helpers/tmp.ts';

describe('curation reload with a broken list (trial 27 newC F2)', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let server: TestServer;
  let blocklist: string;

  before(async () => {
    work = await tempDir('nora-curation-reload-');
    blocklist = path.join(work.path, 'blocklist.json');
    await fs.writeFile(blocklist, JSON.stringify({ version: 1, rules: [] }));
    server = await startTestServer({
      config: { curation: { mode: 'audit', blocklist_path: blocklist } },
    });
  });
  after(async () => {
    await server.close();
    await work[Symbol.asyncDispose]();
  });

  test('the previous mode stays in the running config and the failure is reported', async () => {
    await fs.writeFile(
      blocklist,
      JSON.stringify({
        version: 1,
        rules: [{ registry: 'npm', name: 'a', version: '<<1', reason: 'r' }],
      }),
    );
    const { config: next } = parseConfigObject(
      {
        server: { host: '127.0.0.1', port: 0, log_level: 'silent' },
        storage: { path: server.dataDir },
        curation: { mode: 'enforce', blocklist_path: blocklist },
      },
      {},
    );
    server.app.reload({ ...server.config, curation: next.curation });
    assert.equal(server.app.context.config().curation.mode, 'audit');
    assert.match(server.app.curationReloadFailure() ?? '', /not a SemVer range/);

    await fs.writeFile(blocklist, JSON.stringify({ version: 1, rules: [] }));
    server.app.reload({ ...server.config, curation: next.curation });
    assert.equal(server.app.context.config().curation.mode, 'enforce');
    assert.equal(server.app.curationReloadFailure(), undefined);
  });

  test('the reload line names the curation keys as NOT applied, never as applied', () => {
    const line = reloadMessage([], [], ['curation.mode']);
    assert.doesNotMatch(line, /applied curation\.mode/);
    assert.match(line, /curation NOT applied \(curation\.mode\)/);
    assert.equal(reloadMessage([], []), 'configuration reloaded: nothing changed');
  });

  test('a reload that re-reads the lists says so with their counts (F3)', async () => {
    await fs.writeFile(
      blocklist,
      JSON.stringify({
        version: 1,
        rules: [{ registry: 'npm', name: 'is-odd', version: '*', reason: 'r' }],
      }),
    );
    server.app.reload({ ...server.config });
    assert.equal(server.app.curationLists(), 'blocklist 1 rule');
    assert.equal(
      reloadMessage([], [], undefined, server.app.curationLists()),
      'configuration reloaded: curation lists re-read (blocklist 1 rule)',
    );
  });
});

describe('answers to a bypass request are private (trial 27 newC F5)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      config: {
        raw: { cache_control: 'public, max-age=31536000, immutable' },
        repositories: [{ name: 'files', format: 'raw', kind: 'hosted' }],
      },
      env: { NORA_CURATION_BYPASS_TOKEN: 'tok-F5' },
    });
    const put = await fetch(`${server.url}/repository/files/a.txt`, { method: 'PUT', body: 'a' });
    assert.equal(put.status, 201);
  });
  after(async () => {
    await server.close();
  });

  test('Cache-Control: private, no-store and Vary: X-Nora-Bypass-Token, the token right or wrong', async () => {
    const url = `${server.url}/repository/files/a.txt`;
    const plain = await fetch(url);
    assert.equal(plain.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    for (const token of ['tok-F5', 'wrong']) {
      const res = await fetch(url, { headers: { 'X-Nora-Bypass-Token': token } });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'a');
      assert.equal(res.headers.get('cache-control'), 'private, no-store');
      assert.match(res.headers.get('vary') ?? '', /X-Nora-Bypass-Token/);
    }
    const missing = await fetch(`${url}x`, { headers: { 'X-Nora-Bypass-Token': 'tok-F5' } });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('cache-control'), 'private, no-store');
  });
});

describe('bypass: who may use it, and who did (trial 27 newC F6)', () => {
  const TOKEN = 'tok-F6-secret';
  const FILE = 'org/acme/widget/2.0/widget-2.0.pom';
  let work: Awaited<ReturnType<typeof tempDir>>;
  let upstream: FixtureUpstream;
  let server: TestServer;
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    work = await tempDir('nora-curation-bypass-');
    upstream = await startFixtureUpstream();
    await upstream.put(FILE, '<project/>\n');
    const blocklist = path.join(work.path, 'blocklist.json');
    await fs.writeFile(
      blocklist,
      JSON.stringify({
        version: 1,
        rules: [{ registry: 'maven', name: 'org.acme:widget', version: '2.0', reason: 'bad' }],
      }),
    );
    const htpasswd = path.join(work.path, 'users.htpasswd');
    await fs.writeFile(htpasswd, htpasswdOf({ alice: 'alice-pw-1' }));
    server = await startTestServer({
      config: {
        maven: { proxies: [{ url: upstream.url() }] },
        curation: { mode: 'enforce', blocklist_path: blocklist },
        auth: { enabled: true, htpasswd_file: htpasswd, read_only_users: ['alice'] },
      },
      env: { NORA_CURATION_BYPASS_TOKEN: TOKEN },
      logLevel: 'info',
      logStream: {
        write: (line) => {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        },
      },
    });
  });
  after(async () => {
    await server.close();
    await upstream.close();
    await work[Symbol.asyncDispose]();
  });

  const get = (headers: Record<string, string>) =>
    fetch(`${server.url}/maven2/${FILE}`, { headers });
  const alice = `Basic ${Buffer.from('alice:alice-pw-1').toString('base64')}`;
  const curationLines = () =>
    lines.filter((line) => line['curation'] !== undefined && line['level'] === 40);

  test('an authenticated read-only user may bypass; the line names request id, user, client', async () => {
    lines.length = 0;
    const res = await get({ authorization: alice, 'x-nora-bypass-token': TOKEN });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const line = curationLines()[0];
    assert.ok(line);
    assert.equal((line['curation'] as { decision?: string }).decision, 'bypassed');
    assert.equal(line['user'], 'alice');
    assert.equal(line['client'], '127.0.0.1');
    assert.equal(typeof line['reqId'], 'string');
    assert.doesNotMatch(JSON.stringify(lines), /tok-F6-secret/);
  });

  test('with auth on, an anonymous client holding the token is refused, and that is logged', async () => {
    lines.length = 0;
    const res = await get({ 'x-nora-bypass-token': TOKEN });
    assert.equal(res.status, 403);
    await res.arrayBuffer();
    const refused = curationLines().filter((line) => /bypass refused/.test(String(line['msg'])));
    assert.equal(refused.length, 1);
    assert.equal(refused[0]?.['user'], 'anonymous');
    assert.doesNotMatch(JSON.stringify(lines), /tok-F6-secret/);
  });

  test('a wrong token is logged once per request, never the token itself', async () => {
    lines.length = 0;
    const res = await get({ authorization: alice, 'x-nora-bypass-token': 'guess-123' });
    assert.equal(res.status, 403);
    await res.arrayBuffer();
    const refused = curationLines().filter((line) =>
      /wrong X-Nora-Bypass-Token/.test(String(line['msg'])),
    );
    assert.equal(refused.length, 1);
    const first = refused[0];
    assert.ok(first);
    assert.equal(first['user'], 'alice');
    assert.equal(typeof first['reqId'], 'string');
    assert.doesNotMatch(JSON.stringify(lines), /guess-123/);
  });
});
