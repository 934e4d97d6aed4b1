/**
 * Gradle (Debian's 4.4.1) resolves a jar that NORA's Maven proxy fetches from a slow upstream
 * (trial13 F8). NORA used to send a proxied file only once the whole upstream download was
 * verified: no header and no byte until then, so Gradle, whose read timeout is 30 s, failed
 * "Read timed out" on the first fetch of every large artifact from a slow upstream. Now the
 * answer streams once the upstream's `.sha1` and length are known.
 *
 * The upstream here sends the jar's first 256 KiB at once and then one 16 KiB piece every
 * DRIP_MS, about 12 s in all; Gradle's read timeout is lowered to SOCKET_TIMEOUT_MS (its own
 * `org.gradle.internal.http.socketTimeout` property) so the old behaviour fails in seconds, not
 * after 30. The margin between a piece and the timeout is 20-fold.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { tail } from '../../helpers/maven.ts';
import { startTestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';

const missing = missingTools('gradle');

const SIZE = 1_200_000;
const FIRST = 256 * 1024;
const PIECE = 16 * 1024;
const DRIP_MS = 200;
const SOCKET_TIMEOUT_MS = 4_000;

test(
  'gradle 4.4.1 resolves a large jar NORA fetches from a slow upstream (streamed, no read timeout)',
  { skip: missing, timeout: 300_000 },
  async () => {
    const jar = Buffer.alloc(SIZE);
    for (let i = 0; i < SIZE; i++) jar[i] = (i * 31) % 253;
    jar.write('PK', 0, 'latin1');
    const pom = `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>com.t</groupId><artifactId>slowg</artifactId><version>1.0</version></project>
`;
    const files = new Map<string, Buffer>([
      ['/com/t/slowg/1.0/slowg-1.0.jar', jar],
      ['/com/t/slowg/1.0/slowg-1.0.pom', Buffer.from(pom)],
    ]);
    const timers = new Set<NodeJS.Timeout>();
    const upstream = http.createServer((req, res) => {
      const url = req.url ?? '/';
      const sum = url.endsWith('.sha1') ? files.get(url.slice(0, -'.sha1'.length)) : undefined;
      if (sum !== undefined) {
        res.writeHead(200).end(createHash('sha1').update(sum).digest('hex'));
        return;
      }
      const body = files.get(url);
      if (body === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': body.length });
      if (req.method === 'HEAD' || !url.endsWith('.jar')) {
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      // The jar: a first part at once, then a piece every DRIP_MS.
      res.write(body.subarray(0, FIRST));
      let sent = FIRST;
      const timer = setInterval(() => {
        const next = Math.min(sent + PIECE, body.length);
        res.write(body.subarray(sent, next));
        sent = next;
        if (sent === body.length) {
          clearInterval(timer);
          timers.delete(timer);
          res.end();
        }
      }, DRIP_MS);
      timers.add(timer);
      res.on('close', () => {
        clearInterval(timer);
        timers.delete(timer);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-e2e-gradle-slow-'));
    const server = await startTestServer({ env: { NORA_MAVEN_PROXIES: upstreamUrl } });
    try {
      const project = path.join(work, 'project');
      await fs.mkdir(project, { recursive: true });
      await fs.writeFile(path.join(project, 'settings.gradle'), "rootProject.name = 'slow'\n");
      await fs.writeFile(
        path.join(project, 'build.gradle'),
        `apply plugin: 'java'
repositories { maven { url '${server.url}/maven2/' } }
dependencies { compile 'com.t:slowg:1.0' }
task resolveAll { doLast { configurations.compile.files.each { println "RESOLVED " + it.name + " " + it.length() } } }
`,
      );
      const result = await run(
        'gradle',
        [
          '--no-daemon',
          '--console=plain',
          '-g',
          path.join(work, 'gradle-home'),
          `-Dorg.gradle.internal.http.socketTimeout=${SOCKET_TIMEOUT_MS}`,
          '-q',
          'resolveAll',
        ],
        {
          cwd: project,
          env: {
            ...process.env,
            GRADLE_OPTS: '-XX:TieredStopAtLevel=1',
            JAVA_OPTS: '-XX:TieredStopAtLevel=1',
          },
          timeoutMs: 200_000,
          check: false,
        },
      );
      assert.equal(result.code, 0, tail(result));
      assert.match(result.stdout, new RegExp(`RESOLVED slowg-1\\.0\\.jar ${SIZE}\\b`));
    } finally {
      for (const timer of timers) clearInterval(timer);
      await server.close();
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
      await removeDir(work);
    }
  },
);
