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
import { expectOk, mountPath } from './response.ts';
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
 * classifier): its POM (once per g:a:v in a run, as a classifier's artifact shares it) and its
 * file, each checked against its `.sha1` when the server has one (404: not checked; a mismatch
 * fails the item).
 */
export function mavenItems(
  artifacts: readonly MavenArtifact[],
  options: MavenMirrorOptions = {},
): MirrorItem[] {
  const root = mountPath('/maven2', options.repo);
  const poms = new WeakMap<MirrorClient, Map<string, Promise<number>>>();
  return artifacts.map((artifact) => {
    const { pom, file } = artifactPaths(artifact);
    const { groupId, artifactId, type, classifier, version } = artifact;
    return {
      label: `maven ${groupId}:${artifactId}:${classifier === '' ? '' : `${type}:${classifier}:`}${version}`,
      async fetch(client) {
        let seen = poms.get(client);
        if (seen === undefined) {
          seen = new Map();
          poms.set(client, seen);
        }
        let bytes = 0;
        let pomFetch = seen.get(pom);
        if (pomFetch === undefined) {
          pomFetch = fetchChecked(client, `${root}/${pom}`);
          seen.set(pom, pomFetch);
          bytes += await pomFetch;
        } else {
          await pomFetch;
        }
        if (file !== undefined) bytes += await fetchChecked(client, `${root}/${file}`);
        return bytes;
      },
    };
  });
}

/** GETs `path.sha1` (when there) and `path`, verifying the one against the other. */
async function fetchChecked(client: MirrorClient, path: string): Promise<number> {
  const sumRes = await client.get(`${path}.sha1`);
  let expected: string | undefined;
  if (sumRes.status === 200) {
    // `<hex>` or `<hex>  <file name>` (older deployers).
    const token = (await sumRes.text(1024)).trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    if (!/^[0-9a-f]{40}$/.test(token)) throw new Error(`${path}.sha1 is not a SHA-1: ${token}`);
    expected = token;
  } else if (sumRes.status === 404) {
    await sumRes.drain();
  } else {
    await expectOk(sumRes, `${path}.sha1`);
  }
  const res = await client.get(path);
  await expectOk(res, path);
  const got = await res.drainDigest('sha1');
  if (expected !== undefined && got.hex !== expected) {
    throw new Error(`checksum mismatch: ${path} has sha1 ${got.hex}, its .sha1 says ${expected}`);
  }
  return got.bytes;
}
