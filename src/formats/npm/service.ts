/**
 * The npm registry service: packuments, tarballs, publish, unpublish, deprecate, dist-tags and
 * search over hosted, proxy and group repositories. No HTTP types here: routes.ts translates.
 *
 * Group semantics: hosted members are read first and merged (first member wins per version and
 * per tag); a name that a hosted member holds (a live version) is never looked up upstream (the
 * dependency-confusion guard, `protect_hosted_names`); otherwise proxy members are asked in order.
 * The first publish of a name a guarding group serves from a proxy member is refused (409) unless
 * `[npm] shadow_names` lists it (#refuseTakeover).
 * A proxy member whose upstream fails is "not here" (the shared group rule, repos/group-read.ts):
 * a total miss is a 404 naming the failed upstream, never a 502 from a group. A read that is
 * part of a write (`npm publish` asks for the packument first) never reaches an upstream: the
 * name may be private.
 */
import { createHash } from 'node:crypto';
import semver from 'semver';
import type { Readable } from 'node:stream';
import { noteArtifact, noteAudit, noteRelabel, noteServedBy } from '../../audit/requests.ts';
import type { AccessControl, Action, Principal } from '../../auth/access.ts';
import { compileGlob, type Glob } from '../../auth/patterns.ts';
import type { RuleConfig } from '../../auth/rules.ts';
import { parseDigest } from '../../core/digest.ts';
import { isRegistryError, methodNotAllowed, RegistryError } from '../../core/errors.ts';
import { type GroupReader, missNote } from '../../repos/group-read.ts';
import {
  creationRefusal,
  type HeldElsewhere,
  heldElsewhere,
  notAskedWarning,
  takeoverCheck,
  servedByProxy,
  refusalText,
  takeoverRefusal,
  takeoverWarning,
} from '../../repos/group-write.ts';
import type { Logger } from '../../core/logger.ts';
import type { CurationGate, CurationSubject } from '../../curation/types.ts';
import { refusedBeforeFetch } from '../curation-before-fetch.ts';
import type { Repository, RepositoryRegistry } from '../../repos/repository.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import { RenderedDocCache, type RenderedDoc, makeDoc } from '../../core/rendered-docs.ts';
import {
  checkName,
  checkNewPackageName,
  checkTag,
  checkVersion,
  compareVersions,
  findEqualVersion,
  isValidVersion,
  precedenceKey,
} from './names.ts';
import {
  type PackageView,
  type PackumentForm,
  type VersionView,
  renderPackument,
} from './packument.ts';
import {
  analyzeUpdate,
  hasAttachments,
  ingestPublish,
  parseBody,
  type Publisher,
} from './publish.ts';
import type { ScannedBody } from './publish-scan.ts';
import { unsupportedCommand, unsupportedUpdate } from './unsupported.ts';
import { rankPackages, renderSearch, type SearchQuery, type SearchResponse } from './search.ts';
import {
  type Json,
  type NpmStore,
  type RevCheck,
  type SearchRow,
  type StoredPackage,
  revConflict,
} from './store.ts';
import type { NpmUpstream } from './upstream.ts';

export interface TarballResponse {
  readonly size: number | undefined;
  readonly etag: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  open(range?: { start: number; end: number }): Promise<Readable>;
  /**
   * Whether the stored bytes are there (hosted tarballs), so a HEAD does not answer 200 for a
   * tarball whose GET is a 410 (gone from storage: BlobStore.hosted). Absent: assumed present.
   */
  readonly present?: () => Promise<boolean>;
}

export interface NpmServiceDeps {
  readonly store: NpmStore;
  readonly blobs: BlobStore;
  readonly repositories: RepositoryRegistry;
  readonly access: AccessControl;
  /** The upstream of a proxy repository (undefined for hosted/group). */
  readonly upstream: (repo: Repository) => NpmUpstream | undefined;
  readonly lookupEmail: (user: string) => Promise<string | undefined>;
  readonly cache?: RenderedDocCache;
  /**
   * Counts a proxy cache hit (`nora_cache_hits_total`) for a proxy repository, when a rendered
   * packument built from its cached upstream data is served again without asking the proxy.
   */
  readonly recordCacheHit?: (proxyRepository: string) => void;
  /** The shared group rule: failing members are "not here", counted and logged. */
  readonly reader: GroupReader;
  /** `[[auth.rules]]` as running (audit forwarding keeps the namespaces they own here). */
  readonly rules?: () => readonly RuleConfig[];
  /**
   * `[npm] shadow_names` as running: the package name globs whose first publish may take a name
   * over from a guarding group's proxy member (#refuseTakeover). Absent: none.
   */
  readonly shadowNames?: () => readonly string[];
  /**
   * How long the takeover check of a first publish waits for the upstream of the proxy member
   * `proxy`, ms (`shadow_check_upstream`, group-write.ts upstreamCheckWait); undefined or absent:
   * it reads that proxy's cache only.
   */
  readonly upstreamCheckWait?: (proxy: Repository) => number | undefined;
  readonly log?: Logger | undefined;
  /**
   * Curation (src/curation/types.ts): internal names never go to a proxy member; a proxied
   * tarball is checked before it is served; blocked versions leave proxied packuments (enforce).
   * Absent: nothing curated (unit tests).
   */
  readonly curation?: CurationGate;
}

/**
 * Why a client reads: `write` when the read is a step of a write (npm sends `npm-command:
 * publish` on the packument GET before a publish). A write-step read is answered from hosted
 * members only: a name being published must never be sent to an upstream.
 */
export type ReadIntent = 'read' | 'write';

interface Resolved {
  readonly view: PackageView;
  readonly validUntil: number;
  readonly stale: boolean;
  /** The proxy members whose data the view holds (empty for hosted data). */
  readonly proxied: readonly string[];
}

export class NpmService {
  readonly #deps: NpmServiceDeps;
  readonly #cache: RenderedDocCache;

  constructor(deps: NpmServiceDeps) {
    this.#deps = deps;
    this.#cache = deps.cache ?? new RenderedDocCache();
  }

  /** `name`: the package (rules name packages and scopes); undefined for repository-wide reads. */
  /** `via`: the group addressed when the operation lands in its member `repo`. */
  authorize(
    principal: Principal,
    repo: Repository,
    action: Action,
    name?: string,
    via?: Repository,
  ): void {
    this.#deps.access.authorize(principal, repo, action, name, { via });
  }

  /** Whether writes addressed to `repo` land somewhere (hosted, or a group's write member). */
  acceptsWrites(repo: Repository): boolean {
    return this.#deps.repositories.writeTarget(repo) !== undefined;
  }

  /**
   * Whether changes to `name` through the group `repo` — a dist-tag set or removed, a revision
   * PUT, an unpublish — answer 405 with an empty `Allow` (#refuseHeldElsewhere): its write member
   * does not hold the package and another member the group serves it from does (a proxy member
   * from its cache). A 405 of another method at those write-only URLs must then not list their
   * writes (RFC 9110 §15.5.6; trial 27 devA). False for anything but a group with a write member,
   * and for a `principal` that may not read `name` (its writes answer 401/403 first, and `Allow`
   * must not tell it what a member holds). A lookup per member: for 405s only, which are rare.
   */
  async changesRefused(repo: Repository, name: string, principal: Principal): Promise<boolean> {
    if (repo.kind !== 'group') return false;
    if (!this.#deps.access.can(principal, repo, 'read', name)) return false;
    const target = this.#deps.repositories.writeTarget(repo);
    if (target === undefined) return false;
    const held = await this.#heldElsewhere(repo, target, name).catch(() => undefined);
    return held !== undefined;
  }

  // ---------------------------------------------------------------- reads

  /** The rendered packument (cached per repository, name, form and mount URL). */
  async packument(
    repo: Repository,
    name: string,
    form: PackumentForm,
    mountUrl: string,
    principal: Principal,
    intent: ReadIntent = 'read',
  ): Promise<RenderedDoc> {
    this.authorize(principal, repo, 'read', name);
    checkName(name);
    // The epoch: new rules may pick other members for the name (RepositoryRegistry.membersOf).
    const epoch = repo.kind === 'group' ? this.#deps.repositories.answeringEpoch : 0;
    // The curation view: a reload or a bypass token changes which proxied versions show.
    const curated = this.#deps.curation?.viewKey() ?? '';
    const key = `${repo.name}\n${name}\n${form}\n${mountUrl}\n${intent}\n${epoch}\n${curated}`;
    const cached = this.#cache.get(key, name);
    if (cached) {
      for (const proxy of cached.proxied ?? []) this.#deps.recordCacheHit?.(proxy);
      return cached;
    }
    const generation = this.#cache.generation(name);
    const resolved = await this.#resolve(repo, name, intent);
    if (!resolved) throw notFound(name);
    const doc = makeDoc(
      renderPackument(resolved.view, form, mountUrl),
      resolved.validUntil,
      resolved.stale ? { 'x-nora-stale': 'true' } : {},
    );
    if (resolved.proxied.length > 0) doc.proxied = resolved.proxied;
    // A stale document is never cached: the next request should try the upstream again.
    if (!resolved.stale) this.#cache.set(key, name, generation, doc);
    return doc;
  }

  /** `GET /<name>/<version|tag>`: one version manifest as in the full packument. */
  async versionManifest(
    repo: Repository,
    name: string,
    spec: string,
    mountUrl: string,
    principal: Principal,
    intent: ReadIntent = 'read',
  ): Promise<{ manifest: Json; stale: boolean }> {
    const doc = await this.packument(repo, name, 'full', mountUrl, principal, intent);
    const packument = JSON.parse(doc.body.toString('utf8')) as {
      'dist-tags': Record<string, string>;
      versions: Record<string, Json>;
    };
    // A version finds its precedence class (3.0.0 → 3.0.0+b1), as npm's clients match with semver.
    const version = isValidVersion(spec)
      ? findEqualVersion(spec, Object.keys(packument.versions))
      : packument['dist-tags'][spec];
    const manifest = version === undefined ? undefined : packument.versions[version];
    if (!manifest) {
      throw new RegistryError(
        'NOT_FOUND',
        `version or tag "${spec}" of ${name} not found${await this.#guardNote(repo, name)}`,
      );
    }
    return { manifest, stale: doc.headers['x-nora-stale'] === 'true' };
  }

  async tarball(
    repo: Repository,
    name: string,
    filename: string,
    principal: Principal,
  ): Promise<TarballResponse> {
    this.authorize(principal, repo, 'read', name);
    checkName(name);
    // The members that may answer for the name (a name a member reserved is that member's).
    const members = this.#deps.repositories.membersOf(repo, name);
    const protect = protectsHostedNames(repo);
    let claimedBy: string | undefined;
    for (const member of members.filter((m) => m.kind === 'hosted')) {
      const ref = await this.#deps.store.tarball(member.name, name, filename);
      if (ref) {
        // The audit event's `member` (group-read.ts does it for the reads it runs).
        if (repo.kind === 'group') noteServedBy(member.name);
        const bytes = this.#deps.blobs.hosted(parseDigest(ref.digest), 'npm');
        return {
          size: ref.size,
          etag: `"${ref.digest}"`,
          headers: {},
          open: (range) => bytes.open(range),
          present: () => bytes.present(),
        };
      }
      if (protect && claimedBy === undefined && (await this.#holds(member, name))) {
        claimedBy = member.name;
      }
    }
    const missing = (note = '') =>
      new RegistryError('NOT_FOUND', `tarball ${filename} of ${name} not found${note}`);
    if (claimedBy !== undefined) {
      // The guard (protect_hosted_names) keeps the proxies out: the 404 says so (group-read.ts).
      const kept = repo.kind === 'group' ? this.#proxies(members).map((m) => m.name) : [];
      throw missing(
        kept.length === 0
          ? ''
          : missNote([], { group: repo.name, name, hosted: claimedBy, held: name, members: kept }),
      );
    }
    const proxies = this.#askable(members, name);
    // Before the proxy serves it, cached or fetched: a blocked version is refused in enforce
    // (403, npm prints the reason), counted in audit. Hosted tarballs above are trusted. Before
    // the fetch only what refuses whether or not the version exists (refusedBeforeFetch): a
    // version never seen and without a packument time is judged once found, so a tarball no
    // upstream has is a 404 with no first-seen row (trial 29 F1).
    const gate = proxies.length > 0 ? this.#deps.curation : undefined;
    let subject: CurationSubject | undefined;
    if (gate !== undefined) {
      const version = versionOfTarball(name, filename);
      subject = {
        registry: 'npm',
        name,
        version,
        publishedAt: await this.#publishedAt(proxies, name, version),
      };
      if (refusedBeforeFetch(gate, subject)) gate.guard(subject);
    }
    const found = await this.#deps.reader.first(
      repo,
      proxies,
      (member) => this.#upstreamOf(member).tarball(name, filename),
      missing,
    );
    if (!found)
      throw missing(missNote([], undefined, members.reserved) || this.#noProxyNote(repo, members));
    if (gate !== undefined && subject !== undefined) {
      // Found: a fill starts its first-seen clock (quarantine, by name@version), then the one
      // counted check (lists, min release age, a quarantine hold).
      if (found.filled === true) gate.recordFirstSeen(subject);
      gate.guard(subject);
    }
    return {
      size: found.size,
      etag: found.etag,
      headers: found.stale ? { 'x-nora-stale': 'true' } : {},
      open: (range) => found.open(range),
    };
  }

  /**
   * The note of a group 404 for `name` that the dependency-confusion guard kept from the group's
   * proxies (` (lib is hosted in npm-hosted, so group npm does not ask its proxy for it:
   * protect_hosted_names)`, group-read.ts missNote), as the tarball's 404 says it (trial 25 fmts
   * F4); '' when the guard did not apply (not a group, no proxy, no hosted member holds it).
   */
  async #guardNote(repo: Repository, name: string): Promise<string> {
    if (repo.kind !== 'group' || !protectsHostedNames(repo)) return '';
    const members = this.#deps.repositories.membersOf(repo, name);
    const kept = this.#proxies(members).map((m) => m.name);
    if (kept.length === 0) return '';
    for (const member of members.filter((m) => m.kind === 'hosted')) {
      if (await this.#holds(member, name)) {
        return missNote([], {
          group: repo.name,
          name,
          hosted: member.name,
          held: name,
          members: kept,
        });
      }
    }
    return '';
  }

  /**
   * ` (group npm has no proxy member: set NORA_NPM_PROXY to fetch public packages)` for a group
   * that has no proxy to ask (npm has no built-in upstream, so the default group starts that
   * way and a public name's bare 404 read as if the package did not exist), else ''. Named
   * groups get no advice about the default's variable. Never for a hosted repository: a name
   * missing there is simply not published there.
   */
  #noProxyNote(repo: Repository, members: readonly Repository[]): string {
    if (repo.kind !== 'group' || this.#proxies(members).length > 0) return '';
    return repo.isDefault
      ? ` (group ${repo.name} has no proxy member: set NORA_NPM_PROXY to fetch public packages)`
      : ` (group ${repo.name} has no proxy member to fetch public packages from)`;
  }

  /** Proxy members that have an upstream, in member order. */
  #proxies(members: readonly Repository[]): Repository[] {
    return members.filter((m) => m.kind === 'proxy' && this.#deps.upstream(m) !== undefined);
  }

  /**
   * The proxy members that may be asked about `name`: none for a name in curation's internal
   * namespaces (dependency-confusion defence: a group answers from its hosted members only, a
   * proxy answers 404).
   */
  #askable(members: readonly Repository[], name: string): Repository[] {
    if (this.#deps.curation?.isInternal('npm', name) === true) return [];
    return this.#proxies(members);
  }

  /**
   * The upstream's publish time of `name@version` (packument `time[version]`, ms), for the min
   * release age of a tarball download; undefined when no age applies to npm, or no proxy's
   * (cached) packument says (the gate then falls back to first-seen).
   */
  async #publishedAt(
    proxies: readonly Repository[],
    name: string,
    version: string | undefined,
  ): Promise<number | undefined> {
    if (version === undefined || this.#deps.curation?.timeSettings('npm').minReleaseAge === 0) {
      return undefined;
    }
    for (const member of proxies) {
      const found = await this.#upstreamOf(member)
        .packument(name)
        .catch(() => undefined);
      const time = found?.view.versions.find((v) => v.version === version)?.time;
      if (time !== undefined) return Date.parse(time);
    }
    return undefined;
  }

  /** The proxied view clients get (`curatedView`). */
  #curated(view: PackageView): PackageView {
    return curatedView(view, this.#deps.curation);
  }

  /**
   * Why a name has no version to show when curation removed every version the proxies listed
   * (enforce: all too young for the min release age, or all blocked), else undefined. An empty
   * packument would make npm say only `ETARGET` / `No matching version found for pkg@latest`;
   * the 404 this becomes (npm's `{"error": …}`, which npm prints after `404 Not Found - GET …`)
   * names curation and the version allowed first with when (`available from …`), else the
   * newest version's refusal. Not counted (no download was asked).
   */
  #everyVersionRefused(views: readonly PackageView[]): string | undefined {
    const gate = this.#deps.curation;
    const listed = views.flatMap((view) => view.versions.map((v) => ({ name: view.name, ...v })));
    if (gate === undefined || listed.length === 0) return undefined;
    const judged = listed.map((v) => {
      const publishedAt = v.time === undefined ? undefined : Date.parse(v.time);
      const subject = { registry: 'npm', name: v.name, version: v.version, publishedAt } as const;
      return { ...subject, verdict: gate.decide({ ...subject, integrity: v.integrity }) };
    });
    const aged = judged
      .filter((j) => j.verdict.reason === 'min_release_age' && j.publishedAt !== undefined)
      .sort((a, b) => (a.publishedAt ?? 0) - (b.publishedAt ?? 0));
    const newest = judged
      .filter((j) => semver.valid(j.version, { loose: true }) !== null)
      .sort((a, b) => semver.rcompare(a.version, b.version, { loose: true }));
    const first = aged[0] ?? newest[0];
    if (first === undefined || !first.verdict.refuse) return undefined;
    const why = first.verdict.message.replace(/^curation: /, '');
    const which = aged[0] === undefined ? 'the newest' : 'the first to be allowed';
    const count =
      judged.length === 1 ? 'its only version' : `${which} of its ${judged.length} versions`;
    return `package ${first.name} has no version curation allows: ${why} (${count})`;
  }

  #upstreamOf(member: Repository): NpmUpstream {
    const upstream = this.#deps.upstream(member);
    if (!upstream) throw new Error(`repository ${member.name} has no upstream`);
    return upstream;
  }

  async #resolve(
    repo: Repository,
    name: string,
    intent: ReadIntent = 'read',
  ): Promise<Resolved | undefined> {
    const members = this.#deps.repositories.membersOf(repo, name);
    const hosted = members.filter((m) => m.kind === 'hosted');
    const protect = protectsHostedNames(repo);
    const found = (await Promise.all(hosted.map((m) => this.#deps.store.get(m.name, name)))).filter(
      (p): p is StoredPackage => p !== undefined,
    );
    const hostedViews = found.map(hostedView);
    // `_rev` is what a client sends back with a write, and writes land in the write target: a
    // group shows that member's revision even when another member's view comes first.
    const writeTarget = this.#deps.repositories.writeTarget(repo)?.name;
    const targetRev = hostedViews[found.findIndex((p) => p.repo === writeTarget)]?.rev;
    const withTargetRev = (view: PackageView): PackageView =>
      targetRev === undefined || view.rev === targetRev ? view : { ...view, rev: targetRev };
    if (found.length > 0 && (protect || intent === 'write')) {
      return {
        view: withTargetRev(mergeViews(hostedViews)),
        validUntil: Infinity,
        stale: false,
        proxied: [],
      };
    }
    // A step of a write never sends the name upstream: it may be a private name.
    if (intent === 'write') return undefined;
    const { answers, failures } = await this.#deps.reader.all(
      repo,
      this.#askable(members, name),
      (member) => this.#upstreamOf(member).packument(name),
    );
    const results = answers.map((a) => ({ ...a.value, view: this.#curated(a.value.view) }));
    if (hostedViews.length === 0 && results.length === 0) {
      // A group's upstream that failed is "not here", but the 404 says why; so does a rule that
      // reserved the name for some members (the others were not asked: group-read.ts missNote).
      const note =
        missNote(failures, undefined, members.reserved) || this.#noProxyNote(repo, members);
      if (note !== '') throw notFound(name, note);
      return undefined;
    }
    const view = withTargetRev(mergeViews([...hostedViews, ...results.map((r) => r.view)]));
    if (view.versions.length === 0) {
      const refused = this.#everyVersionRefused(answers.map((a) => a.value.view));
      if (refused !== undefined) throw new RegistryError('NOT_FOUND', refused);
    }
    return {
      view,
      validUntil: Math.min(Infinity, ...results.map((r) => r.validUntil)),
      stale: results.some((r) => r.stale) || failures.length > 0,
      proxied: answers.map((a) => a.member.name),
    };
  }

  // ---------------------------------------------------------------- writes

  /** `PUT /<name>`: a publish (with attachments) or a metadata update (`npm deprecate`). */
  async put(
    repo: Repository,
    name: string,
    readBody: () => Promise<ScannedBody>,
    principal: Principal,
    rev: string | undefined,
  ): Promise<Json> {
    // Authorise before reading: an anonymous client must not make us spool a large body.
    // `/<name>` is still read on a read-only repository, `/<name>/-rev/<rev>` serves nothing.
    const target = this.#writeTarget(
      repo,
      principal,
      rev === undefined ? 'write' : 'delete',
      name,
      rev === undefined ? ['GET'] : [],
    );
    checkName(name);
    // npm's rules for new names (no `http`, `node_modules`, `~x`, ...) bind creations only: a
    // package that exists (or existed) here keeps its name. Refused before the body is read.
    if (rev === undefined) await this.#checkCreatableName(target, name);
    const scanned = await readBody();
    try {
      const body = parseBody(Buffer.from(scanned.text));
      if (hasAttachments(body)) {
        if (rev !== undefined)
          throw new RegistryError(
            'BAD_REQUEST',
            'attachments are not accepted on a revision update',
          );
        await this.#refuseSecondPackage(repo, target, name);
        const warnings = await this.#refuseTakeover(target, name);
        const input = await ingestPublish(
          this.#deps.blobs,
          name,
          body,
          await this.#publisher(principal),
          scanned.spools,
        );
        const newRev = await this.#deps.store.publish(target.name, name, input);
        // The path names the package percent-encoded (`@acme%2fwidget`) and no version: the
        // audit line says which version(s) this publish stored, under the decoded name.
        noteArtifact(`${name}@${input.versions.map((v) => v.version).join(',')}`);
        return {
          ok: true,
          id: name,
          rev: revString(newRev, name),
          success: true,
          // What the takeover check could not settle (npm prints nothing of a success: the log
          // says it too).
          ...(warnings.length > 0 ? { warnings } : {}),
        };
      }
      // `npm owner add/rm` and `npm star` PUT the packument with what they change: refused as
      // commands NORA does not have, before any other judgement of the body (unsupported.ts).
      // The URL is written here (this is a write target): `/<name>` is read and PUT,
      // `/<name>/-rev/<rev>` PUT and DELETE.
      const unsupported = unsupportedUpdate(body);
      if (unsupported !== undefined) {
        throw unsupportedCommand(
          unsupported,
          rev === undefined ? ['GET', 'PUT'] : ['PUT', 'DELETE'],
        );
      }
      const current = await this.#deps.store.get(target.name, name);
      // A body without tarballs only changes a package that exists (deprecate, dist-tags,
      // unpublish of a version); for a new name, say what a publish lacks.
      if (!current) {
        // A package another member of the group holds: say so (405), not "not found".
        await this.#refuseHeldElsewhere(repo, target, name, rev === undefined ? ['GET'] : []);
        // A write to a revision (`/-rev/<rev>`) of a package that does not exist is a 404; a
        // body that would create one but has no tarball is the client's mistake (400).
        if (rev !== undefined) throw notFound(name);
        throw new RegistryError(
          'BAD_REQUEST',
          `package ${name} does not exist, and a first publish must carry its tarball in _attachments`,
        );
      }
      // The revision the client read: `/-rev/<rev>` (unpublish of a version), else the body's
      // `_rev` (npm deprecate PUTs the packument it read); a body without one is not checked.
      const sent = rev ?? (typeof body['_rev'] === 'string' ? body['_rev'] : undefined);
      const revCheck = sent === undefined ? undefined : revMatches(sent, name);
      if (revCheck && !revCheck(current.rev)) throw revConflict(name);
      const live = current.versions.map((v) => v.version);
      const changes = analyzeUpdate(name, body, live, rev !== undefined);
      // Checked again inside the write's transaction: a write in between also conflicts.
      await this.#deps.store.update(target.name, name, changes, revCheck);
      // `npm deprecate` (a message, or "" lifting it): the audit line names the versions whose
      // deprecation changed, under the decoded name, not a `push` of `@acme%2fgreet`.
      const deprecated = [...changes.deprecations]
        .filter(
          ([v, d]) =>
            (current.versions.find((x) => x.version === v)?.deprecated ?? '') !== (d ?? ''),
        )
        .map(([v]) => v);
      if (changes.remove.length === 0 && deprecated.length > 0)
        noteRelabel('deprecate', `${name}@${deprecated.join(',')}`);
      // `npm unpublish <pkg>@<version>`'s PUT: a delete of those versions, `name@version`.
      if (changes.remove.length > 0) noteRelabel('delete', `${name}@${changes.remove.join(',')}`);
      return { ok: true, id: name, rev: revString(current.rev + 1, name) };
    } finally {
      await scanned.cleanup();
      this.#cache.invalidate(name);
    }
  }

  /**
   * `DELETE /<name>/-rev/<rev>`: unpublish the whole package. 404 when there is none, 409
   * ("document update conflict") when `rev` is not its current revision.
   */
  async unpublishPackage(
    repo: Repository,
    name: string,
    rev: string,
    principal: Principal,
  ): Promise<Json> {
    const target = this.#writeTarget(repo, principal, 'delete', name, []);
    checkName(name);
    // The audit event's artifact: the package deleted whole, its name decoded.
    noteArtifact(name);
    try {
      await this.#deps.store.unpublishAll(target.name, name, revMatches(rev, name));
    } catch (err) {
      throw await this.#proxiedAnswer(err, repo, target, name, []);
    } finally {
      this.#cache.invalidate(name);
    }
    return { ok: true };
  }

  /**
   * `DELETE /<name>/-/<file>/-rev/<rev>`: the last step of a version unpublish (npm sends it
   * after the `PUT /<name>/-rev/<rev>` that removed the version, with the `_rev` it read again).
   * 404 when the package or the tarball is unknown (a tarball of an unpublished version is
   * known: deleting it again is a no-op); 409 when `rev` is not the current revision.
   */
  async deleteTarball(
    repo: Repository,
    name: string,
    filename: string,
    rev: string,
    principal: Principal,
  ): Promise<Json> {
    const target = this.#writeTarget(repo, principal, 'delete', name);
    checkName(name);
    // The audit event's artifact: the file, `<name>/-/<file>` (decoded, without `/-rev/…`).
    noteArtifact(`${name}/-/${filename}`);
    const revCheck = revMatches(rev, name);
    const ref = await this.#deps.store.tarball(target.name, name, filename);
    if (ref) {
      // The client deletes a tarball whose version is still live: unpublish that version.
      noteArtifact(`${name}@${ref.version}`);
      try {
        await this.#deps.store.update(target.name, name, { remove: [ref.version] }, revCheck);
      } finally {
        this.#cache.invalidate(name);
      }
    } else {
      const current = await this.#deps.store.rev(target.name, name);
      if (current === undefined) {
        await this.#refuseHeldElsewhere(repo, target, name, ['GET']);
        throw notFound(name);
      }
      if (!(await this.#deps.store.knowsTarball(target.name, name, filename))) {
        throw new RegistryError('NOT_FOUND', `tarball ${filename} of ${name} not found`);
      }
      if (!revCheck(current)) throw revConflict(name);
    }
    // The bytes stay in the shared content-addressed store until GC finds them unreferenced.
    return { ok: true };
  }

  async distTags(
    repo: Repository,
    name: string,
    principal: Principal,
    intent: ReadIntent = 'read',
  ): Promise<Record<string, string>> {
    this.authorize(principal, repo, 'read', name);
    const resolved = await this.#resolve(repo, checkName(name), intent);
    if (!resolved) throw notFound(name);
    return { ...resolved.view.tags };
  }

  async setDistTag(
    repo: Repository,
    name: string,
    tag: string,
    body: unknown,
    principal: Principal,
  ): Promise<Json> {
    const target = this.#writeTarget(repo, principal, 'write', name, []);
    checkName(name);
    checkTag(tag);
    if (typeof body !== 'string')
      throw new RegistryError('BAD_REQUEST', 'dist-tag body must be a JSON string (the version)');
    checkVersion(body);
    try {
      const { version, previous } = await this.#deps.store.setTag(target.name, name, tag, body);
      // Moving `latest` is how a version reaches every `npm install`: audited (trial 35),
      // although `/-/` is npm's plumbing.
      noteAudit({
        action: 'dist-tag',
        artifact: `${name}@${tag}`,
        detail:
          previous === undefined
            ? `set to ${version} (new tag)`
            : `set to ${version} (was ${previous})`,
      });
    } catch (err) {
      throw await this.#proxiedAnswer(err, repo, target, name, []);
    } finally {
      this.#cache.invalidate(name);
    }
    return { ok: true, id: name, [tag]: body };
  }

  async removeDistTag(
    repo: Repository,
    name: string,
    tag: string,
    principal: Principal,
  ): Promise<Json> {
    const target = this.#writeTarget(repo, principal, 'write', name, []);
    checkName(name);
    if (tag === 'latest') {
      // Through a group, a package another member holds (its proxy member serves it): the write
      // goes nowhere, which is the first thing to say (the 405 naming the member), not that
      // latest stays (trial 25 devD F3).
      await this.#refuseHeldElsewhere(repo, target, name, []);
      throw new RegistryError('BAD_REQUEST', 'the "latest" dist-tag cannot be removed');
    }
    try {
      const previous = await this.#deps.store.removeTag(target.name, name, tag);
      noteAudit({
        action: 'dist-tag',
        artifact: `${name}@${tag}`,
        detail: `removed (was ${previous ?? 'unknown'})`,
      });
    } catch (err) {
      throw await this.#proxiedAnswer(err, repo, target, name, []);
    } finally {
      this.#cache.invalidate(name);
    }
    return { ok: true };
  }

  async search(
    repo: Repository,
    query: SearchQuery,
    principal: Principal,
  ): Promise<SearchResponse> {
    this.authorize(principal, repo, 'read');
    const members = this.#deps.repositories.membersOf(repo);
    // A row counts only from a member that may answer for its name (a reserved name: the
    // reserving member's row, as the packument).
    const answers = (row: SearchRow) =>
      this.#deps.repositories.membersOf(repo, row.name).some((m) => m.name === row.repo);
    const hosted = (
      await this.#deps.store.searchRows(
        members.filter((m) => m.kind === 'hosted').map((m) => m.name),
      )
    ).filter(answers);
    const proxied = (
      await this.#deps.store.searchProxied(
        members.filter((m) => m.kind === 'proxy').map((m) => m.name),
      )
    ).filter(answers);
    const hostedNames = new Set(hosted.map((r) => r.name));
    // Only packages the principal may read are found (and counted in `total`).
    const readable = (row: { name: string }) =>
      this.#deps.access.can(principal, repo, 'read', row.name);
    const ranked = rankPackages(
      [...hosted, ...proxied.filter((r) => !hostedNames.has(r.name))].filter(readable),
      query,
    );
    // The publisher a hosted result shows is its latest version's `_npmUser`, read for the
    // page only (a manifest is too large to read for every row).
    const page = ranked.page.map((r) => r.row).filter((row) => hostedNames.has(row.name));
    return renderSearch(ranked, await this.#deps.store.latestPublishers(page));
  }

  /**
   * Audit bodies go to the first proxy member's upstream, private names stripped
   * (`privateNames`): a project whose `@corp:registry=` points at a named hosted repository still
   * posts its whole lockfile to the default registry's audit endpoint.
   */
  async audit(repo: Repository, endpoint: string, body: Json, principal: Principal) {
    this.authorize(principal, repo, 'read');
    const members = this.#deps.repositories.membersOf(repo);
    const proxy = members.find((m) => m.kind === 'proxy' && this.#deps.upstream(m) !== undefined);
    const upstream = proxy ? this.#deps.upstream(proxy) : undefined;
    if (!upstream) {
      throw new RegistryError(
        'NOT_IMPLEMENTED',
        `npm audit needs an upstream registry: repository "${repo.name}" has none (set [npm] proxy / NORA_NPM_PROXY)`,
      );
    }
    const stripped = stripAuditNames(
      endpoint,
      body,
      await this.#privateNames(auditNames(endpoint, body)),
    );
    return upstream.audit(endpoint, Buffer.from(JSON.stringify(stripped)));
  }

  /**
   * The names among `names` that must not leave this server: published (or unpublished) in any
   * npm hosted repository, or inside a namespace that an `[[auth.rules]]` rule on an npm
   * repository owns (`@corp/*`, `corp-*`: `namespaceGlobs`), published yet or not.
   */
  async #privateNames(names: readonly string[]): Promise<Set<string>> {
    const npmRepos = this.#deps.repositories.byFormat('npm');
    const hosted = npmRepos.filter((r) => r.kind === 'hosted').map((r) => r.name);
    const found = await this.#deps.store.claimedIn(hosted, names);
    const globs = namespaceGlobs(
      this.#deps.rules?.() ?? [],
      npmRepos.map((r) => r.name),
    );
    if (globs.length > 0) {
      for (const name of names) if (globs.some((g) => g.test(name))) found.add(name);
    }
    return found;
  }

  /**
   * 400 when `name` breaks npm's rules for new package names and `target` holds no package of
   * that name, live or unpublished (names stored before keep working). Costs a query only for
   * a name that breaks a rule.
   */
  async #checkCreatableName(target: Repository, name: string): Promise<void> {
    try {
      checkNewPackageName(name);
    } catch (err) {
      if (!(await this.#deps.store.claims(target.name, name))) throw err;
    }
  }

  /**
   * The answer to the read that is a step of `npm deprecate` or `npm unpublish` (`npm-command`)
   * of `name` through `repo`, when it found no hosted package (`err`, a NOT_FOUND): the 405 of
   * #refuseHeldElsewhere when the group serves the package from a proxy member, else `err`. Its
   * `Allow` is `GET, HEAD`: the packument is read there, only not as a step of these writes.
   * npm prints the message after `405 Method Not Allowed - GET …?write=true`, where a 404 made
   * it add "could not be found or you do not have permission" (trial 23 fmts F3).
   */
  async writeStepMiss(err: unknown, repo: Repository, name: string): Promise<unknown> {
    const target = this.#deps.repositories.writeTarget(repo);
    if (target === undefined) return err;
    return this.#proxiedAnswer(err, repo, target, name, ['GET']);
  }

  /** `err` as it is, unless #refuseHeldElsewhere has a 405 for it (a NOT_FOUND only). */
  async #proxiedAnswer(
    err: unknown,
    repo: Repository,
    target: Repository,
    name: string,
    allow: readonly string[],
  ): Promise<unknown> {
    if (!isRegistryError(err) || err.code !== 'NOT_FOUND') return err;
    try {
      await this.#refuseHeldElsewhere(repo, target, name, allow);
    } catch (refusal) {
      return refusal;
    }
    return err;
  }

  /**
   * Throws METHOD_NOT_ALLOWED (405, `Allow`: `allow`, HEAD added to GET) when a change through
   * the group `repo` (a dist-tag, a deprecation, an unpublish) of `name`, which its hosted write
   * member `target` does not hold, is to a package another member of the group holds: the one
   * group-write rule (repos/group-write.ts), so "package … not found" does not contradict `npm
   * view` through the same URL (trial 23 fmts F3). A proxy member's packument counts from its
   * cache only (NpmUpstream.cached: a write never sends a name upstream), and not when the
   * dependency-confusion guard keeps the name from proxy members (a hosted member holds or held
   * it); another hosted member's live package counts (it answered 404 before).
   */
  async #refuseHeldElsewhere(
    repo: Repository,
    target: Repository,
    name: string,
    allow: readonly string[],
  ): Promise<void> {
    const held = await this.#heldElsewhere(repo, target, name);
    if (held === undefined) return;
    throw methodNotAllowed(
      refusalText(held, {
        what: `package ${name}`,
        kept: 'hosted',
        proxy: "is read-only (its dist-tags, deprecations and unpublishes are the upstream's)",
        hosted: `change its dist-tags, deprecations and versions there (npm <command> --registry <NORA>/repository/${held.member.name}/)`,
      }),
      allow,
    );
  }

  /**
   * The first publish of `name` in the write member `target` of the group `repo` is refused (409)
   * while another hosted member of the group holds the package: the group would serve two
   * packages of that name, merged (dependency confusion's ground). The client publishes to that
   * member. A package the write member holds or held (a new version of it) is not asked about.
   */
  async #refuseSecondPackage(repo: Repository, target: Repository, name: string): Promise<void> {
    if (repo.kind !== 'group' || repo.name === target.name) return;
    if (await this.#deps.store.claims(target.name, name)) return;
    const held = await this.#heldElsewhere(repo, target, name, ['hosted']);
    if (held === undefined) return;
    throw creationRefusal(held, {
      what: `package ${name}`,
      kept: 'hosted',
      doing: 'publishing',
      instead:
        `publish it to ${held.member.name} directly (npm publish --registry <NORA>/repository/${held.member.name}/), or under another name; ` +
        `to keep versions in both members on purpose, publish its first version to ${target.name} directly (<NORA>/repository/${target.name}/)`,
    });
  }

  /**
   * The takeover check of a publish of `name` into the hosted repository `target`, addressed
   * directly or through a group (trial 25 fmts F2), as Maven's, Helm's, Cargo's and Go's: the
   * first version of a name `target` does not hold, while a group guarding hosted names
   * (`protect_hosted_names`) that has `target` among its members serves the name from a proxy
   * member, would make that group serve only `target`'s versions from then on, hiding every
   * upstream version from `npm install` through it. Refused (409, npm prints it) unless
   * `[npm] shadow_names` lists the name; then it goes ahead and the log says what it took over
   * (npm prints nothing of a successful answer). "Serves": the proxy's cached packument
   * (NpmUpstream.cached): by default a write never sends a name upstream, so a public name nobody
   * installed through NORA yet is not refused. A proxy with `shadow_check_upstream` is asked
   * (its packument, fetched and cached as a read would) when nothing is cached, waited for
   * `upstreamCheckWait`; one that cannot be asked in time does not block the publish: the
   * returned warning lines (logged too) say so. Unpublishing every version gives the name back
   * (#holds).
   */
  async #refuseTakeover(target: Repository, name: string): Promise<string[]> {
    if ((await this.#deps.store.get(target.name, name)) !== undefined) return [];
    const repositories = this.#deps.repositories;
    const { taken, notAsked } = await takeoverCheck({
      repositories: repositories.byFormat('npm'),
      membersOf: (group, path) => repositories.membersOf(group, path),
      target,
      name,
      cached: async (proxy) => {
        if (this.#deps.upstream(proxy) === undefined) return false;
        const upstream = this.#upstreamOf(proxy);
        return servedByProxy(
          () => upstream.cached(name),
          // Internal names (curation) never go to a proxy member.
          () =>
            this.#askable([proxy], name).length === 0
              ? undefined
              : this.#deps.upstreamCheckWait?.(proxy),
          async () => (await upstream.packument(name)) !== undefined,
        );
      },
      hostedHolds: (member) => this.#holds(member, name),
    });
    const words = { what: `package ${name}`, versions: 'versions' };
    const warnings =
      notAsked.length === 0
        ? []
        : [notAskedWarning(notAsked.join(', '), words.what, target.name, words.versions)];
    for (const line of warnings) this.#deps.log?.warn({ package: name }, `npm publish: ${line}`);
    if (taken.length === 0) return warnings;
    if ((this.#deps.shadowNames?.() ?? []).some((glob) => compileGlob(glob).test(name))) {
      this.#deps.log?.warn({ package: name }, `npm publish: ${takeoverWarning(taken, words)}`);
      return [takeoverWarning(taken, words), ...warnings];
    }
    throw takeoverRefusal(taken, {
      ...words,
      doing: 'publish',
      section: 'npm',
      name,
      glob: name.startsWith('@') ? `${name.slice(0, name.indexOf('/'))}/*` : 'corp-*',
      undo: `every version of it in ${target.name} is unpublished`,
      docs: 'docs/npm.md, "Group"',
    });
  }

  /**
   * True when the hosted repository `member` holds `name` now (a live version): the question of
   * the dependency-confusion guard (`protect_hosted_names`). A name whose versions were all
   * unpublished is no longer hosted: the group asks its proxies for it again (trial 25 fmts F2),
   * as Cargo and Go do once an admin deletes a crate or module. Its versions stay immutable
   * (store.claims: an unpublished version is never published again).
   */
  async #holds(member: Repository, name: string): Promise<boolean> {
    return (await this.#deps.store.rev(member.name, name)) !== undefined;
  }

  /** group-write.ts `heldElsewhere` for npm: hosted members' live packages, proxies' caches. */
  async #heldElsewhere(
    repo: Repository,
    target: Repository,
    name: string,
    kinds?: readonly ('hosted' | 'proxy')[],
  ): Promise<HeldElsewhere<true> | undefined> {
    if (repo.kind !== 'group' || repo.name === target.name) return undefined;
    if ((await this.#deps.store.get(target.name, name)) !== undefined) return undefined;
    const members = this.#deps.repositories.membersOf(repo, name);
    const proxies = this.#proxies(members);
    return heldElsewhere({
      group: repo,
      writeTo: target,
      members: members.filter((m) => m.kind === 'hosted' || proxies.includes(m)),
      holds: async (member) =>
        member.kind === 'hosted'
          ? (await this.#deps.store.get(member.name, name)) !== undefined
          : this.#upstreamOf(member).cached(name),
      hostedClaims: protectsHostedNames(repo) ? (member) => this.#holds(member, name) : undefined,
      ...(kinds === undefined ? {} : { kinds }),
    });
  }

  /**
   * The hosted repository a write to `name` through `repo` lands in, after checking `action` on
   * both: a rule on the group or on the member holds whichever way a client addresses it. On a
   * repository without one, the 405's `Allow` is `allow`: what the written URL still serves
   * there (GET for a packument or a tarball, nothing for a revision or a dist-tag).
   */
  #writeTarget(
    repo: Repository,
    principal: Principal,
    action: Action,
    name: string,
    allow: readonly string[] = ['GET'],
  ): Repository {
    const target = this.#deps.repositories.requireWriteTarget(repo, { allow });
    if (target.name !== repo.name) this.authorize(principal, repo, action, name);
    this.authorize(principal, target, action, name, target.name === repo.name ? undefined : repo);
    return target;
  }

  async #publisher(principal: Principal): Promise<Publisher | undefined> {
    if (principal.kind !== 'user') return undefined;
    return { name: principal.name, email: await this.#deps.lookupEmail(principal.name) };
  }
}

function notFound(name: string, note = ''): RegistryError {
  return new RegistryError('NOT_FOUND', `package ${name} not found${note}`);
}

/** The dependency-confusion guard applies to groups that keep it on (and trivially elsewhere). */
function protectsHostedNames(repo: Repository): boolean {
  return repo.kind !== 'group' || repo.protectHostedNames;
}

/**
 * The `_rev` of revision number `rev` of `name`, as packuments show it: `<n>-<16 hex>`, the hex
 * from SHA-256 of `name:n`, so it has CouchDB's shape and changes with every revision (the hex
 * of the name itself, as before, was shorter for short names and fixed for long ones).
 */
function revString(rev: number, name: string): string {
  return `${rev}-${createHash('sha256').update(`${name}:${rev}`).digest('hex').slice(0, 16)}`;
}

/** A check that the revision a client sent (`_rev`) is the stored revision number. */
function revMatches(sent: string, name: string): RevCheck {
  return (current) => revString(current, name) === sent;
}

export function hostedView(pkg: StoredPackage): PackageView {
  const versions: VersionView[] = pkg.versions.map((v) => ({
    version: v.version,
    manifest: JSON.parse(v.manifest) as Json,
    filename: v.filename,
    integrity: v.integrity,
    shasum: v.shasum,
    time: new Date(v.publishedAt).toISOString(),
    deprecated: v.deprecated,
  }));
  versions.sort((a, b) => compareVersions(a.version, b.version));
  return {
    name: pkg.name,
    rev: revString(pkg.rev, pkg.name),
    tags: pkg.tags,
    versions,
    created: new Date(pkg.createdAt).toISOString(),
    modified: new Date(pkg.modifiedAt).toISOString(),
    meta: pkg.meta,
  };
}

/**
 * First view wins per version and per tag; times span all of them. Versions are matched by
 * SemVer precedence: a hosted `3.0.0+b1` hides a proxied `3.0.0` (one version, never two
 * different tarballs for what clients treat as the same version); a later view's tag naming a
 * hidden version points at the one served.
 */
export function mergeViews(views: readonly PackageView[]): PackageView {
  const [first, ...rest] = views;
  if (!first) throw new Error('mergeViews needs at least one view');
  if (rest.length === 0) return first;
  const keyOf = (version: string) => precedenceKey(version) ?? version;
  const versions = new Map(first.versions.map((v) => [keyOf(v.version), v]));
  const tags: Record<string, string> = { ...first.tags };
  for (const view of rest) {
    for (const v of view.versions) {
      const key = keyOf(v.version);
      if (!versions.has(key)) versions.set(key, v);
    }
    for (const [tag, version] of Object.entries(view.tags)) {
      // Pointed at the version of the precedence class that is served.
      const served = versions.get(keyOf(version));
      // Own keys only: `constructor` or `toString` is a valid tag name, and inherited.
      if (!Object.hasOwn(tags, tag) && served) tags[tag] = served.version;
    }
  }
  const created = views
    .map((v) => v.created)
    .filter((t): t is string => t !== undefined)
    .sort()[0];
  const modified = views
    .map((v) => v.modified)
    .filter((t): t is string => t !== undefined)
    .sort()
    .at(-1);
  return {
    ...first,
    tags,
    versions: [...versions.values()].sort((a, b) => compareVersions(a.version, b.version)),
    created,
    modified,
  };
}

/**
 * The path globs of rules that own a namespace in one of `repositories` (npm's): rules naming
 * someone other than anonymous (what owns, docs/auth.md), globs whose first segment holds a
 * literal character besides `@` (`@corp/*`, `corp-*`, `secretpkg`). Globs over every name (`**`,
 * `*`, a first segment of `@*` alone) are left out: a rule that restricts a whole repository
 * declares no private names, and taking them would strip every lockfile entry. Compiled once
 * per rules list.
 */
export function namespaceGlobs(
  rules: readonly RuleConfig[],
  repositories: readonly string[],
): readonly Glob[] {
  const key = repositories.join('\n');
  const cached = NAMESPACE_GLOBS.get(rules);
  if (cached?.key === key) return cached.globs;
  const globs: Glob[] = [];
  for (const rule of rules) {
    const owns = !rule.anonymous || rule.users.length + rule.groups.length + rule.tokens.length > 0;
    if (!owns) continue;
    const repoGlobs = rule.repositories.map(compileGlob);
    if (!repositories.some((name) => repoGlobs.some((g) => g.test(name)))) continue;
    for (const path of rule.paths) {
      const first = path.split('/')[0] ?? '';
      if (/[^*@]/.test(first)) globs.push(compileGlob(path));
    }
  }
  NAMESPACE_GLOBS.set(rules, { key, globs });
  return globs;
}

const NAMESPACE_GLOBS = new WeakMap<
  readonly RuleConfig[],
  { readonly key: string; readonly globs: readonly Glob[] }
>();

/**
 * Package names an audit body mentions. Bulk: its top-level keys. Quick (npm 6's shape, also
 * yarn classic's — whose `yarn audit` posts to its own built-in registry, never here:
 * `{name, version, install, remove, metadata, requires, dependencies}`): the root `name` (the project audited — often a private one), the keys of
 * `requires` and `dependencies` at every depth (each entry's own `requires` and `dependencies`
 * too), and the names in `install` / `remove` (`name` or `name@version`).
 */
export function auditNames(endpoint: string, body: Json): string[] {
  if (endpoint === 'advisories/bulk') return Object.keys(body);
  const names = new Set<string>();
  if (typeof body['name'] === 'string') names.add(body['name']);
  const walk = (deps: unknown) => {
    if (typeof deps !== 'object' || deps === null || Array.isArray(deps)) return;
    for (const [name, value] of Object.entries(deps as Json)) {
      names.add(name);
      if (typeof value === 'object' && value !== null) {
        walk((value as Json)['dependencies']);
        walk((value as Json)['requires']);
      }
    }
  };
  walk(body['dependencies']);
  walk(body['requires']);
  for (const list of [body['install'], body['remove']]) {
    if (!Array.isArray(list)) continue;
    for (const entry of list) if (typeof entry === 'string') names.add(specName(entry));
  }
  return [...names];
}

/** The package name of `name` or `name@version` (`@scope/name@1.0.0` → `@scope/name`). */
function specName(spec: string): string {
  const at = spec.indexOf('@', 1);
  return at === -1 ? spec : spec.slice(0, at);
}

/**
 * `body` without the names in `names` (private here: NpmService's `#privateNames`), for the
 * upstream. Quick: entries leave `requires` and `dependencies` at every depth and `install` /
 * `remove`; a private root `name` is left out with the root `version` (clients send a body
 * without them for a package.json without a name; the upstream needs neither to answer).
 */
export function stripAuditNames(endpoint: string, body: Json, names: ReadonlySet<string>): Json {
  if (names.size === 0) return body;
  if (endpoint === 'advisories/bulk') {
    return Object.fromEntries(Object.entries(body).filter(([name]) => !names.has(name)));
  }
  const strip = (deps: unknown): unknown => {
    if (typeof deps !== 'object' || deps === null || Array.isArray(deps)) return deps;
    // fromEntries defines own keys: a name such as `__proto__` is kept as a key, never set as
    // the object's prototype.
    return Object.fromEntries(
      Object.entries(deps as Json)
        .filter(([name]) => !names.has(name))
        .map(([name, value]) => [name, stripEntry(value)]),
    );
  };
  const stripEntry = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
    const entry = { ...(value as Json) };
    if ('dependencies' in entry) entry['dependencies'] = strip(entry['dependencies']);
    if ('requires' in entry) entry['requires'] = strip(entry['requires']);
    return entry;
  };
  const out: Json = {
    ...body,
    dependencies: strip(body['dependencies']),
    requires: strip(body['requires']),
  };
  for (const key of ['install', 'remove']) {
    const list = body[key];
    if (Array.isArray(list)) {
      out[key] = list.filter((e) => typeof e !== 'string' || !names.has(specName(e)));
    }
  }
  if (typeof body['name'] === 'string' && names.has(body['name'])) {
    delete out['name'];
    delete out['version'];
  }
  return out;
}

/**
 * The version of an npm tarball file name (`<unscoped name>-<version>.tgz`), or undefined when
 * the name is not of that shape (then only curation rules of version `*` apply to it).
 */
export function versionOfTarball(name: string, filename: string): string | undefined {
  const base = name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
  if (!filename.startsWith(`${base}-`) || !filename.endsWith('.tgz')) return undefined;
  const version = filename.slice(base.length + 1, -'.tgz'.length);
  return version === '' ? undefined : version;
}

/**
 * A proxied view without the versions curation hides (`CurationGate.hides`: enforce, refused by
 * a list or the min release age), so `npm install pkg` picks an allowed version and
 * `pkg@blocked` fails with "no matching version"; a dist-tag naming a removed version is
 * repointed (`curatedTags`). What a client reads through a proxy, and what the web UI shows as
 * its `latest` (npmBrowse). Quarantine holds stay listed (their download answers 403).
 */
export function curatedView(view: PackageView, gate: CurationGate | undefined): PackageView {
  if (gate?.mode() !== 'enforce') return view;
  const versions = view.versions.filter(
    (v) =>
      !gate.hides({
        registry: 'npm',
        name: view.name,
        version: v.version,
        integrity: v.integrity,
        publishedAt: v.time === undefined ? undefined : Date.parse(v.time),
      }),
  );
  if (versions.length === view.versions.length) return view;
  return {
    ...view,
    versions,
    tags: curatedTags(
      view.tags,
      versions.map((v) => v.version),
    ),
  };
}

/**
 * dist-tags after curation removed versions (a blocklist, the min release age): a tag naming a
 * kept version stays; `latest` naming a removed one moves to the highest kept release below it
 * (else the highest kept release, else the highest kept version); any other tag naming a
 * removed version moves to the highest kept version below it (SemVer), or is dropped.
 */
export function curatedTags(
  tags: Readonly<Record<string, string>>,
  kept: readonly string[],
): Record<string, string> {
  const keep = new Set(kept);
  const valid = kept.filter((v) => semver.valid(v, { loose: true }) !== null);
  const sorted = [...valid].sort((a, b) => semver.rcompare(a, b, { loose: true }));
  const releases = sorted.filter((v) => semver.prerelease(v, { loose: true }) === null);
  const out: Record<string, string> = {};
  for (const [tag, version] of Object.entries(tags)) {
    if (keep.has(version)) {
      out[tag] = version;
      continue;
    }
    // A tag on a hidden version moves to the newest kept version below it (what yarn's
    // npmMinimalAgeGate users expect: `npm install pkg@next` gets the newest allowed one), a
    // release for `latest`; a tag with nothing below it is dropped.
    const below = (candidates: readonly string[]) =>
      semver.valid(version, { loose: true }) === null
        ? undefined
        : candidates.find((v) => semver.lt(v, version, { loose: true }));
    const pick = tag === 'latest' ? (below(releases) ?? releases[0] ?? sorted[0]) : below(sorted);
    if (pick !== undefined) out[tag] = pick;
  }
  return out;
}
