/**
 * Curation leftovers of the twenty-second session: a 403 of `on_failure = "closed"` never tells
 * the client the server's list path or load error (the log does), and a group of two proxy
 * members counts one refused client request once in nora_curation_decisions_total.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { type FixtureUpstream, startFixtureUpstream } from '../maven/fixture-upstream.ts';
import { tempDir } from '../../helpers/tmp.ts';

const FILE = 'org/acme/widget/2.0/widget-2.0.pom';

/** The value of the metrics line starting `nora_curation_decisions_total{` holding every `parts`. */
async function decisions(server: TestServer, ...parts: string[]): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (l) => l.startsWith('nora_curation_decisions_total{') && parts.every((p) => l.includes(p)),
    );
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('curation: on_failure = "closed" answers without server paths', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let upstream: FixtureUpstream;
  let server: TestServer;
  let missing: string;
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    work = await tempDir('nora-curation-closed-');
    upstream = await startFixtureUpstream();
    await upstream.put(FILE, '<project/>\n');
    missing = path.join(work.path, 'secret-dir', 'blocklist.json');
    server = await startTestServer({
      config: {
        maven: { proxies: [{ url: upstream.url() }] },
        curation: { mode: 'enforce', on_failure: 'closed', blocklist_path: missing },
      },
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

  test('the 403 names a generic reason; the log keeps the path and the error', async () => {
    const res = await fetch(`${server.url}/maven2/${FILE}`);
    assert.equal(res.status, 403);
    const body = await res.text();
    assert.match(body, /curation policy could not be loaded/);
    assert.doesNotMatch(body, /secret-dir|blocklist\.json|ENOENT/);
    assert.ok(!body.includes(work.path), body);
    const logged = lines.filter(
      (l) => l['curation'] !== undefined && JSON.stringify(l).includes('policy_unavailable'),
    );
    assert.ok(logged.length > 0, JSON.stringify(lines));
    assert.match(JSON.stringify(logged[0]), /secret-dir/);
  });
});

describe(`curation: a group of two proxy members counts a refusal once`, () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let upstream: FixtureUpstream;
  let empty: FixtureUpstream;
  let server: TestServer;

  before(async () => {
    work = await tempDir('nora-curation-group-');
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
    // The first member's upstream lacks the file: the group goes on to the second.
    empty = await startFixtureUpstream();
    const upstreams = [{ url: upstream.url() }];
    server = await startTestServer({
      config: {
        circuit_breaker: { enabled: false },
        curation: { mode: 'enforce', blocklist_path: blocklist },
        repositories: [
          { name: 'px1', format: 'maven', kind: 'proxy', upstreams: [{ url: empty.url() }] },
          { name: 'px2', format: 'maven', kind: 'proxy', upstreams },
          { name: 'all', format: 'maven', kind: 'group', members: ['px1', 'px2'] },
        ],
      },
    });
  });
  after(async () => {
    await server.close();
    await upstream.close();
    await empty.close();
    await work[Symbol.asyncDispose]();
  });

  const decision = 'decision="blocked"';
  test('one GET through the group counts 1, a second GET 2', async () => {
    const status = 403;
    const first = await fetch(`${server.url}/repository/all/${FILE}`);
    assert.equal(first.status, status);
    await first.arrayBuffer();
    assert.equal(await decisions(server, 'registry="maven"', decision), 1);
    const second = await fetch(`${server.url}/repository/all/${FILE}`);
    assert.equal(second.status, status);
    await second.arrayBuffer();
    assert.equal(await decisions(server, 'registry="maven"', decision), 2);
  });
});
