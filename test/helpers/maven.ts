/**
 * Real Maven (and Gradle) clients against NORA, offline: the e2e tests in test/e2e/maven/ and
 * bench/maven share these pieces.
 *
 * - The machine's local Maven repository (`~/.m2/repository`, or `NORA_TEST_M2_REPOSITORY`) holds
 *   the plugins and libraries a build needs. Nothing here ever writes into it: nginx serves it
 *   read-only as the upstream NORA proxies, and every `mvn` run gets its own
 *   `-Dmaven.repo.local=<tmp>` and a `-s settings.xml` whose mirror points at NORA (or nginx).
 * - The test POMs pin plugin versions whose whole dependency trees are in that repository
 *   ({@link PLUGINS}); Maven 3.8.7's super-POM defaults (resources 2.6, …) are not complete there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForUrl } from './process.ts';
import { findTool, run, type RunResult } from './tools.ts';

/** The real Maven tree the upstream nginx serves (read-only). */
export const M2_REPOSITORY =
  process.env['NORA_TEST_M2_REPOSITORY'] ?? path.join(os.homedir(), '.m2', 'repository');

/**
 * Plugin versions pinned in every test POM: their dependency trees are complete in
 * {@link M2_REPOSITORY} (checked on this machine; Maven 3.8.7's defaults are not).
 */
export const PLUGINS: Readonly<Record<string, string>> = {
  'maven-clean-plugin': '3.3.2',
  'maven-resources-plugin': '3.3.1',
  'maven-compiler-plugin': '3.13.0',
  'maven-surefire-plugin': '3.2.5',
  'maven-jar-plugin': '3.4.1',
  'maven-install-plugin': '3.1.1',
  'maven-deploy-plugin': '3.1.1',
};

/** A third-party library (with its parents) present in {@link M2_REPOSITORY}. */
export const THIRD_PARTY = { groupId: 'commons-io', artifactId: 'commons-io', version: '2.16.1' };

/** Why the Maven tests cannot run here, or false. */
export function mavenMissing(): string | false {
  if (findTool('mvn') === undefined)
    return 'client not installed: mvn (run scripts/install-test-clients.sh)';
  if (findTool('nginx') === undefined)
    return 'client not installed: nginx (run scripts/install-test-clients.sh)';
  const probe = path.join(
    M2_REPOSITORY,
    'org/apache/maven/plugins/maven-deploy-plugin',
    PLUGINS['maven-deploy-plugin'] ?? '',
  );
  try {
    readdirSync(probe);
  } catch {
    return `no local Maven repository with the pinned plugins at ${M2_REPOSITORY} (set NORA_TEST_M2_REPOSITORY)`;
  }
  return false;
}

export interface Nginx {
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Lines of the access log (`$status $request_uri`). */
  accessLog(): Promise<string[]>;
  /** Stops the master (SIGTERM by PID) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * nginx serving `root` read-only on 127.0.0.1 and a free port, in the foreground (its PID is ours).
 * As root it runs its workers as root too: `~/.m2` lives under a 0700 home directory.
 */
export async function startNginx(
  root: string,
  dir: string,
  options: { readonly accessLog?: boolean; readonly workers?: number } = {},
): Promise<Nginx> {
  const port = await freePort();
  await fs.mkdir(path.join(dir, 'temp'), { recursive: true });
  const log = path.join(dir, 'access.log');
  const temp = path.join(dir, 'temp');
  const user = process.getuid?.() === 0 ? 'user root root;' : '';
  await fs.writeFile(
    path.join(dir, 'nginx.conf'),
    `${user} worker_processes ${options.workers ?? 2}; pid ${dir}/nginx.pid;
error_log ${dir}/error.log; daemon off;
events { worker_connections 1024; }
http {
  sendfile on; tcp_nopush on; keepalive_requests 1000000;
  ${options.accessLog === false ? 'access_log off;' : `log_format st '$status $request_uri'; access_log ${log} st;`}
  types { application/xml xml pom; application/java-archive jar; text/plain sha1 md5; }
  default_type application/octet-stream;
  client_body_temp_path ${temp}; proxy_temp_path ${temp}; fastcgi_temp_path ${temp};
  uwsgi_temp_path ${temp}; scgi_temp_path ${temp};
  server { listen 127.0.0.1:${port}; root ${root}; }
}
`,
  );
  const child = spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}/`;
  await waitForUrl(url, {
    timeoutMs: 15_000,
    ready: () => true,
    gone: () => child.exitCode !== null,
    output: () => stderr,
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  return {
    url,
    pid: child.pid ?? 0,
    child,
    async accessLog() {
      const text = await fs.readFile(log, 'utf8').catch(() => '');
      return text.split('\n').filter((l) => l !== '');
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

export interface ServerCredentials {
  readonly id: string;
  readonly username: string;
  readonly password: string;
}

/**
 * settings.xml: one mirror of everything (`*`) at `mirrorUrl` with snapshots enabled, credentials
 * in `<servers>`.
 */
export function settingsXml(
  mirrorUrl: string,
  servers: readonly ServerCredentials[] = [],
  mirrorId = 'nora',
): string {
  const esc = xmlEscape;
  return `<?xml version="1.0" encoding="UTF-8"?>
<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0">
  <interactiveMode>false</interactiveMode>
  <offline>false</offline>
  <mirrors>
    <mirror><id>${esc(mirrorId)}</id><mirrorOf>*</mirrorOf><url>${esc(mirrorUrl)}</url></mirror>
  </mirrors>
  <profiles>
    <!-- The super POM's central has snapshots off and the mirror inherits that: turn them on, as
         Nexus's recommended settings.xml does. -->
    <profile>
      <id>nora-snapshots</id>
      <repositories>
        <repository><id>central</id><url>http://central</url>
          <releases><enabled>true</enabled></releases><snapshots><enabled>true</enabled></snapshots></repository>
      </repositories>
      <pluginRepositories>
        <pluginRepository><id>central</id><url>http://central</url>
          <releases><enabled>true</enabled></releases><snapshots><enabled>true</enabled></snapshots></pluginRepository>
      </pluginRepositories>
    </profile>
  </profiles>
  <activeProfiles><activeProfile>nora-snapshots</activeProfile></activeProfiles>
  <servers>
${servers
  .map(
    (s) =>
      `    <server><id>${esc(s.id)}</id><username>${esc(s.username)}</username><password>${esc(s.password)}</password></server>`,
  )
  .join('\n')}
  </servers>
</settings>
`;
}

export interface Coordinates {
  readonly groupId: string;
  readonly artifactId: string;
  readonly version: string;
}

export interface ProjectOptions extends Coordinates {
  readonly dependencies?: readonly Coordinates[];
  /** distributionManagement: releases and snapshots both go to this URL under `deployId`. */
  readonly deployUrl?: string;
  readonly deployId?: string;
  /** Java sources: relative path under src/main/java → content. */
  readonly sources?: Readonly<Record<string, string>>;
  /** Resources: relative path under src/main/resources → content. */
  readonly resources?: Readonly<Record<string, string>>;
}

/** Writes a jar project (pom.xml + sources) into `dir`, with the pinned plugins. */
export async function writeProject(dir: string, options: ProjectOptions): Promise<void> {
  const esc = xmlEscape;
  const deps = (options.dependencies ?? [])
    .map(
      (d) =>
        `    <dependency><groupId>${esc(d.groupId)}</groupId><artifactId>${esc(d.artifactId)}</artifactId><version>${esc(d.version)}</version></dependency>`,
    )
    .join('\n');
  const plugins = pinnedPlugins()
    .map((plugin) => `      ${plugin}`)
    .join('\n');
  const id = esc(options.deployId ?? 'nora');
  const distribution =
    options.deployUrl === undefined
      ? ''
      : `  <distributionManagement>
    <repository><id>${id}</id><url>${esc(options.deployUrl)}</url></repository>
    <snapshotRepository><id>${id}</id><url>${esc(options.deployUrl)}</url></snapshotRepository>
  </distributionManagement>
`;
  const pom = `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>${esc(options.groupId)}</groupId>
  <artifactId>${esc(options.artifactId)}</artifactId>
  <version>${esc(options.version)}</version>
  <packaging>jar</packaging>
  <properties>
    <maven.compiler.source>8</maven.compiler.source>
    <maven.compiler.target>8</maven.compiler.target>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
${deps}
  </dependencies>
${distribution}  <build>
    <pluginManagement>
      <plugins>
${plugins}
      </plugins>
    </pluginManagement>
  </build>
</project>
`;
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'pom.xml'), pom);
  for (const [rel, content] of Object.entries(options.sources ?? {})) {
    const file = path.join(dir, 'src/main/java', rel);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, content);
  }
  for (const [rel, content] of Object.entries(options.resources ?? {})) {
    const file = path.join(dir, 'src/main/resources', rel);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, content);
  }
}

/** The {@link PLUGINS} as `<plugin>` elements, for a POM's `<pluginManagement>`. */
export function pinnedPlugins(): string[] {
  return Object.entries(PLUGINS).map(
    ([artifactId, version]) =>
      `<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>${artifactId}</artifactId><version>${version}</version></plugin>`,
  );
}

export interface MvnOptions {
  readonly cwd: string;
  readonly settings: string;
  readonly localRepo: string;
  readonly timeoutMs?: number;
}

/**
 * Runs `mvn -B -s <settings> -Dmaven.repo.local=<localRepo> <args>`; never throws on a
 * non-zero exit (the caller asserts). A JVM tuned for short runs (C1 only), as CI setups do.
 */
export function mvn(args: readonly string[], options: MvnOptions): Promise<RunResult> {
  return run(
    'mvn',
    [
      '-B',
      '-s',
      options.settings,
      `-Dmaven.repo.local=${options.localRepo}`,
      '-Dstyle.color=never',
      ...args,
    ],
    {
      cwd: options.cwd,
      env: {
        ...process.env,
        MAVEN_OPTS: '-XX:+TieredCompilation -XX:TieredStopAtLevel=1 -Xshare:auto',
        MAVEN_ARGS: '',
      },
      timeoutMs: options.timeoutMs ?? 280_000,
      check: false,
    },
  );
}

/** The tail of a Maven run's output, for assertion messages. */
export function tail(result: RunResult, chars = 3000): string {
  return `exit ${result.code}\n${(result.stdout + result.stderr).slice(-chars)}`;
}

/** Files (relative paths) under `dir` whose names end with one of `exts`. */
export async function listFiles(dir: string, exts: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (exts.some((x) => e.name.endsWith(x))) out.push(path.relative(dir, p));
    }
  };
  await walk(dir);
  return out.sort();
}

function xmlEscape(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}
