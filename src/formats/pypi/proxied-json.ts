/**
 * The Warehouse JSON API (`/pypi/<project>/json`, `/pypi/<project>/<version>/json`) of a project
 * that is not uploaded here: built from the simple page this repository serves for it (a proxy's
 * page, or a group's merged page with its hosted-name guard) and the PEP 658 core metadata of one
 * wheel of the release `info` describes. The upstream's own JSON API is not read (a simple index
 * upstream has none, and the page + metadata are what pip trusts).
 *
 * What is filled, compared with a hosted project (json-api.ts):
 * - `info`: every core-metadata field (summary, description, requires_dist, classifiers,
 *   project_urls, …) when a wheel of that release offers PEP 658 metadata; otherwise only
 *   `name`, `version`, `requires_python` (from the page), `yanked`/`yanked_reason`;
 * - files: `filename`, `url` (this repository's), `digests.sha256`, `size` and `upload_time*`
 *   when the upstream page stated them (else null), `requires_python`, `yanked(_reason)`,
 *   `packagetype`, `python_version`; `md5_digest`, `digests.md5` and `digests.blake2b_256` are
 *   null (a simple index states only sha256); `last_serial` is 0 (no serial is known).
 *
 * Pure apart from `readMetadata` (the caller reads the metadata through the same verified path as
 * a client's `.metadata` request).
 */
import type { FileUrl } from './json-api.ts';
import { warehouseInfo, isPrerelease } from './json-api.ts';
import { parseDistFilename } from './filenames.ts';
import type { DistFile, ProjectPage } from './model.ts';
import type { ReleaseMeta } from './store.ts';
import { compareVersions, parseVersion } from './versions.ts';

/** A file object as proxied projects have it (see the module comment for the nulls). */
export interface ProxiedWarehouseFile {
  readonly comment_text: string;
  readonly digests: {
    readonly md5: null;
    readonly sha256: string;
    readonly blake2b_256: null;
  };
  readonly downloads: number;
  readonly filename: string;
  readonly has_sig: boolean;
  readonly md5_digest: null;
  readonly packagetype: string;
  readonly python_version: string;
  readonly requires_python: string | null;
  readonly size: number | null;
  readonly upload_time: string | null;
  readonly upload_time_iso_8601: string | null;
  readonly url: string;
  readonly yanked: boolean;
  readonly yanked_reason: string | null;
}

/** Reads the core metadata of `filename` (PEP 658); undefined when none can be had. */
export type MetadataReader = (filename: string) => Promise<Buffer | undefined>;

interface Release {
  /** Normalised (PEP 440), or as spelled when it does not parse. */
  readonly version: string;
  readonly files: DistFile[];
  readonly yanked: false | string;
}

/**
 * The project document (`version` undefined) or one release's; undefined when the page has no
 * file of that version. Versions match in any PEP 440-equal spelling.
 */
export async function proxiedJson(
  page: ProjectPage,
  version: string | undefined,
  fileUrl: FileUrl,
  readMetadata: MetadataReader,
): Promise<unknown> {
  const releases = releasesOf(page.files);
  let chosen: Release | undefined;
  if (version === undefined) {
    chosen = latest(releases);
  } else {
    const key = parseVersion(version)?.key;
    chosen = releases.find((r) => (parseVersion(r.version)?.key ?? r.version) === (key ?? version));
    if (chosen === undefined) return undefined;
  }
  const meta = chosen === undefined ? {} : await metaOf(chosen, readMetadata);
  const release =
    chosen === undefined ? undefined : { version: chosen.version, yanked: chosen.yanked, meta };
  const info = warehouseInfo(metaName(meta) ?? page.name, release);
  if (chosen !== undefined && info['requires_python'] === '') {
    info['requires_python'] = chosen.files.find((f) => f.requiresPython)?.requiresPython ?? '';
  }
  const filesOf = (r: Release) => r.files.map((f) => fileJson(page.name, f, fileUrl));
  if (version !== undefined && chosen !== undefined) {
    return { info, last_serial: 0, urls: filesOf(chosen), vulnerabilities: [] };
  }
  const byRelease: Record<string, ProxiedWarehouseFile[]> = {};
  for (const r of releases) byRelease[r.version] = filesOf(r);
  return {
    info,
    last_serial: 0,
    releases: byRelease,
    urls: chosen === undefined ? [] : filesOf(chosen),
    vulnerabilities: [],
  };
}

/** Files grouped by release (PEP 440-equal versions are one), oldest first; files by name. */
function releasesOf(files: readonly DistFile[]): Release[] {
  const byKey = new Map<string, Release>();
  for (const file of files) {
    const parsed = parseVersion(file.version);
    const key = parsed?.key ?? `\u0000${file.version}`;
    let release = byKey.get(key);
    if (release === undefined) {
      release = { version: parsed?.normalized ?? file.version, files: [], yanked: false };
      byKey.set(key, release);
    }
    release.files.push(file);
  }
  return [...byKey.values()]
    .map((r) => {
      const sorted = r.files.sort((a, b) =>
        a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0,
      );
      // PyPI yanks whole releases: a release is yanked when every file of it is.
      const yanked = sorted.every((f) => f.yanked !== false)
        ? (sorted.find((f) => f.yanked !== false && f.yanked !== '')?.yanked ?? '')
        : false;
      return { version: r.version, files: sorted, yanked };
    })
    .sort((a, b) => compareVersions(a.version, b.version));
}

/** Latest non-yanked final release, else non-yanked pre-release, else the latest of all. */
function latest(sorted: readonly Release[]): Release | undefined {
  const newestFirst = [...sorted].reverse();
  return (
    newestFirst.find((r) => r.yanked === false && !isPrerelease(r.version)) ??
    newestFirst.find((r) => r.yanked === false) ??
    newestFirst[0]
  );
}

/**
 * The release's core metadata as ReleaseMeta (json-api.ts's keys), from the first wheel that
 * offers PEP 658 metadata, universal wheels first; {} when none does or it cannot be read.
 */
async function metaOf(release: Release, readMetadata: MetadataReader): Promise<ReleaseMeta> {
  const wheels = release.files
    .filter((f) => f.filename.endsWith('.whl') && f.coreMetadata !== undefined)
    .sort(
      (a, b) =>
        Number(!a.filename.endsWith('-none-any.whl')) -
        Number(!b.filename.endsWith('-none-any.whl')),
    );
  const first = wheels[0];
  if (first === undefined) return {};
  try {
    const bytes = await readMetadata(first.filename);
    return bytes === undefined ? {} : parseCoreMetadata(bytes);
  } catch {
    // An upstream that cannot give the metadata now: the document is served without it.
    return {};
  }
}

/** Core-metadata header → json-api.ts key, for single-valued fields. */
const TEXT_HEADERS: Readonly<Record<string, string>> = {
  'metadata-version': 'metadata_version',
  name: 'name',
  summary: 'summary',
  description: 'description',
  'description-content-type': 'description_content_type',
  author: 'author',
  'author-email': 'author_email',
  maintainer: 'maintainer',
  'maintainer-email': 'maintainer_email',
  license: 'license',
  'license-expression': 'license_expression',
  keywords: 'keywords',
  'home-page': 'home_page',
  'download-url': 'download_url',
  'requires-python': 'requires_python',
};
/** …and for multiple-use fields. */
const LIST_HEADERS: Readonly<Record<string, string>> = {
  classifier: 'classifiers',
  'requires-dist': 'requires_dist',
  'provides-dist': 'provides_dist',
  'obsoletes-dist': 'obsoletes_dist',
  'requires-external': 'requires_external',
  'project-url': 'project_urls',
  'provides-extra': 'provides_extra',
  dynamic: 'dynamic',
  platform: 'platform',
  'supported-platform': 'supported_platform',
  'license-file': 'license_file',
};

/**
 * Parses a core metadata file (RFC 822 style, core metadata spec): headers (continuation lines
 * joined, as `email.parser` folds them: a Description's `|`-prefixed continuation lines become
 * its lines), then the body, which is the description (metadata 2.1+).
 */
export function parseCoreMetadata(bytes: Buffer): ReleaseMeta {
  const text = bytes.toString('utf8');
  const meta: Record<string, string | string[]> = {};
  const lines = text.split(/\r?\n/);
  let i = 0;
  let last: { key: string; list: boolean } | undefined;
  for (; i < lines.length; i += 1) {
    const line = lines[i] ?? '';
    if (line === '') {
      i += 1;
      break;
    }
    if (/^[ \t]/.test(line)) {
      // A folded line continues the previous header (Description's lines start with 8 spaces + |).
      if (last === undefined) continue;
      const more = line.replace(/^ {7}\|/, '').replace(/^[ \t]+/, ' ');
      const current = meta[last.key];
      if (!last.list && typeof current === 'string') {
        meta[last.key] =
          last.key === 'description' ? `${current}\n${more}` : `${current} ${more.trim()}`;
      }
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      last = undefined;
      continue;
    }
    const header = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    // Own keys only: `__proto__:` or `constructor:` would find Object.prototype's members.
    const textKey = Object.hasOwn(TEXT_HEADERS, header) ? TEXT_HEADERS[header] : undefined;
    const listKey = Object.hasOwn(LIST_HEADERS, header) ? LIST_HEADERS[header] : undefined;
    if (textKey !== undefined) {
      if (meta[textKey] === undefined) meta[textKey] = value;
      last = { key: textKey, list: false };
    } else if (listKey !== undefined) {
      const values = meta[listKey];
      if (Array.isArray(values)) values.push(value);
      else meta[listKey] = [value];
      last = { key: listKey, list: true };
    } else {
      last = undefined;
    }
  }
  const body = lines.slice(i).join('\n').replace(/\n+$/, '');
  if (body !== '' && meta['description'] === undefined) meta['description'] = body;
  return meta;
}

function metaName(meta: ReleaseMeta): string | undefined {
  const name = meta['name'];
  return typeof name === 'string' && name !== '' ? name : undefined;
}

function fileJson(project: string, file: DistFile, fileUrl: FileUrl): ProxiedWarehouseFile {
  const dist = parseDistFilename(file.filename, project);
  const wheel = file.filename.endsWith('.whl');
  // A wheel's python tag is the third field from the end ({python}-{abi}-{platform}.whl).
  const pythonTag = wheel ? (file.filename.slice(0, -4).split('-').at(-3) ?? '') : 'source';
  const time = file.uploadTime === undefined ? undefined : new Date(file.uploadTime);
  const iso = time === undefined || Number.isNaN(time.getTime()) ? undefined : time.toISOString();
  return {
    comment_text: '',
    digests: { md5: null, sha256: file.sha256, blake2b_256: null },
    downloads: -1,
    filename: file.filename,
    has_sig: false,
    md5_digest: null,
    packagetype: wheel ? 'bdist_wheel' : dist?.kind === 'sdist' ? 'sdist' : 'unknown',
    python_version: pythonTag,
    requires_python:
      file.requiresPython === undefined || file.requiresPython === '' ? null : file.requiresPython,
    size: file.size ?? null,
    upload_time: iso === undefined ? null : iso.slice(0, 19),
    upload_time_iso_8601: iso === undefined ? null : `${iso.slice(0, 23)}000Z`,
    url: fileUrl(project, file.filename),
    yanked: file.yanked !== false,
    yanked_reason: file.yanked === false ? null : file.yanked,
  };
}
