/**
 * Maven benchmarks, NORA side by side with nginx, one run on this machine (not part of `npm test`):
 *
 *   npx node bench/maven/run.ts [resolve] [artifact] [metadata]     (default: all three)
 *   BENCH_ROUNDS=3 BENCH_SECONDS=5 BENCH_PAIRS=3 BENCH_CPU_PROF=1 npx node bench/maven/run.ts
 *
 * - resolve: Debian's `mvn -B package` of a small real project (the pinned build plugins and a
 *   third-party library: the dependency tree is ~160 .pom/.jar files, counted and printed) with a
 *   fresh local repository every run, (1) directly from nginx serving the machine's local Maven
 *   repository laid out like Central (each file with its `.sha1` and `.md5`: common.ts
 *   centralLikeTree; BENCH_MAVEN_CHECKSUMS=0 serves the bare repository, every checksum 404),
 *   (2) through NORA's default group `/maven2/` proxying that nginx, cold (NORA's cache empty),
 *   (3) warm (cached); `-C` (strict checksums) in all three when the tree has checksums. Each of BENCH_ROUNDS rounds (default 5) starts a fresh NORA, which
 *   first serves an unrelated artifact untimed (a server in service has compiled its hot code;
 *   "cold" is about the cache). Reported: median wall time per variant, and NORA's own CPU per
 *   build (less moved by the machine's load); targets cold ≤ 1.2×, warm ≤ 1.0× direct. With
 *   them, unless BENCH_BASELINES=0, the floors of a Node server here (bench/node-baselines.ts):
 *   a node relay to the same nginx and a node static server of the same tree, one before the
 *   direct build and one after NORA's warm build in each round, their places swapping by round.
 * - artifact: GET throughput of one cached jar (~500 KB) and one pom, wrk -t2 -c16, from NORA's
 *   group vs nginx serving the same files. Target ≥ 0.7× nginx (req/s).
 * - metadata: `maven-metadata.xml` of an artifact with 1,000 versions deployed into maven-hosted by
 *   PUT, GET req/s through the group and from maven-hosted directly, vs nginx serving the same
 *   bytes as a static file. Target ≥ 0.5× nginx.
 * The GET figures are the median ratio of BENCH_PAIRS (default 3) alternating NORA/nginx runs of
 * BENCH_SECONDS each (bench/wrk.ts compareRates), after an untimed warm-up of each.
 * BENCH_CPU_PROF=1 runs NORA with `--cpu-prof` and prints the functions with the most self time.
 * Every server listens on 127.0.0.1 on a free port and is stopped by PID at the end.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { M2_REPOSITORY, mavenMissing, startNginx, type Nginx } from '../../test/helpers/maven.ts';
import { freePort, startNoraProcess, type NoraProcess } from '../../test/helpers/process.ts';
import { missingTools } from '../../test/helpers/tools.ts';
import { cpuSeconds, log, median, stop as stopChild } from '../harness.ts';
import {
  BASELINES,
  baselineSummary,
  type BaselineServer,
  startBaselines,
} from '../node-baselines.ts';
import { compareRates, describeComparison, PAIRS } from '../wrk.ts';
import {
  MANY_VERSIONS_DIR,
  centralLikeTree,
  deployManyVersions,
  mavenBuilder,
  noraCommand,
  noraEnv,
  thirdPartyPath,
  warmUp,
  writeBenchProject,
} from './common.ts';

const ROUNDS = Math.max(1, Math.floor(Number(process.env['BENCH_ROUNDS'] ?? 5)) || 1);
const SECONDS = Math.max(1, Number(process.env['BENCH_SECONDS'] ?? 5));
const VERSIONS = Math.max(1, Number(process.env['BENCH_METADATA_VERSIONS'] ?? 1000));
const CPU_PROF = process.env['BENCH_CPU_PROF'] === '1';
const sections = new Set(process.argv.slice(2));
const all = sections.size === 0;

/**
 * The upstream carries checksum files as Maven Central does (BENCH_MAVEN_CHECKSUMS=0: the bare
 * local repository, every checksum 404, direct mvn without -C, as before 2026-12-02).
 */
const CHECKSUMS = process.env['BENCH_MAVEN_CHECKSUMS'] !== '0';

const missing = mavenMissing() || missingTools('wrk');
if (missing !== false) {
  process.stderr.write(`${missing}\n`);
  process.exit(2);
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-bench-maven-'));
const stops: (() => Promise<void>)[] = [];
const UPSTREAM_TREE = CHECKSUMS ? path.join(work, 'central') : M2_REPOSITORY;
const profiles: string[] = [];
let noraCount = 0;

function verdict(ok: boolean): string {
  return ok ? 'PASS' : 'MISS';
}

/**
 * A NORA child process proxying `upstream`; `dir` reuses a data directory (a restart). Profiled
 * (BENCH_CPU_PROF=1) unless `profile` is false: set-up phases stay out of the profile.
 */
async function startNora(
  upstream: string,
  options: { readonly dir?: string; readonly profile?: boolean } = {},
): Promise<NoraProcess & { stop(): Promise<void>; dir: string }> {
  const port = await freePort();
  const dir = options.dir ?? path.join(work, `nora-${noraCount++}`);
  const profDir = path.join(work, 'profiles');
  const profile = CPU_PROF && options.profile !== false;
  const nora = await startNoraProcess({
    port,
    ...(profile ? { command: noraCommand({ cpuProfDir: profDir }) } : {}),
    env: noraEnv(path.join(dir, 'storage'), upstream),
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    nora.child.kill('SIGTERM');
    await nora.exited;
    if (profile) profiles.push(profDir);
  };
  stops.push(stop);
  return Object.assign(nora, { stop, dir });
}

/** One `mvn package` with a fresh local repository; seconds and the tree size. */
const build = mavenBuilder(work);

async function benchResolve(): Promise<void> {
  // Its own nginx, with an access log: the upstream requests of each variant are counted.
  const nginx = await startNginx(UPSTREAM_TREE, path.join(work, 'nginx-resolve'));
  stops.push(() => nginx.stop());
  const upstream = { cold: [] as string[], warm: [] as string[], direct: [] as string[] };
  const count = async (since: number) => (await nginx.accessLog()).slice(since);
  const project = path.join(work, 'resolve-project');
  await writeBenchProject(project);
  const times = {
    direct: [] as number[],
    cold: [] as number[],
    warm: [] as number[],
    relay: [] as number[],
    static: [] as number[],
  };
  // NORA's own CPU per build (utime + stime): a figure the machine's load moves less than wall
  // time; the baselines' likewise.
  const cpu = {
    cold: [] as number[],
    warm: [] as number[],
    relay: [] as number[],
    static: [] as number[],
  };
  let files = 0;
  // One untimed build straight from nginx: the JVM's and the page cache's first touches.
  await build(project, nginx.url, CHECKSUMS);
  // Relay to the resolve bench's nginx, static server of the same tree; warmed with the POMs a
  // NORA is warmed with before its cold build.
  const pair = BASELINES
    ? await startBaselines({
        upstream: nginx.url,
        root: UPSTREAM_TREE,
        types: {
          xml: 'application/xml',
          pom: 'application/xml',
          jar: 'application/java-archive',
          sha1: 'text/plain',
          md5: 'text/plain',
        },
        defaultType: 'application/octet-stream',
        warm: [
          '/junit/junit/4.13.2/junit-4.13.2.pom',
          '/org/hamcrest/hamcrest-core/1.3/hamcrest-core-1.3.pom',
        ],
        stopLater: (child) => stops.push(() => stopChild(child)),
      })
    : undefined;
  const baselines = pair === undefined ? [] : [pair.relay, pair.static];
  /** One build through a baseline, checked to resolve the same tree; outside the counted logs. */
  const viaBaseline = async (server: BaselineServer | undefined): Promise<string> => {
    if (server === undefined) return '';
    const before = await cpuSeconds(server.child.pid);
    const result = await build(project, `${server.url}/`, CHECKSUMS);
    const used = (await cpuSeconds(server.child.pid)) - before;
    if (files !== 0 && result.files !== files)
      throw new Error(`trees differ: direct ${files}, node ${server.kind} ${result.files}`);
    times[server.kind].push(result.seconds);
    cpu[server.kind].push(used);
    return `, node ${server.kind} ${result.seconds.toFixed(2)} s (its CPU ${used.toFixed(2)} s)`;
  };
  for (let round = 0; round < ROUNDS; round++) {
    // The baselines: one before the direct build, one after NORA's warm one, swapping by round.
    const [first, last] = round % 2 === 0 ? baselines : [...baselines].reverse();
    const firstNote = await viaBaseline(first);
    let mark = (await nginx.accessLog()).length;
    const direct = await build(project, nginx.url, CHECKSUMS);
    if (round === 0) upstream.direct = await count(mark);
    times.direct.push(direct.seconds);
    files = direct.files;
    const nora = await startNora(nginx.url);
    // Untimed: an unrelated artifact through the group, so that the process has served before.
    await warmUp(nora.url);
    mark = (await nginx.accessLog()).length;
    let before = await cpuSeconds(nora.child.pid);
    const cold = await build(project, `${nora.url}/maven2/`, true);
    cpu.cold.push((await cpuSeconds(nora.child.pid)) - before);
    if (round === 0) upstream.cold = await count(mark);
    mark = (await nginx.accessLog()).length;
    before = await cpuSeconds(nora.child.pid);
    const warm = await build(project, `${nora.url}/maven2/`, true);
    cpu.warm.push((await cpuSeconds(nora.child.pid)) - before);
    if (round === 0) upstream.warm = await count(mark);
    if (cold.files !== files || warm.files !== files)
      throw new Error(`trees differ: direct ${files}, cold ${cold.files}, warm ${warm.files}`);
    times.cold.push(cold.seconds);
    times.warm.push(warm.seconds);
    await nora.stop();
    const lastNote = await viaBaseline(last);
    log(
      `  round ${round + 1}: direct ${direct.seconds.toFixed(2)} s, NORA cold ${cold.seconds.toFixed(2)} s (NORA CPU ${(cpu.cold.at(-1) ?? NaN).toFixed(2)} s), warm ${warm.seconds.toFixed(2)} s (NORA CPU ${(cpu.warm.at(-1) ?? NaN).toFixed(2)} s)${firstNote}${lastNote}`,
    );
  }
  const d = median(times.direct);
  const c = median(times.cold);
  const w = median(times.warm);
  log(
    `\nresolve: mvn -B package, fresh local repository, ${files} .pom/.jar files, median of ${ROUNDS}`,
  );
  log(
    `  direct from nginx ${CHECKSUMS ? '(-C strict)              ' : '(no checksums there)     '}${d.toFixed(2)} s`,
  );
  log(
    `  through NORA /maven2/ cold (-C strict)     ${c.toFixed(2)} s  ${(c / d).toFixed(2)}×  (target ≤ 1.2×) ${verdict(c / d <= 1.2)}`,
  );
  log(
    `  through NORA /maven2/ warm (-C strict)     ${w.toFixed(2)} s  ${(w / d).toFixed(2)}×  (target ≤ 1.0×) ${verdict(w / d <= 1.0)}`,
  );
  log(
    `  NORA CPU per build, median: cold ${median(cpu.cold).toFixed(2)} s, warm ${median(cpu.warm).toFixed(2)} s`,
  );
  const describe = (lines: string[]) => {
    const by = new Map<string, number>();
    for (const line of lines) {
      const [status = '', uri = ''] = line.split(' ');
      const kind = /\.(sha1|sha256|sha512|md5)$/.exec(uri)?.[1] ?? 'file';
      by.set(`${kind} ${status}`, (by.get(`${kind} ${status}`) ?? 0) + 1);
    }
    return `${lines.length} (${[...by].map(([k, v]) => `${k}: ${v}`).join(', ')})`;
  };
  log(`  requests nginx answered, round 1: direct ${describe(upstream.direct)}`);
  log(`    NORA cold ${describe(upstream.cold)}`);
  log(`    NORA warm ${describe(upstream.warm)}`);
  if (baselines.length > 0) for (const line of baselineSummary(times, cpu)) log(line);
}

async function benchArtifact(nginx: Nginx): Promise<void> {
  const nora = await startNora(nginx.url);
  const jar = thirdPartyPath('jar');
  const pom = thirdPartyPath('pom');
  const size = (await fs.stat(path.join(M2_REPOSITORY, jar))).size;
  for (const p of [jar, pom]) {
    const res = await fetch(`${nora.url}/maven2/${p}`);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`NORA GET ${p}: ${res.status}`);
  }
  log(`\nartifact GET (cached in NORA), wrk -t2 -c16, ${PAIRS} pairs of ${SECONDS} s runs`);
  for (const [label, p] of [
    [`jar ${(size / 1024).toFixed(0)} KB`, jar],
    ['pom', pom],
  ] as const) {
    const c = await compareRates(
      { url: `${nora.url}/maven2/${p}`, pid: nora.child.pid },
      { url: `${nginx.url}${p}` },
      { seconds: SECONDS },
    );
    log(
      `  ${label.padEnd(12)} ${describeComparison(c, 'nginx', true)}  (target ≥ 0.7×) ${verdict(c.ratio >= 0.7)}`,
    );
  }
  await nora.stop();
}

async function benchMetadata(nginx: Nginx): Promise<void> {
  const deployer = await startNora(nginx.url, { profile: false });
  const dir = MANY_VERSIONS_DIR;
  const started = performance.now();
  await deployManyVersions(deployer.url, VERSIONS);
  const deploySeconds = (performance.now() - started) / 1000;
  await deployer.stop();
  // The same data, a new process: only the GETs are profiled.
  const reader = await startNora(nginx.url, { dir: deployer.dir });
  const viaGroup = `${reader.url}/maven2/${dir}/maven-metadata.xml`;
  const viaHosted = `${reader.url}/repository/maven-hosted/${dir}/maven-metadata.xml`;
  const res = await fetch(viaGroup);
  const xml = await res.text();
  const count = (xml.match(/<version>/g) ?? []).length;
  if (res.status !== 200 || count !== VERSIONS)
    throw new Error(`metadata: ${res.status}, ${count} versions\n${xml.slice(0, 500)}`);
  // nginx serves the same bytes as a static file.
  const staticRoot = path.join(work, 'static');
  await fs.mkdir(path.join(staticRoot, dir), { recursive: true });
  await fs.writeFile(path.join(staticRoot, dir, 'maven-metadata.xml'), xml);
  await fs.chmod(work, 0o755);
  const staticNginx = await startNginx(staticRoot, path.join(work, 'nginx-static'), {
    accessLog: false,
  });
  stops.push(() => staticNginx.stop());
  log(
    `\nmaven-metadata.xml with ${VERSIONS} versions (${(Buffer.byteLength(xml) / 1024).toFixed(0)} KB; deployed by ${VERSIONS} PUTs in ${deploySeconds.toFixed(1)} s), wrk -t2 -c16, ${PAIRS} pairs of ${SECONDS} s runs`,
  );
  for (const [label, url] of [
    ['group /maven2/', viaGroup],
    ['maven-hosted', viaHosted],
  ] as const) {
    const c = await compareRates(
      { url, pid: reader.child.pid },
      { url: `${staticNginx.url}${dir}/maven-metadata.xml` },
      { seconds: SECONDS },
    );
    log(
      `  NORA ${label.padEnd(16)} ${describeComparison(c)}  (target ≥ 0.5×) ${verdict(c.ratio >= 0.5)}`,
    );
  }
  await reader.stop();
}

/** The functions with the most self time across the profiles NORA wrote. */
async function summarizeProfiles(): Promise<void> {
  interface Node {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
  }
  const self = new Map<string, number>();
  let total = 0;
  for (const dir of new Set(profiles)) {
    for (const file of await fs.readdir(dir).catch(() => [])) {
      if (!file.endsWith('.cpuprofile')) continue;
      const profile = JSON.parse(await fs.readFile(path.join(dir, file), 'utf8')) as {
        nodes: Node[];
      };
      for (const node of profile.nodes) {
        const hits = node.hitCount ?? 0;
        const f = node.callFrame;
        const where = f.url.replace(/^.*\/(node_modules|src)\//, '$1/');
        const key = `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`;
        self.set(key, (self.get(key) ?? 0) + hits);
        total += hits;
      }
    }
  }
  if (total === 0) return;
  log('\nNORA CPU profile (--cpu-prof), top self time:');
  for (const [key, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    log(`  ${((100 * hits) / total).toFixed(1).padStart(5)}%  ${key}`);
  }
}

try {
  await fs.chmod(work, 0o755);
  if (CHECKSUMS) {
    const linked = await centralLikeTree(M2_REPOSITORY, UPSTREAM_TREE);
    log(`upstream tree: ${linked} files of ${M2_REPOSITORY} with .sha1 and .md5 beside each`);
  }
  const nginx = await startNginx(UPSTREAM_TREE, path.join(work, 'nginx'), { accessLog: false });
  stops.push(() => nginx.stop());
  log(`maven bench: nginx serves ${UPSTREAM_TREE}; ${ROUNDS} round(s); wrk ${SECONDS} s`);
  if (all || sections.has('resolve')) await benchResolve();
  if (all || sections.has('artifact')) await benchArtifact(nginx);
  if (all || sections.has('metadata')) await benchMetadata(nginx);
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  stops.length = 0;
  if (CPU_PROF) await summarizeProfiles();
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await fs.rm(work, { recursive: true, force: true });
}
