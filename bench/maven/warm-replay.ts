/**
 * A warm Maven resolve without the JVM: what mvn asks in a build, replayed request by request,
 * to price what NORA adds per warm request over nginx (not part of `npm test`):
 *
 *   node bench/maven/warm-replay.ts        BENCH_BUILDS=<root>,<root> BENCH_PAIRS=4
 *                                          BENCH_CPU_PROF=<dir> (profiles kept there; each pass
 *                                          prints its span for bench/profile-top.ts PROFILE_WINDOW)
 *                                          BENCH_SETTLE=2 (s from the cold pass to the first warm)
 *                                          BENCH_PASSES=1 (warm passes per measurement)
 *
 * Once: nginx serves the Central-like tree of run.ts resolve (common.ts centralLikeTree) with an
 * access log, and the bench project's `mvn -C package` runs against it directly: the log's
 * request sequence (method GET, path, status) is what a build asks. For each checkout of
 * BENCH_BUILDS (their bin/nora.js; default this one) a fresh NORA proxying that nginx has the
 * sequence replayed once (cold: fills its cache), then BENCH_PAIRS pairs of warm passes, the
 * checkouts' order alternating pair by pair, each pass preceded by a direct pass to nginx and
 * a 1.2 s pause (the answer memo's 1 s bound: in a real warm build no answer is a memo hit, each
 * file is asked once). A pass sends the sequence one request after another on one keep-alive
 * connection (mvn reads POMs one at a time) and reads every body whole. Printed per pass: NORA's
 * CPU (utime + stime, all threads, /proc) per measurement and per request, and the client-side
 * time (of the measurement's last pass) by
 * kind (POM, checksum, other file, 404: sum and median) for NORA and nginx, and nginx's CPU (its
 * workers') over its pass.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { M2_REPOSITORY, mavenMissing, startNginx } from '../../test/helpers/maven.ts';
import { freePort, startNoraProcess } from '../../test/helpers/process.ts';
import { cpuSeconds, log, median } from '../harness.ts';
import {
  centralLikeTree,
  mavenBuilder,
  noraCommand,
  noraEnv,
  warmUp,
  writeBenchProject,
} from './common.ts';

const PAIRS = Math.max(1, Number(process.env['BENCH_PAIRS'] ?? 4));
const PROF = process.env['BENCH_CPU_PROF'];
/** Seconds between the cold pass and the first warm one (the fills' commits finish meanwhile). */
const SETTLE = Math.max(0, Number(process.env['BENCH_SETTLE'] ?? 2));
const BUILDS = (process.env['BENCH_BUILDS'] ?? '').split(',').filter((root) => root !== '');

const missing = mavenMissing();
if (missing !== false) {
  process.stderr.write(`${missing}\n`);
  process.exit(2);
}

type Kind = 'pom' | 'checksum' | 'file' | '404';

interface Asked {
  readonly path: string;
  readonly kind: Kind;
}

function kindOf(status: number, url: string): Kind {
  if (status === 404) return '404';
  if (/\.(sha1|md5|sha256|sha512)$/.test(url)) return 'checksum';
  return url.endsWith('.pom') ? 'pom' : 'file';
}

/**
 * Passes per measurement: after the first, each pass sends its own `Accept` value, which is in the
 * answer memo's key and changes no Maven answer, so every request still takes the way a warm
 * build's does (through Fastify, the memo missing) without the 1.2 s pause between passes.
 */
const PASSES = Math.max(1, Number(process.env['BENCH_PASSES'] ?? 1));
let passes = 0;

/** One pass: every path GET in turn on one keep-alive connection; ms per request, by kind. */
async function pass(base: string, asked: readonly Asked[]): Promise<Map<Kind, number[]>> {
  const headers = { accept: `*/*; pass=${passes++}` };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times = new Map<Kind, number[]>();
  try {
    for (const { path: p, kind } of asked) {
      const started = performance.now();
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.get(`${base}${p}`, { agent, headers }, (res) => {
          res.on('data', () => undefined);
          res.on('end', () => {
            resolve(res.statusCode ?? 0);
          });
          res.on('error', reject);
        });
        req.on('error', reject);
      });
      const ms = performance.now() - started;
      if ((status === 404) !== (kind === '404')) throw new Error(`${base}${p}: ${status}`);
      const list = times.get(kind) ?? [];
      list.push(ms);
      times.set(kind, list);
    }
  } finally {
    agent.destroy();
  }
  return times;
}

/** CPU seconds of nginx's workers (the master's children; the master itself only waits). */
async function nginxSeconds(master: number): Promise<number> {
  const children = await fs
    .readFile(`/proc/${master}/task/${master}/children`, 'utf8')
    .catch(() => '');
  let sum = 0;
  for (const pid of children.split(' ').filter((p) => p !== ''))
    sum += await cpuSeconds(Number(pid));
  return sum;
}

function describe(times: Map<Kind, number[]>): string {
  let all = 0;
  const parts: string[] = [];
  for (const [kind, list] of times) {
    const sum = list.reduce((a, b) => a + b, 0);
    all += sum;
    parts.push(`${kind} ${list.length}: ${sum.toFixed(0)} ms, median ${median(list).toFixed(3)}`);
  }
  return `${all.toFixed(0)} ms [${parts.join('; ')}]`;
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-bench-maven-replay-'));
const stops: (() => Promise<void>)[] = [];
try {
  await fs.chmod(work, 0o755);
  const tree = path.join(work, 'central');
  await centralLikeTree(M2_REPOSITORY, tree);
  const nginx = await startNginx(tree, path.join(work, 'nginx'));
  stops.push(() => nginx.stop());
  const project = path.join(work, 'project');
  await writeBenchProject(project);
  await mavenBuilder(work)(project, nginx.url, true);
  const asked: Asked[] = [];
  for (const line of await nginx.accessLog()) {
    const [status, uri] = line.split(' ');
    // The helper's readiness probe asks `/`; mvn asks only file paths.
    if (status === undefined || uri === undefined || uri === '/') continue;
    asked.push({ path: uri, kind: kindOf(Number(status), uri) });
  }
  const counts = new Map<Kind, number>();
  for (const a of asked) counts.set(a.kind, (counts.get(a.kind) ?? 0) + 1);
  log(`mvn asked ${asked.length} requests: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`);

  const roots = BUILDS.length === 0 ? [undefined] : BUILDS;
  const noras: { label: string; url: string; pid: number | undefined }[] = [];
  for (const [i, root] of roots.entries()) {
    const nora = await startNoraProcess({
      port: await freePort(),
      command: noraCommand({ cpuProfDir: PROF, root }),
      env: noraEnv(path.join(work, `nora-${i}`), nginx.url),
    });
    stops.push(async () => {
      nora.child.kill('SIGINT');
      await nora.exited;
    });
    await warmUp(nora.url);
    await pass(`${nora.url}/maven2`, asked);
    noras.push({
      label: root === undefined ? 'this' : path.basename(root),
      url: nora.url,
      pid: nora.child.pid,
    });
  }
  await sleep(SETTLE * 1000);
  const cpu = new Map<string, number[]>();
  for (let pair = 0; pair < PAIRS; pair++) {
    const order = pair % 2 === 0 ? noras : [...noras].reverse();
    for (const nora of order) {
      const nginxBefore = await nginxSeconds(nginx.pid);
      const direct = await pass(nginx.url, asked);
      const nginxSpent = (await nginxSeconds(nginx.pid)) - nginxBefore;
      await sleep(1200);
      const before = await cpuSeconds(nora.pid);
      const from = process.hrtime.bigint() / 1000n;
      let times = new Map<Kind, number[]>();
      for (let i = 0; i < PASSES; i++) times = await pass(`${nora.url}/maven2`, asked);
      const to = process.hrtime.bigint() / 1000n;
      const spent = (await cpuSeconds(nora.pid)) - before;
      const list = cpu.get(nora.label) ?? [];
      list.push(spent);
      cpu.set(nora.label, list);
      log(
        `pair ${pair + 1} ${nora.label} (load ${os.loadavg()[0]?.toFixed(1)}): NORA CPU ${(spent * 1000).toFixed(0)} ms (${((spent * 1e6) / asked.length / PASSES).toFixed(0)} µs/request); NORA ${describe(times)}; nginx CPU ${(nginxSpent * 1000).toFixed(0)} ms, ${describe(direct)}${PROF === undefined ? '' : `; PROFILE_WINDOW=${from}-${to}`}`,
      );
    }
  }
  for (const [label, list] of cpu)
    log(`${label}: median NORA CPU per warm pass ${(median(list) * 1000).toFixed(0)} ms`);
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await fs.rm(work, { recursive: true, force: true });
}
