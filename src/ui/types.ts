/**
 * The web UI's browse contract (NORA §3.14: `/ui/<format>`, `/ui/<format>/<name…>`,
 * `/api/ui/<format>/list|search|<name…>`). A format that can be browsed hands a `BrowseSource`
 * to `FormatContext.browse.provide(...)` from its `register()`, built over the SAME services its
 * routes use (as retention adapters are, src/retention/types.ts). src/ui/routes.ts owns the URLs,
 * the gating (auth, `[auth] public_web_ui`) and the page chrome (src/ui/layout.ts); a source only
 * returns plain data, which the UI renders (HTML-escaped) or sends as JSON as it is.
 *
 * Access: the UI never shows what the principal could not read through the client protocol. A
 * source checks `context.access` itself (`can(principal, repository, 'read', path)`) and leaves
 * out — or, for `detail`, answers undefined for — what the principal may not read.
 */
import type { Principal } from '../auth/access.ts';
import type { FormatName } from '../config/schema.ts';
import type { Repository } from '../repos/repository.ts';
import type { CurationReason } from '../curation/types.ts';

/** How a list is asked for: `q` a case-insensitive substring of the name (empty: all). */
export interface BrowseQuery {
  readonly q: string;
  /** Entries to skip (>= 0). */
  readonly offset: number;
  /** Entries at most (1..200; routes.ts clamps it). */
  readonly limit: number;
}

/** One listed name: an image, a package, a project, a GA, a crate, a module, a raw folder, a chart. */
export interface BrowseEntry {
  /** As the format's URLs write it (`@scope/pkg`, `team/app`, `com.example:lib`). */
  readonly name: string;
  /** How many versions (tags, files) it has, when known. */
  readonly versions?: number | undefined;
  /** The newest version (a tag, `latest`'s target...), when known. */
  readonly latest?: string | undefined;
  /** When it last changed (ms since the epoch), when known. */
  readonly updatedAt?: number | undefined;
  /** Bytes its stored files hold, when known. */
  readonly bytes?: number | undefined;
  /** One line of description (the package's own: untrusted text, the UI escapes it). */
  readonly description?: string | undefined;
  /** True when listed from a proxy's cache (what was fetched through it, not the upstream's). */
  readonly cached?: boolean | undefined;
}

/** A page of a list. */
export interface BrowseList {
  readonly entries: readonly BrowseEntry[];
  /** Entries matching `q` in all (for paging), when the source knows it cheaply. */
  readonly total?: number | undefined;
}

/** One version (a tag, a version, a file) of a name. */
export interface BrowseVersion {
  readonly version: string;
  readonly publishedAt?: number | undefined;
  readonly bytes?: number | undefined;
  /** A digest (`sha256:…`) when the format has one per version. */
  readonly digest?: string | undefined;
  /** Tags naming it (npm dist-tags; OCI: the tag itself is `version`). */
  readonly tags?: readonly string[] | undefined;
  /** Warnings about it (yanked, deprecated, snapshot…): shown as translated badges. */
  readonly marks?: readonly BrowseMark[] | undefined;
  /** True when read from a proxy's cache (fetched through it): shown as a translated mark. */
  readonly cached?: boolean | undefined;
}

/**
 * A version's badge: `mark` keys the UI's message `mark.<mark>` (src/ui/i18n.ts), so the page
 * reads it in its language; `detail` is data shown after it as written (a yank reason, a
 * deprecation message: untrusted text); `files` is a raw folder's file count; `until` when a
 * quarantine hold (`held`) ends.
 */
export interface BrowseMark {
  readonly mark:
    | 'yanked'
    | 'deprecated'
    | 'snapshot'
    | 'pseudoVersion'
    | 'refusedByCuration'
    | 'held'
    | 'folder';
  readonly detail?: string | undefined;
  readonly files?: number | undefined;
  /** `held`: when the quarantine releases it (ms since the epoch). */
  readonly until?: number | undefined;
}

/** A fact's label: keys the UI's message `fact.<label>` (src/ui/i18n.ts). */
export type FactLabel =
  | 'repository'
  | 'packaging'
  | 'distTags'
  | 'cachedFrom'
  | 'mediaType'
  | 'appVersion'
  | 'listing'
  | 'curation';

/**
 * One row of a detail's facts, as data the UI renders in the page's language (the JSON twin sends
 * it as it is): a labelled value shown as written (a repository name, a media type, a refusal
 * reason); a proxy's `cachedFrom` upstream; raw's folder-listing limit (`first` entries shown,
 * the rest at `rest`); or one stored file (its name as the label, bytes, digest, PyPI's PEP 658
 * metadata bytes and Requires-Python).
 */
export type BrowseFact =
  | { readonly label: FactLabel; readonly value: string }
  | { readonly label: 'cachedFrom'; readonly upstream: true }
  | { readonly label: 'listing'; readonly first: number; readonly rest: string }
  | BrowseCurationFact
  | BrowseFileFact;

/**
 * Curation's refusal of a proxied version (src/ui/curation.ts): `value` is the engine's message,
 * word for word what a download gets (the JSON twin and English pages show it); other languages
 * compose their own sentence from `reason` (a CurationReason), `subject` (`npm name@1.0.0`),
 * `rule` (`blocklist rule 1 (…)`, data), `note` (the operator's reason, as written) and `until`
 * (ms: when the min release age or the quarantine lets it through).
 */
export interface BrowseCurationFact {
  readonly label: 'curation';
  readonly value: string;
  readonly reason: CurationReason;
  readonly subject: string;
  readonly rule?: string | undefined;
  readonly note?: string | undefined;
  readonly until?: number | undefined;
}

/** A stored file as a fact (the newest version's files: PyPI, Maven, a proxy's cache). */
export interface BrowseFileFact {
  /** The file's name (data: the row's label). */
  readonly file: string;
  readonly bytes: number;
  /** `sha256:<hex>`. */
  readonly digest: string;
  /** Bytes of its PEP 658 core metadata file, when it has one (PyPI). */
  readonly metadataBytes?: number | undefined;
  /** Its Requires-Python specifier (PyPI), when declared. */
  readonly requires?: string | undefined;
}

/** The detail of one name. */
export interface BrowseDetail {
  readonly name: string;
  readonly description?: string | undefined;
  /** Newest first. */
  readonly versions: readonly BrowseVersion[];
  /**
   * The client command that fetches it (`npm install @scope/pkg`, `docker pull host/team/app`),
   * built by the source from `baseUrl` (the server's public URL + the repository's mount).
   */
  readonly install?: string | undefined;
  /** Further facts (the repository, a media type, the newest version's files…): shown as a table. */
  readonly facts?: readonly BrowseFact[] | undefined;
  /** Set when the name is one file (raw's file page): the page shows it instead of versions. */
  readonly file?: BrowseFile | undefined;
}

/** One stored file's facts (raw's file page). */
export interface BrowseFile {
  /** Bytes. */
  readonly bytes: number;
  /** `sha256:<hex>`. */
  readonly digest: string;
  /** When it was written (ms since the epoch). */
  readonly modifiedAt: number;
  /** The Content-Type a GET answers with. */
  readonly contentType: string;
  /** Where a GET fetches its bytes (absolute: the repository's URL + the encoded path). */
  readonly url: string;
}

/** What a browse call knows of its request besides the repository. */
export interface BrowseRequest {
  /** Who asks (ANONYMOUS with auth off or a public UI): the source filters by it. */
  readonly principal: Principal;
  /**
   * The URL the repository is reached at by clients, no trailing `/` (`https://nora.example/npm`,
   * `http://host:4000/repository/team-npm`): `[server] public_url` or the request's host.
   */
  readonly repositoryUrl: string;
}

/**
 * One format's browse source. Methods throw only for real failures (storage, database): the UI
 * answers 500 for them. Group repositories: the source answers for what a read through the group
 * would see (its members in order); proxy repositories: what is cached, never asking upstream.
 */
export interface BrowseSource {
  readonly format: FormatName;
  /** Names in `repo` (a repository of this format) matching `query`, ordered by name. */
  list(repo: Repository, query: BrowseQuery, request: BrowseRequest): Promise<BrowseList>;
  /** The detail of `name` in `repo`, undefined when absent or not readable by the principal. */
  detail(repo: Repository, name: string, request: BrowseRequest): Promise<BrowseDetail | undefined>;
}

/** Where formats hand their browse sources (FormatContext.browse). One per built app. */
export interface BrowseRegistry {
  /** Records `source` for its format (a second one for the same format replaces it). */
  provide(source: BrowseSource): void;
  /** The source of `format`, if its format provided one (a disabled format provides none). */
  source(format: FormatName): BrowseSource | undefined;
}

/** A simple BrowseRegistry (app.ts builds one per app). */
export class BrowseSources implements BrowseRegistry {
  readonly #byFormat = new Map<FormatName, BrowseSource>();
  provide(source: BrowseSource): void {
    this.#byFormat.set(source.format, source);
  }
  source(format: FormatName): BrowseSource | undefined {
    return this.#byFormat.get(format);
  }
}
