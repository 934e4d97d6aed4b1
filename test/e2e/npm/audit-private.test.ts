/**
 * The real `npm audit` through NORA's npm group keeps private names here (the HTTP-level test is
 * test/integration/npm/audit-private.test.ts). A project depends on
 *
 * - `hosted-here`, published to the group's hosted member (`/npm/`),
 * - `@corp/inner`, published to another hosted repository, `private-npm`, which the project reaches
 *   with `@corp:registry=…/repository/private-npm/` (npm still posts the whole lockfile to the
 *   default registry's audit endpoint),
 * - `corp-util`, proxied from the upstream but inside the namespace `corp-*` an `[[auth.rules]]`
 *   rule owns,
 * - `pubdep`, a public package proxied from the upstream.
 *
 * The group's proxy upstream is a local fixture, never a public registry: it relays packuments and
 * tarballs to a second NORA (where the upstream's packages are published) and answers the audit
 * endpoints itself, recording every body it gets, with an advisory for `pubdep`. After a real
 * `npm install` and `npm audit`: the upstream saw `pubdep` and none of the three private names,
 * and npm reports the upstream's advisory for `pubdep`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { homeEnv, writeUserNpmrc } from './clients.ts';

const ADVISORY = {
  id: 1_099_001,
  url: 'http://127.0.0.1/advisories/1099001',
  title: 'Prototype pollution in pubdep (NORA e2e advisory)',
  severity: 'high',
  vulnerable_versions: '<1.0.1',
  cwe: ['CWE-1321'],
  cvss: { score: 7.5, vectorString: null },
};
const PRIVATE = ['hosted-here', '@corp/inner', 'corp-util'];

interface Seen {
  readonly path: string;
  readonly body: string;
}

/**
 * The upstream: audit requests are recorded and answered here (an advisory for `pubdep` when it
 * is asked about); everything else is relayed to `relayTo` (a NORA's npm mount).
 */
async function auditUpstream(relayTo: string): Promise<{
  readonly url: string;
  readonly seen: Seen[];
  close(): Promise<void>;
}> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = req.url ?? '/';
      if (url.includes('/-/npm/v1/security/')) {
        const raw = Buffer.concat(chunks);
        const body =
          req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString() : raw.toString();
        seen.push({ path: url, body });
        const asked = JSON.parse(body) as Record<string, unknown>;
        const reply = url.endsWith('/advisories/bulk')
          ? 'pubdep' in asked
            ? { pubdep: [ADVISORY] }
            : {}
          : // audits/quick (npm's fallback): no advisories; the bulk endpoint is npm's first ask.
            { advisories: {}, metadata: { vulnerabilities: {} } };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
        return;
      }
      fetch(`${relayTo}${url}`, { headers: { accept: req.headers.accept ?? '*/*' } }).then(
        async (upstream) => {
          const body = Buffer.from(await upstream.arrayBuffer());
          res
            .writeHead(upstream.status, {
              'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream',
              'content-length': body.length,
            })
            .end(body);
        },
        (err: unknown) => {
          res.writeHead(502).end(String(err));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe(
  'npm audit through the group: private names never reach the upstream',
  {
    skip: missingTools('npm'),
  },
  () => {
    let publicRegistry: TestServer;
    let upstream: Awaited<ReturnType<typeof auditUpstream>>;
    let server: TestServer;

    before(async () => {
      publicRegistry = await startTestServer();
      const pub = new NpmHttp(`${publicRegistry.url}/npm`);
      for (const spec of [
        { name: 'pubdep', version: '1.0.0' },
        { name: 'pubdep', version: '1.0.1' },
        { name: 'corp-util', version: '1.0.0' },
      ]) {
        assert.equal((await pub.publish(spec)).status, 201);
      }
      upstream = await auditUpstream(`${publicRegistry.url}/npm`);
      server = await startTestServer({
        config: {
          npm: { proxy: upstream.url },
          auth: {
            rules: [
              {
                repositories: ['npm'],
                paths: ['@corp/*', 'corp-*'],
                users: ['alice'],
                actions: ['read'],
              },
            ],
          },
          repositories: [{ name: 'private-npm', format: 'npm', kind: 'hosted' }],
        },
      });
      const group = new NpmHttp(`${server.url}/npm`);
      assert.equal((await group.publish({ name: 'hosted-here', version: '1.0.0' })).status, 201);
      const privateRepo = new NpmHttp(`${server.url}/repository/private-npm`);
      assert.equal(
        (await privateRepo.publish({ name: '@corp/inner', version: '1.0.0' })).status,
        201,
      );
    });

    after(async () => {
      await server.close();
      await upstream.close();
      await publicRegistry.close();
    });

    test(
      'npm install + npm audit: the upstream sees pubdep only; npm reports its advisory',
      { timeout: 180_000 },
      async () => {
        await using tmp = await tempDir('nora-e2e-npm-audit-');
        const home = path.join(tmp.path, 'home');
        const project = path.join(tmp.path, 'project');
        await fs.mkdir(home, { recursive: true });
        await fs.mkdir(project, { recursive: true });
        await writeUserNpmrc(home, `${server.url}/npm/`, [
          `@corp:registry=${server.url}/repository/private-npm/`,
        ]);
        await fs.writeFile(
          path.join(project, 'package.json'),
          `${JSON.stringify(
            {
              name: 'audited-app',
              version: '1.0.0',
              private: true,
              dependencies: {
                'hosted-here': '1.0.0',
                '@corp/inner': '1.0.0',
                'corp-util': '1.0.0',
                pubdep: '1.0.0',
              },
            },
            null,
            2,
          )}\n`,
        );
        const npm = (args: string[]) =>
          run('npm', args, { cwd: project, env: homeEnv(home), timeoutMs: 120_000, check: false });

        const install = await npm(['install', '--no-audit']);
        assert.equal(install.code, 0, output(install));
        assert.equal(upstream.seen.length, 0, 'no audit request before npm audit');

        const audit = await npm(['audit', '--json']);
        // npm audit exits 1 when it found a vulnerability at or above audit-level (default: low).
        assert.equal(audit.code, 1, output(audit));
        const report = JSON.parse(audit.stdout) as {
          vulnerabilities: Record<string, { severity: string; via: unknown[]; range: string }>;
        };
        assert.deepEqual(Object.keys(report.vulnerabilities), ['pubdep'], audit.stdout);
        const pubdep = report.vulnerabilities['pubdep'];
        assert.equal(pubdep?.severity, 'high');
        assert.match(JSON.stringify(pubdep.via), /Prototype pollution in pubdep/);
        // npm narrows the advisory's range to the versions the packument (read through NORA) has.
        assert.equal(pubdep.range, '1.0.0');

        // What reached the upstream: pubdep, and not one private name anywhere in a body.
        const bulk = upstream.seen.filter((s) => s.path.endsWith('/advisories/bulk'));
        assert.ok(bulk.length > 0, `npm audit asked the upstream through NORA: ${bulk.length}`);
        for (const sent of bulk)
          assert.deepEqual(Object.keys(JSON.parse(sent.body) as object), ['pubdep'], sent.body);
        for (const sent of upstream.seen) {
          for (const name of PRIVATE)
            assert.ok(!sent.body.includes(name), `${name} in ${sent.body}`);
          assert.ok(!sent.body.includes('@corp/'), sent.body);
        }

        // The human-readable report names the advisory too.
        const text = await npm(['audit']);
        assert.equal(text.code, 1, output(text));
        assert.match(text.stdout, /pubdep {2}1\.0\.0/);
        assert.match(text.stdout, /Prototype pollution in pubdep/);
        assert.match(text.stdout, /1 high severity vulnerability/);
      },
    );
  },
);
