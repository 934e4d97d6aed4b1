/**
 * npm writer (Artifactory and Nexus `npm` repositories keep each version's tarball as
 * `<name>/-/<name>-<version>.tgz`, scoped ones under `@scope/<name>/-/`): every `.tgz` is
 * published as `npm publish` would publish it — `PUT <target>/<name>` with a publish document
 * whose version manifest is the tarball's own `package.json` and whose attachment is the tarball
 * in base64, streamed (the document around it is small: package.json is bounded by
 * MAX_PACKAGE_JSON_BYTES). NORA checks the tarball against the manifest and computes `dist`
 * (integrity, shasum) itself and builds its own packuments (the source's is read for its tags).
 *
 * Dist-tags: a version becomes `latest` when it is not a prerelease, is newer than NORA's
 * `latest` and is not newer than the source's own `latest` (so importing in any order ends with
 * the source's `latest`, the newest release unless the source rolled it back; NORA sets
 * `latest` itself when a package has none). The source's other tags (`beta`, `next`…) are set
 * through NORA's dist-tag API once the version they point at is in, its `latest` when NORA's
 * differs and NORA has no newer release the source lacks (else the run's summary says it was not
 * carried), and the version's deprecation as `npm deprecate` sends it unless NORA already has
 * that message (carryMetadata). Publishes
 * of one package are serialized (a queue per target and name): two concurrent publishes would
 * both read the same `latest` and the last one to land would win, whatever its version. Another
 * run (another process) is not in that queue: a run that moved `latest` reads it again after
 * its publish and moves it onto the newest release if an older one landed over it (settleLatest).
 */
import semver from 'semver';
import { ABBREVIATED_TYPE } from '../formats/npm/packument.ts';
import { answerReason } from './put.ts';
import { alreadyInNora } from './existing.ts';
import { readTarMember, rootMember } from './archive.ts';
import { base64Stream, concatBody, guarded, sendPublish } from './body.ts';
import type { ImportWriter, WriteContext, WriteOutcome } from './types.ts';

/** The tarball's package.json: a manifest, never near this (NORA's own read allows 16 MiB). */
export const MAX_PACKAGE_JSON_BYTES = 4 * 1024 * 1024;

export const npmWriter: ImportWriter = {
  format: 'npm',
  accepts(file) {
    if (file.path.endsWith('.tgz')) return { action: 'take' };
    return { action: 'ignore', reason: 'npm metadata: NORA builds its packuments' };
  },
  write: guarded(publishTarball),
};

/** `@scope/name` as npm puts it in a URL path (`@scope%2fname`). */
export function npmUrlName(name: string): string {
  return name.startsWith('@') ? name.replace('/', '%2f') : encodeURIComponent(name);
}

/**
 * Why a tarball cannot be imported under the name and version its package.json gives, or
 * undefined: the source stores `<name>/-/<unscoped name>-<version>.tgz` (`@scope/name/-/…`), so a
 * package.json naming another package or version than that path is refused (an
 * `innocent/-/innocent-1.0.0.tgz` must not publish `lodash@99.0.0`).
 */
export function pathMismatch(path: string, name: string, version: string): string | undefined {
  const unscoped = name.slice(name.lastIndexOf('/') + 1);
  if (path === `${name}/-/${unscoped}-${version}.tgz`) return undefined;
  return `cannot import: its package.json says ${name}@${version}, but the tarball is stored at ${path} (expected ${name}/-/${unscoped}-${version}.tgz)`;
}

/** The publish in progress per `<target path>/<name>` (its end, never rejecting). */
const publishing = new Map<string, Promise<unknown>>();

/** Runs `task` after every earlier task of the same `key` has ended (a FIFO per key). */
async function oneAtATime<T>(key: string, task: () => Promise<T>): Promise<T> {
  const before = publishing.get(key) ?? Promise.resolve();
  const mine = before.then(task, task);
  const settled = mine.catch(() => undefined);
  publishing.set(key, settled);
  try {
    return await mine;
  } finally {
    if (publishing.get(key) === settled) publishing.delete(key);
  }
}

async function publishTarball(ctx: WriteContext): Promise<WriteOutcome> {
  const manifest = await readPackageJson(ctx);
  const name = manifest['name'];
  const rawVersion = manifest['version'];
  if (typeof name !== 'string' || name === '' || typeof rawVersion !== 'string') {
    return { status: 'failed', reason: 'package.json in the tarball has no name or version' };
  }
  const mismatch = pathMismatch(ctx.file.path, name, rawVersion);
  if (mismatch !== undefined) return { status: 'failed', reason: mismatch };
  // As npm publish reads it (`v1.0.0` is published as 1.0.0; NORA compares the same way).
  const version = semver.clean(rawVersion) ?? rawVersion;
  const base = `${ctx.target.path}/${npmUrlName(name)}`;
  return oneAtATime(base, async () => {
    const source = await sourcePackument(ctx, name, version);
    if ('status' in source) return source;
    const cap = releaseOrUndefined(source['dist-tags']?.['latest']);
    const outcome = await publishVersion(ctx, manifest, name, version, base, cap);
    return carryMetadata(ctx, name, version, base, source, outcome);
  });
}

/** What the import reads of the source's packument. */
interface SourcePackument {
  readonly 'dist-tags'?: Record<string, unknown>;
  readonly versions?: Record<string, { deprecated?: unknown } | null>;
}

/**
 * The source's packument of `name` (`<source package API>/<name>`): `{}` when it serves none
 * (404: nothing to carry), a failure naming the answer otherwise (nothing is published then: a
 * re-run tries again).
 */
async function sourcePackument(
  ctx: WriteContext,
  name: string,
  version: string,
): Promise<SourcePackument | Extract<WriteOutcome, { status: 'failed' }>> {
  const source = ctx.sourceRegistry(ctx.source);
  const answer = await source.get(`/${npmUrlName(name)}`);
  if (answer.status === 404) {
    await answer.discard();
    return {};
  }
  if (!answer.ok) {
    const reason = await answerReason(answer, 'GET', `${source.base}/${npmUrlName(name)}`);
    return { status: 'failed', reason: `${name}@${version}: its tags at the source: ${reason}` };
  }
  return JSON.parse(await answer.text()) as SourcePackument;
}

/** `value` when it is a semver release (no prerelease part), else undefined. */
function releaseOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && newestRelease([value]) !== undefined ? value : undefined;
}

/**
 * Carries the source's metadata of `version` once it is in NORA (`outcome` imported or skipped),
 * from the source's packument (`source`, `{}` when it serves none) compared with NORA's
 * (abbreviated, one GET): each dist-tag other than `latest` pointing at `version` (`PUT
 * /-/package/<name>/dist-tags/<tag>`, as `npm dist-tag add`); the source's `latest` when it is
 * `version` and NORA's differs — moved there when every release NORA has above it came from the
 * source (a rollback at the source is carried; a newer version published into NORA from
 * elsewhere is not undone, the outcome's `note` says so); and the version's `deprecated` message
 * unless NORA has the same one (`PUT /<name>` with a packument naming only that version, as `npm
 * deprecate` sends it). A tag or deprecation NORA refuses is a failure naming it. A version the
 * source does not deprecate is left as NORA has it (an import never un-deprecates).
 */
async function carryMetadata(
  ctx: WriteContext,
  name: string,
  version: string,
  base: string,
  source: SourcePackument,
  outcome: WriteOutcome,
): Promise<WriteOutcome> {
  if (outcome.status !== 'imported' && outcome.status !== 'skipped') return outcome;
  const sourceTags = source['dist-tags'] ?? {};
  const deprecated = source.versions?.[version]?.deprecated;
  const wantsDeprecation = typeof deprecated === 'string' && deprecated !== '';
  const tagged = Object.entries(sourceTags).filter(([, v]) => v === version);
  if (tagged.length === 0 && !wantsDeprecation) return outcome;
  const read = await ctx.nora.request('GET', base, { headers: { accept: ABBREVIATED_TYPE } });
  if (!read.ok) {
    const reason = await answerReason(read, 'GET', base);
    return { status: 'failed', reason: `${name}@${version} is in NORA, but its tags: ${reason}` };
  }
  const nora = JSON.parse(await read.text()) as {
    'dist-tags'?: Record<string, unknown>;
    versions?: Record<string, { deprecated?: unknown } | null>;
  };
  const noraTags = nora['dist-tags'] ?? {};
  let note: string | undefined;
  const writes: { what: string; path: string; body: unknown }[] = [];
  for (const [tag] of tagged) {
    if (noraTags[tag] === version) continue;
    if (tag === 'latest') {
      // Releases NORA has above the source's latest that the source does not list: published
      // into NORA from elsewhere, newer than what the source calls latest — left as they are.
      const foreign = Object.keys(nora.versions ?? {}).filter(
        (v) =>
          releaseOrUndefined(v) !== undefined &&
          semver.gt(v, version) &&
          source.versions?.[v] === undefined,
      );
      if (foreign.length > 0) {
        note = `${name}: the source's latest ${version} is not carried: NORA has ${semver.rsort(foreign).join(', ')} from elsewhere (latest stays ${String(noraTags['latest'])}; npm dist-tag add ${name}@${version} latest moves it)`;
        continue;
      }
    }
    const path = `${ctx.target.path}/-/package/${npmUrlName(name)}/dist-tags/${encodeURIComponent(tag)}`;
    writes.push({ what: `tag ${tag}`, path, body: version });
  }
  if (wantsDeprecation && nora.versions?.[version]?.deprecated !== deprecated) {
    writes.push({
      what: 'its deprecation',
      path: base,
      body: { _id: name, name, versions: { [version]: { name, version, deprecated } } },
    });
  }
  for (const { what, path, body } of writes) {
    const put = await ctx.nora.request('PUT', path, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!put.ok) {
      const reason = await answerReason(put, 'PUT', path);
      return { status: 'failed', reason: `${name}@${version} is in NORA, but ${what}: ${reason}` };
    }
    await put.discard();
  }
  return note === undefined ? outcome : { ...outcome, note };
}

/**
 * The outcome when NORA already holds `name@version` (skipped when its `dist.integrity` — or,
 * on older records, `dist.shasum` — is the tarball's, a failure when it differs), or undefined
 * when NORA answers 404 for the version.
 */
async function heldVersion(
  ctx: WriteContext,
  name: string,
  version: string,
  base: string,
): Promise<WriteOutcome | undefined> {
  const existing = await ctx.nora.request('GET', `${base}/${encodeURIComponent(version)}`);
  if (existing.ok) {
    const dist = (JSON.parse(await existing.text()) as { dist?: Record<string, unknown> }).dist;
    const integrity = typeof dist?.['integrity'] === 'string' ? dist['integrity'] : '';
    // `sha512-<base64>` (what npm checks); older records may hold only the sha1 `shasum`.
    if (integrity.startsWith('sha512-')) {
      const hex = Buffer.from(integrity.slice('sha512-'.length), 'base64').toString('hex');
      return alreadyInNora(ctx, `${name}@${version}`, 'sha512', hex);
    }
    const shasum = typeof dist?.['shasum'] === 'string' ? dist['shasum'] : undefined;
    return alreadyInNora(ctx, `${name}@${version}`, 'sha1', shasum);
  }
  if (existing.status !== 404) {
    return { status: 'failed', reason: await answerReason(existing, 'GET', `${base}/${version}`) };
  }
  await existing.discard();
  return undefined;
}

/**
 * Publishes `name@version` at `base` unless NORA has it (then skipped when NORA's `dist.integrity`
 * is the tarball's, a failure when it differs), moving `latest` only forward and never above
 * `cap` (the source's `latest`, when it is a release).
 */
async function publishVersion(
  ctx: WriteContext,
  manifest: Record<string, unknown>,
  name: string,
  version: string,
  base: string,
  cap: string | undefined,
): Promise<WriteOutcome> {
  const held = await heldVersion(ctx, name, version, base);
  if (held !== undefined) return held;

  const tags: Record<string, string> = {};
  const aboveCap = cap !== undefined && semver.valid(version) !== null && semver.gt(version, cap);
  if (semver.valid(version) !== null && semver.prerelease(version) === null && !aboveCap) {
    const latest = await currentLatest(ctx, name);
    if (latest === undefined || semver.valid(latest) === null || semver.gt(version, latest)) {
      tags['latest'] = version;
    }
  }

  const tarball = await ctx.open();
  const key = `${name}-${version}.tgz`;
  const placeholder = '\u0000tarball\u0000';
  const document = JSON.stringify({
    _id: name,
    name,
    'dist-tags': tags,
    versions: {
      [version]: { ...manifest, name, version, _id: `${name}@${version}`, dist: {} },
    },
    _attachments: {
      [key]: {
        content_type: 'application/octet-stream',
        data: placeholder,
        length: tarball.length,
      },
    },
  });
  // The last occurrence: `_attachments` is the last key (a package.json could hold the text too).
  const at = document.lastIndexOf(JSON.stringify(placeholder));
  const body = concatBody([
    `${document.slice(0, at)}"`,
    base64Stream(tarball.stream, tarball.length),
    `"${document.slice(at + JSON.stringify(placeholder).length)}`,
  ]);
  const outcome = await sendPublish(ctx, 'PUT', base, 'application/json', body, tarball.length);
  // Another `nora import run` published this version since the check above (trial 30 newA F4):
  // the same bytes are a skip, others a failure, as when NORA had it before.
  if (outcome.status === 'failed' && outcome.reason.startsWith('409 ')) {
    return (await heldVersion(ctx, name, version, base)) ?? outcome;
  }
  if (outcome.status !== 'imported' || tags['latest'] === undefined) return outcome;
  return settleLatest(ctx, name, version, base, cap, outcome);
}

/** Rounds of settleLatest's read-then-move before it gives up (each round sees a newer version). */
const SETTLE_ROUNDS = 5;

/**
 * Moves `latest` back onto the newest release after this run's publish of `mine` set it there.
 * The queue of oneAtATime serializes one process's publishes only: another `nora import run`
 * against the same NORA may have read the same `latest` before a newer version landed and
 * publish an older one over it. So every run that moved `latest` reads it again afterwards
 * (the abbreviated packument: its dist-tags and versions) and, while `latest` is still the value
 * it wrote and a newer release is in NORA, moves it there (`PUT …/dist-tags/latest`, as
 * `npm dist-tag add`) and reads again. A `latest` someone else wrote is left to that writer's own
 * read-after-write (an operator's `npm dist-tag add` of an older version included), so the last
 * writer always checks, and `latest` ends on the newest release (not above `cap`, the source's
 * `latest`) whatever the interleaving.
 * Returns `outcome`, or a failure naming the read or write NORA refused (the version is in).
 */
async function settleLatest(
  ctx: WriteContext,
  name: string,
  mine: string,
  base: string,
  cap: string | undefined,
  outcome: WriteOutcome,
): Promise<WriteOutcome> {
  let wrote = mine;
  for (let round = 0; round < SETTLE_ROUNDS; round++) {
    const read = await ctx.nora.request('GET', base, { headers: { accept: ABBREVIATED_TYPE } });
    if (!read.ok) {
      const reason = await answerReason(read, 'GET', base);
      return { status: 'failed', reason: `${name}@${mine} is in NORA, but latest: ${reason}` };
    }
    const packument = JSON.parse(await read.text()) as {
      'dist-tags'?: Record<string, unknown>;
      versions?: Record<string, unknown>;
    };
    if (packument['dist-tags']?.['latest'] !== wrote) return outcome;
    const newest = newestRelease(
      Object.keys(packument.versions ?? {}).filter(
        (v) => cap === undefined || semver.valid(v) === null || !semver.gt(v, cap),
      ),
    );
    if (newest === undefined || !semver.gt(newest, wrote)) return outcome;
    const path = `${ctx.target.path}/-/package/${npmUrlName(name)}/dist-tags/latest`;
    const put = await ctx.nora.request('PUT', path, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(newest),
    });
    if (!put.ok) {
      const reason = await answerReason(put, 'PUT', path);
      return { status: 'failed', reason: `${name}@${mine} is in NORA, but latest: ${reason}` };
    }
    await put.discard();
    wrote = newest;
  }
  return outcome;
}

/** The highest of `versions` that is valid semver without a prerelease part, or undefined. */
function newestRelease(versions: readonly string[]): string | undefined {
  const releases = versions.filter(
    (v) => semver.valid(v) !== null && semver.prerelease(v) === null,
  );
  return releases.length === 0 ? undefined : semver.rsort(releases)[0];
}

/** The tarball's root package.json, parsed (rejects naming what is wrong). */
async function readPackageJson(ctx: WriteContext): Promise<Record<string, unknown>> {
  const body = await ctx.open();
  const raw = await readTarMember(body.stream, rootMember('package.json'), MAX_PACKAGE_JSON_BYTES);
  if (raw === undefined) throw new Error('the tarball has no package.json at its root');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new Error('package.json in the tarball is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('package.json in the tarball is not a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** NORA's `latest` of `name`, or undefined when the package is new there. */
async function currentLatest(ctx: WriteContext, name: string): Promise<string | undefined> {
  const path = `${ctx.target.path}/-/package/${npmUrlName(name)}/dist-tags`;
  const answer = await ctx.nora.request('GET', path);
  if (answer.status === 404) {
    await answer.discard();
    return undefined;
  }
  if (!answer.ok) throw new Error(await answerReason(answer, 'GET', path));
  const tags = JSON.parse(await answer.text()) as Record<string, unknown>;
  return typeof tags['latest'] === 'string' ? tags['latest'] : undefined;
}
