/**
 * What the Maven benchmarks (run.ts, cold-cpu.ts, cpu.ts) share, so that they measure the same
 * thing the same way: the small project whose dependency tree is resolved, one `mvn package` with
 * a fresh local repository, the untimed warm-up of a fresh NORA, NORA's command line and
 * environment as a proxy of nginx, and the artifact of many versions deployed by PUT.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  THIRD_PARTY,
  listFiles,
  mvn,
  settingsXml,
  tail,
  writeProject,
} from '../../test/helpers/maven.ts';
import { NODE_FLAGS } from '../../test/helpers/process.ts';
import { PROJECT_ROOT } from '../../test/helpers/tools.ts';

/** The project whose dependency tree is resolved (the e2e proxy test builds the same shape). */
export async function writeBenchProject(dir: string): Promise<void> {
  await writeProject(dir, {
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
}

export interface BuildResult {
  /** Wall seconds of the `mvn` run. */
  readonly seconds: number;
  /** .jar and .pom files the local repository held afterwards (the dependency tree's size). */
  readonly files: number;
}

/**
 * A function running one `mvn [-C] package -DskipTests` of `project` through `mirror` with a
 * fresh local repository (settings and repository numbered in `work`, the repository removed
 * after counting); `strict`: `-C`, checksums must match. Throws with mvn's output tail on failure.
 */
export function mavenBuilder(
  work: string,
): (project: string, mirror: string, strict: boolean) => Promise<BuildResult> {
  let builds = 0;
  return async (project, mirror, strict) => {
    const n = builds++;
    const settings = path.join(work, `settings-${n}.xml`);
    await fs.writeFile(settings, settingsXml(mirror));
    const localRepo = path.join(work, `m2-${n}`);
    await fs.rm(path.join(project, 'target'), { recursive: true, force: true });
    const started = performance.now();
    const result = await mvn([...(strict ? ['-C'] : []), 'package', '-DskipTests'], {
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
}

/**
 * Two unrelated POMs fetched through the group `/maven2/` of the NORA at `noraUrl`, untimed: a
 * server in service has compiled its hot code ("cold" is about the cache).
 */
export async function warmUp(noraUrl: string): Promise<void> {
  for (const p of [
    'junit/junit/4.13.2/junit-4.13.2.pom',
    'org/hamcrest/hamcrest-core/1.3/hamcrest-core-1.3.pom',
  ]) {
    await (await fetch(`${noraUrl}/maven2/${p}`)).arrayBuffer();
  }
}

/**
 * NORA's command line (`npm start`'s node flags) with `--cpu-prof` / `--heap-prof` into the
 * directories given, for `startNoraProcess({ command })`.
 */
export function noraCommand(profiles: {
  readonly cpuProfDir?: string | undefined;
  readonly heapProfDir?: string | undefined;
  /** Another checkout's root (its bin/nora.js): interleaved builds (cold-cpu.ts BENCH_BUILDS). */
  readonly root?: string | undefined;
}): string[] {
  const { cpuProfDir, heapProfDir } = profiles;
  return [
    process.execPath,
    ...NODE_FLAGS,
    ...(cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`]),
    ...(heapProfDir === undefined ? [] : ['--heap-prof', `--heap-prof-dir=${heapProfDir}`]),
    path.join(profiles.root ?? PROJECT_ROOT, 'bin', 'nora.js'),
    'serve',
  ];
}

/** The environment of a NORA storing under `storage` whose Maven proxy reads `upstream`. */
export function noraEnv(storage: string, upstream: string): Record<string, string> {
  return {
    NORA_STORAGE_PATH: storage,
    NORA_MAVEN_PROXIES: upstream,
    NORA_LOG_LEVEL: 'warn',
    // Benchmarks measure the server, not the limiter (NORA's own benchmarks do the same).
    NORA_RATE_LIMIT_ENABLED: 'false',
  };
}

/** Where the artifact of many versions lives (`<dir>/maven-metadata.xml` lists them). */
export const MANY_VERSIONS_DIR = 'com/example/bench/many';

/**
 * Deploys `versions` POMs (1.0.0, 1.0.1, … 1.<i/100>.<i%100>) of com.example.bench:many by PUT
 * through the group `/maven2/` of the NORA at `noraUrl` (into maven-hosted), 8 at a time.
 */
export async function deployManyVersions(noraUrl: string, versions: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < versions) {
      const i = next++;
      const version = `1.${Math.floor(i / 100)}.${i % 100}`;
      const url = `${noraUrl}/maven2/${MANY_VERSIONS_DIR}/${version}/many-${version}.pom`;
      const body = `<project><modelVersion>4.0.0</modelVersion><groupId>com.example.bench</groupId><artifactId>many</artifactId><version>${version}</version></project>\n`;
      const res = await fetch(url, { method: 'PUT', body });
      await res.arrayBuffer();
      if (res.status >= 300) throw new Error(`PUT ${url}: ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** The third-party library's file with extension `ext` (`jar`, `pom`), relative to a repository. */
export function thirdPartyPath(ext: string): string {
  const { groupId, artifactId, version } = THIRD_PARTY;
  return `${groupId.replace(/\./g, '/')}/${artifactId}/${version}/${artifactId}-${version}.${ext}`;
}

/**
 * A tree laid out like Maven Central for nginx to serve: every file of `source` (a local Maven
 * repository, which keeps no checksum files) linked into `dir`, with the `.sha1` and `.md5` files
 * Central publishes beside each (lowercase hex, nothing else). Without them the upstream answers
 * 404 to every checksum: direct `mvn` asks `.sha1` then `.md5` and warns, and NORA asks `.sha1`,
 * `.sha256` and `.sha512` before it accepts a file as unverified, three upstream requests per
 * file that a real upstream never causes. Returns the number of files linked.
 */
export async function centralLikeTree(source: string, dir: string): Promise<number> {
  let files = 0;
  for (const entry of await fs.readdir(source, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || /\.(sha1|md5|sha256|sha512|asc)$/.test(entry.name)) continue;
    const from = path.join(entry.parentPath, entry.name);
    const to = path.join(dir, path.relative(source, from));
    await fs.mkdir(path.dirname(to), { recursive: true });
    await fs.symlink(from, to);
    const sha1 = createHash('sha1');
    const md5 = createHash('md5');
    for await (const chunk of createReadStream(from) as AsyncIterable<Buffer>) {
      sha1.update(chunk);
      md5.update(chunk);
    }
    await fs.writeFile(`${to}.sha1`, sha1.digest('hex'));
    await fs.writeFile(`${to}.md5`, md5.digest('hex'));
    files++;
  }
  return files;
}

/** CPU seconds (utime + stime) of each thread of `pid`, by thread name (`comm`), summed. */
export async function threadSeconds(pid: number | undefined): Promise<Map<string, number>> {
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

export function threadDelta(before: Map<string, number>, after: Map<string, number>): string {
  return [...after]
    .map(([name, s]) => [name, s - (before.get(name) ?? 0)] as const)
    .filter(([, s]) => s >= 0.01)
    .sort((a, b) => b[1] - a[1])
    .map(([name, s]) => `${name} ${s.toFixed(2)}`)
    .join(', ');
}
