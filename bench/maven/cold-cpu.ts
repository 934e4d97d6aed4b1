/**
 * NORA's own CPU per cold and warm Maven resolve — the figure that stays meaningful on a shared,
 * loaded machine where wall-time ratios are noise (not part of `npm test`):
 *
 *   npx node bench/maven/cold-cpu.ts        BENCH_RUNS=2 BENCH_WARM=0 BENCH_CPU_PROF=<dir>
 *                                           BENCH_HEAP_PROF=<dir> (profiles are kept there)
 *
 * Each run: a fresh NORA proxying nginx (serving the machine's local Maven repository), two
 * unrelated POMs fetched untimed (a server in service has compiled its hot code), then the same
 * `mvn -C package` as bench/maven/run.ts's resolve section with a fresh local repository, cold
 * (empty cache) and warm; printed: NORA's utime + stime (all threads, /proc/<pid>/stat) over each
 * build, and the wall time (noise on a shared machine). With BENCH_CPU_PROF the profile holds the
 * warm-up too: skip its first seconds (the start-up) when reading it.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  M2_REPOSITORY,
  THIRD_PARTY,
  listFiles,
  mavenMissing,
  mvn,
  settingsXml,
  startNginx,
  tail,
  writeProject,
} from '../../test/helpers/maven.ts';
import { freePort, startNoraProcess } from '../../test/helpers/process.ts';
import { cpuSeconds, log } from '../harness.ts';

const RUNS = Math.max(1, Number(process.env['BENCH_RUNS'] ?? 2));
const PROF = process.env['BENCH_CPU_PROF'];
const HEAP_PROF = process.env['BENCH_HEAP_PROF'];
const WARM = process.env['BENCH_WARM'] !== '0';

/** CPU seconds (utime + stime) of each thread of `pid`, by thread name (`comm`), summed. */
async function threadSeconds(pid: number | undefined): Promise<Map<string, number>> {
  const byName = new Map<string, number>();
  if (pid === undefined) return byName;
  for (const tid of await fs.readdir(`/proc/${pid}/task`).catch(() => [])) {
    const stat = await fs.readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    if (open < 0 || close < 0) continue;
    const name = tid === String(pid) ? 'main' : stat.slice(open + 1, close).replace(/\d+$/, '');
    const fields = stat.slice(close + 2).split(' ');
    const seconds = (Number(fields[11]) + Number(fields[12])) / 100;
    byName.set(name, (byName.get(name) ?? 0) + seconds);
  }
  return byName;
}

function threadDelta(before: Map<string, number>, after: Map<string, number>): string {
  return [...after]
    .map(([name, s]) => [name, s - (before.get(name) ?? 0)] as const)
    .filter(([, s]) => s >= 0.01)
    .sort((a, b) => b[1] - a[1])
    .map(([name, s]) => `${name} ${s.toFixed(2)}`)
    .join(', ');
}

const missing = mavenMissing();
if (missing !== false) {
  process.stderr.write(`${missing}\n`);
  process.exit(2);
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-bench-maven-cold-'));
const stops: (() => Promise<void>)[] = [];
try {
  await fs.chmod(work, 0o755);
  const nginx = await startNginx(M2_REPOSITORY, path.join(work, 'nginx'), { accessLog: false });
  stops.push(() => nginx.stop());
  const project = path.join(work, 'project');
  await writeProject(project, {
    groupId: 'com.example.bench',
    artifactId: 'bench-app',
    version: '1.0.0',
    dependencies: [THIRD_PARTY],
    sources: {
      'com/example/bench/App.java': `package com.example.bench;
public final class App {
  public static String ext(String name) { return org.apache.commons.io.FilenameUtils.getExtension(name); }
}
`,
    },
  });
  let builds = 0;
  const build = async (mirror: string) => {
    const n = builds++;
    const settings = path.join(work, `settings-${n}.xml`);
    await fs.writeFile(settings, settingsXml(mirror));
    const localRepo = path.join(work, `m2-${n}`);
    await fs.rm(path.join(project, 'target'), { recursive: true, force: true });
    const started = performance.now();
    const result = await mvn(['-C', 'package', '-DskipTests'], {
      cwd: project,
      settings,
      localRepo,
    });
    const seconds = (performance.now() - started) / 1000;
    if (result.code !== 0) throw new Error(`mvn package via ${mirror} failed:\n${tail(result)}`);
    const files = (await listFiles(localRepo, ['.jar', '.pom'])).length;
    await fs.rm(localRepo, { recursive: true, force: true });
    return { seconds, files };
  };
  for (let i = 0; i < RUNS; i++) {
    const port = await freePort();
    const nora = await startNoraProcess({
      port,
      command: [
        process.execPath,
        '--max-semi-space-size=4',
        ...(PROF === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROF}`]),
        ...(HEAP_PROF === undefined ? [] : ['--heap-prof', `--heap-prof-dir=${HEAP_PROF}`]),
        path.join(import.meta.dirname, '..', '..', 'bin', 'nora.js'),
        'serve',
      ],
      env: {
        NORA_STORAGE_PATH: path.join(work, `nora-${i}`),
        NORA_MAVEN_PROXIES: nginx.url,
        NORA_LOG_LEVEL: 'warn',
        NORA_RATE_LIMIT_ENABLED: 'false',
      },
    });
    const stop = async () => {
      nora.child.kill('SIGINT');
      await nora.exited;
    };
    stops.push(stop);
    const pid = nora.child.pid;
    for (const p of [
      'junit/junit/4.13.2/junit-4.13.2.pom',
      'org/hamcrest/hamcrest-core/1.3/hamcrest-core-1.3.pom',
    ]) {
      await (await fetch(`${nora.url}/maven2/${p}`)).arrayBuffer();
    }
    let before = await cpuSeconds(pid);
    const threads = await threadSeconds(pid);
    const cold = await build(`${nora.url}/maven2/`);
    const coldCpu = (await cpuSeconds(pid)) - before;
    let line = `run ${i + 1}: cold NORA CPU ${coldCpu.toFixed(2)} s [${threadDelta(threads, await threadSeconds(pid))}] (${cold.seconds.toFixed(2)} s wall, ${cold.files} files)`;
    if (WARM) {
      before = await cpuSeconds(pid);
      const warm = await build(`${nora.url}/maven2/`);
      line += `, warm NORA CPU ${((await cpuSeconds(pid)) - before).toFixed(2)} s (${warm.seconds.toFixed(2)} s wall)`;
    }
    log(line);
    await stop();
    stops.pop();
  }
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await fs.rm(work, { recursive: true, force: true });
}
