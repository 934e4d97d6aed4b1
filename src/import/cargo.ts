/**
 * Cargo writer (Artifactory and Nexus Cargo repositories keep `.crate` files, e.g.
 * `crates/<name>/<name>-<version>.crate`, or under the download path
 * `crates/<name>/<version>/download`, next to an index they generate): every crate is
 * published as `cargo publish` does — `PUT <target>/api/v1/crates/new` with the Cargo book's
 * frame (u32 LE JSON length, the metadata JSON, u32 LE crate length, the crate, streamed). The
 * metadata comes from the crate's own `Cargo.toml` (the normalised one `cargo package` writes,
 * read bounded from the archive): name, version, dependencies with their kinds, targets,
 * features and renames, features, and the package texts. Index files of the source are ignored.
 *
 * Dependencies: `cargo package` writes one of an alternative registry with its `registry-index`,
 * one of crates.io without. Those of an alternative registry are taken to be of the source
 * registry (imported alongside: `registry` null, so NORA's own), those of crates.io keep
 * crates.io's index as their `registry`, as `cargo publish` sent them to the source.
 *
 * Dependency order: NORA refuses a crate whose dependency from the same registry it does not have
 * yet, so a crate whose dependency is not in NORA's index is not sent: it is `deferred`, and the
 * run writes it again after the repository's other crates (rounds, while they make progress).
 *
 * Yanked versions: the source's sparse index (Artifactory `api/cargo/<repo>/index/<prefix>/<name>`,
 * Nexus `repository/<repo>/<prefix>/<name>`) is read after each publish (or skip); a version yanked there is yanked in NORA through its yank API.
 * A source that serves no index (404) leaves the versions unyanked.
 */
import { parse as parseToml } from 'smol-toml';
import { readTarMember, rootMember } from './archive.ts';
import { concatBody, guarded, sendPublish } from './body.ts';
import { alreadyInNora } from './existing.ts';
import { answerReason } from './put.ts';
import { indexPath } from '../formats/cargo/index-file.ts';
import type { ImportWriter, WriteContext, WriteOutcome } from './types.ts';

/** Cargo.toml inside a crate (NORA's publish check reads at most as much). */
export const MAX_CARGO_TOML_BYTES = 1024 * 1024;

type Table = Record<string, unknown>;

/**
 * A crate stored under its download path, `crates/<name>/<version>/download`: Cargo's default
 * `dl` template under a Nexus repository's `dl` (`…/repository/<repo>/crates`), the shape a
 * registry may keep the asset under (not confirmed for Nexus: see docs/import.md).
 */
const DOWNLOAD_PATH = /(?:^|\/)crates\/([^/]+)\/([^/]+)\/download$/;

/**
 * The index a dependency of crates.io is published with to any other registry (`cargo publish`
 * sends it as the dependency's `registry`).
 */
export const CRATES_IO_INDEX = 'https://github.com/rust-lang/crates.io-index';

export const cargoWriter: ImportWriter = {
  format: 'cargo',
  accepts(file) {
    if (file.path.endsWith('.crate') || DOWNLOAD_PATH.test(file.path)) return { action: 'take' };
    return { action: 'ignore', reason: 'Cargo index file: NORA builds its own' };
  },
  write: guarded(publishCrate),
};

async function publishCrate(ctx: WriteContext): Promise<WriteOutcome> {
  const first = await ctx.open();
  const raw = await readTarMember(first.stream, rootMember('Cargo.toml'), MAX_CARGO_TOML_BYTES);
  if (raw === undefined) return { status: 'failed', reason: 'the .crate has no Cargo.toml' };
  let manifest: Table;
  try {
    manifest = parseToml(raw.toString('utf8'));
  } catch (err) {
    return { status: 'failed', reason: `Cargo.toml in the .crate does not parse: ${String(err)}` };
  }
  const metadata = publishMetadata(manifest);
  if (metadata === undefined) {
    return { status: 'failed', reason: 'Cargo.toml in the .crate has no package name or version' };
  }
  const { name, vers } = metadata;
  const mismatch = crateFileMismatch(ctx.file.path, name, vers);
  if (mismatch !== undefined) return { status: 'failed', reason: mismatch };
  const api = `${ctx.target.path}/api/v1/crates`;
  const held = (await indexLines(ctx, name))?.find((line) => line.vers === vers);
  if (held !== undefined) {
    const outcome = await alreadyInNora(ctx, `${name}@${vers}`, 'sha256', held.cksum);
    return held.yanked === true ? outcome : carryYank(ctx, name, vers, outcome);
  }
  const missing = await missingDependencies(ctx, metadata);
  if (missing.length > 0) return waiting(name, vers, missing);

  const json = Buffer.from(JSON.stringify(metadata));
  const crate = await ctx.open();
  const body = concatBody([u32(json.length), json, u32(crate.length), crate]);
  const outcome = await sendPublish(
    ctx,
    'PUT',
    `${api}/new`,
    'application/octet-stream',
    body,
    crate.length,
  );
  // A dependency removed between the check and the publish: wait for it like a missing one.
  if (outcome.status === 'failed' && outcome.reason.includes('no known crate named')) {
    return { status: 'deferred', reason: outcome.reason };
  }
  // Another `nora import run` published this version since the check above (trial 30 newA F4):
  // the same bytes are a skip, others a failure, as when NORA had it before.
  if (outcome.status === 'failed' && outcome.reason.startsWith('409 ')) {
    const now = (await indexLines(ctx, name))?.find((line) => line.vers === vers);
    if (now !== undefined) {
      const again = await alreadyInNora(ctx, `${name}@${vers}`, 'sha256', now.cksum);
      return now.yanked === true ? again : carryYank(ctx, name, vers, again);
    }
  }
  return carryYank(ctx, name, vers, outcome);
}

/**
 * Why a `.crate` cannot be imported under the name and version its Cargo.toml gives, or
 * undefined: `cargo package` names the file `<name>-<version>.crate` and every source layout
 * keeps that file name, so a Cargo.toml naming another crate or version than the file is refused
 * (an `innocent-1.0.0.crate` must not publish, or be "already in NORA" as, another crate; trial 30
 * newA F5). Only the file name is compared: the folders differ between sources.
 */
export function crateFileMismatch(path: string, name: string, vers: string): string | undefined {
  const download = DOWNLOAD_PATH.exec(path);
  if (download !== null) {
    if (download[1] === name && download[2] === vers) return undefined;
    return `cannot import: its Cargo.toml says ${name}@${vers}, but the crate is stored at ${path} (expected crates/${name}/${vers}/download)`;
  }
  const file = path.slice(path.lastIndexOf('/') + 1);
  if (file === `${name}-${vers}.crate`) return undefined;
  return `cannot import: its Cargo.toml says ${name}@${vers}, but the crate is stored as ${file} (expected ${name}-${vers}.crate)`;
}

/**
 * Yanks `name@vers` in NORA (`DELETE …/yank`, as `cargo yank` does) when the source's sparse
 * index (`<source package API><cargoIndex>/<prefix>/<name>`) says it is yanked; `outcome` (imported or
 * skipped) otherwise, and also when the source serves no index (404: the state is not carried).
 * A yank NORA refuses turns `outcome` into a failure naming it (the crate itself is in).
 */
async function carryYank(
  ctx: WriteContext,
  name: string,
  vers: string,
  outcome: WriteOutcome,
): Promise<WriteOutcome> {
  if (outcome.status !== 'imported' && outcome.status !== 'skipped') return outcome;
  const source = ctx.sourceRegistry(ctx.source);
  const indexFile = `${source.cargoIndex}/${indexPath(name)}`;
  const answer = await source.get(indexFile);
  if (answer.status === 404) {
    await answer.discard();
    return outcome;
  }
  if (!answer.ok) {
    return {
      status: 'failed',
      reason: `${name}@${vers} is in NORA, but its yanked state could not be read: ${await answerReason(answer, 'GET', `${source.base}${indexFile}`)}`,
    };
  }
  const lines = (await answer.text()).split('\n').filter((line) => line.trim() !== '');
  const line = lines.map((l) => JSON.parse(l) as IndexLine).find((l) => l.vers === vers);
  if (line?.yanked !== true) return outcome;
  const path = `${ctx.target.path}/api/v1/crates/${encodeURIComponent(name)}/${encodeURIComponent(vers)}/yank`;
  const yank = await ctx.nora.request('DELETE', path);
  if (!yank.ok) {
    return {
      status: 'failed',
      reason: `${name}@${vers} is in NORA, but yanking it (yanked at the source) failed: ${await answerReason(yank, 'DELETE', path)}`,
    };
  }
  await yank.discard();
  return outcome;
}

/** `deferred`: `name@vers` waits for crates of this registry NORA does not have yet. */
function waiting(name: string, vers: string, missing: readonly string[]): WriteOutcome {
  return {
    status: 'deferred',
    reason: `${name}@${vers} depends on ${missing.join(', ')}, not in NORA (imported neither before nor in this run): not imported`,
  };
}

/**
 * The dependencies of this registry (`registry` null) that NORA's index of the target does not
 * name yet — what NORA's publish would refuse with "no known crate named" (the crate itself
 * excepted, as NORA does).
 */
async function missingDependencies(
  ctx: WriteContext,
  metadata: { name: string; deps: readonly PublishDependency[] },
): Promise<string[]> {
  const names = new Set(
    metadata.deps.filter((d) => d.registry === null && d.name !== metadata.name).map((d) => d.name),
  );
  const missing: string[] = [];
  for (const name of [...names].sort()) {
    const lines = await indexLines(ctx, name);
    if (lines === undefined || !lines.some((line) => line.name === name)) missing.push(name);
  }
  return missing;
}

/** One version's line of NORA's sparse index for the target (what `cargo` reads). */
interface IndexLine {
  readonly name: string;
  readonly vers: string;
  /** sha256 of the .crate, hex. */
  readonly cksum?: string;
  readonly yanked?: boolean;
}

/**
 * The lines of `name`'s file in the target's index (`<target>/index/<prefix>/<name>`, one per
 * version), or undefined when NORA has no version of it (404). Rejects on another non-2xx.
 */
async function indexLines(ctx: WriteContext, name: string): Promise<IndexLine[] | undefined> {
  const path = `${ctx.target.path}/index/${indexPath(name)}`;
  const answer = await ctx.nora.request('GET', path);
  if (answer.status === 404) {
    await answer.discard();
    return undefined;
  }
  if (!answer.ok) throw new Error(await answerReason(answer, 'GET', path));
  return (await answer.text())
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as IndexLine);
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}

function table(value: unknown): Table | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Table)
    : undefined;
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** One dependency of the publish metadata (Cargo book "Registry web API", publish). */
interface PublishDependency {
  name: string;
  version_req: string;
  features: string[];
  optional: boolean;
  default_features: boolean;
  target: string | null;
  kind: 'normal' | 'dev' | 'build';
  registry: string | null;
  explicit_name_in_toml: string | null;
}

/**
 * The publish metadata `cargo publish` would send for this Cargo.toml, or undefined without a
 * package name and version. Dependencies without a version (path-only, git) are left out, as
 * `cargo package` leaves them out.
 */
export function publishMetadata(
  manifest: Table,
):
  | (Record<string, unknown> & { name: string; vers: string; deps: PublishDependency[] })
  | undefined {
  const pkg = table(manifest['package']);
  const name = pkg?.['name'];
  const vers = pkg?.['version'];
  if (pkg === undefined || typeof name !== 'string' || typeof vers !== 'string') return undefined;
  const deps: PublishDependency[] = [];
  const kinds = [
    ['dependencies', 'normal'],
    ['dev-dependencies', 'dev'],
    ['build-dependencies', 'build'],
  ] as const;
  const collect = (scope: Table, target: string | null) => {
    for (const [section, kind] of kinds) {
      const underscored = section.replace('-', '_');
      for (const [key, spec] of Object.entries(table(scope[section] ?? scope[underscored]) ?? {})) {
        const dep = dependency(key, spec, kind, target);
        if (dep !== undefined) deps.push(dep);
      }
    }
  };
  collect(manifest, null);
  for (const [target, scope] of Object.entries(table(manifest['target']) ?? {})) {
    const t = table(scope);
    if (t !== undefined) collect(t, target);
  }
  const features: Record<string, string[]> = {};
  for (const [feature, values] of Object.entries(table(manifest['features']) ?? {})) {
    features[feature] = strings(values);
  }
  return {
    name,
    vers,
    deps,
    features,
    authors: strings(pkg['authors']),
    description: text(pkg['description']),
    documentation: text(pkg['documentation']),
    homepage: text(pkg['homepage']),
    readme: null,
    readme_file: text(pkg['readme']),
    keywords: strings(pkg['keywords']),
    categories: strings(pkg['categories']),
    license: text(pkg['license']),
    license_file: text(pkg['license-file']),
    repository: text(pkg['repository']),
    links: text(pkg['links']),
    rust_version: text(pkg['rust-version']),
  };
}

function dependency(
  key: string,
  spec: unknown,
  kind: PublishDependency['kind'],
  target: string | null,
): PublishDependency | undefined {
  const detail = typeof spec === 'string' ? { version: spec } : table(spec);
  const version = detail?.['version'];
  if (detail === undefined || typeof version !== 'string') return undefined;
  const renamed = text(detail['package']);
  return {
    name: renamed ?? key,
    version_req: version,
    features: strings(detail['features']),
    optional: detail['optional'] === true,
    default_features: (detail['default-features'] ?? detail['default_features']) !== false,
    target,
    kind,
    registry: detail['registry-index'] === undefined ? CRATES_IO_INDEX : null,
    explicit_name_in_toml: renamed === null ? null : key,
  };
}
