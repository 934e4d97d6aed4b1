/**
 * `nora import assess|run` (NORA's verb, reference §3.9): copies the hosted ("local") repositories
 * of an Artifactory or a Nexus 3 into a RUNNING NORA, through each format's own publish endpoint
 * (so validation, auth, audit and metadata rebuilding happen where every other publish happens).
 *
 * This file is the contract between the verb (src/import/run.ts), the sources
 * (artifactory.ts, nexus.ts) and the writers, one per NORA format (maven.ts, raw.ts, and the
 * others registered in writers.ts). Units: sizes in bytes; digests lower-case hex; paths are
 * repository-relative, `/`-separated, without a leading `/`, NOT percent-encoded.
 */
import type { Readable } from 'node:stream';
import type { FormatName } from '../config/schema.ts';
import type { HttpAnswer } from '../core/http-client.ts';

/* ------------------------------------------------------------------------------------------ */
/* The source (Artifactory, Nexus 3)                                                          */
/* ------------------------------------------------------------------------------------------ */

export type SourceKind = 'artifactory' | 'nexus';

/**
 * What a source repository is. Artifactory `local` / Nexus `hosted` hold uploads (imported);
 * `remote` / `proxy` are caches of an upstream and `virtual` / `group` are views over others:
 * neither is imported (assess says so).
 */
export type SourceRepoKind = 'local' | 'remote' | 'virtual';

/** Each source's own word for a SourceRepoKind, as its UI and API spell it (what NORA prints). */
export const KIND_WORDS: Readonly<Record<SourceKind, Readonly<Record<SourceRepoKind, string>>>> = {
  artifactory: { local: 'local', remote: 'remote', virtual: 'virtual' },
  nexus: { local: 'hosted', remote: 'proxy', virtual: 'group' },
};

export interface SourceRepository {
  /** The source's repository key (Artifactory) or name (Nexus), as its URLs spell it. */
  readonly name: string;
  /**
   * The source's package type, lower case, as it names it: Artifactory `packageType`
   * (`maven`, `gradle`, `generic`, `npm`, `pypi`, `helm`, `cargo`, `docker`, `go`…), Nexus
   * `format` (`maven2`, `raw`, `npm`, `pypi`, `helm`, `cargo`, `docker`…).
   */
  readonly packageType: string;
  readonly kind: SourceRepoKind;
}

/** One file of a source repository, as its listing gives it (no download needed). */
export interface SourceFile {
  /** Repository-relative, e.g. `org/acme/lib/1.0/lib-1.0.jar` (no leading `/`, not encoded). */
  readonly path: string;
  /** Bytes, from the listing; -1 when the listing gives none (then `Content-Length` is used). */
  readonly size: number;
  /** Lower-case hex, when the source lists one (Artifactory `sha2`, Nexus `checksum.sha256`). */
  readonly sha256?: string | undefined;
  /** Lower-case hex, when the source lists one. Trusted only with `--allow-sha1`. */
  readonly sha1?: string | undefined;
  /** ISO-8601, when the source lists it. Informational. */
  readonly lastModified?: string | undefined;
}

/** A download from the source: the body, streamed, and its length from `Content-Length`. */
export interface SourceBody {
  readonly stream: Readable;
  /** Bytes, or undefined when the source sent no `Content-Length`. */
  readonly length: number | undefined;
}

/** A GET answered with something other than 2xx, or no answer: the message names the URL. */
export class ImportSourceError extends Error {
  /** The HTTP status, or undefined when no answer came (refused, timeout, SSRF refusal). */
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}

/**
 * A source, already authenticated (`NORA_IMPORT_AUTH`) and SSRF-guarded: every request it makes
 * goes to the `--url` host only (a redirect elsewhere is refused), and that host may not resolve
 * to a private, loopback or link-local address unless `--allow-private-cidrs`.
 * Every method rejects with ImportSourceError.
 */
export interface ImportSource {
  readonly kind: SourceKind;
  /** The `--url` as given, without user info, trailing `/` dropped (what reports show). */
  readonly url: string;
  /** The host (and port, if not the scheme's default) — names the resume state file. */
  readonly host: string;
  /** Every repository the credentials may see (401/403 → ImportSourceError). */
  listRepositories(): Promise<readonly SourceRepository[]>;
  /**
   * The files of one repository, streamed (pages fetched as iteration goes: memory stays
   * bounded however large the repository). Folders are not listed.
   */
  listFiles(repo: SourceRepository, signal?: AbortSignal): AsyncIterable<SourceFile>;
  /** Downloads one file (the bytes as stored; the caller verifies them). */
  open(repo: SourceRepository, path: string, signal?: AbortSignal): Promise<SourceBody>;
  /**
   * The source's package API for `repo` (named for its first use, Docker's Registry API v2):
   * `base` is Artifactory `<url>/api/<packageType>/<repo>`, Nexus `<url>/repository/<repo>`, so
   * Docker manifests are at `<base>/v2/<image>/manifests/<ref>` and Cargo's sparse index at
   * `<base><cargoIndex>/<prefix>/<name>`. `get` sends a GET
   * to `base + path` (`path` starts with `/v2/`, percent-encoded by the caller) with the source's
   * credentials and the same SSRF guard, following the registry's token dance (401 with a
   * `Bearer realm=…` challenge); it resolves with the answer whatever its status.
   */
  dockerRegistry(repo: SourceRepository): {
    readonly base: string;
    /**
     * Where Cargo's sparse index starts under `base`: Artifactory `/index` (its registry URL is
     * `…/api/cargo/<repo>/index`), Nexus `` (clients use `sparse+<nexus>/repository/<repo>/`,
     * so `config.json` and `<prefix>/<name>` sit at the repository's root).
     */
    readonly cargoIndex: string;
    get(path: string, headers?: Readonly<Record<string, string>>): Promise<HttpAnswer>;
  };
}

/* ------------------------------------------------------------------------------------------ */
/* Source package type → NORA format                                                          */
/* ------------------------------------------------------------------------------------------ */

/**
 * The NORA format a source package type is imported as; a type not here cannot be imported
 * (assess lists it as such). Gradle and sbt repositories use the Maven layout; Artifactory
 * `generic` and Nexus `raw` are plain files. `ivy` is not Maven layout: not imported.
 */
export const PACKAGE_TYPE_FORMAT: Readonly<Record<string, FormatName>> = {
  maven: 'maven',
  maven2: 'maven',
  gradle: 'maven',
  sbt: 'maven',
  generic: 'raw',
  raw: 'raw',
  npm: 'npm',
  pypi: 'pypi',
  helm: 'helm',
  cargo: 'cargo',
  docker: 'docker',
};

/* ------------------------------------------------------------------------------------------ */
/* The target (a running NORA)                                                                */
/* ------------------------------------------------------------------------------------------ */

/**
 * The running NORA, over HTTP (`--registry`, default `http://localhost:4000`), with the
 * credentials of NORA_IMPORT_TARGET_TOKEN (Bearer) or NORA_IMPORT_TARGET_USER +
 * NORA_IMPORT_TARGET_PASSWORD (Basic), sent on every request: a token as Bearer, except on
 * `/v2/…` where it goes as a Basic password (NORA's Docker API accepts Basic directly: no token
 * dance needed), so writers just send requests.
 */
export interface NoraTarget {
  /** The server's root, e.g. `http://127.0.0.1:4000` (no trailing slash). */
  readonly base: string;
  /**
   * Sends one request to `base + path` (`path` starts with `/`, percent-encoded by the caller).
   * Resolves with the answer whatever its status (the body must be read or discarded); rejects
   * only when no answer came, or when `body` errored (a checksum mismatch: the upload is then
   * aborted, so NORA never completes it).
   */
  request(
    method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    options?: {
      readonly headers?: Readonly<Record<string, string>>;
      readonly body?: Readable | string | Buffer;
    },
  ): Promise<HttpAnswer>;
  /** HEAD `path`: true on 2xx, false on 404, rejects (Error naming the status) otherwise. */
  exists(path: string): Promise<boolean>;
}

/**
 * Where one source repository is imported to: NORA's hosted repository of the same name and
 * format when there is one, else the format's default (or `--map src=dst`).
 */
export interface TargetRepository {
  readonly name: string;
  readonly format: FormatName;
  /** Served at the format's mount (`/maven2/`) rather than under `/repository/<name>/`. */
  readonly isDefault: boolean;
  /**
   * The URL path the format's routes sit under, no trailing `/`: the mount for the default
   * as the server's `/api/v1/repositories` names it (`/maven2`, `/raw`, `/npm`…) or
   * `/repository/<name>`.
   * Docker is the exception: its images are at `/v2/<image>` (default) or `/v2/<name>/<image>`.
   */
  readonly path: string;
}

/* ------------------------------------------------------------------------------------------ */
/* Writers (one per NORA format)                                                              */
/* ------------------------------------------------------------------------------------------ */

/**
 * The bytes of the file being written, streamed from the source and hashed as they pass: the
 * stream errors (instead of ending) when they do not match the listed checksum, or when their
 * count is not `size` — so an upload fed from it is aborted and never completes in NORA.
 * Each `open()` downloads again (a writer that must read a file twice, e.g. to look inside an
 * archive before publishing it, may call it twice).
 */
export interface VerifiedBody {
  readonly stream: Readable;
  /** Bytes: the listed size (send it as `Content-Length`). */
  readonly length: number;
}

/** What a writer is given for one source file it accepted. */
export interface WriteContext {
  readonly source: SourceRepository;
  readonly file: SourceFile;
  readonly target: TargetRepository;
  readonly nora: NoraTarget;
  /** Opens the file's bytes (verified as they stream). Rejects with ImportSourceError. */
  open(): Promise<VerifiedBody>;
  /** The source's package API (ImportSource.dockerRegistry of `source`: Docker, Cargo's index). */
  readonly sourceRegistry: ImportSource['dockerRegistry'];
  /** Aborted on Ctrl-C: stop, do not leave half an upload. */
  readonly signal: AbortSignal;
}

/**
 * What happened to one file. `skipped`: NORA already has it (the writer checked, e.g. HEAD) —
 * counted as done and recorded in the resume state. `failed`: `reason` is one line naming the
 * cause (`409 from PUT /maven2/…: release already deployed with other bytes`), no stack.
 * `deferred`: not yet — it needs another file of the same repository in NORA first (a crate's
 * dependency); nothing was published. The run writes it again once the repository's other files
 * are done, round after round while a round makes progress; one still deferred when a round
 * imports nothing fails with `reason`.
 */
export type WriteOutcome =
  | { readonly status: 'imported'; readonly bytes: number; readonly note?: string }
  | { readonly status: 'skipped'; readonly reason: string; readonly note?: string }
  | { readonly status: 'failed'; readonly reason: string }
  | { readonly status: 'deferred'; readonly reason: string };

/**
 * Which files of a source repository a writer takes. `take`: `write` is called for it.
 * `ignore`: not imported and not an error (NORA computes it: checksum files, metadata indexes,
 * packuments) — counted per reason in assess and run. `refuse`: cannot be imported (reason
 * shown in assess, counted as not importable; not a failure of `run`).
 * A taken file whose listing has no usable checksum (sha256, or sha1 with `--allow-sha1`) is not
 * given to `write`: it is counted as unimportable, never imported unverified.
 */
export type Acceptance =
  | { readonly action: 'take' }
  | { readonly action: 'ignore'; readonly reason: string }
  | { readonly action: 'refuse'; readonly reason: string };

export interface ImportWriter {
  readonly format: FormatName;
  /**
   * Decides from the listing alone (no download). Examples: Maven takes every file but its
   * `.sha1/.md5/.sha256/.sha512` and `maven-metadata.xml*` (ignored: NORA computes them); npm
   * takes `*.tgz` and ignores packuments.
   */
  accepts(file: SourceFile, source: SourceRepository): Acceptance;
  /**
   * Publishes one accepted file into `ctx.target` through the format's publish endpoint. Should
   * check first whether NORA already has it (→ `skipped`). Must not throw for a per-file problem:
   * return `failed` with the reason (a throw is reported as `failed` with its message).
   */
  write(ctx: WriteContext): Promise<WriteOutcome>;
}

/* ------------------------------------------------------------------------------------------ */
/* Reports (`--json` prints these; the text output says the same)                            */
/* ------------------------------------------------------------------------------------------ */

/** A count of files and their bytes. */
export interface Tally {
  readonly files: number;
  readonly bytes: number;
}

/** One source repository, as `assess` sees it. */
export interface AssessRepository {
  readonly name: string;
  readonly packageType: string;
  readonly kind: SourceRepoKind;
  /** The source's own word for `kind` (KIND_WORDS: Nexus `hosted`, `proxy`, `group`). */
  readonly type: string;
  /** The NORA format, or null when the package type has none. */
  readonly format: FormatName | null;
  /** `import`: its files would be imported into `target`. `skip`: not at all, see `reason`. */
  readonly action: 'import' | 'skip';
  /**
   * Set when action is `skip`: `remote repository: a cache of an upstream, not imported` (in
   * the source's words: Nexus `proxy repository: …`).
   */
  readonly reason?: string;
  /** Target repository name and URL path, when action is `import`. */
  readonly target?: { readonly name: string; readonly path: string };
  /** Every file listed (not counted for skipped repositories: their listing is not read). */
  readonly listed: Tally;
  /** Files a writer takes (what `run` would import). */
  readonly importable: Tally;
  /** Files ignored, by reason (`checksum file: NORA computes it`). */
  readonly ignored: Readonly<Record<string, Tally>>;
  /**
   * Files that cannot be imported, by reason (`no sha256 listed (use --allow-sha1)`, `no
   * checksum listed`, a writer's refusal).
   */
  readonly unimportable: Readonly<Record<string, Tally>>;
}

export interface AssessReport {
  readonly source: { readonly kind: SourceKind; readonly url: string };
  readonly repositories: readonly AssessRepository[];
  /** Sums over repositories, and per NORA format of importable files. */
  readonly totals: {
    readonly importable: Tally;
    readonly byFormat: Readonly<Partial<Record<FormatName, Tally>>>;
    readonly unimportable: Tally;
    readonly skippedRepositories: number;
  };
}

/** One file `run` could not import. */
export interface ImportFailure {
  readonly repository: string;
  readonly path: string;
  readonly reason: string;
}

/** One source repository, after `run`. */
export interface RunRepository {
  readonly name: string;
  readonly target: { readonly name: string; readonly path: string };
  readonly imported: Tally;
  /** NORA had it already (or the resume state says it was imported). */
  readonly skipped: number;
  readonly failed: number;
  /** Files not imported by design (ignored) or impossible (unimportable: no checksum…). */
  readonly ignored: number;
  readonly unimportable: number;
}

export interface RunReport {
  readonly source: { readonly kind: SourceKind; readonly url: string };
  readonly dryRun: boolean;
  readonly repositories: readonly RunRepository[];
  /** At most 1,000, in the order they happened (the text output prints each as it comes). */
  readonly failures: readonly ImportFailure[];
  readonly totals: {
    readonly imported: Tally;
    readonly skipped: number;
    readonly failed: number;
    /**
     * Files that cannot be imported (unsafe path, no usable checksum, a file the format does not
     * take): exit 1 unless `--allow-unimportable`, as a CI job must not pass over a partial copy.
     */
    readonly unimportable: number;
  };
  /** True when Ctrl-C stopped it (exit 130; a re-run resumes). */
  readonly interrupted: boolean;
  /**
   * What was imported but not exactly as the source has it (at most 1,000): e.g. an npm
   * source's `latest` rolled back below a release NORA got from elsewhere.
   */
  readonly notes: readonly string[];
}

/** Bad usage or input (unknown --source, credentials in --url, …): exit 2 with this message. */
export class ImportUsageError extends Error {}
