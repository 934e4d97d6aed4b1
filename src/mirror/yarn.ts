/**
 * `nora mirror yarn --lockfile yarn.lock`: the registry packages of a yarn.lock — yarn classic's
 * v1 format and yarn berry's (2+, the one with `__metadata`) — pulled through the server's npm
 * mount exactly as `nora mirror npm` pulls them (packument once per name, then the tarball).
 *
 * Verified: v1's `integrity` (or, in older files, the sha1 after `#` in `resolved`). Not
 * verified: berry's `checksum`, which is the digest of the zip yarn builds from the tarball, not
 * of the tarball. Skipped and reported: workspaces, `file:`/`link:`/`portal:` entries, `patch:`
 * entries (the patched package is an entry of its own), git and URL sources.
 */
import type { Command } from 'commander';
import semver from 'semver';
import {
  type MirrorFormat,
  type MirrorPlan,
  type MirrorSkip,
  readInputFile,
  repositoryMount,
} from './format.ts';
import { notFromRegistry, NPM_PROBE, npmItems, type NpmCoordinate } from './npm.ts';
import { MirrorInputError } from './types.ts';

export interface YarnLockContents {
  /** `1` for yarn classic, else berry's `__metadata.version` (4, 6, 8, …). */
  readonly format: 'v1' | 'berry';
  readonly packages: readonly NpmCoordinate[];
  readonly skipped: readonly MirrorSkip[];
}

interface Entry {
  /** The entry's key: its descriptors, comma-separated (`"a@^1", a@^1.2`). */
  readonly key: string;
  readonly line: number;
  readonly fields: Map<string, string>;
}

/**
 * The registry packages of a yarn.lock text (see the file's comment for what is skipped).
 * MirrorInputError when a line fits neither format (`yarn.lock line 3 is not yarn.lock syntax`)
 * or the file has no entries at all.
 */
export function parseYarnLock(text: string, file = 'yarn.lock'): YarnLockContents {
  const entries = readEntries(text, file);
  const berry = entries.some((entry) => entry.key === '__metadata');
  if (!berry && entries.length === 0 && !/^# yarn lockfile v1/m.test(text)) {
    throw new MirrorInputError(
      `${file} is not a yarn.lock: no entries and no "# yarn lockfile v1" line`,
    );
  }
  const found = new Map<string, NpmCoordinate>();
  const skipped: MirrorSkip[] = [];
  for (const entry of entries) {
    if (entry.key === '__metadata') continue;
    const result = berry ? berryEntry(entry) : classicEntry(entry);
    if (result === undefined) continue;
    if ('reason' in result) {
      skipped.push(result);
      continue;
    }
    const key = `${result.name}@${result.version}`;
    if (!found.has(key)) found.set(key, result);
  }
  return { format: berry ? 'berry' : 'v1', packages: [...found.values()], skipped };
}

/** Entries and their 2-space-indented fields; deeper lines (dependency maps) are not needed. */
function readEntries(text: string, file: string): Entry[] {
  const entries: Entry[] = [];
  let current: Entry | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.replace(/\s+$/, '');
    if (line === '' || /^\s*#/.test(line)) return;
    if (!/^\s/.test(line)) {
      if (!line.endsWith(':')) {
        throw new MirrorInputError(
          `${file} line ${index + 1} is not yarn.lock syntax (an entry line ends with ":"): ${line.slice(0, 80)}`,
        );
      }
      current = { key: line.slice(0, -1), line: index + 1, fields: new Map() };
      entries.push(current);
      return;
    }
    if (current === undefined) {
      throw new MirrorInputError(`${file} line ${index + 1} is indented outside any entry`);
    }
    const field = /^ {2}([^\s:]+):?(?:\s+(.*))?$/.exec(line);
    if (field !== null && field[2] !== undefined) {
      current.fields.set(field[1] ?? '', unquote(field[2], file, index + 1));
    }
  });
  return entries;
}

function unquote(value: string, file: string, line: number): string {
  if (!value.startsWith('"')) return value;
  try {
    return JSON.parse(value) as string;
  } catch {
    throw new MirrorInputError(`${file} line ${line}: a quoted value that does not end: ${value}`);
  }
}

/** The first descriptor of a key, unquoted: `"@babel/core@^7.0.0", …` → `@babel/core@^7.0.0`. */
function firstDescriptor(key: string): string {
  const first = key.split(/,\s*/)[0] ?? '';
  return first.replace(/^"|"$/g, '');
}

/** `name@range` split at the `@` after a scope's. */
function splitDescriptor(descriptor: string): { name: string; range: string } {
  const at = descriptor.indexOf('@', 1);
  return at < 0
    ? { name: descriptor, range: '' }
    : { name: descriptor.slice(0, at), range: descriptor.slice(at + 1) };
}

function classicEntry(entry: Entry): NpmCoordinate | MirrorSkip | undefined {
  let { name, range } = splitDescriptor(firstDescriptor(entry.key));
  const label = `yarn ${name}`;
  const alias = /^npm:(@?[^@]+)(?:@.*)?$/.exec(range);
  if (alias !== null) {
    name = alias[1] ?? name;
    range = range.slice(4 + name.length + 1);
  }
  const resolved = entry.fields.get('resolved');
  const why = notFromRegistry(resolved) ?? notFromRegistry(range);
  if (why !== undefined) return { label, reason: why };
  const version = entry.fields.get('version');
  if (version === undefined || semver.valid(version) === null) {
    return { label, reason: `no registry version (${version ?? 'none'}) at line ${entry.line}` };
  }
  let integrity = entry.fields.get('integrity');
  const sha1 = resolved === undefined ? undefined : /#([0-9a-f]{40})$/.exec(resolved)?.[1];
  if (integrity === undefined && sha1 !== undefined) {
    integrity = `sha1-${Buffer.from(sha1, 'hex').toString('base64')}`;
  }
  return integrity === undefined ? { name, version } : { name, version, integrity };
}

function berryEntry(entry: Entry): NpmCoordinate | MirrorSkip | undefined {
  const resolution = entry.fields.get('resolution');
  const descriptor = firstDescriptor(entry.key);
  if (resolution === undefined) {
    return { label: `yarn ${splitDescriptor(descriptor).name}`, reason: 'no "resolution" field' };
  }
  const { name, range } = splitDescriptor(resolution);
  const label = `yarn ${name}`;
  const protocol = /^([a-z+]+):/.exec(range)?.[1];
  // The project's own workspaces (the root is always one): nothing to fetch, nothing to report.
  if (protocol === 'workspace') return undefined;
  if (protocol === 'npm') {
    // `1.2.3::__archiveUrl=…` (a tarball at a non-standard URL): the version is before `::`.
    const version = range.slice(4).split('::')[0] ?? '';
    if (semver.valid(version) === null) {
      return { label, reason: `no registry version (${version}) at line ${entry.line}` };
    }
    return { name, version };
  }
  if (protocol === 'patch') {
    return { label, reason: 'a patch (the patched package is pulled as its own entry)' };
  }
  return {
    label,
    reason: notFromRegistry(range) ?? `not from a registry (${resolution})`,
  };
}

/** `yarn` for run.ts's MIRROR_FORMATS. */
export const yarnFormat: MirrorFormat = {
  probe: NPM_PROBE,
  description: 'npm packages of a yarn.lock (yarn classic v1 or berry), through /npm/',
  options(command: Command) {
    command.requiredOption('--lockfile <file>', 'the yarn.lock (- for stdin)');
  },
  async plan(options, context): Promise<MirrorPlan> {
    const lockfile = options['lockfile'] as string;
    const lock = parseYarnLock(await readInputFile(lockfile), lockfile);
    return {
      items: npmItems(repositoryMount('/npm', context.repo), lock.packages, 'yarn'),
      skipped: lock.skipped,
    };
  },
};
