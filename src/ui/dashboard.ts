/**
 * The dashboard (NORA §3.14 `/ui/`, `/api/ui/stats`, `/api/ui/dashboard`): stat cards, a card per
 * enabled format, the mount points with each client's setup line, and the activity log. Data is
 * gathered here from the services the server already runs (no counting of its own): the
 * retention adapters list hosted versions, the blob index sums storage, the proxy engine's
 * `nora_cache_hits_total` / `nora_cache_misses_total` give the hit ratio, the audit ring the
 * activity. `renderDashboard` turns it into the page body.
 */
import type { AccessControl, Principal } from '../auth/access.ts';
import type { ActivityFeed, AuditEvent } from '../audit/types.ts';
import type { FormatName, RepositoryKind } from '../config/schema.ts';
import type { FormatModule } from '../formats/format.ts';
import { pipTrustedHost } from '../formats/pypi/browse.ts';
import type { Repository, RepositoryRegistry } from '../repos/repository.ts';
import type { RetentionRegistry, RetentionVersion } from '../retention/types.ts';
import type { Translate } from './i18n.ts';
import { html, type Html } from './layout.ts';
import { shellCommand, shellQuote } from './shell.ts';

/** The dashboard's services (routes.ts hands them per request). */
export interface DashboardSources {
  readonly formats: readonly FormatModule[];
  readonly isEnabled: (format: FormatName) => boolean;
  readonly repositories: RepositoryRegistry;
  readonly access: AccessControl;
  readonly retention: RetentionRegistry;
  /** Bytes the blob store holds (BlobStore.totalSize). */
  readonly storageBytes: () => Promise<number>;
  /** The proxy cache's counters since start (hits: served from cache; misses: fetched). */
  readonly cacheCounters: () => Promise<{ hits: number; misses: number }>;
  readonly activity: ActivityFeed;
}

/** `/api/ui/stats`. */
export interface DashboardStats {
  readonly formats_enabled: number;
  readonly formats: readonly FormatName[];
  readonly repositories: Readonly<Record<RepositoryKind, number>> & { readonly total: number };
  /** Hosted content the principal may read: names, versions and their bytes. */
  readonly hosted: { readonly names: number; readonly versions: number; readonly bytes: number };
  /** Bytes the blob store holds (every repository; null when it cannot be read). */
  readonly storage_bytes: number | null;
  /** Proxy cache since start: ratio = hits / (hits + misses), null before any lookup. */
  readonly cache: {
    readonly hits: number;
    readonly misses: number;
    readonly hit_ratio: number | null;
  };
}

export interface RepositoryCard {
  readonly name: string;
  readonly kind: RepositoryKind;
  /** Where clients reach it. */
  readonly url: string;
  readonly default: boolean;
  /** proxy: upstream URLs, credentials removed. */
  readonly upstreams: readonly string[];
  /** group: members in read order. */
  readonly members: readonly string[];
}

export interface RegistryCard {
  readonly format: FormatName;
  readonly mount: string;
  readonly url: string;
  readonly repositories: readonly RepositoryCard[];
}

export interface MountPoint {
  readonly format: FormatName;
  readonly mount: string;
  readonly url: string;
  /** Client setup lines, one command or config line each. */
  readonly setup: readonly string[];
  /** A caveat (Docker under a sub-path). */
  readonly note?: string | undefined;
}

/** `/api/ui/dashboard`. */
export interface Dashboard {
  readonly stats: DashboardStats;
  readonly registries: readonly RegistryCard[];
  readonly mounts: readonly MountPoint[];
  /** Newest first, at most 50, only of repositories the principal may read. */
  readonly activity: readonly AuditEvent[];
}

/** `url` without user info, query or fragment (upstream credentials never reach a page). */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    parsed.hash = '';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}

/**
 * Where `repo` of `format` is reached: the format's default repository (`maven`, `raw-hosted`)
 * at its fixed mount, any other at `/repository/<name>`, the default members too (`maven-hosted`,
 * `maven-proxy`: trial 33 gave them the group's `/maven2`), which every format serves there
 * except Docker, whose default members have no URL of their own (their images are read and
 * pushed through `/v2/`).
 */
export function repositoryUrl(base: string, format: FormatModule, repo: Repository): string {
  const atMount =
    repo.isDefault && (repo.name === format.defaultRepository || format.format === 'docker');
  return `${base}${atMount ? format.mount : `/repository/${encodeURIComponent(repo.name)}`}`;
}

/** Up to this many hosted Go module paths are listed in the Go line's GOPRIVATE. */
const GO_PRIVATE_LISTED = 10;

/**
 * The client setup lines for a format's fixed mount at `base` (the server's public URL, no
 * trailing `/`, a sub-path kept). The same lines README.md's per-format sections give, enough to
 * fetch and build what NORA hosts as pasted: for Go, `hosted.goModules` (the hosted module paths
 * the viewer may read, sorted) fill GOPRIVATE when there are 1–GO_PRIVATE_LISTED of them, else
 * README's placeholder with a note saying to replace it.
 */
export function setupLines(
  format: FormatName,
  base: string,
  hosted: { readonly goModules?: readonly string[] } = {},
): { setup: string[]; note?: string } {
  const url = new URL(`${base}/`);
  const host = url.host;
  switch (format) {
    case 'docker': {
      // skopeo speaks HTTPS unless told; an http public URL needs the flag (docker trusts
      // 127.0.0.0/8 only, another http host needs `insecure-registries` in daemon.json).
      const tls = url.protocol === 'http:' ? ['--dest-tls-verify=false'] : [];
      const setup = [
        shellCommand('docker', 'login', host),
        shellCommand('docker', 'pull', `${host}/library/alpine:latest`),
        shellCommand('skopeo', 'copy', ...tls, 'oci:./layout:v1', `docker://${host}/myapp:latest`),
      ];
      return url.pathname === '/'
        ? { setup }
        : {
            setup,
            note: `Docker clients reach a registry at the host's root (/v2/): a reverse proxy must route ${host}/v2/ to NORA's /v2/`,
          };
    }
    case 'npm':
      return { setup: [shellCommand('npm', 'config', 'set', 'registry', `${base}/npm/`)] };
    case 'pypi':
      return {
        setup: [
          `${shellCommand('pip', 'install', '--index-url', `${base}/simple/`, ...pipTrustedHost(base))} <package>`,
          `${shellCommand('twine', 'upload', '--repository-url', `${base}/simple/`)} dist/*`,
        ],
      };
    case 'maven':
      return {
        setup: [
          `<!-- ~/.m2/settings.xml --> <mirror><id>nora</id><mirrorOf>*</mirrorOf><url>${base}/maven2/</url></mirror>`,
          // id::layout::url: maven-deploy-plugin 2.x (Maven 3.8.7's default binding) reads only
          // that form, 3.x reads it too when the layout is `default` (with a warning).
          shellCommand('mvn', 'deploy', `-DaltDeploymentRepository=nora::default::${base}/maven2/`),
        ],
      };
    case 'cargo':
      return {
        setup: [
          `# ~/.cargo/config.toml`,
          `[registries.nora]`,
          `index = ${JSON.stringify(`sparse+${base}/cargo/index/`)}`,
        ],
      };
    case 'go': {
      // README's block, not GOPROXY alone: a hosted module is in no public checksum database, so
      // without GOPRIVATE `go` fails verifying its go.mod (NORA's sumdb answers 404 "set
      // GOPRIVATE"); GONOPROXY=none keeps those paths going through NORA (GOPRIVATE alone would
      // send them to version control), GOFLAGS=-mod=mod lets a build add what go.sum lacks.
      const modules = hosted.goModules ?? [];
      const listed = modules.length > 0 && modules.length <= GO_PRIVATE_LISTED;
      const setup = [
        `export GOPROXY=${shellQuote(`${base}/go`)}`,
        'export GOFLAGS=-mod=mod',
        `export GOPRIVATE=${shellQuote(listed ? modules.join(',') : 'corp.example.com')} GONOPROXY=none`,
      ];
      return listed
        ? { setup }
        : {
            setup,
            note: 'GOPRIVATE: put the path prefixes of your hosted modules in place of corp.example.com (comma-separated globs)',
          };
    }
    case 'helm':
      return { setup: [shellCommand('helm', 'repo', 'add', 'nora', `${base}/helm`)] };
    case 'raw':
      return {
        setup: [
          shellCommand('curl', '-T', 'tool-1.0.tar.gz', `${base}/raw/tools/1.0/tool-1.0.tar.gz`),
          shellCommand('curl', '-O', `${base}/raw/tools/1.0/tool-1.0.tar.gz`),
        ],
      };
  }
}

const KINDS: readonly RepositoryKind[] = ['hosted', 'proxy', 'group'];

const WRITE_ACTIONS: AuditEvent['action'][] = ['push', 'overwrite', 'delete', 'retention-apply'];

/** How long the dashboard reuses a hosted repository's version list, ms. */
export const HOSTED_COUNTS_TTL_MS = 5_000;

type HostedVersions = RetentionVersion[];

/**
 * Each hosted repository's version list (the retention adapter's: one query or listing per
 * repository), kept HOSTED_COUNTS_TTL_MS: the dashboard and `/api/ui/stats` were recounted on
 * every request, so a monitor polling the stats, or a dashboard left open, cost a scan of every
 * hosted repository each time. The list is the same for every viewer (what each may read is
 * filtered per request); a write the activity feed records shows at once, others within the TTL. Requests arriving while a list is read
 * share that read. A failed read is not kept.
 */
export class HostedCountsCache {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #lists = new Map<
    string,
    { at: number; generation: unknown; list: Promise<HostedVersions> }
  >();

  constructor(ttlMs = HOSTED_COUNTS_TTL_MS, now: () => number = Date.now) {
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /**
   * The list of `key`, read again when older than the TTL or when `generation` (the newest write
   * in the activity feed: a publish, delete or retention pass since) differs from the one it
   * was read under.
   */
  versions(
    key: string,
    generation: unknown,
    read: () => Promise<HostedVersions>,
  ): Promise<HostedVersions> {
    const now = this.#now();
    const held = this.#lists.get(key);
    if (held !== undefined && held.generation === generation && now - held.at < this.#ttlMs)
      return held.list;
    const list = read();
    this.#lists.set(key, { at: now, generation, list });
    list.catch(() => {
      if (this.#lists.get(key)?.list === list) this.#lists.delete(key);
    });
    return list;
  }
}

/**
 * Everything the dashboard shows `principal`, with `base` the server's public URL; `counts`
 * reuses the hosted version lists for a few seconds (the server's routes pass one).
 */
export async function gatherDashboard(
  sources: DashboardSources,
  principal: Principal,
  base: string,
  counts?: HostedCountsCache,
): Promise<Dashboard> {
  const enabled = sources.formats.filter((f) => sources.isEnabled(f.format));
  // Only repositories the principal may read appear (a public UI shows anonymous' view).
  const readable = (repo: Repository): boolean => sources.access.can(principal, repo, 'read');
  const byKind = { hosted: 0, proxy: 0, group: 0 } as Record<RepositoryKind, number>;
  const registries: RegistryCard[] = [];
  const hosted = { names: 0, versions: 0, bytes: 0 };
  // A write since the counts were read makes them stale at once (the TTL bounds the rest:
  // writes whose action `[audit] actions` leaves out).
  const generation = sources.activity.recent(1, { actions: WRITE_ACTIONS })[0];
  const visible = new Set<string>();
  // The hosted Go module paths the principal may read: the Go setup line's GOPRIVATE.
  const goModules = new Set<string>();
  for (const format of enabled) {
    const repos = sources.repositories.byFormat(format.format).filter(readable);
    for (const repo of repos) {
      byKind[repo.kind] += 1;
      visible.add(repo.name);
    }
    registries.push({
      format: format.format,
      mount: format.mount,
      url: `${base}${format.mount}`,
      repositories: repos.map((repo) => ({
        name: repo.name,
        kind: repo.kind,
        url: repositoryUrl(base, format, repo),
        default: repo.isDefault,
        upstreams: repo.upstreams.map((u) => withoutCredentials(u.url)),
        members: repo.members,
      })),
    });
    const adapter = sources.retention.adapter(format.format);
    if (adapter === undefined) continue;
    for (const repo of repos.filter((r) => r.kind === 'hosted')) {
      let versions;
      try {
        const read = () => adapter.versions(repo);
        versions = await (counts === undefined
          ? read()
          : counts.versions(`${format.format}\n${repo.name}`, generation, read));
      } catch {
        continue; // A storage failure leaves this repository out of the counts, not the page.
      }
      const names = new Set<string>();
      for (const v of versions) {
        if (!sources.access.can(principal, repo, 'read', v.name)) continue;
        names.add(v.name);
        if (format.format === 'go') goModules.add(v.name);
        hosted.versions += 1;
        hosted.bytes += v.bytes;
      }
      hosted.names += names.size;
    }
  }
  const [storage, cache] = await Promise.all([
    sources.storageBytes().catch(() => null),
    sources.cacheCounters(),
  ]);
  const lookups = cache.hits + cache.misses;
  const stats: DashboardStats = {
    formats_enabled: enabled.length,
    formats: enabled.map((f) => f.format),
    repositories: { ...byKind, total: KINDS.reduce((sum, k) => sum + byKind[k], 0) },
    hosted,
    storage_bytes: storage,
    cache: {
      hits: cache.hits,
      misses: cache.misses,
      hit_ratio: lookups === 0 ? null : cache.hits / lookups,
    },
  };
  const mounts = enabled.map((format) => ({
    format: format.format,
    mount: format.mount,
    url: `${base}${format.mount}`,
    ...setupLines(format.format, base, { goModules: [...goModules].sort() }),
  }));
  const activity = sources.activity
    .recent(50)
    .filter((e) => eventVisible(sources, principal, e, visible));
  return { stats, registries, mounts, activity };
}

/**
 * True when `principal` may see `event` in the activity feed: the same read check a browse
 * source makes, on the event's repository and on every prefix of its artifact path (percent-
 * decoded, so `@hidden%2ftopsecret` meets a `@hidden/**` rule; a prefix so that a rule naming
 * a package hides its tarball path too). Events outside any repository and account events
 * (token create/revoke, failed logins, which name users, a failed login also when it was a
 * request to a repository): admins only, or everyone with auth off (there are none then beyond
 * the feed's own). An artifact that cannot be decoded is hidden. Where rules speak about some
 * paths only (or for a scoped credential), every name the artifact may stand for
 * (`nameCandidates`) must be readable too: an artifact's path does not always name what the
 * rules name.
 */
export function eventVisible(
  sources: Pick<DashboardSources, 'access' | 'repositories'>,
  principal: Principal,
  event: AuditEvent,
  visible: ReadonlySet<string>,
): boolean {
  const { access } = sources;
  // A failed login names a user only when it exists (audit.md), also when it was a request to a
  // repository's path; token events name other users' credentials: account matters, for admins.
  const account =
    event.action === 'login-failed' ||
    event.action === 'token-create' ||
    event.action === 'token-revoke';
  if (event.repository === undefined || account) {
    if (!access.authEnabled) return principal.kind === 'anonymous' || principal.scope === undefined;
    return (
      principal.kind === 'user' &&
      principal.roles.includes('admin') &&
      principal.scope === undefined
    );
  }
  if (!visible.has(event.repository)) return false;
  const repo = sources.repositories.get(event.repository);
  if (repo === undefined) return false;
  let path: string;
  try {
    path = decodeURIComponent(event.artifact);
  } catch {
    return false;
  }
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.length === 0) return access.can(principal, repo, 'read');
  for (let i = 1; i <= segments.length; i++) {
    if (!access.can(principal, repo, 'read', segments.slice(0, i).join('/'))) return false;
  }
  // An artifact is not always the path its access rules name (`serde@1.0.0` and
  // `api/v1/crates/serde/1.0.0/download` for the crate `serde`, `mychart-0.9.0.tgz` for the chart
  // `mychart`): unless the viewer reads every path of the repository (and of the member that
  // stored or served it), every name the artifact may stand for must be readable too.
  const member = event.member === undefined ? undefined : sources.repositories.get(event.member);
  if (
    access.readsEveryPath(principal, repo) &&
    (member === undefined || access.readsEveryPath(principal, member))
  ) {
    return true;
  }
  return nameCandidates(event.format ?? event.registry, segments).every(
    (name) =>
      access.can(principal, repo, 'read', name) &&
      (member === undefined || access.can(principal, member, 'read', name)),
  );
}

/**
 * Formats whose access rules name a single path segment that their request paths nest below
 * protocol segments (`api/v1/crates/serde/1.0.0/download`, `simple/requests/`,
 * `charts/mychart-0.9.0.tgz`). The others' rules name the path itself (raw, Maven, Go, OCI) or a
 * prefix of it (npm), which the prefix checks cover.
 */
const SEGMENT_NAMED = new Set<string>(['cargo', 'pypi', 'helm']);

/**
 * The names an artifact path (`segments`) of `format` may stand for in access rules, beyond its
 * prefixes: each prefix without a trailing `@<version>` (`@scope/pkg@1.0.0`, `crate@1.0.0`), and
 * for SEGMENT_NAMED formats each single segment, also cut before each `-<digit>`
 * (`mychart-0.9.0.tgz` → `mychart`). Hiding on any of them only ever hides more. A few per
 * segment (paths are bounded by the URL limit).
 */
export function nameCandidates(format: string, segments: readonly string[]): string[] {
  const out = new Set<string>();
  const single = SEGMENT_NAMED.has(format);
  for (let i = 0; i < segments.length; i++) {
    const last = segments[i] ?? '';
    const dir = i === 0 ? '' : `${segments.slice(0, i).join('/')}/`;
    const at = last.indexOf('@', 1);
    if (at > 0) out.add(dir + last.slice(0, at));
    if (!single) continue;
    out.add(last);
    if (at > 0) out.add(last.slice(0, at));
    for (let j = 1; j < last.length - 1; j++) {
      if (last[j] === '-' && /[0-9]/.test(last[j + 1] ?? '')) out.add(last.slice(0, j));
    }
  }
  return [...out];
}

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit] ?? 'B'}`;
}

/** The dashboard page's body. `browse(format)`: the href of the format's browse page. */
export function renderDashboard(
  data: Dashboard,
  browse: (format: FormatName) => string,
  t: Translate,
): Html {
  const { stats } = data;
  const card = (label: string, value: string | number, sub?: Html | string): Html =>
    html`<div class="card">
      <div class="label">${label}</div>
      <div class="value">${value}</div>
      ${sub === undefined ? '' : html`<div class="muted">${sub}</div>`}
    </div>`;
  const ratio =
    stats.cache.hit_ratio === null ? '–' : `${(stats.cache.hit_ratio * 100).toFixed(1)}%`;
  const cards = html`<section class="cards" aria-label="statistics">
    ${card(t('dash.formatsEnabled'), stats.formats_enabled, stats.formats.join(', '))}
    ${card(t('dash.repositories'), stats.repositories.total, t('dash.repositoriesSub', stats.repositories))}
    ${card(t('dash.hostedVersions'), stats.hosted.versions, t('dash.hostedSub', { names: stats.hosted.names, bytes: formatBytes(stats.hosted.bytes) }))}
    ${card(t('dash.storageUsed'), stats.storage_bytes === null ? '–' : formatBytes(stats.storage_bytes), t('dash.blobStore'))}
    ${card(t('dash.hitRatio'), ratio, t('dash.hitSub', { hits: stats.cache.hits, misses: stats.cache.misses }))}
  </section>`;
  const registries = data.registries.map(
    (r) =>
      html`<div class="card registry" data-format="${r.format}">
        <div class="label">${r.format}</div>
        <div>
          <a href="${browse(r.format)}"><strong>${r.mount}</strong></a>
          <span class="muted">${r.url}</span>
        </div>
        <ul>
          ${r.repositories.map(
            (repo) =>
              html`<li>
                <strong>${repo.name}</strong>
                <span class="muted">${t(`kind.${repo.kind}`)}</span
                >${repo.upstreams.length > 0 ? html` ← ${repo.upstreams.join(', ')}` : ''}${repo.members.length > 0 ? html` = ${repo.members.join(' → ')}` : ''}
              </li>`,
          )}
        </ul>
      </div>`,
  );
  const mounts = data.mounts.map(
    (m) =>
      html`<tr>
        <td>${m.format}</td>
        <td><code>${m.mount}</code></td>
        <td>
          <pre><code>${m.setup.join('\n')}</code></pre>
          ${m.note === undefined ? '' : html`<div class="muted">${m.note}</div>`}
        </td>
      </tr>`,
  );
  const activity =
    data.activity.length === 0
      ? html`<p class="empty" id="activity-empty">${t('dash.noActivity')}</p>`
      : html`<table id="activity">
          <thead>
            <tr>
              <th>${t('th.time')}</th>
              <th>${t('th.action')}</th>
              <th>${t('th.who')}</th>
              <th>${t('th.registry')}</th>
              <th>${t('th.artifact')}</th>
            </tr>
          </thead>
          <tbody>
            ${data.activity.map(
              (e) =>
                html`<tr>
                  <td>${e.ts}</td>
                  <td data-action="${e.action}">${t(`action.${e.action}`)}</td>
                  <td>${e.actor}</td>
                  <td>${e.repository ?? e.registry}</td>
                  <td><code>${e.artifact}</code></td>
                </tr>`,
            )}
          </tbody>
        </table>`;
  return html`${cards}
    <h2>${t('dash.registries')}</h2>
    <section class="cards registries">${registries}</section>
    <h2>${t('dash.mountPoints')}</h2>
    <table id="mounts">
      <thead>
        <tr>
          <th>${t('th.format')}</th>
          <th>${t('th.mount')}</th>
          <th>${t('th.clientSetup')}</th>
        </tr>
      </thead>
      <tbody>
        ${mounts}
      </tbody>
    </table>
    <h2>${t('dash.activity')}</h2>
    ${activity}`;
}
