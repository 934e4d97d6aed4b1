/**
 * `nora mirror maven --lockfile deps.txt`: the artifacts `mvn dependency:list` resolved, pulled
 * through the server's Maven mount (`/maven2/`, or a named repository's) so its proxy caches
 * each POM and artifact.
 *
 * Input (maven-dependency-plugin `list` goal): its console output, lines such as
 * `[INFO]    org.slf4j:slf4j-api:jar:2.0.13:compile`, with a classifier
 * `[INFO]    g:a:test-jar:tests:1.0:test`, from Maven 3.9 / plugin 3.x with a JPMS suffix
 * `… -- module org.slf4j [auto]`, sometimes ` (optional)`; or the file `-DoutputFile=deps.txt`
 * writes (the same lines without `[INFO]`). Every other line (plugin banners, `---
 * dependency:3.6.1:list (default-cli) @ app ---`, download logs) is ignored; ANSI colours are
 * stripped. The coordinate form is `groupId:artifactId:type[:classifier]:version:scope`.
 */
import { createHash } from 'node:crypto';
import type { Command } from 'commander';
import { type MirrorFormat, type MirrorPlan, readInputFile, repositoryMount } from './format.ts';
import { drainVerified, getOk } from './pull.ts';
import { type MirrorClient, MirrorInputError, type MirrorItem } from './types.ts';

/** One resolved artifact. */
export interface MavenArtifact {
  readonly groupId: string;
  readonly artifactId: string;
  /** The dependency type as listed (`jar`, `pom`, `test-jar`, `maven-plugin`, …). */
  readonly type: string;
  /** '' when none. */
  readonly classifier: string;
  readonly version: string;
  readonly scope: string;
}

const SCOPES = 'compile|provided|runtime|test|system|import';
const PART = '[A-Za-z0-9_.\\-]+';
const LINE = new RegExp(
  `^(?:\\[INFO\\])?\\s*(${PART}):(${PART}):(${PART})(?::(${PART}))?:(${PART}):(${SCOPES})(?:\\s+--\\s+module\\s+\\S+(?:\\s+\\[[a-z]+\\])?)?(?:\\s+\\(optional\\))?\\s*$`,
);
// eslint-disable-next-line no-control-regex -- ANSI colour codes (mvn -Dstyle.color=always)
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * Parses `mvn dependency:list` output (console or `-DoutputFile`). Duplicates (a multi-module
 * build lists shared dependencies once per module) are kept once. Throws MirrorInputError
 * (exit 2) when no line is a coordinate: the wrong file, or a build that failed before listing.
 * A `dependency:list` of a project without dependencies says `none`: that is an empty list.
 */
export function parseDependencyList(text: string): MavenArtifact[] {
  const found = new Map<string, MavenArtifact>();
  let sawList = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(ANSI, '');
    if (/The following files have been resolved:/.test(line)) sawList = true;
    const match = LINE.exec(line);
    if (!match) continue;
    const [, groupId = '', artifactId = '', type = '', classifier = '', version = '', scope = ''] =
      match;
    const artifact = { groupId, artifactId, type, classifier, version, scope };
    found.set(`${groupId}:${artifactId}:${type}:${classifier}:${version}`, artifact);
  }
  if (found.size === 0 && !sawList) {
    throw new MirrorInputError(
      'no dependencies found: expected the output of `mvn dependency:list` (lines such as `[INFO]    org.slf4j:slf4j-api:jar:2.0.13:compile`)',
    );
  }
  return [...found.values()];
}

/** Types whose file is a `.jar` (Maven's artifact handlers), with the classifier they imply. */
const JAR_TYPES: Readonly<Record<string, string>> = {
  'test-jar': 'tests',
  'maven-plugin': '',
  ejb: '',
  'ejb-client': 'client',
  bundle: '',
  'java-source': 'sources',
  javadoc: 'javadoc',
};

/**
 * The repository path of the POM and of the artifact itself (undefined for type `pom`), per
 * Maven's layout: `org/slf4j/slf4j-api/2.0.13/slf4j-api-2.0.13.jar`. A timestamped snapshot
 * version (`1.0-20261130.101010-3`) lives in the `1.0-SNAPSHOT` directory.
 */
export function artifactPaths(artifact: MavenArtifact): { pom: string; file: string | undefined } {
  const { groupId, artifactId, version } = artifact;
  const timestamped = /^(.*)-(\d{8}\.\d{6})-(\d+)$/.exec(version);
  const dir = `${groupId.split('.').join('/')}/${artifactId}/${timestamped ? `${timestamped[1] ?? ''}-SNAPSHOT` : version}`;
  const name = (classifier: string, extension: string) =>
    `${dir}/${artifactId}-${version}${classifier === '' ? '' : `-${classifier}`}.${extension}`;
  const pom = name('', 'pom');
  if (artifact.type === 'pom' && artifact.classifier === '') return { pom, file: undefined };
  const implied = JAR_TYPES[artifact.type];
  const extension = implied === undefined ? artifact.type : 'jar';
  const classifier = artifact.classifier !== '' ? artifact.classifier : (implied ?? '');
  return { pom, file: name(classifier, extension) };
}

/** Options of `nora mirror maven`. */
export interface MavenMirrorOptions {
  /** A named repository (`/repository/<name>/`) instead of the `/maven2/` group. */
  readonly repo?: string | undefined;
}

/**
 * One item per artifact, labelled `maven g:a:v` (`maven g:a:type:classifier:v` when it has a
 * classifier): its POM, the POMs that POM needs to be read at all — its `<parent>` chain and the
 * BOMs its `<dependencyManagement>` imports (`<scope>import</scope>`), which
 * `dependency:list` does not list but Maven fetches to build the model — and its file. Each
 * file is checked against its `.sha1` when the server has one (404: not checked; a mismatch
 * fails the item). A POM is fetched once per run, whichever item needs it first.
 */
export function mavenItems(
  artifacts: readonly MavenArtifact[],
  options: MavenMirrorOptions = {},
): MirrorItem[] {
  const root = repositoryMount('/maven2', options.repo);
  const runs = new WeakMap<MirrorClient, Map<string, Promise<void>>>();
  return artifacts.map((artifact) => {
    const { pom, file } = artifactPaths(artifact);
    const { groupId, artifactId, type, classifier, version } = artifact;
    return {
      label: `maven ${groupId}:${artifactId}:${classifier === '' ? '' : `${type}:${classifier}:`}${version}`,
      async fetch(client) {
        let poms = runs.get(client);
        if (poms === undefined) {
          poms = new Map();
          runs.set(client, poms);
        }
        let bytes = await fetchPomTree(client, root, pom, poms, 0);
        if (file !== undefined) bytes += await fetchChecked(client, `${root}/${file}`);
        return bytes;
      },
    };
  });
}

/** Parent chains and BOM imports deeper than this are a loop or a mistake. */
const MAX_POM_DEPTH = 20;
const MAX_POM_BYTES = 4 * 1024 * 1024;

/**
 * Fetches the POM at `pom` (repository-relative) and, recursively, the POMs it names as parent
 * and as imported BOMs. `poms` remembers each POM's own fetch for the run: a POM another item
 * (or this chain) already fetches is waited for alone, never its descendants, so a cycle of
 * parents or imports cannot make two items wait for each other; its bytes count once.
 */
async function fetchPomTree(
  client: MirrorClient,
  root: string,
  pom: string,
  poms: Map<string, Promise<void>>,
  depth: number,
): Promise<number> {
  const known = poms.get(pom);
  if (known !== undefined) {
    await known;
    return 0;
  }
  const own = fetchPom(client, `${root}/${pom}`);
  const settled = own.then(() => undefined);
  // Marked handled: an item that never waits for it must not make the rejection unhandled.
  settled.catch(() => undefined);
  poms.set(pom, settled);
  const { text, bytes } = await own;
  let total = bytes;
  if (depth >= MAX_POM_DEPTH) return total;
  for (const needed of pomReferences(text)) {
    total += await fetchPomTree(client, root, artifactPaths(needed).pom, poms, depth + 1);
  }
  return total;
}

/**
 * The POMs a POM needs to be read: its `<parent>` and the `<dependencyManagement>` imports
 * whose coordinates are literal or use `${…}` properties it defines itself (or
 * `project.version`/`project.groupId`/`project.parent.version`); others are left out (their
 * value comes from a parent: Maven fetches that parent, so it is fetched here too).
 */
export function pomReferences(text: string): MavenArtifact[] {
  const xml = text.replace(/<!--[\s\S]*?-->/g, '');
  const tag = (block: string, name: string) =>
    new RegExp(`<${name}>\\s*([^<]*?)\\s*</${name}>`).exec(block)?.[1];
  const out: MavenArtifact[] = [];
  const parentBlock = /<parent>([\s\S]*?)<\/parent>/.exec(xml)?.[1];
  const parent =
    parentBlock === undefined
      ? undefined
      : {
          groupId: tag(parentBlock, 'groupId'),
          artifactId: tag(parentBlock, 'artifactId'),
          version: tag(parentBlock, 'version'),
        };
  if (parent?.groupId && parent.artifactId && parent.version) {
    out.push(pomArtifact(parent.groupId, parent.artifactId, parent.version));
  }
  // The project's own coordinates: outside <parent>, <dependencies>, <build>, <profiles>.
  const own = xml
    .replace(/<parent>[\s\S]*?<\/parent>/, '')
    .replace(
      /<(dependencyManagement|dependencies|build|profiles|reporting|plugins)>[\s\S]*?<\/\1>/g,
      '',
    );
  const props = new Map<string, string>();
  const propsBlock = /<properties>([\s\S]*?)<\/properties>/.exec(own)?.[1] ?? '';
  for (const m of propsBlock.matchAll(/<([A-Za-z0-9_.-]+)>\s*([^<]*?)\s*<\/\1>/g)) {
    if (m[1] !== undefined && m[2] !== undefined) props.set(m[1], m[2]);
  }
  const version = tag(own, 'version') ?? parent?.version;
  const groupId = tag(own, 'groupId') ?? parent?.groupId;
  if (version !== undefined) props.set('project.version', version).set('pom.version', version);
  if (groupId !== undefined) props.set('project.groupId', groupId).set('pom.groupId', groupId);
  if (parent?.version !== undefined) props.set('project.parent.version', parent.version);
  const resolve = (value: string | undefined): string | undefined => {
    let v = value;
    for (let i = 0; v?.includes('${') === true && i < 5; i++) {
      v = v.replace(/\$\{([^}]+)\}/g, (whole, name: string) => props.get(name) ?? whole);
    }
    return v === undefined || v.includes('${') || v === '' ? undefined : v;
  };
  const managed = /<dependencyManagement>([\s\S]*?)<\/dependencyManagement>/.exec(xml)?.[1] ?? '';
  for (const m of managed.matchAll(/<dependency>([\s\S]*?)<\/dependency>/g)) {
    const dep = m[1] ?? '';
    if (tag(dep, 'scope') !== 'import') continue;
    const g = resolve(tag(dep, 'groupId'));
    const a = resolve(tag(dep, 'artifactId'));
    const v = resolve(tag(dep, 'version'));
    if (g && a && v) out.push(pomArtifact(g, a, v));
  }
  return out;
}

function pomArtifact(groupId: string, artifactId: string, version: string): MavenArtifact {
  return { groupId, artifactId, type: 'pom', classifier: '', version, scope: 'import' };
}

/** GETs a `.sha1` when there is one: the hex it holds, or undefined (404). */
async function sha1Of(client: MirrorClient, path: string): Promise<string | undefined> {
  const sumPath = `${path}.sha1`;
  const sumRes = await client.get(sumPath);
  if (sumRes.status === 404) {
    await sumRes.drain();
    return undefined;
  }
  if (sumRes.status !== 200) {
    await sumRes.drain();
    throw new Error(`${sumRes.status} from ${sumPath}`);
  }
  // `<hex>` or `<hex>  <file name>` (older deployers).
  const token = (await sumRes.text(1024)).trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  if (!/^[0-9a-f]{40}$/.test(token)) throw new Error(`${sumPath} is not a SHA-1: ${token}`);
  return token;
}

/**
 * GETs a POM as text (bounded), verified against its `.sha1`. A POM that is not UTF-8 (old
 * ISO-8859-1 ones) does not hash the same once decoded: its bytes are then fetched again and
 * hashed as they are, so only a real mismatch fails.
 */
async function fetchPom(
  client: MirrorClient,
  path: string,
): Promise<{ text: string; bytes: number }> {
  const expected = await sha1Of(client, path);
  const text = await (await getOk(client, path)).text(MAX_POM_BYTES);
  const body = Buffer.from(text, 'utf8');
  if (expected !== undefined && createHash('sha1').update(body).digest('hex') !== expected) {
    const again = await getOk(client, path);
    const bytes = await drainVerified(
      again,
      path,
      [{ algorithm: 'sha1', hex: expected }],
      'its .sha1',
    );
    return { text, bytes };
  }
  return { text, bytes: body.length };
}

/** GETs `path.sha1` (when there) and `path`, verifying the one against the other. */
async function fetchChecked(client: MirrorClient, path: string): Promise<number> {
  const expected = await sha1Of(client, path);
  const res = await getOk(client, path);
  return drainVerified(
    res,
    path,
    expected === undefined ? [] : [{ algorithm: 'sha1', hex: expected }],
    'its .sha1',
  );
}

/** `nora mirror maven --lockfile deps.txt` (run.ts MIRROR_FORMATS). */
export const mavenFormat: MirrorFormat = {
  description:
    'artifacts of `mvn dependency:list` output (POM with parents and BOMs, and the file), through /maven2/',
  options(command: Command) {
    command.requiredOption(
      '--lockfile <file>',
      'the output of mvn dependency:list (console or -DoutputFile; - for stdin)',
    );
  },
  async plan(options, context): Promise<MirrorPlan> {
    const artifacts = parseDependencyList(await readInputFile(options['lockfile'] as string));
    return { items: mavenItems(artifacts, { repo: context.repo }), skipped: [] };
  },
};
