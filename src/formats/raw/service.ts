/**
 * The raw repository service: reads (files, folder listings), writes and deletes over hosted,
 * proxy and group repositories. No HTTP types here: routes.ts translates.
 *
 * Every operation authorizes first, with the repository-relative path of the thing touched (so
 * `[[auth.rules]] paths = ["team-a/**"]` covers a folder), before any body is read. A listing
 * shows only the entries the caller may read. Writes land in the repository's write target (a
 * group's write member; a proxy refuses with 405) and are authorized on both.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { AccessControl, Action, Principal } from '../../auth/access.ts';
import type { AppConfig } from '../../config/schema.ts';
import { methodNotAllowed, RegistryError } from '../../core/errors.ts';
import {
  creationRefusal,
  type HeldElsewhere,
  heldElsewhere,
  refusalText,
} from '../../repos/group-write.ts';
import type { Repository, RepositoryRegistry } from '../../repos/repository.ts';
import type { RawHosted } from './hosted.ts';
import type {
  OpenedRawFile,
  RawListing,
  RawListingEntry,
  RawMissNotes,
  RawSource,
} from './model.ts';
import { ancestors, type RawPath } from './paths.ts';
import { preconditionFailed, type WriteCondition } from './store.ts';
import { splitEntityTags } from '../../core/http-conditional.ts';

/** Most entries one listing page may ask for (`?limit=`). */
export const MAX_PAGE = 10_000;

/**
 * Entries a listing request may examine beyond its page size (hidden ones are read and skipped):
 * a folder of many entries the caller may not read costs one request at most this much.
 */
export const SCAN_BOUND = 10_000;

/** Entries asked of the source per batch once hidden entries were skipped. */
const MIN_BATCH = 256;

/** Where a listing page starts: after a name (`?after=`), or an opaque `?cursor=`, not both. */
export interface ListingPage {
  readonly after: string | undefined;
  readonly limit: number | undefined;
  readonly cursor?: string | undefined;
}

export interface RawServiceDeps {
  readonly hosted: RawHosted;
  readonly repositories: RepositoryRegistry;
  readonly access: AccessControl;
  readonly config: () => AppConfig;
  /** The RawSource of a proxy or group repository. */
  readonly sourceOf: (repo: Repository) => RawSource;
  /** SCAN_BOUND unless given (tests). */
  readonly scanBound?: number;
}

export type RawReadResult =
  | { readonly kind: 'file'; readonly path: string; readonly file: OpenedRawFile }
  /** A folder (`dir`, `` = root): one page of its listing. */
  | {
      readonly kind: 'listing';
      readonly dir: string;
      readonly listing: RawListing;
      readonly limit: number;
    }
  /** A folder asked without its trailing slash: answer a redirect to `<dir>/`. */
  | { readonly kind: 'folder'; readonly dir: string };

/** The conditional headers of a write, as sent. */
export interface WriteHeaders {
  readonly ifMatch: string | undefined;
  readonly ifNoneMatch: string | undefined;
  readonly contentLength: number | undefined;
}

export interface WriteAnswer {
  readonly status: 200 | 201;
  readonly sha256: string;
  readonly size: number;
}

export class RawService {
  readonly #deps: RawServiceDeps;

  constructor(deps: RawServiceDeps) {
    this.#deps = deps;
  }

  /** `POST -/reindex` (NORA's) needs write access to the repository, though it changes nothing. */
  authorizeReindex(repo: Repository, principal: Principal): void {
    this.#deps.access.authorize(principal, repo, 'write', undefined);
  }

  sourceOf(repo: Repository): RawSource {
    return repo.kind === 'hosted' ? this.#deps.hosted : this.#deps.sourceOf(repo);
  }

  /**
   * `GET`/`HEAD`: a file, a folder's listing page (`after` = the last name of the previous page,
   * `limit` ≤ MAX_PAGE), or `folder` for a folder (or the root, `dir` ``) named without its slash. NOT_FOUND when absent.
   */
  async read(
    repo: Repository,
    parsed: RawPath,
    principal: Principal,
    page: ListingPage,
  ): Promise<RawReadResult> {
    if (parsed.kind === 'api')
      throw new RegistryError('NOT_FOUND', `no such endpoint: -/${parsed.name}`);
    const source = this.sourceOf(repo);
    if (parsed.kind === 'file') {
      this.#deps.access.authorize(principal, repo, 'read', parsed.path);
      // What a proxy's remembered upstream miss adds to the 404 (a group's members fill it too).
      const miss: RawMissNotes = {};
      const file = await source.openFile(repo, parsed.path, miss);
      if (file) return { kind: 'file', path: parsed.path, file };
      if (
        miss.upstreamFolder === true ||
        (await source.list(repo, parsed.path, undefined, 1)) !== undefined
      ) {
        return { kind: 'folder', dir: parsed.path };
      }
      const note = miss.missNote === undefined ? '' : `: ${miss.missNote}`;
      throw new RegistryError('NOT_FOUND', `${parsed.path} not found in ${repo.name}${note}`);
    }
    if (parsed.kind === 'root' && parsed.bare === true) {
      // Authorized first: whoever may not read gets the 401/403 a closed repository gives, not
      // a redirect that tells the repository exists.
      this.#deps.access.authorize(principal, repo, 'read', undefined);
      return { kind: 'folder', dir: '' };
    }
    const dir = parsed.kind === 'root' ? '' : parsed.path;
    return this.list(repo, dir, principal, page);
  }

  /**
   * One listing page of `dir`, filtered to what `principal` may read: filtered first, then cut,
   * so an entry the caller may not read neither shortens a page nor changes an answer (its name
   * must not be recoverable by bisecting `after=`). The source is read in batches until the page
   * is full and one more readable entry is seen (then `more`), or the folder ends; at most
   * `limit + SCAN_BOUND` entries per request: past that the page ends where the scan stopped,
   * with an opaque `cursor` past the last entry examined when that entry is hidden.
   */
  async list(
    repo: Repository,
    dir: string,
    principal: Principal,
    page: ListingPage,
  ): Promise<RawReadResult> {
    this.#deps.access.authorize(principal, repo, 'read', dir === '' ? undefined : dir);
    const limit = Math.min(page.limit ?? this.#deps.config().raw.list_page_size, MAX_PAGE);
    const access = this.#deps.access;
    const visibleName = (name: string) =>
      access.can(principal, repo, 'read', dir === '' ? name : `${dir}/${name}`);
    const source = this.sourceOf(repo);
    const bound = limit + (this.#deps.scanBound ?? SCAN_BOUND);
    let after = page.cursor === undefined ? page.after : openCursor(page.cursor, repo, dir);
    const entries: RawListingEntry[] = [];
    let examined = 0;
    for (let batch = 0; ; batch++) {
      // The first batch is what an unfiltered page needs (one extra to know whether more
      // follow); later ones, after hidden entries, read ahead in bigger steps.
      const want = Math.min(
        Math.max(limit + 1 - entries.length, batch === 0 ? 1 : MIN_BATCH),
        bound - examined,
      );
      const listing = await source.list(repo, dir, after, want);
      if (listing === undefined) {
        if (batch === 0 && dir !== '') {
          // A proxy's folder (its upstream redirects `dir` to `dir/`) has no listing here.
          const why =
            repo.kind === 'proxy'
              ? ` (a raw proxy lists no folders: an HTTP origin has no listing protocol; ask for a file under ${dir}/)`
              : '';
          throw new RegistryError('NOT_FOUND', `folder ${dir}/ not found in ${repo.name}${why}`);
        }
        return listingOf(dir, entries, false, limit);
      }
      for (const entry of listing.entries) {
        examined++;
        after = entry.name;
        if (!visibleName(entry.name)) continue;
        // A readable entry past a full page: there is a next page.
        if (entries.length === limit) return listingOf(dir, entries, true, limit);
        entries.push(entry);
      }
      if (!listing.more || listing.entries.length === 0) {
        return listingOf(dir, entries, false, limit);
      }
      if (examined >= bound) {
        // Bounded work: the page ends where the scan stopped. The next page goes on after the
        // last entry examined, named in clear only when the caller may read it.
        const cursor =
          after === undefined || entries.at(-1)?.name === after
            ? undefined
            : sealCursor(after, repo, dir);
        return listingOf(dir, entries, true, limit, cursor);
      }
    }
  }

  /**
   * `PUT`: stores `body` at `path` in the write target of `repo`. Without conditions the file
   * must not exist (409; `[raw] immutable = false` replaces); `If-None-Match: *` creates only
   * (412); `If-Match: "<etag>"[, …]` or `*` replaces only that content (412), atomically.
   * TOO_LARGE (413) past `[raw] max_file_size`, before reading when Content-Length says so.
   */
  async write(
    repo: Repository,
    path: string,
    body: Readable,
    principal: Principal,
    headers: WriteHeaders,
  ): Promise<WriteAnswer> {
    const target = this.#writeTarget(repo, principal, 'write', path);
    const raw = this.#deps.config().raw;
    const condition = writeCondition(headers, raw.immutable);
    if (headers.contentLength !== undefined && headers.contentLength > raw.max_file_size) {
      throw new RegistryError(
        'TOO_LARGE',
        `${headers.contentLength} bytes exceed the raw file limit of ${raw.max_file_size} bytes (max_file_size)`,
      );
    }
    await this.#refuseSecondFile(repo, target, path);
    // A file whose bytes are missing from storage: the body is read (repair), see RawHosted.
    const repairOf = await this.#deps.hosted.precheck(target, path, condition);
    // `[server] body_limit_mb` is the outer bound (docs/raw.md): the hooks check it against a
    // declared length; a chunked body is held to it here, mid-stream, with max_file_size.
    const bodyLimit = this.#deps.config().server.body_limit_mb * 1024 * 1024;
    const result = await this.#deps.hosted.write(target, path, body, {
      condition,
      maxBytes: Math.min(raw.max_file_size, bodyLimit),
      limitName:
        raw.max_file_size <= bodyLimit
          ? '[raw] max_file_size, NORA_RAW_MAX_FILE_SIZE'
          : '[server] body_limit_mb, NORA_BODY_LIMIT_MB',
      expectedSize: headers.contentLength,
      repairOf,
    });
    return { status: result.created ? 201 : 200, sha256: result.sha256, size: result.size };
  }

  /** `DELETE` of a file (with `If-Match`, only that content) in the write target of `repo`. */
  async remove(
    repo: Repository,
    path: string,
    principal: Principal,
    ifMatch: string | undefined,
  ): Promise<void> {
    const target = this.#writeTarget(repo, principal, 'delete', path);
    try {
      await this.#deps.hosted.remove(
        target,
        path,
        ifMatch === undefined ? undefined : strongEtags(ifMatch),
      );
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'NOT_FOUND') {
        await this.#refuseHeldElsewhere(repo, target, path);
      }
      throw err;
    }
  }

  /**
   * A DELETE through the group `repo` found no file at `path` in its write member `target`: when
   * another member the group reads it from has it, 405 naming that member, the one group-write
   * rule (repos/group-write.ts; trial 23 fmts F3: "… not found in raw-hosted" while a GET through
   * the group serves it). A proxy member counts when it has the file cached (RawSource.cached,
   * never asking an upstream: a file not cached keeps the 404); a cached upstream file is not
   * deleted (NORA has no way to evict it). Another hosted member is named with the URL to delete
   * it at. `Allow` is what the group serves at the path: GET and HEAD, and PUT (which stores a
   * file in `target`).
   */
  async #refuseHeldElsewhere(repo: Repository, target: Repository, path: string): Promise<void> {
    const held = await this.#heldElsewhere(repo, target, path);
    if (held === undefined) return;
    throw methodNotAllowed(
      refusalText(held, {
        what: path,
        kept: 'stored',
        proxy:
          'caches it from its upstream (read-only: cached upstream files cannot be deleted, NORA has no way to evict them)',
        hosted: `delete it at /repository/${held.member.name}/${path}`,
      }),
      ['GET', 'HEAD', 'PUT'],
    );
  }

  /**
   * A PUT through the group `repo` of a file new to its write member `target` is refused (409)
   * while another hosted member of the group holds the path in a way the new file would clash
   * with (the group answers a path from whichever member comes first, and lists the members'
   * folders merged), by the one group-write rule (repos/group-write.ts `heldElsewhere`):
   * - a file at `path`: the other file would be shadowed (`creationRefusal`);
   * - a folder at `path` (`docs` while team has `docs/a.txt`): the group would list `docs` as a
   *   file, hiding the folder, and refuse every later PUT under it (trial 26 mirrorR F6);
   * - a file at a folder of `path` (`docs/a.txt` while team has the file `docs`): the converse,
   *   a folder the group would serve beside that file.
   * Within one hosted repository the store refuses the last two itself ("a path is a file or a
   * folder, never both"); this keeps a group, which merges its members, to the same rule.
   */
  async #refuseSecondFile(repo: Repository, target: Repository, path: string): Promise<void> {
    if (repo.kind !== 'group' || repo.name === target.name) return;
    if ((await this.#deps.hosted.openFile(target, path)) !== undefined) return;
    const held = await heldElsewhere<PathClash>({
      group: repo,
      writeTo: target,
      members: this.#deps.repositories.membersOf(repo, path),
      kinds: ['hosted'],
      holds: (member) => this.#clashIn(member, path),
    });
    if (held === undefined) return;
    const member = held.member.name;
    const instead = `to store it in ${target.name} on purpose, PUT it at /repository/${target.name}/${path}; or use another path`;
    if (held.held.kind === 'file') {
      throw creationRefusal(held, {
        what: path,
        kept: 'stored',
        doing: 'storing',
        instead: `PUT it at /repository/${member}/${path} to replace that file, at /repository/${target.name}/${path} to store a second one on purpose, or use another path`,
      });
    }
    if (held.held.kind === 'folder') {
      throw new RegistryError(
        'CONFLICT',
        `${path} is a folder in ${member}, another member of group ${repo.name}: storing a file ${path} through the group would put it in its write member ${target.name}, and the group would then answer ${path} with that file, hiding ${member}'s folder ${path}/ from its listing and refusing every later PUT under it (a path is a file or a folder, never both); ${instead}`,
      );
    }
    const above = held.held.path;
    throw new RegistryError(
      'CONFLICT',
      `${above} is a file in ${member}, another member of group ${repo.name}, so it cannot be a folder of ${path} through the group: storing ${path} in its write member ${target.name} would make the group serve ${above} as a file and ${above}/ as a folder (a path is a file or a folder, never both); ${instead}`,
    );
  }

  /** How `path` clashes with what the hosted `member` stores (see `#refuseSecondFile`). */
  async #clashIn(member: Repository, path: string): Promise<PathClash | undefined> {
    const hosted = this.#deps.hosted;
    if ((await hosted.openFile(member, path)) !== undefined) return { kind: 'file', path };
    if (await hosted.isDir(member, path)) return { kind: 'folder', path };
    for (const above of ancestors(path)) {
      if ((await hosted.openFile(member, above)) !== undefined) {
        return { kind: 'file-above', path: above };
      }
    }
    return undefined;
  }

  /**
   * Whether a DELETE of the file `path` through the group `repo` answers 405
   * (`#refuseHeldElsewhere`): its write member does not store the file and another member the
   * group reads it from does (a proxy member's cached copy counts, the upstream is never asked).
   * A 405 of another method there must then not list DELETE in its `Allow` (RFC 9110 §15.5.6).
   * False for anything but a group with a write member, and for a `principal` that may not read
   * `path` (its DELETE answers 401/403 before any 405, and the `Allow` must not tell it which
   * paths a member holds). Costs one lookup per member: for 405s only, which are rare.
   */
  async deleteRefused(repo: Repository, path: string, principal: Principal): Promise<boolean> {
    if (repo.kind !== 'group') return false;
    if (!this.#deps.access.can(principal, repo, 'read', path)) return false;
    const target = this.#deps.repositories.writeTarget(repo);
    if (target === undefined || target.name === repo.name) return false;
    if ((await this.#deps.hosted.openFile(target, path)) !== undefined) return false;
    return (await this.#heldElsewhere(repo, target, path)) !== undefined;
  }

  /**
   * Which writes a folder at `path` refuses whatever their body (409 "is a folder"): `put` when
   * the write member of `repo` (the repository itself when hosted) or, through a group, another
   * hosted member holds a folder `path/` (`#refuseSecondFile`), `delete` when the write member
   * does (RawHosted.remove: "delete its files"). A 405 elsewhere at `path` must not list them in
   * its `Allow` (RFC 9110 §15.5.6; `dir` without its trailing slash). Nothing refused for a
   * `principal` that may not read `path` (its writes answer 401/403 first, and the `Allow` must
   * not tell it which folders exist), nor where writes do not land.
   */
  async folderRefuses(
    repo: Repository,
    path: string,
    principal: Principal,
  ): Promise<{ readonly put: boolean; readonly delete: boolean }> {
    const none = { put: false, delete: false };
    if (!this.#deps.access.can(principal, repo, 'read', path)) return none;
    const target = this.#deps.repositories.writeTarget(repo);
    if (target === undefined) return none;
    if (await this.#deps.hosted.isDir(target, path)) return { put: true, delete: true };
    if (repo.kind !== 'group' || target.name === repo.name) return none;
    if ((await this.#deps.hosted.openFile(target, path)) !== undefined) return none;
    const held = await heldElsewhere<PathClash>({
      group: repo,
      writeTo: target,
      members: this.#deps.repositories.membersOf(repo, path),
      kinds: ['hosted'],
      holds: async (member) =>
        (await this.#deps.hosted.isDir(member, path)) ? { kind: 'folder', path } : undefined,
    });
    return { put: held !== undefined, delete: false };
  }

  /** group-write.ts `heldElsewhere` for raw: hosted members' files, proxies' cached copies. */
  async #heldElsewhere(
    repo: Repository,
    target: Repository,
    path: string,
  ): Promise<HeldElsewhere<true> | undefined> {
    return heldElsewhere({
      group: repo,
      writeTo: target,
      members: this.#deps.repositories.membersOf(repo, path),
      holds: async (member) =>
        member.kind === 'hosted'
          ? (await this.#deps.hosted.openFile(member, path)) !== undefined
          : this.#deps.sourceOf(member).cached?.(member, path),
    });
  }

  /** The hosted repository a write through `repo` lands in, authorized on both. */
  #writeTarget(repo: Repository, principal: Principal, action: Action, path: string): Repository {
    this.#deps.access.authorize(principal, repo, action, path);
    const target = this.#deps.repositories.requireWriteTarget(repo);
    if (target.name !== repo.name) {
      this.#deps.access.authorize(principal, target, action, path, { via: repo });
    }
    return target;
  }
}

/**
 * What another hosted member of a group holds that a new file at a path would clash with: a file
 * at the path, a folder at the path, or a file at one of its folders (`path`: that file).
 */
interface PathClash {
  readonly kind: 'file' | 'folder' | 'file-above';
  readonly path: string;
}

function listingOf(
  dir: string,
  entries: RawListingEntry[],
  more: boolean,
  limit: number,
  cursor?: string,
): RawReadResult {
  return {
    kind: 'listing',
    dir,
    listing: cursor === undefined ? { entries, more } : { entries, more, cursor },
    limit,
  };
}

/**
 * The key of listing cursors: this process's own (a cursor is a resume point for the next
 * request of a walk, not a lasting name; after a restart the walk starts again).
 */
const CURSOR_KEY = randomBytes(32);

/**
 * A resume point that names a hidden entry, sealed (AES-256-GCM, bound to the repository and
 * folder): the caller can hand it back but not read it, nor use it in another folder.
 */
export function sealCursor(name: string, repo: Repository, dir: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', CURSOR_KEY, iv);
  cipher.setAAD(Buffer.from(`${repo.name}\n${dir}`));
  const sealed = Buffer.concat([cipher.update(name, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
}

/** The name a sealed cursor resumes after; BAD_REQUEST for one not made here for this folder. */
export function openCursor(cursor: string, repo: Repository, dir: string): string {
  const bytes = Buffer.from(cursor, 'base64url');
  try {
    if (bytes.length < 28) throw new Error('short');
    const decipher = createDecipheriv('aes-256-gcm', CURSOR_KEY, bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from(`${repo.name}\n${dir}`));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    throw new RegistryError(
      'BAD_REQUEST',
      'this listing cursor was not made for this folder by this server process (it restarts with new cursors): list the folder again from its first page',
    );
  }
}

/**
 * The write condition of a PUT (see RawService.write). BAD_REQUEST for both headers at once, an
 * `If-None-Match` other than `*`, or an `If-Match` without a quoted ETag.
 */
export function writeCondition(
  headers: Pick<WriteHeaders, 'ifMatch' | 'ifNoneMatch'>,
  immutable: boolean,
): WriteCondition {
  if (headers.ifMatch !== undefined && headers.ifNoneMatch !== undefined) {
    throw new RegistryError('BAD_REQUEST', 'send If-Match or If-None-Match, not both');
  }
  if (headers.ifNoneMatch !== undefined) {
    if (headers.ifNoneMatch.trim() !== '*') {
      throw new RegistryError('BAD_REQUEST', 'a PUT takes If-None-Match: * only (create only)');
    }
    return { kind: 'create-only' };
  }
  if (headers.ifMatch !== undefined) {
    return { kind: 'match', etags: strongEtags(headers.ifMatch) };
  }
  return immutable ? { kind: 'create' } : { kind: 'any' };
}

/**
 * The entity tags of an `If-Match` / `If-None-Match` value, unquoted (`W/` dropped: a file's
 * ETag is its sha256, strong either way): `"ab", "cd"` → [`ab`, `cd`]; `*` → [`*`].
 * An opaque tag may hold a `,` (RFC 9110 §8.8.3: etagc is any visible character but `"`).
 * BAD_REQUEST when it holds neither.
 */
/**
 * An If-Match list for a write or delete (strong comparison): its strong tags. A list of weak
 * tags only (`W/"…"`, what a client copies from a weak validator) can never match: refused at
 * once with 412 saying why, rather than "has changed" next to the very same tag.
 */
function strongEtags(value: string): string[] {
  const tags = parseEtags(value, 'strong');
  if (tags.length === 0) {
    throw preconditionFailed(
      'If-Match compares entity tags strongly (RFC 9110 §13.1.1): a weak tag (W/"…") never matches; send the ETag without W/',
    );
  }
  return tags;
}

export function parseEtags(value: string, comparison: 'weak' | 'strong' = 'weak'): string[] {
  const trimmed = value.trim();
  if (trimmed === '*') return ['*'];
  const tags: string[] = [];
  for (const part of splitEntityTags(trimmed)) {
    const m = /^\s*(W\/)?"([^"]*)"\s*$/.exec(part);
    if (!m) {
      throw new RegistryError(
        'BAD_REQUEST',
        `malformed entity tag list: ${JSON.stringify(value.slice(0, 100))}`,
      );
    }
    // RFC 9110 §8.8.3.2: If-Match compares strongly, so a weak tag never matches there.
    if (m[1] !== undefined && comparison === 'strong') continue;
    tags.push(m[2] ?? '');
  }
  return tags;
}
