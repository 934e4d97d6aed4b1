/**
 * Where a cold (and a warm) Maven resolve's time goes, request by request (not part of `npm test`):
 *
 *   npx node bench/maven/trace.ts          BENCH_CPU_PROF=<dir> (profile kept there) BENCH_ACCESS=0
 *
 * One fresh NORA proxying nginx serving a Central-like tree (each file with its `.sha1`/`.md5`, as
 * bench/maven/run.ts resolve), the same `mvn -C package` cold then warm, NORA at log level info:
 * its access lines give each request's time to answer. Printed per build: wall time, NORA CPU,
 * requests, the sum, mean, median and p90 of NORA's answer times by kind (POM / other file /
 * checksum / metadata / 404), the slowest requests, and the offsets (s from the build's start)
 * where the CPU profile's window is.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { M2_REPOSITORY, mavenMissing, startNginx } from '../../test/helpers/maven.ts';
import { freePort, startNoraProcess } from '../../test/helpers/process.ts';
import { cpuSeconds, log } from '../harness.ts';
import {
  centralLikeTree,
  mavenBuilder,
  noraCommand,
  noraEnv,
  threadDelta,
  threadSeconds,
  warmUp,
  writeBenchProject,
} from './common.ts';

const PROF = process.env['BENCH_CPU_PROF'];
/** BENCH_ACCESS=0: NORA at log level warn as in run.ts (no per-request times; a clean profile). */
const ACCESS = process.env['BENCH_ACCESS'] !== '0';
const missing = mavenMissing();
if (missing !== false) {
  process.stderr.write(`${missing}\n`);
  process.exit(2);
}

interface Line {
  readonly url: string;
  readonly status: number;
  readonly ms: number;
}

function accessLines(output: string): Line[] {
  const lines: Line[] = [];
  for (const text of output.split('\n')) {
    if (!text.startsWith('{')) continue;
    try {
      const l = JSON.parse(text) as Record<string, unknown>;
      const url = l['url'] ?? l['path'];
      const status = l['statusCode'] ?? l['status'];
      const ms =
        l['responseTime'] ??
        l['ms'] ??
        (typeof l['seconds'] === 'number' ? l['seconds'] * 1000 : undefined);
      if (typeof url === 'string' && typeof status === 'number' && typeof ms === 'number')
        lines.push({ url, status, ms });
    } catch {
      // not an access line
    }
  }
  return lines;
}

/** The `q` quantile of `values` (nearest rank). */
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

function summary(lines: readonly Line[]): string {
  const kinds = new Map<string, { n: number; ms: number; all: number[] }>();
  for (const l of lines) {
    const kind =
      l.status === 404
        ? '404'
        : /\.(sha1|md5|sha256|sha512)$/.test(l.url)
          ? 'checksum'
          : l.url.endsWith('maven-metadata.xml')
            ? 'metadata'
            : l.url.endsWith('.pom')
              ? 'pom'
              : 'other file';
    const k = kinds.get(kind) ?? { n: 0, ms: 0, all: [] };
    k.n += 1;
    k.ms += l.ms;
    k.all.push(l.ms);
    kinds.set(kind, k);
  }
  const slow = [...lines].sort((a, b) => b.ms - a.ms).slice(0, 8);
  return [
    ...[...kinds].map(
      ([k, v]) =>
        `    ${k}: ${v.n} requests, ${v.ms.toFixed(0)} ms in all, ${(v.ms / v.n).toFixed(2)} ms mean, ${quantile(v.all, 0.5).toFixed(2)} median, ${quantile(v.all, 0.9).toFixed(2)} p90`,
    ),
    ...slow.map((l) => `    slow: ${l.ms.toFixed(1)} ms ${l.status} ${l.url}`),
  ].join('\n');
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-bench-maven-trace-'));
const stops: (() => Promise<void>)[] = [];
try {
  await fs.chmod(work, 0o755);
  const tree = path.join(work, 'central');
  await centralLikeTree(M2_REPOSITORY, tree);
  const nginx = await startNginx(tree, path.join(work, 'nginx'), { accessLog: false });
  stops.push(() => nginx.stop());
  const project = path.join(work, 'project');
  await writeBenchProject(project);
  const build = mavenBuilder(work);
  await build(project, nginx.url, true);
  const nora = await startNoraProcess({
    port: await freePort(),
    command: noraCommand({ cpuProfDir: PROF }),
    env: {
      ...noraEnv(path.join(work, 'nora'), nginx.url),
      NORA_LOG_LEVEL: ACCESS ? 'info' : 'warn',
    },
  });
  stops.push(async () => {
    nora.child.kill('SIGINT');
    await nora.exited;
  });
  const started = Date.now();
  await warmUp(nora.url);
  for (const kind of ['cold', 'warm']) {
    const mark = nora.output().length;
    const before = await cpuSeconds(nora.child.pid);
    const threads = await threadSeconds(nora.child.pid);
    const at = (Date.now() - started) / 1000;
    const result = await build(project, `${nora.url}/maven2/`, true);
    const cpu = (await cpuSeconds(nora.child.pid)) - before;
    const lines = accessLines(nora.output().slice(mark));
    log(
      `${kind}: ${result.seconds.toFixed(2)} s wall, NORA CPU ${cpu.toFixed(2)} s [${threadDelta(threads, await threadSeconds(nora.child.pid))}], ${lines.length} requests (${((cpu * 1000) / Math.max(1, lines.length)).toFixed(2)} ms CPU each), from ${at.toFixed(1)} s after the warm-up began`,
    );
    log(summary(lines));
  }
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await fs.rm(work, { recursive: true, force: true });
}
