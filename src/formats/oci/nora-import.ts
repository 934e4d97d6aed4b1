/**
 * `nora migrate-docker-keys --from DIR [--repository NAME] [--dry-run] [--json]`: the Docker
 * images of a NORA (Rust) storage directory brought into one of our hosted docker repositories.
 *
 * NORA's own `migrate-docker-keys` moves its pre-0.9 flat keys (`docker/<name>/…`) under a
 * registry namespace (`docker/<host.with.dot>/<name>/…`) inside its storage. This storage never
 * had keys of either kind (blobs are content-addressed, names live in SQL), so the verb of the
 * same name reads a NORA local-storage directory in either layout:
 *
 *   docker/<name>/blobs/sha256:<hex>                   a layer or config blob
 *   docker/<name>/manifests/<tag or sha256:hex>.json   a manifest or index (its bytes)
 *   docker/<name>/manifests/<…>.meta.json              NORA's push metadata (ignored)
 *
 * where `<name>` may start with a namespace segment holding a dot (`docker.io/library/alpine`),
 * stripped as NORA strips it when serving (`library/alpine`), so both layouts of one image land
 * under one name. Every blob is hashed against its digest as it is stored (BlobStore.ingest with
 * `expected`: nothing unverified is committed), then manifests, indexes after the manifests they
 * list, and tags are recreated through the hosted OCI code a push uses (Hosted.putManifest:
 * references and declared sizes checked). Idempotent: a blob linked, a manifest stored or a tag
 * naming the same digest is skipped; a tag that names another digest here is kept and reported.
 *
 * Offline, on this host: NORA's directory is read from the local file system (no second copy of
 * every layer through HTTP, no credentials), and the writes go straight to the storage and
 * database, refused while a server holds them (src/storage/offline-write.ts) since a server's
 * manifest cache and tag rows would go on answering without what was added.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { buildApp } from '../../app.ts';
import type { AppConfig } from '../../config/schema.ts';
import { hashFile as hashOf } from '../../core/hash-file.ts';
import { formatDigest, tryParseDigest } from '../../core/digest.ts';
import { refuseWhileServed } from '../../storage/offline-write.ts';
import { Hosted, ManifestCache } from './hosted.ts';
import { MAX_MANIFEST_BYTES, parseManifest } from './manifest.ts';
import { isValidName } from './reference.ts';
import { OciStore } from './store.ts';

/** Flags that name nothing usable (exit 2, nothing written). */
export class NoraImportUsageError extends Error {
  override readonly name = 'NoraImportUsageError';
}

/** NORA's directory could not be read at all (exit 1). */
export class NoraImportFailedError extends Error {
  override readonly name = 'NoraImportFailedError';
}

export interface NoraImportOptions {
  /** NORA's storage directory, holding `docker/`. */
  readonly from: string;
  /** A hosted docker repository of this configuration. */
  readonly repository: string;
  readonly dryRun: boolean;
  /** One line per thing added (or that would be), per failure. */
  readonly onLine?: (line: string) => void;
}

interface Tally {
  added: number;
  skipped: number;
}

export interface NoraImportImage {
  /** The name here (NORA's, namespace stripped). */
  readonly name: string;
  /** NORA's key prefixes it was read from (`docker/<name>`, `docker/docker.io/<name>`). */
  readonly sources: string[];
  readonly blobs: Tally;
  readonly manifests: Tally;
  readonly tags: Tally;
  /** Tags kept here because they name another digest than NORA's. */
  readonly conflicts: { tag: string; here: string; nora: string }[];
}

export interface NoraImportReport {
  readonly from: string;
  readonly repository: string;
  readonly dryRun: boolean;
  readonly images: NoraImportImage[];
  /** What could not be brought in: `name`, NORA's file, why. */
  readonly failed: { name: string; file: string; error: string }[];
}

/** Image directories under `docker/`: NORA key prefix → the directory holding manifests/ and blobs/. */
async function findImages(docker: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const walk = async (dir: string, rel: string, depth: number): Promise<void> => {
    // OCI names have few components; NORA's keys add one namespace segment.
    if (depth > 16) return;
    const entries = await fs.readdir(dir, { withFileTypes: true });
    const names = new Set(entries.filter((e) => e.isDirectory()).map((e) => e.name));
    if (rel !== '' && (names.has('manifests') || names.has('blobs'))) found.set(rel, dir);
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name === 'manifests' || entry.name === 'blobs') continue;
      await walk(
        path.join(dir, entry.name),
        rel === '' ? entry.name : `${rel}/${entry.name}`,
        depth + 1,
      );
    }
  };
  await walk(docker, '', 0);
  return found;
}

/** NORA's name without its registry namespace (a first segment with a dot), as NORA serves it. */
export function noraImageName(prefix: string): string {
  const slash = prefix.indexOf('/');
  if (slash > 0 && prefix.slice(0, slash).includes('.') && slash < prefix.length - 1) {
    return prefix.slice(slash + 1);
  }
  return prefix;
}

async function filesIn(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();
}

/**
 * Runs the import. Throws NoraImportUsageError (no such repository, not hosted docker; an empty
 * --from; no `docker/` under --from), OfflineWriteRefusedError (not a dry run, beside a server). Per-file
 * failures (a blob that does not hash to its name, a manifest whose blobs are missing) are
 * reported in `failed`, the rest goes on.
 */
export async function runNoraImport(
  config: AppConfig,
  options: NoraImportOptions,
): Promise<NoraImportReport> {
  // path.resolve('') is the working directory: an empty --from (an unset variable in a
  // script) would quietly read wherever the command happens to run.
  if (options.from.trim() === '') {
    throw new NoraImportUsageError(
      "--from is empty: give NORA's storage directory ([storage] path, NORA_STORAGE_PATH), the one holding docker/ (--from . for the current directory)",
    );
  }
  const docker = path.join(path.resolve(options.from), 'docker');
  const stat = await fs.stat(docker).catch(() => undefined);
  if (stat?.isDirectory() !== true) {
    throw new NoraImportUsageError(
      `${docker} is no directory: --from names NORA's storage directory ([storage] path, NORA_STORAGE_PATH), the one holding docker/`,
    );
  }
  if (!options.dryRun) await refuseWhileServed(config, 'nora migrate-docker-keys');
  const app = await buildApp(config, { logLevel: 'silent', offline: true });
  try {
    const repository = app.context.repositories.get(options.repository);
    if (repository?.format !== 'docker' || repository.kind !== 'hosted') {
      const hosted = app.context.repositories
        .byFormat('docker')
        .filter((r) => r.kind === 'hosted')
        .map((r) => r.name);
      throw new NoraImportUsageError(
        `--repository ${JSON.stringify(options.repository)} is no hosted docker repository of this configuration (hosted docker repositories: ${hosted.join(', ') || 'none'})`,
      );
    }
    const store = new OciStore(app.context.db);
    const hosted = new Hosted(store, app.context.blobs, new ManifestCache(0));
    const report: NoraImportReport = {
      from: path.resolve(options.from),
      repository: repository.name,
      dryRun: options.dryRun,
      images: [],
      failed: [],
    };
    const byName = new Map<string, NoraImportImage>();
    const say = options.onLine ?? (() => undefined);
    const verb = options.dryRun ? 'would add' : 'added';
    const images = await findImages(docker).catch((err: unknown) => {
      throw new NoraImportFailedError(`cannot read ${docker}: ${(err as Error).message}`);
    });
    for (const [prefix, dir] of images) {
      const name = noraImageName(prefix);
      const fail = (file: string, error: string): void => {
        report.failed.push({ name, file, error });
        say(`failed ${name}: ${file}: ${error}`);
      };
      if (!isValidName(name)) {
        fail(`docker/${prefix}`, 'not a valid OCI repository name');
        continue;
      }
      let image = byName.get(name);
      if (image === undefined) {
        image = {
          name,
          sources: [],
          blobs: { added: 0, skipped: 0 },
          manifests: { added: 0, skipped: 0 },
          tags: { added: 0, skipped: 0 },
          conflicts: [],
        };
        byName.set(name, image);
        report.images.push(image);
      }
      image.sources.push(`docker/${prefix}`);
      const repo = repository.name;

      // Blobs first: manifests are checked against them.
      for (const file of await filesIn(path.join(dir, 'blobs'))) {
        const digest = tryParseDigest(file);
        const where = `docker/${prefix}/blobs/${file}`;
        if (digest === undefined) {
          fail(where, 'not named by a digest');
          continue;
        }
        const full = path.join(dir, 'blobs', file);
        try {
          const linked = await store.blobLink(repo, name, file);
          if (linked !== undefined && (await app.context.blobs.present(digest))) {
            image.blobs.skipped++;
            continue;
          }
          if (options.dryRun) {
            const actual = await hashOf(full, digest.algorithm);
            if (actual !== digest.hex) {
              fail(where, `its bytes hash to ${digest.algorithm}:${actual}`);
              continue;
            }
            image.blobs.added++;
            say(`${verb} blob ${name}@${file}`);
            continue;
          }
          const ingested = await app.context.blobs.ingest(createReadStream(full), {
            expected: digest,
          });
          await hosted.linkBlob(repo, name, formatDigest(ingested.digest), ingested.size);
          image.blobs.added++;
          say(`${verb} blob ${name}@${file} (${ingested.size} bytes)`);
        } catch (err) {
          fail(where, (err as Error).message);
        }
      }

      // Manifests: by digest, images before the indexes listing them, then tags.
      interface Found {
        readonly body: Buffer;
        readonly digest: string;
        readonly isIndex: boolean;
        readonly mediaType: string;
      }
      const manifests = new Map<string, Found>();
      const tags: { tag: string; digest: string }[] = [];
      for (const file of await filesIn(path.join(dir, 'manifests'))) {
        if (!file.endsWith('.json') || file.endsWith('.meta.json')) continue;
        const reference = file.slice(0, -'.json'.length);
        const where = `docker/${prefix}/manifests/${file}`;
        try {
          const full = path.join(dir, 'manifests', file);
          const size = (await fs.stat(full)).size;
          if (size > MAX_MANIFEST_BYTES) throw new Error(`larger than ${MAX_MANIFEST_BYTES} bytes`);
          const body = await fs.readFile(full);
          const named = tryParseDigest(reference);
          const digest = formatDigest({
            algorithm: named?.algorithm ?? 'sha256',
            hex: await hashOf(full, named?.algorithm ?? 'sha256'),
          });
          if (named !== undefined && digest !== reference) {
            throw new Error(`its bytes hash to ${digest}`);
          }
          const parsed = parseManifest(body, undefined);
          manifests.set(digest, {
            body,
            digest,
            isIndex: parsed.children.length > 0,
            mediaType: parsed.mediaType,
          });
          if (named === undefined) tags.push({ tag: reference, digest });
        } catch (err) {
          fail(where, (err as Error).message);
        }
      }
      const ordered = [...manifests.values()].sort((a, b) => Number(a.isIndex) - Number(b.isIndex));
      for (const manifest of ordered) {
        try {
          if ((await store.manifestByDigest(repo, name, manifest.digest)) !== undefined) {
            image.manifests.skipped++;
            continue;
          }
          if (!options.dryRun) {
            await hosted.putManifest(
              repo,
              name,
              manifest.body,
              manifest.mediaType,
              [],
              manifest.digest,
            );
          }
          image.manifests.added++;
          say(`${verb} manifest ${name}@${manifest.digest}`);
        } catch (err) {
          fail(`docker/${prefix}/manifests/${manifest.digest}.json`, (err as Error).message);
        }
      }
      for (const { tag, digest } of tags) {
        const manifest = manifests.get(digest);
        if (manifest === undefined) continue;
        try {
          const here = await store.manifestByTag(repo, name, tag);
          if (here?.digest === digest) {
            image.tags.skipped++;
            continue;
          }
          if (here !== undefined) {
            image.conflicts.push({ tag, here: here.digest, nora: digest });
            say(`kept ${name}:${tag}: it names ${here.digest} here, ${digest} in NORA's directory`);
            continue;
          }
          if (!options.dryRun) {
            await hosted.putManifest(repo, name, manifest.body, manifest.mediaType, [tag], digest);
          }
          image.tags.added++;
          say(`${verb} tag ${name}:${tag} → ${digest}`);
        } catch (err) {
          fail(`docker/${prefix}/manifests/${tag}.json`, (err as Error).message);
        }
      }
    }
    return report;
  } finally {
    await app.close();
  }
}

/** The text summary. */
export function describeNoraImport(report: NoraImportReport): string[] {
  const sum = (pick: (i: NoraImportImage) => Tally) => {
    let added = 0;
    let skipped = 0;
    for (const image of report.images) {
      added += pick(image).added;
      skipped += pick(image).skipped;
    }
    return { added, skipped };
  };
  const blobs = sum((i) => i.blobs);
  const manifests = sum((i) => i.manifests);
  const tags = sum((i) => i.tags);
  const conflicts = report.images.reduce((n, i) => n + i.conflicts.length, 0);
  const verb = report.dryRun ? 'would add' : 'added';
  const lines = [
    `from ${report.from} into ${report.repository}: ${report.images.length} images`,
    `${verb} ${blobs.added} blobs, ${manifests.added} manifests, ${tags.added} tags; already here ${blobs.skipped} blobs, ${manifests.skipped} manifests, ${tags.skipped} tags${conflicts > 0 ? `; ${conflicts} tags kept (they name another digest here)` : ''}`,
  ];
  if (report.failed.length > 0) {
    lines.push(
      `${report.failed.length} failed (listed above): fix their cause and run the same command again; what is here is skipped`,
    );
  } else if (report.dryRun) {
    lines.push('dry run: nothing was written');
  }
  return lines;
}
