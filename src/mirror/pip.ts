/**
 * `nora mirror pip --lockfile requirements.txt`: each requirement's project page from the
 * server's simple index (`/simple/<name>/`, README "PyPI", asked as PEP 691 JSON) and every file
 * of the version it selects — all its wheels and its sdist, whatever platform (the air-gapped
 * host may not be this one) — with their PEP 658 metadata files where the page lists them (pip
 * reads those before a wheel).
 *
 * Which version: a pin (`name==1.2.3`, `===`) selects that version (yanked files included, as pip
 * takes a yanked file only when pinned exactly); any other specifier (`>=1,<2`, `~=1.4`) or none
 * selects the highest version the index has that satisfies it, final releases before
 * pre-releases (pip's default choice when it installs into an empty environment). Environment
 * markers (`; python_version < "3.9"`) are not evaluated: the requirement is pulled whatever
 * they say, so a lock file shared by several platforms is mirrored whole.
 *
 * Integrity: `--hash=sha256:…` options pin the files: only files with a pinned hash are pulled,
 * each verified against the pins, and a requirement none of whose files has a pinned hash fails.
 * Without pins, each file is verified against the page's own sha256.
 *
 * Followed: `-r other.txt` (relative to the including file). Skipped and reported: editable
 * (`-e`) lines, paths and URLs (`./pkg`, `name @ https://…`, `git+https://…`), constraints files.
 * Other options (`--index-url`, `--pre`, …) are ignored.
 */
import path from 'node:path';
import { maxSatisfying, validRange } from '@renovatebot/pep440';
import type { Command } from 'commander';
import { parseDistFilename } from '../formats/pypi/filenames.ts';
import { isValidProjectName, normalizeProjectName } from '../formats/pypi/names.ts';
import {
  type MirrorFormat,
  type MirrorPlan,
  type MirrorSkip,
  readInputFile,
  repositoryMount,
} from './format.ts';
import { drainVerified, type ExpectedDigest, getOk } from './pull.ts';
import { type MirrorClient, MirrorInputError, type MirrorItem } from './types.ts';

/** One requirement line, parsed. */
export interface PipRequirement {
  /** As written (`Django`), for the report. */
  readonly name: string;
  /** PEP 503-normalised (`django`), for the index path. */
  readonly project: string;
  /** A PEP 440 specifier set (`==4.2.1`, `>=1,<2`), or `''` for any version. */
  readonly specifier: string;
  /** The `--hash=` options; empty when the line pins none. */
  readonly hashes: readonly ExpectedDigest[];
  /** `file:line`, for messages. */
  readonly where: string;
}

export interface RequirementsContents {
  readonly requirements: readonly PipRequirement[];
  readonly skipped: readonly MirrorSkip[];
}

/** Reads the file named by `-r` (relative to the file that names it), for parseRequirements. */
export type ReadIncluded = (file: string) => Promise<string>;

/** `-r` nesting deeper than this is a loop (or not worth following). */
const MAX_INCLUDE_DEPTH = 16;
/** A project page (JSON) larger than this is refused. */
const MAX_PAGE_BYTES = 64 * 1024 * 1024;
const PAGE_ACCEPT = 'application/vnd.pypi.simple.v1+json';
const HASH_ALGORITHMS = new Set(['sha256', 'sha384', 'sha512']);

/**
 * The requirements of a requirements.txt text (`file` names it in messages and anchors `-r`).
 * MirrorInputError for a line that is not a requirement, an option or a comment
 * (`requirements.txt:3: "=>1.0" is not a requirement`), an invalid specifier or hash, or an
 * included file that cannot be read.
 */
export async function parseRequirements(
  text: string,
  file = 'requirements.txt',
  readIncluded: ReadIncluded = readInputFile,
  depth = 0,
): Promise<RequirementsContents> {
  const requirements: PipRequirement[] = [];
  const skipped: MirrorSkip[] = [];
  for (const { line, number } of logicalLines(text)) {
    const where = `${file}:${number}`;
    if (line.startsWith('-')) {
      const option = /^(-[a-zA-Z]|--[a-z-]+)(?:[=\s]\s*(.*))?$/.exec(line);
      const flag = option?.[1] ?? line;
      const value = option?.[2]?.trim();
      if ((flag === '-r' || flag === '--requirement') && value !== undefined && value !== '') {
        if (depth >= MAX_INCLUDE_DEPTH) {
          throw new MirrorInputError(`${where}: -r nested more than ${MAX_INCLUDE_DEPTH} deep`);
        }
        const included = path.join(path.dirname(file), value);
        const nested = await parseRequirements(
          await readIncluded(included),
          included,
          readIncluded,
          depth + 1,
        );
        requirements.push(...nested.requirements);
        skipped.push(...nested.skipped);
      } else if (flag === '-e' || flag === '--editable') {
        skipped.push({
          label: `pip ${value ?? line}`,
          reason: `an editable requirement (${where})`,
        });
      } else if (flag === '-c' || flag === '--constraint') {
        skipped.push({
          label: `pip -c ${value ?? ''}`,
          reason: `a constraints file limits versions, it installs nothing (${where})`,
        });
      }
      // --index-url, --extra-index-url, --pre, --only-binary, …: not about what to pull.
      continue;
    }
    const requirement = parseRequirementLine(line, where);
    if ('reason' in requirement) skipped.push(requirement);
    else requirements.push(requirement);
  }
  return { requirements, skipped };
}

/** Lines with `\` continuations joined and comments removed, each with its first line number. */
function logicalLines(text: string): { line: string; number: number }[] {
  const out: { line: string; number: number }[] = [];
  const physical = text.split(/\r?\n/);
  for (let i = 0; i < physical.length; i += 1) {
    const number = i + 1;
    let line = physical[i] ?? '';
    while (line.endsWith('\\') && i + 1 < physical.length) {
      i += 1;
      line = `${line.slice(0, -1)} ${physical[i] ?? ''}`;
    }
    // pip: a comment starts at a `#` at the line's start or after whitespace.
    line = line.replace(/(^|\s)#.*$/, '').trim();
    if (line !== '') out.push({ line, number });
  }
  return out;
}

function parseRequirementLine(line: string, where: string): PipRequirement | MirrorSkip {
  // Per-requirement options (`--hash=…`, `--config-settings …`) follow the requirement.
  const optionAt = line.search(/\s--?[a-zA-Z]/);
  const spec = (optionAt < 0 ? line : line.slice(0, optionAt)).trim();
  const options = optionAt < 0 ? '' : line.slice(optionAt);
  if (/^(?:\.|\/|~|[a-zA-Z][a-zA-Z0-9+.-]*:\/\/|git\+|hg\+|svn\+|bzr\+)/.test(spec)) {
    return { label: `pip ${spec}`, reason: `a path or URL, not an index package (${where})` };
  }
  const match = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$/.exec(spec);
  if (match === null || !isValidProjectName(match[1] ?? '')) {
    throw new MirrorInputError(`${where}: "${line.slice(0, 80)}" is not a requirement`);
  }
  const name = match[1] ?? '';
  const rest = match[3] ?? '';
  if (rest.startsWith('@')) {
    return {
      label: `pip ${name}`,
      reason: `a direct reference (${rest}), not an index package (${where})`,
    };
  }
  const specifier = (rest.split(';')[0] ?? '')
    .trim()
    .replace(/^\((.*)\)$/, '$1')
    .replace(/\s+/g, '');
  if (specifier !== '' && !validRange(specifier)) {
    throw new MirrorInputError(`${where}: "${specifier}" is not a version specifier (PEP 440)`);
  }
  const hashes: ExpectedDigest[] = [];
  for (const hash of options.matchAll(/--hash[=\s]\s*([^\s]+)/g)) {
    const digest = /^([a-z0-9]+):([0-9a-fA-F]+)$/.exec(hash[1] ?? '');
    if (digest === null || !HASH_ALGORITHMS.has(digest[1] ?? '')) {
      throw new MirrorInputError(
        `${where}: --hash=${hash[1] ?? ''} is not <sha256|sha384|sha512>:<hex digest>`,
      );
    }
    hashes.push({ algorithm: digest[1] ?? '', hex: (digest[2] ?? '').toLowerCase() });
  }
  return { name, project: normalizeProjectName(name), specifier, hashes, where };
}

/** A file of a PEP 691 project page, as the mirror uses it. */
interface PageFile {
  readonly filename: string;
  readonly url: string;
  readonly hashes: Readonly<Record<string, string>>;
  readonly yanked: boolean;
  /** The PEP 658 metadata file's hashes (`{}` when it has none), or undefined when not listed. */
  readonly metadata: Readonly<Record<string, string>> | undefined;
}

/** The files of a PEP 691 JSON project page. */
export function readProjectPage(text: string, pagePath: string): PageFile[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${pagePath} did not answer PEP 691 JSON`);
  }
  const files = (body as { files?: unknown } | null)?.files;
  if (!Array.isArray(files)) throw new Error(`${pagePath} answered JSON without a "files" list`);
  const out: PageFile[] = [];
  for (const file of files as unknown[]) {
    if (typeof file !== 'object' || file === null) continue;
    const record = file as Record<string, unknown>;
    if (typeof record['filename'] !== 'string' || typeof record['url'] !== 'string') continue;
    const metadata = record['core-metadata'] ?? record['data-dist-info-metadata'];
    out.push({
      filename: record['filename'],
      url: record['url'],
      hashes: hashMap(record['hashes']),
      yanked: record['yanked'] !== undefined && record['yanked'] !== false,
      metadata:
        metadata === undefined || metadata === false
          ? undefined
          : metadata === true
            ? {}
            : hashMap(metadata),
    });
  }
  return out;
}

function hashMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof value !== 'object' || value === null) return out;
  for (const [algorithm, hex] of Object.entries(value)) {
    if (typeof hex === 'string') out[algorithm] = hex.toLowerCase();
  }
  return out;
}

/**
 * The files `requirement` selects on a page (see the file's comment), with the version chosen;
 * an Error naming the page when no version or file fits.
 */
export function selectFiles(
  requirement: PipRequirement,
  files: readonly PageFile[],
  pagePath: string,
): { version: string; files: PageFile[] } {
  const exact = /^===?[^,]+$/.test(requirement.specifier);
  const candidates = files
    .map((file) => ({ file, dist: parseDistFilename(file.filename, requirement.project) }))
    .filter(
      (c): c is { file: PageFile; dist: NonNullable<typeof c.dist> } =>
        c.dist !== undefined && (exact || !c.file.yanked),
    );
  let version: string | null;
  if (requirement.specifier.startsWith('===')) {
    const wanted = requirement.specifier.slice(3);
    version = candidates.some((c) => c.dist.version === wanted) ? wanted : null;
  } else {
    const versions = [...new Set(candidates.map((c) => c.dist.version))];
    version =
      maxSatisfying(versions, requirement.specifier) ??
      maxSatisfying(versions, requirement.specifier, { prereleases: true });
  }
  if (version === null) {
    const wanted = requirement.specifier === '' ? 'any version' : requirement.specifier;
    throw new Error(`${pagePath} lists no file of ${wanted}`);
  }
  const key = candidates.find((c) => c.dist.version === version)?.dist.parsed.key;
  return {
    version,
    files: candidates.filter((c) => c.dist.parsed.key === key).map((c) => c.file),
  };
}

/** The path below the client's base of a file URL on a page (relative or absolute). */
function filePath(client: MirrorClient, pagePath: string, url: string): string {
  const base = new URL(client.base);
  const resolved = new URL(url, `${client.base}${pagePath}`);
  const prefix = base.pathname.replace(/\/+$/, '');
  const pathname =
    prefix !== '' && resolved.pathname.startsWith(`${prefix}/`)
      ? resolved.pathname.slice(prefix.length)
      : resolved.pathname;
  return `${pathname}${resolved.search}`;
}

/** The pulling of one requirement: its page, then the selected files (and metadata files). */
export function pipItem(mount: string, requirement: PipRequirement): MirrorItem {
  return {
    label: `pip ${requirement.name}${requirement.specifier}`,
    async fetch(client) {
      const pagePath = `${mount}/${encodeURIComponent(requirement.project)}/`;
      const page = await getOk(client, pagePath, { accept: PAGE_ACCEPT });
      const text = await page.text(MAX_PAGE_BYTES);
      const { version, files } = selectFiles(
        requirement,
        readProjectPage(text, pagePath),
        pagePath,
      );
      const pins = requirement.hashes;
      let chosen = files;
      if (pins.length > 0) {
        // The page's hashes say which files the pins name; a file the page gives no hash in a
        // pinned algorithm is pulled and must match a pin.
        chosen = files.filter((file) =>
          pins.some(
            (pin) =>
              file.hashes[pin.algorithm] === undefined || file.hashes[pin.algorithm] === pin.hex,
          ),
        );
        if (chosen.length === 0) {
          throw new Error(
            `no file of ${requirement.project} ${version} on ${pagePath} has a hash ${requirement.where} pins (the page lists ${files.map((f) => `${f.filename} sha256:${f.hashes['sha256'] ?? '?'}`).join(', ')})`,
          );
        }
      }
      let bytes = Buffer.byteLength(text);
      for (const file of chosen) {
        const path = filePath(client, pagePath, file.url.replace(/#.*$/, ''));
        const expected: ExpectedDigest[] =
          pins.length > 0
            ? [...pins]
            : Object.entries(file.hashes)
                .filter(([algorithm]) => HASH_ALGORITHMS.has(algorithm))
                .map(([algorithm, hex]) => ({ algorithm, hex }));
        const res = await getOk(client, path);
        bytes += await drainVerified(
          res,
          path,
          expected,
          pins.length > 0 ? requirement.where : 'the index page',
        );
        if (file.metadata !== undefined) {
          const metadataPath = `${path.replace(/\?.*$/, '')}.metadata`;
          const metadata = await getOk(client, metadataPath);
          bytes += await drainVerified(
            metadata,
            metadataPath,
            Object.entries(file.metadata)
              .filter(([algorithm]) => HASH_ALGORITHMS.has(algorithm))
              .map(([algorithm, hex]) => ({ algorithm, hex })),
            'the index page',
          );
        }
      }
      return bytes;
    },
  };
}

/** `pip` for run.ts's MIRROR_FORMATS. */
export const pipFormat: MirrorFormat = {
  // The simple index's root: a hosted repository's names, a proxy's cached ones (never upstream).
  probe: { path: '/simple/', kind: 'a PyPI', mount: '/simple/' },
  description:
    'PyPI projects of a requirements.txt (pins, --hash, -r; all files of each version), through /simple/',
  options(command: Command) {
    command.requiredOption('--lockfile <file>', 'the requirements.txt (- for stdin)');
  },
  async plan(options, context): Promise<MirrorPlan> {
    const lockfile = options['lockfile'] as string;
    const contents = await parseRequirements(await readInputFile(lockfile), lockfile);
    const mount = `${repositoryMount('', context.repo)}/simple`;
    const seen = new Set<string>();
    const items: MirrorItem[] = [];
    for (const requirement of contents.requirements) {
      const key = `${requirement.project}${requirement.specifier}`;
      if (seen.has(key)) continue;
      seen.add(key);
      items.push(pipItem(mount, requirement));
    }
    return { items, skipped: contents.skipped };
  },
};
