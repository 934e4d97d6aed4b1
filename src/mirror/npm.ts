/**
 * `nora mirror npm --lockfile package-lock.json | --packages a,b@1.2.3 [--all-versions]`: every
 * registry package a package-lock.json (or npm-shrinkwrap.json, lockfileVersion 1, 2 or 3) names,
 * or the packages listed, pulled through the server's npm mount (`/npm/`, README "npm"): each
 * name's packument once (so `npm install` resolves offline too), then each version's tarball,
 * verified against the lock file's `integrity` (the packument's `dist.integrity` for --packages).
 *
 * Left out, and reported as skipped: `link` entries (workspaces, `npm link`), bundled
 * dependencies (inside their parent's tarball), local `file:` entries, git dependencies and
 * tarballs from URLs outside a registry.
 */
import type { Command } from 'commander';
import semver from 'semver';
import {
  type MirrorContext,
  type RepoProbe,
  type MirrorFormat,
  type MirrorPlan,
  type MirrorSkip,
  readInputFile,
  repositoryMount,
} from './format.ts';
import { drainVerified, getOk, parseSri } from './pull.ts';
import { type MirrorClient, MirrorInputError, type MirrorItem } from './types.ts';

/** One registry package version to pull. */
export interface NpmCoordinate {
  /** `lodash`, `@types/node` */
  readonly name: string;
  readonly version: string;
  /** The lock file's Subresource Integrity string (`sha512-…`), when it has one. */
  readonly integrity?: string;
}

export interface NpmLockContents {
  readonly lockfileVersion: number;
  readonly packages: readonly NpmCoordinate[];
  readonly skipped: readonly MirrorSkip[];
}

/** npm's abbreviated packument first, as `npm install` asks (smaller; NORA renders both). */
const PACKUMENT_ACCEPT = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';
/** A packument larger than this is refused (NORA's own proxy limit is 128 MiB inflated). */
const MAX_PACKUMENT_BYTES = 128 * 1024 * 1024;

/**
 * The registry packages of a package-lock.json / npm-shrinkwrap.json text: lockfileVersion 2 and
 * 3 from `packages` (keys `node_modules/…`; the root `""` and workspace folders are the project's
 * own), version 1 from the nested `dependencies` tree (`npm:` aliases resolved to the real name).
 * Repeats (one version at several paths) are kept once. MirrorInputError when the text is not a
 * lock file: not JSON, no `lockfileVersion`, a version other than 1–3, entries of the wrong shape.
 */
export function parsePackageLock(text: string, file = 'package-lock.json'): NpmLockContents {
  let lock: unknown;
  try {
    lock = JSON.parse(text);
  } catch (err) {
    throw new MirrorInputError(`${file} is not JSON: ${(err as Error).message}`);
  }
  if (!isRecord(lock) || typeof lock['lockfileVersion'] !== 'number') {
    throw new MirrorInputError(
      `${file} is not an npm lock file: no "lockfileVersion" (package-lock.json or npm-shrinkwrap.json, versions 1-3)`,
    );
  }
  const lockfileVersion = lock['lockfileVersion'];
  if (![1, 2, 3].includes(lockfileVersion)) {
    throw new MirrorInputError(
      `${file}: lockfileVersion ${lockfileVersion} is not one this build reads (1, 2 or 3)`,
    );
  }
  const found = new Map<string, NpmCoordinate>();
  const skipped: MirrorSkip[] = [];
  const add = (coordinate: NpmCoordinate) => {
    const key = `${coordinate.name}@${coordinate.version}`;
    if (!found.has(key)) found.set(key, coordinate);
  };
  const packages = lock['packages'];
  if (lockfileVersion >= 2 || packages !== undefined) {
    if (!isRecord(packages)) {
      throw new MirrorInputError(
        `${file}: lockfileVersion ${lockfileVersion} without a "packages" object`,
      );
    }
    for (const [location, entry] of Object.entries(packages)) {
      if (location === '') continue;
      if (!isRecord(entry)) {
        throw new MirrorInputError(`${file}: packages["${location}"] is not an object`);
      }
      const at = location.lastIndexOf('node_modules/');
      // A folder of the project itself (a workspace, the target of a link): nothing to fetch.
      if (at < 0) continue;
      const name = stringField(entry, 'name') ?? location.slice(at + 'node_modules/'.length);
      const label = `npm ${name}`;
      if (entry['link'] === true) {
        skipped.push({
          label,
          reason: `a link to ${stringField(entry, 'resolved') ?? '?'} (local)`,
        });
        continue;
      }
      if (entry['inBundle'] === true) {
        skipped.push({ label, reason: `bundled in its parent's tarball (${location})` });
        continue;
      }
      const version = stringField(entry, 'version');
      const resolved = stringField(entry, 'resolved');
      const why = notFromRegistry(resolved ?? version);
      if (why !== undefined) {
        skipped.push({ label, reason: why });
        continue;
      }
      if (version === undefined || semver.valid(version) === null) {
        skipped.push({
          label,
          reason: `no registry version (${version ?? 'none'}) at ${location}`,
        });
        continue;
      }
      add(coordinate(name, version, stringField(entry, 'integrity')));
    }
  } else {
    const walk = (dependencies: unknown, trail: string) => {
      if (dependencies === undefined) return;
      if (!isRecord(dependencies)) {
        throw new MirrorInputError(`${file}: "dependencies" of ${trail} is not an object`);
      }
      for (const [key, entry] of Object.entries(dependencies)) {
        if (!isRecord(entry)) {
          throw new MirrorInputError(
            `${file}: dependencies["${key}"] of ${trail} is not an object`,
          );
        }
        walk(entry['dependencies'], key);
        const label = `npm ${key}`;
        if (entry['bundled'] === true) {
          skipped.push({ label, reason: `bundled in its parent's tarball (${trail})` });
          continue;
        }
        let name = key;
        let version = stringField(entry, 'version');
        const why = notFromRegistry(version);
        if (why !== undefined) {
          skipped.push({ label, reason: why });
          continue;
        }
        const alias = version === undefined ? null : /^npm:(@?[^@]+)@(.+)$/.exec(version);
        if (alias !== null) {
          name = alias[1] ?? name;
          version = alias[2];
        }
        const resolvedWhy = notFromRegistry(stringField(entry, 'resolved'));
        if (resolvedWhy !== undefined) {
          skipped.push({ label, reason: resolvedWhy });
          continue;
        }
        if (version === undefined || semver.valid(version) === null) {
          skipped.push({ label, reason: `no registry version (${version ?? 'none'})` });
          continue;
        }
        add(coordinate(name, version, stringField(entry, 'integrity')));
      }
    };
    walk(lock['dependencies'], 'the root');
  }
  return { lockfileVersion, packages: [...found.values()], skipped };
}

function coordinate(name: string, version: string, integrity: string | undefined): NpmCoordinate {
  return integrity === undefined ? { name, version } : { name, version, integrity };
}

/**
 * Why a `resolved` URL or `version` spec is not a registry package (a reason for the report), or
 * undefined when it may be one. Registry tarball URLs have `/-/` before the file name.
 */
export function notFromRegistry(spec: string | undefined): string | undefined {
  if (spec === undefined) return undefined;
  if (/^(?:file|link|workspace|portal):/.test(spec)) return `a local dependency (${spec})`;
  if (/^(?:git(?:\+[a-z]+)?|github|gitlab|bitbucket|gist):/.test(spec)) {
    return `a git dependency (${spec})`;
  }
  if (/^https?:\/\//.test(spec)) {
    let pathname: string;
    try {
      pathname = new URL(spec).pathname;
    } catch {
      return `not a URL (${spec})`;
    }
    return /\/-\/[^/]+\.tgz$/.test(pathname)
      ? undefined
      : `a tarball from a URL, not a registry (${spec})`;
  }
  return undefined;
}

/** `name`, `name@1.2.3`, `@scope/name@^1`, `name@next`: a `--packages` entry. */
export interface NpmPackageSpec {
  readonly name: string;
  /** A version, a range or a dist-tag; undefined for `latest`. */
  readonly selector: string | undefined;
}

/** The comma-separated `--packages` list. MirrorInputError for an empty entry or name. */
export function parsePackageList(list: string): NpmPackageSpec[] {
  const specs = list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (specs.length === 0) throw new MirrorInputError('--packages names no package');
  return specs.map((entry) => {
    const at = entry.indexOf('@', 1);
    const name = at < 0 ? entry : entry.slice(0, at);
    const selector = at < 0 ? undefined : entry.slice(at + 1);
    if (!/^(?:@[^/@\s]+\/)?[^/@\s]+$/.test(name) || selector === '') {
      throw new MirrorInputError(
        `--packages: "${entry}" is not a package (name, name@version, @scope/name@range)`,
      );
    }
    return { name, selector };
  });
}

/** The packument path of `name` below `mount` (`/npm/@scope%2fname`, as npm asks). */
export function packumentPath(mount: string, name: string): string {
  return `${mount}/${encodeName(name).replace('/', '%2f')}`;
}

/** The tarball path of `name`@`version` below `mount` (`/npm/@s/n/-/n-1.0.0.tgz`). */
export function tarballPath(mount: string, name: string, version: string): string {
  const unscoped = name.slice(name.indexOf('/') + 1);
  return `${mount}/${encodeName(name)}/-/${encodeURIComponent(unscoped)}-${encodeURIComponent(version)}.tgz`;
}

/** Each part percent-encoded, the scope's `@` kept: NORA (as npm's registry) reads `@scope`. */
function encodeName(name: string): string {
  return name
    .split('/')
    .map((part) => encodeURIComponent(part).replace(/^%40/, '@'))
    .join('/');
}

/**
 * The items of `coordinates`: each tarball, verified against its integrity; the first item of
 * each name also pulls its packument (shared by the name's items: one GET per name).
 */
export function npmItems(
  mount: string,
  coordinates: readonly NpmCoordinate[],
  labelPrefix = 'npm',
): MirrorItem[] {
  const packuments = new Map<string, Promise<number>>();
  const packument = (client: MirrorClient, name: string): Promise<number> => {
    const known = packuments.get(name);
    if (known !== undefined) return known.then(() => 0);
    const path = packumentPath(mount, name);
    const pulled = getOk(client, path, { accept: PACKUMENT_ACCEPT }).then((res) => res.drain());
    packuments.set(name, pulled);
    return pulled;
  };
  return coordinates.map((c) => ({
    label: `${labelPrefix} ${c.name}@${c.version}`,
    async fetch(client) {
      const metadata = await packument(client, c.name);
      const path = tarballPath(mount, c.name, c.version);
      const res = await getOk(client, path);
      return metadata + (await drainVerified(res, path, parseSri(c.integrity)));
    },
  }));
}

interface PackumentVersions {
  readonly versions: ReadonlyMap<string, string | undefined>;
  readonly tags: ReadonlyMap<string, string>;
}

/** The versions (with `dist.integrity`) and dist-tags of a packument's text. */
function readPackument(text: string, path: string): PackumentVersions {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${path} answered 200 with a body that is not JSON`);
  }
  if (!isRecord(body) || !isRecord(body['versions'])) {
    throw new Error(`${path} answered 200 without a "versions" object`);
  }
  const versions = new Map<string, string | undefined>();
  for (const [version, manifest] of Object.entries(body['versions'])) {
    const dist = isRecord(manifest) && isRecord(manifest['dist']) ? manifest['dist'] : undefined;
    versions.set(version, dist === undefined ? undefined : stringField(dist, 'integrity'));
  }
  const tags = new Map<string, string>();
  if (isRecord(body['dist-tags'])) {
    for (const [tag, version] of Object.entries(body['dist-tags'])) {
      if (typeof version === 'string') tags.set(tag, version);
    }
  }
  return { versions, tags };
}

/**
 * Plans `--packages`: reads each name's packument through the server, at most `concurrency` at
 * once (`--concurrency`, as the items themselves: one at a time made a long list behind a slow
 * or silent server take N × the timeout, trial 26 mirrorR F5), and picks the versions (every one
 * with `allVersions`; else the selector's: a version, a dist-tag, a range's highest, `latest` by
 * default). A name whose packument or version cannot be had becomes a failing item naming why, so
 * the report lists it and the exit code is 1. The items keep the list's order.
 */
async function planPackages(
  mount: string,
  specs: readonly NpmPackageSpec[],
  allVersions: boolean,
  client: MirrorClient,
  concurrency: number,
): Promise<MirrorItem[]> {
  const planned = new Array<MirrorItem[]>(specs.length);
  let next = 0;
  const worker = async () => {
    while (next < specs.length) {
      const index = next;
      next += 1;
      planned[index] = await planPackage(
        mount,
        specs[index] as NpmPackageSpec,
        allVersions,
        client,
      );
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(Math.max(1, concurrency), specs.length) }, worker),
  );
  return planned.flat();
}

/** The items of one `--packages` entry (see planPackages): its tarballs, or one failing item. */
async function planPackage(
  mount: string,
  spec: NpmPackageSpec,
  allVersions: boolean,
  client: MirrorClient,
): Promise<MirrorItem[]> {
  const label = `npm ${spec.name}${spec.selector === undefined ? '' : `@${spec.selector}`}`;
  const path = packumentPath(mount, spec.name);
  let packument: PackumentVersions;
  try {
    const res = await getOk(client, path, { accept: PACKUMENT_ACCEPT });
    packument = readPackument(await res.text(MAX_PACKUMENT_BYTES), path);
  } catch (err) {
    return [failing(label, err)];
  }
  let chosen: string[];
  if (allVersions) {
    chosen = [...packument.versions.keys()];
  } else {
    const selector = spec.selector ?? 'latest';
    const version =
      packument.tags.get(selector) ??
      (packument.versions.has(selector)
        ? selector
        : semver.validRange(selector) === null
          ? null
          : semver.maxSatisfying([...packument.versions.keys()], selector));
    if (version === null || !packument.versions.has(version)) {
      return [failing(label, new Error(`${path} has no version or dist-tag "${selector}"`))];
    }
    chosen = [version];
  }
  // The packument was just read: the items pull the tarballs only.
  return chosen.map((version) => {
    const integrity = packument.versions.get(version);
    const tarball = tarballPath(mount, spec.name, version);
    return {
      label: `npm ${spec.name}@${version}`,
      async fetch(c: MirrorClient) {
        const res = await getOk(c, tarball);
        return drainVerified(res, tarball, parseSri(integrity), 'the packument');
      },
    };
  });
}

function failing(label: string, err: unknown): MirrorItem {
  const error = err instanceof Error ? err : new Error(String(err));
  return { label, fetch: () => Promise.reject(error) };
}

/** `--repo` is an npm repository when it answers npm's ping (npm.ts and yarn.ts). */
export const NPM_PROBE: RepoProbe = { path: '/-/ping', kind: 'an npm', mount: '/npm/' };

/** `npm` for run.ts's MIRROR_FORMATS. */
export const npmFormat: MirrorFormat = {
  probe: NPM_PROBE,
  description:
    'npm packages: --lockfile package-lock.json (v1-v3) or --packages a,b@1.2.3 [--all-versions], through /npm/',
  options(command: Command) {
    command
      .option('--lockfile <file>', 'a package-lock.json or npm-shrinkwrap.json (- for stdin)')
      .option(
        '--packages <list>',
        'comma-separated names, each optionally @version, @range or @tag',
      )
      .option('--all-versions', 'with --packages: every version of each package, not one');
  },
  async plan(options, context: MirrorContext): Promise<MirrorPlan> {
    const lockfile = options['lockfile'] as string | undefined;
    const packages = options['packages'] as string | undefined;
    const allVersions = options['allVersions'] === true;
    if ((lockfile === undefined) === (packages === undefined)) {
      throw new MirrorInputError('name one input: --lockfile <file> or --packages <list>');
    }
    const mount = repositoryMount('/npm', context.repo);
    if (lockfile !== undefined) {
      if (allVersions) throw new MirrorInputError('--all-versions goes with --packages');
      const lock = parsePackageLock(await readInputFile(lockfile), lockfile);
      return { items: npmItems(mount, lock.packages), skipped: lock.skipped };
    }
    const specs = parsePackageList(packages ?? '');
    return {
      items: await planPackages(mount, specs, allVersions, context.client, context.concurrency),
      skipped: [],
    };
  },
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringField(record: Record<string, unknown>, key: string): string | undefined {
  const value = record[key];
  return typeof value === 'string' ? value : undefined;
}
