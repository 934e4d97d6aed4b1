/**
 * `nora re-pin KEY --expected SHA256 [--file F] [--yes] [--json]`: points a stored file's name at
 * the digest its operator vouches for, offline.
 *
 * NORA (Rust) keeps a SHA-256 "pin" per storage key and refuses reads whose bytes no longer
 * match it; its `re-pin` moves the pin to `--expected` once the bytes on disk hash to it. Here
 * bytes are content-addressed (src/storage/keys.ts) and the name → digest mapping is a SQL row,
 * so a "pin" is that row's digest, and the two repairs an operator needs are:
 *
 * - the row names the wrong digest (bytes put back by hand under another digest, a restore of
 *   an older database): re-point it at `--expected`, once a blob with that digest is stored and
 *   hashes to it (`nora verify`'s check, BlobStore.scrub);
 * - the blob is gone or damaged and the operator holds the right bytes: `--file F` is hashed,
 *   must equal `--expected`, and is ingested (verified again as it is stored) before the row is
 *   re-pointed (or left as it is, when it already named that digest).
 *
 * KEY is `<format>/<repository>/<path>`, the way the web UI's browse paths and the
 * `/repository/<name>/<path>` URLs spell a stored file. This build re-pins hosted raw files:
 * their row is the whole truth about the file. Other formats are refused with the reason and
 * their repair (exit 2): OCI content is named by its digest (nothing to re-point), and npm,
 * PyPI, Maven, Cargo, Go and Helm publish the file's digest in metadata clients check
 * (integrity fields, lock files, checksum files), which a re-point would contradict.
 *
 * Dry by default: reports what would change. `--yes` writes, refused while a server or a `nora
 * migrate` holds the storage (src/storage/offline-write.ts). The row changes in one
 * transaction, with the blob index row of the new digest.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { buildApp, existingDatabase } from '../app.ts';
import type { AppConfig } from '../config/schema.ts';
import { FORMAT_NAMES, type FormatName } from '../config/schema.ts';
import { formatDigest, type Digest } from '../core/digest.ts';
import { hashFile } from '../core/hash-file.ts';
import { errnoCode, RegistryError } from '../core/errors.ts';
import { parseRawPath } from '../formats/raw/paths.ts';
import type { RawTables } from '../formats/raw/migrations.ts';
import { OfflineWriteRefusedError, refuseWhileServed } from './offline-write.ts';

/** A KEY or flag that names nothing this verb can re-pin (exit 2, nothing read or written). */
export class RePinUsageError extends Error {
  override readonly name = 'RePinUsageError';
}

/** The re-pin was refused or failed over data: the bytes do not match, none are stored (exit 1). */
export class RePinFailedError extends Error {
  override readonly name = 'RePinFailedError';
}

export interface RePinOptions {
  readonly key: string;
  /** 64 hex digits (a `sha256:` prefix is accepted). */
  readonly expected: string;
  /** A file holding the right bytes, ingested when they hash to `expected`. */
  readonly file?: string;
  /** Write; without it nothing is changed. */
  readonly apply: boolean;
}

/**
 * What happened or would happen: `unchanged` (the row names `expected` and its blob is good),
 * `repointed` (the row moved from `previous`), `restored` (same digest, its blob stored again
 * from `--file`), or both (`repointed` with `stored`).
 */
export interface RePinReport {
  readonly key: string;
  readonly repository: string;
  readonly path: string;
  readonly previous: string;
  readonly expected: string;
  /** State of the blob of `expected` before the command: what `nora verify` would say. */
  readonly blob: 'good' | 'damaged' | 'missing';
  readonly outcome: 'unchanged' | 'repointed' | 'restored';
  /** Whether the bytes of `--file` were (or would be) stored. */
  readonly stored: boolean;
  readonly applied: boolean;
}

/** `<format>/<repository>/<path>` split and checked; throws RePinUsageError. */
export function parseRePinKey(key: string): {
  format: FormatName;
  repository: string;
  path: string;
} {
  const [format = '', repository = '', ...rest] = key.split('/');
  if (
    !(FORMAT_NAMES as readonly string[]).includes(format) ||
    repository === '' ||
    rest.length === 0
  ) {
    throw new RePinUsageError(
      `KEY ${JSON.stringify(key.slice(0, 200))} is not <format>/<repository>/<path> (format one of ${FORMAT_NAMES.join(', ')}), e.g. raw/raw-hosted/dist/app-1.0.bin`,
    );
  }
  return { format: format as FormatName, repository, path: rest.join('/') };
}

/** `--expected`: a SHA-256 as 64 hex digits, optionally `sha256:`-prefixed; throws RePinUsageError. */
export function parseExpected(value: string): Digest {
  const hex = value.toLowerCase().replace(/^sha256:/, '');
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new RePinUsageError(
      `--expected must be a SHA-256: 64 hex digits, got ${JSON.stringify(value.slice(0, 100))}`,
    );
  }
  return { algorithm: 'sha256', hex };
}

/** Why a format's files are not re-pinned here, and the repair that applies instead. */
const NOT_REPINNED: Readonly<Record<Exclude<FormatName, 'raw'>, string>> = {
  docker:
    'OCI manifests and blobs are named by their digest, so there is no name → digest record to re-point; push the image again (a push of the same blob stores a missing or damaged one again)',
  npm: "npm publishes a tarball's sha512 and sha1 in its packument (and lock files record them): re-pointing the name would break every install that checks them; put the npm pack .tgz back (docs/storage.md)",
  pypi: "PyPI pages list each file's sha256, which pip checks: upload the same file again with twine (docs/storage.md)",
  maven:
    "Maven serves each file's md5/sha1/sha256/sha512 beside it: deploy the same file again (curl -T of the copy in ~/.m2/repository; docs/storage.md)",
  cargo:
    "the Cargo index records each .crate's sha256 (cksum), which cargo checks: put the cargo package .crate back (docs/storage.md)",
  go: 'go.sum and the checksum database record each module zip: nora go publish the same tree and version again (docs/storage.md)',
  helm: "index.yaml lists each chart's digest: upload the same chart archive again (docs/storage.md)",
};

/**
 * Runs the re-pin on `config`'s storage and database. Throws RePinUsageError (bad KEY, a format
 * or repository this verb does not re-pin), OfflineWriteRefusedError (--yes beside a server),
 * RePinFailedError (no such file; the bytes do not hash to --expected; no good blob of it).
 */
export async function runRePin(config: AppConfig, options: RePinOptions): Promise<RePinReport> {
  const target = parseRePinKey(options.key);
  const expected = parseExpected(options.expected);
  if (target.format !== 'raw') {
    throw new RePinUsageError(
      `${target.format} files are not re-pinned: ${NOT_REPINNED[target.format]}`,
    );
  }
  const rawPath = rawFilePath(target.path);
  if (options.file !== undefined) await checkFile(options.file, expected);
  if (options.apply) await refuseWhileServed(config, 'nora re-pin');
  else {
    // A dry run writes nothing: opening a wrong storage path would create an empty database
    // (and audit.jsonl, .tmp/ …) there, as --yes refuses to.
    await existingDatabase(config, 'nothing to re-pin').catch((err: unknown) => {
      throw new OfflineWriteRefusedError('nora re-pin', (err as Error).message);
    });
  }
  // A dry run writes nothing at all: no database checkpoint, server marker, spool wipe, lease.
  const app = await buildApp(config, {
    logLevel: 'silent',
    offline: true,
    readOnly: !options.apply,
  });
  try {
    const { repositories, blobs, db } = app.context;
    const repository = repositories.get(target.repository);
    if (repository?.format !== 'raw') {
      const raws = repositories
        .byFormat('raw')
        .filter((r) => r.kind === 'hosted')
        .map((r) => r.name);
      throw new RePinUsageError(
        `no raw repository ${JSON.stringify(target.repository)} is configured (hosted raw repositories: ${raws.join(', ') || 'none'})`,
      );
    }
    if (repository.kind !== 'hosted') {
      throw new RePinUsageError(
        repository.kind === 'proxy'
          ? `${repository.name} is a proxy: its cached files are fetched again from the upstream when damaged or missing, there is nothing to re-pin`
          : `${repository.name} is a group: name the hosted member that holds the file (${repository.writeMember ?? repository.members.join(', ')})`,
      );
    }
    const raw = db as unknown as Kysely<RawTables>;
    const row = await raw
      .selectFrom('raw_files')
      .select(['digest', 'size'])
      .where('repo', '=', repository.name)
      .where('path', '=', rawPath)
      .executeTakeFirst();
    if (row === undefined) {
      throw new RePinFailedError(
        `no file ${rawPath} in ${repository.name}: re-pin repairs a stored file, upload a new one instead`,
      );
    }
    const state = await blobs.scrub(expected, { remove: false });
    const wanted = formatDigest(expected);
    const repoint = row.digest !== wanted;
    const store = options.file !== undefined && state.outcome !== 'good';
    if (options.file === undefined && state.outcome !== 'good') {
      throw new RePinFailedError(
        `${state.outcome === 'missing' ? 'no blob' : 'the stored blob'} ${wanted} ${state.outcome === 'missing' ? 'is stored' : 'is damaged (its bytes hash to something else)'}: pass --file F holding the bytes that hash to it`,
      );
    }
    const report = {
      key: options.key,
      repository: repository.name,
      path: rawPath,
      previous: row.digest,
      expected: wanted,
      blob: state.outcome,
      outcome: repoint ? 'repointed' : store ? 'restored' : 'unchanged',
      stored: store,
      applied: false,
    } satisfies RePinReport;
    if (!options.apply || (!repoint && !store)) return report;
    let size = state.size;
    if (store) {
      // Verified again while stored: the file may have changed since checkFile hashed it.
      const ingested = await blobs.ingest(createReadStream(options.file), { expected });
      size = ingested.size;
    }
    if (repoint) {
      await raw.transaction().execute(async (trx) => {
        const now = Date.now();
        await trx
          .updateTable('raw_files')
          .set({ digest: wanted, size, updated_at: now })
          .where('repo', '=', repository.name)
          .where('path', '=', rawPath)
          .execute();
        // Recorded (again) now: the time `nora gc`'s grace counts from, as a raw PUT does.
        await (
          trx as unknown as Kysely<{ blobs: { digest: string; size: number; created_at: number } }>
        )
          .insertInto('blobs')
          .values({ digest: wanted, size, created_at: now })
          .onConflict((oc) => oc.column('digest').doUpdateSet({ created_at: now }))
          .execute();
      });
    }
    return { ...report, applied: true };
  } finally {
    await app.close();
  }
}

/** The raw path of KEY's `<path>` part, checked as a raw URL's path is; throws RePinUsageError. */
function rawFilePath(value: string): string {
  let parsed;
  try {
    parsed = parseRawPath(`/${value}`);
  } catch (err) {
    throw new RePinUsageError(
      `KEY's path ${JSON.stringify(value.slice(0, 200))}: ${err instanceof RegistryError ? err.message : String(err)}`,
    );
  }
  if (parsed.kind !== 'file') {
    throw new RePinUsageError(
      `KEY's path ${JSON.stringify(value.slice(0, 200))} names no file (a folder or the root)`,
    );
  }
  return parsed.path;
}

/** `--file` hashed, streamed; throws RePinFailedError when it is unreadable or hashes elsewhere. */
async function checkFile(file: string, expected: Digest): Promise<void> {
  const stat = await fs.stat(file).catch((err: unknown) => {
    const code = errnoCode(err);
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'not readable (permission denied)'
          : (err as Error).message;
    throw new RePinFailedError(`--file ${path.resolve(file)}: ${why}: nothing was changed`);
  });
  if (!stat.isFile())
    throw new RePinFailedError(`--file ${path.resolve(file)} is not a regular file`);
  const actual = await hashFile(file, 'sha256');
  if (actual !== expected.hex) {
    throw new RePinFailedError(
      `--file ${path.resolve(file)} hashes to sha256:${actual}, not --expected sha256:${expected.hex}: nothing was changed (those are not the bytes you vouched for)`,
    );
  }
}

/** The text report: what changed (or would), and the next step. */
export function describeRePin(report: RePinReport): string[] {
  const lines = [`${report.key}: ${report.repository} ${report.path}`];
  lines.push(
    `  recorded: ${report.previous}`,
    `  expected: ${report.expected} (stored blob: ${report.blob})`,
  );
  if (report.outcome === 'unchanged') {
    lines.push('  nothing to do: the file already names that digest and its blob is good');
    return lines;
  }
  const what = [
    ...(report.stored ? ['store the bytes of --file as that blob'] : []),
    ...(report.outcome === 'repointed' ? ['point the file at the expected digest'] : []),
  ].join(', then ');
  lines.push(
    report.applied
      ? `  done: ${what.replace('store', 'stored').replace('point the', 'pointed the')}`
      : `  would ${what}; run again with --yes to apply`,
  );
  return lines;
}
