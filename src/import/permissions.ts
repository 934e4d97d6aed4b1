/**
 * `nora import --with-permissions [--grant-write]`: the source's access rules for the imported
 * repositories, mapped onto NORA's rule model (`[[auth.rules]]` and `[auth.groups]` in
 * config.toml, docs/auth.md) and written as a TOML fragment the operator reviews and pastes.
 * Nothing is applied to the running NORA: rules live in its configuration file.
 *
 * Read from the source (admin credentials needed on both):
 * - Artifactory: `GET /api/v2/security/permissions` → `[{name}]`, then
 *   `GET /api/v2/security/permissions/<name>` → `{repo: {repositories, include-patterns,
 *   exclude-patterns, actions: {users: {name: [action]}, groups: {…}}}}` (actions `read`, `write`,
 *   `annotate`, `delete`, `manage`; repositories may be `ANY`, `ANY LOCAL`, `ANY REMOTE`);
 *   group members from `GET /api/security/groups/<name>?includeUsers=true` → `{userNames}`.
 * - Nexus 3: `GET /service/rest/v1/security/privileges` → `[{name, type, format, repository,
 *   actions, contentSelector, pattern}]`, `…/security/roles` → `[{id, privileges, roles}]`,
 *   `…/security/users` → `[{userId, roles}]`, `…/security/anonymous` → `{enabled, userId}`.
 *   A role becomes a NORA group (its users the members), its repository-view privileges rules.
 *
 * Mapping (fail-closed: what cannot be expressed exactly is left out and said, never widened):
 * read (Nexus BROWSE, READ) → `read`; with `--grant-write` only, write/deploy (Nexus ADD, EDIT) →
 * `write` and delete → `delete`. Not mapped, each with its reason: repository administration
 * (`manage`, Nexus repository-admin, nx-all), `annotate`, exclude patterns and include patterns
 * other than `**` (except Maven and raw paths, which are file paths in NORA too), Nexus content
 * selectors, anonymous writes (NORA's anonymous rules only read), repositories not imported.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Action } from '../auth/access.ts';
import type { RuleConfig } from '../auth/rules.ts';
import { getJson, type SourceHttp } from './source-http.ts';
import { ImportSourceError } from './types.ts';

/** NORA rule actions an import may propose (never `admin`). */
export type RuleAction = Exclude<Action, 'admin'>;

/** Who a source grant is for. */
export type Principal =
  { readonly kind: 'user' | 'group'; readonly name: string } | { readonly kind: 'anonymous' };

/** One grant read from the source, before mapping. */
export interface SourceGrant {
  /** Where it comes from, for the fragment's comments: `permission target "devs"`. */
  readonly origin: string;
  /** Source repository names; `'*'` items are resolved by `matches`. */
  readonly repositories: (repo: { name: string; packageType: string }) => boolean;
  /** Ant-style include patterns (Artifactory); `['**']` for everything. */
  readonly include: readonly string[];
  /** Ant-style exclude patterns (Artifactory); non-empty makes the grant unmappable. */
  readonly exclude: readonly string[];
  /** The principal. */
  readonly principal: Principal;
  /** NORA actions it maps to. */
  readonly actions: readonly RuleAction[];
  /** Source actions with no NORA equivalent (`manage`, `annotate`), said in the report. */
  readonly unmappable: readonly string[];
}

/** What the source holds: grants, groups (members undefined when not readable), notes. */
export interface SourcePermissions {
  readonly grants: readonly SourceGrant[];
  readonly groups: ReadonlyMap<string, readonly string[] | undefined>;
  /** Things that could not be mapped already while reading (admins, content selectors…). */
  readonly notes: readonly string[];
}

/** An imported repository: its source name and type, and the NORA repository it lands in. */
export interface ImportedRepository {
  readonly name: string;
  readonly packageType: string;
  /** NORA's format (`maven`, `raw`…) of the target. */
  readonly format: string;
  readonly target: string;
}

/**
 * One proposed `[[auth.rules]]` entry: the config's own rule shape (auth/rules.ts), without
 * `tokens` (a source's grants name users and groups only), with a comment saying where it came from.
 */
export interface ProposedRule extends Omit<RuleConfig, 'tokens' | 'actions'> {
  readonly comment: string;
  readonly actions: readonly RuleAction[];
}

/** The outcome: rules, groups, and every grant (or part) left out with its reason. */
export interface PermissionsProposal {
  readonly rules: readonly ProposedRule[];
  readonly groups: ReadonlyMap<string, readonly string[] | undefined>;
  readonly unmapped: readonly string[];
}

const MAX_BYTES = 16 * 1024 * 1024;

const ACTION_ORDER: readonly RuleAction[] = ['read', 'write', 'delete'];

/** The comment's ending on a rule granting write without read (docs/import.md, Permissions). */
const WRITE_ONLY =
  ' (write without read: restricts writes, leaves the groups holding these repositories answering from every member)';

/** `principal` as said in messages. */
function who(p: Principal): string {
  return p.kind === 'anonymous' ? 'anonymous' : `${p.kind} ${p.name}`;
}

/**
 * Maps `permissions` onto NORA rules over `imported` (pure). Without `grantWrite` only `read` is
 * proposed; the write and delete a grant held are listed in `unmapped`. Grants sharing origin,
 * repositories, paths and actions become one rule naming all their principals.
 */
export function mapPermissions(
  permissions: SourcePermissions,
  imported: readonly ImportedRepository[],
  grantWrite: boolean,
): PermissionsProposal {
  const unmapped = [...permissions.notes];
  const rules = new Map<
    string,
    {
      comment: string;
      repositories: string[];
      paths: string[];
      users: Set<string>;
      groups: Set<string>;
      anonymous: boolean;
      actions: RuleAction[];
    }
  >();
  const usedGroups = new Set<string>();
  for (const grant of permissions.grants) {
    const repos = imported.filter((r) => grant.repositories(r));
    if (repos.length === 0) continue;
    const where = `${grant.origin}, ${who(grant.principal)} on ${repos.map((r) => r.name).join(', ')}`;
    for (const action of grant.unmappable) {
      unmapped.push(
        `${where}: "${action}" not mapped (${UNMAPPABLE_WHY[action] ?? 'no NORA equivalent'})`,
      );
    }
    const exclude = grant.exclude.filter((p) => p.trim() !== '');
    if (exclude.length > 0) {
      unmapped.push(
        `${where}: not mapped at all: exclude patterns ${exclude.join(', ')} (a NORA rule cannot exclude; without them it would grant more than the source does)`,
      );
      continue;
    }
    let actions = [...grant.actions];
    if (!grantWrite) {
      const withheld = actions.filter((a) => a !== 'read');
      if (withheld.length > 0) {
        unmapped.push(
          `${where}: ${withheld.join(', ')} not mapped (read only; pass --grant-write)`,
        );
      }
      actions = actions.filter((a) => a === 'read');
    }
    if (grant.principal.kind === 'anonymous' && actions.some((a) => a !== 'read')) {
      unmapped.push(
        `${where}: ${actions.filter((a) => a !== 'read').join(', ')} not mapped (NORA's anonymous rules may only read)`,
      );
      actions = actions.filter((a) => a === 'read');
    }
    if (actions.length === 0) continue;
    // Include patterns are paths of files in the source repository. NORA matches Maven and raw
    // rules on file paths too; other formats match package or image names, so a file pattern
    // there would mean something else: those repositories are left out, each said, and the
    // target still maps onto its Maven and raw repositories.
    const include = grant.include.filter((p) => p.trim() !== '');
    const everything = include.length === 0 || include.every((p) => p === '**' || p === '**/*');
    let paths = ['**'];
    let mapped = repos;
    if (!everything) {
      const translated = include.map(antToGlob);
      if (translated.some((p) => p === undefined)) {
        unmapped.push(
          `${where}: not mapped at all: include patterns ${include.join(', ')} (a "?" has no NORA equivalent)`,
        );
        continue;
      }
      mapped = repos.filter((r) => r.format === 'maven' || r.format === 'raw');
      for (const r of repos.filter((r) => !mapped.includes(r))) {
        unmapped.push(
          `${grant.origin}, ${who(grant.principal)} on ${r.name}: not mapped: include patterns ${include.join(', ')} (file patterns do not name ${r.format} packages in NORA)`,
        );
      }
      if (mapped.length === 0) continue;
      paths = translated.filter((p): p is string => p !== undefined);
    }
    const repositories = [...new Set(mapped.map((r) => r.target))].sort();
    const sorted = ACTION_ORDER.filter((a) => actions.includes(a));
    // A rule granting read and write says whose files the paths are: a group holding the target
    // would answer them from the target only, its proxies shut out (docs/auth.md, Semantics 3).
    // Here the source's writers are restricted, not its groups' answers: write without read
    // restricts who writes and chooses no member, so read goes into a rule of its own.
    const parts =
      sorted.includes('read') && sorted.includes('write')
        ? [['read'] as RuleAction[], sorted.filter((a) => a !== 'read')]
        : [sorted];
    for (const part of parts) {
      const key = JSON.stringify([
        grant.origin,
        repositories,
        paths,
        part,
        grant.principal.kind === 'anonymous',
      ]);
      let rule = rules.get(key);
      if (rule === undefined) {
        const onto = mapped.map((r) => `${r.name} → ${r.target}`).join(', ');
        rule = {
          comment: `${grant.origin}: ${onto}${part.includes('read') || !part.includes('write') ? '' : WRITE_ONLY}`,
          repositories,
          paths,
          users: new Set(),
          groups: new Set(),
          anonymous: grant.principal.kind === 'anonymous',
          actions: part,
        };
        rules.set(key, rule);
      }
      if (grant.principal.kind === 'user') rule.users.add(grant.principal.name);
      if (grant.principal.kind === 'group') {
        rule.groups.add(grant.principal.name);
        usedGroups.add(grant.principal.name);
      }
    }
  }
  const groups = new Map<string, readonly string[] | undefined>();
  for (const name of [...usedGroups].sort()) {
    const members = permissions.groups.get(name);
    groups.set(name, members);
    if (members === undefined) {
      unmapped.push(
        `group ${name}: its members could not be read from the source: list them in [auth.groups]`,
      );
    }
  }
  const targets = new Map<string, string[]>();
  for (const r of imported) targets.set(r.target, [...(targets.get(r.target) ?? []), r.name]);
  for (const [target, sources] of targets) {
    if (sources.length > 1) {
      unmapped.push(
        `${sources.join(', ')} are all imported into ${target}: a rule from any of them holds for the files of all`,
      );
    }
  }
  // The sources deny what no permission grants; NORA's role defaults hold wherever no rule owns
  // a path. A rule naming nobody owns every path of the targets (docs/auth.md, Semantics 2–3),
  // so there too only the rules above (and admins) decide, as on the source.
  const reserve: ProposedRule[] =
    targets.size === 0
      ? []
      : [
          {
            comment:
              'naming nobody: every path of these repositories is owned, so only the rules above and admins decide there (the source denies what it does not grant)',
            repositories: [...targets.keys()].sort(),
            paths: ['**'],
            users: [],
            groups: [],
            anonymous: false,
            actions: ['read'],
          },
        ];
  return {
    rules: [
      ...[...rules.values()].map((r) => ({
        comment: r.comment,
        repositories: r.repositories,
        paths: r.paths,
        users: [...r.users].sort(),
        groups: [...r.groups].sort(),
        anonymous: r.anonymous,
        actions: r.actions,
      })),
      ...reserve,
    ],
    groups,
    unmapped,
  };
}

const UNMAPPABLE_WHY: Readonly<Record<string, string>> = {
  manage: 'repository administration: make such users NORA admins (admin_users) by hand if meant',
  annotate: 'properties and annotations: NORA has none',
};

/**
 * An Ant pattern (Artifactory's include patterns) as a NORA glob: `**` and `*` mean the same in
 * both, a trailing `/` is `/**`; a `?` has no equivalent (undefined).
 */
function antToGlob(pattern: string): string | undefined {
  if (pattern.includes('?')) return undefined;
  return pattern.endsWith('/') ? `${pattern}**` : pattern;
}

/** A TOML basic string. */
const str = (s: string): string => JSON.stringify(s);
const list = (items: readonly string[]): string => `[${items.map(str).join(', ')}]`;

/**
 * The fragment: a header saying what it is and how to apply it, `[auth.groups]`, one
 * `[[auth.rules]]` per proposed rule (with its origin as a comment), and the unmapped list as
 * comments at the end.
 */
export function renderFragment(
  proposal: PermissionsProposal,
  source: string,
  grantWrite: boolean,
): string {
  const out: string[] = [
    `# NORA access rules proposed by nora import --with-permissions${grantWrite ? ' --grant-write' : ''}`,
    `# from ${source}. Nothing was applied: review, then paste into config.toml (with [auth]`,
    '# enabled = true) and run `nora config check`. If config.toml already has [auth.groups], move',
    '# the group lines under it (a table may appear once). Each rule owns what it covers: there a',
    '# non-admin may do only what a rule grants (docs/auth.md, Semantics), as on the source. A',
    "# user needs a NORA account whose role allows the rule's actions (roles cap grants); an",
    '# importing credential that is no admin needs a rule too to import again.',
    ...(grantWrite
      ? [
          '# --grant-write: write and delete are proposed where the source granted them, in rules',
          '# without read (read has its own rule): a rule granting read and write would make a group',
          '# holding the repository answer from it only, its proxies shut out (docs/auth.md).',
        ]
      : [
          '# Read only (no --grant-write): the covered repositories become read-only for non-admins.',
        ]),
    '',
  ];
  if (proposal.groups.size > 0) {
    out.push('[auth.groups]');
    for (const [name, members] of proposal.groups) {
      if (members === undefined) out.push('# members not readable from the source: fill in');
      out.push(`${str(name)} = ${list(members ?? [])}`);
    }
    out.push('');
  }
  for (const rule of proposal.rules) {
    out.push(`# ${rule.comment}`, '[[auth.rules]]', `repositories = ${list(rule.repositories)}`);
    out.push(`paths = ${list(rule.paths)}`);
    if (rule.anonymous) out.push('anonymous = true');
    if (rule.users.length > 0) out.push(`users = ${list(rule.users)}`);
    if (rule.groups.length > 0) out.push(`groups = ${list(rule.groups)}`);
    out.push(`actions = ${list(rule.actions)}`, '');
  }
  if (proposal.rules.length === 0)
    out.push('# no rule: nothing the source grants maps onto the imported repositories', '');
  if (proposal.unmapped.length > 0) {
    out.push('# Not mapped:');
    for (const line of proposal.unmapped) out.push(`#   ${line.replace(/[\r\n]+/g, ' ')}`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * Writes `text` to `file` (0600: it names users) through a temporary file and a rename, and
 * returns the file written. An existing `file` with other content is a fragment someone may have
 * reviewed (a `--grant-write` run's, say): it is kept, and `text` goes to the first free
 * `<name>-2.toml`, `<name>-3.toml`, … beside it (`kept` is then the file left alone). The same
 * content is written again in place.
 */
export async function writeFragment(
  file: string,
  text: string,
): Promise<{ readonly file: string; readonly kept?: string }> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const existing = await fs.readFile(file, 'utf8').catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  });
  if (existing === undefined || existing === text) {
    const temporary = `${file}.${process.pid}.tmp`;
    await fs.writeFile(temporary, text, { mode: 0o600 });
    await fs.rename(temporary, file);
    return { file };
  }
  const ext = path.extname(file);
  const stem = file.slice(0, file.length - ext.length);
  for (let n = 2; ; n++) {
    const other = `${stem}-${n}${ext}`;
    const there = await fs.readFile(other, 'utf8').catch(() => undefined);
    if (there === text) return { file: other, kept: file };
    // "wx": never replaces a file that appeared meanwhile.
    const written = await fs
      .writeFile(other, text, { mode: 0o600, flag: 'wx' })
      .then(() => true)
      .catch((e: unknown) => {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw e;
      });
    if (written) return { file: other, kept: file };
  }
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

/** `value` when it is a string, else `fallback`. */
const text = (value: unknown, fallback: string): string =>
  typeof value === 'string' ? value : fallback;

const ARTIFACTORY_ACTIONS: Readonly<Record<string, RuleAction>> = {
  read: 'read',
  write: 'write',
  deploy: 'write',
  delete: 'delete',
};

/** Artifactory's permission targets (v2 API) and their groups' members; see the module comment. */
export async function readArtifactoryPermissions(http: SourceHttp): Promise<SourcePermissions> {
  const list = await getJson(http, '/api/v2/security/permissions', MAX_BYTES);
  if (!Array.isArray(list)) {
    throw new ImportSourceError('GET /api/v2/security/permissions: not a JSON array');
  }
  const grants: SourceGrant[] = [];
  const groupNames = new Set<string>();
  for (const entry of list as unknown[]) {
    const name = (entry as { name?: unknown }).name;
    if (typeof name !== 'string') continue;
    const target = (await getJson(
      http,
      `/api/v2/security/permissions/${encodeURIComponent(name)}`,
      MAX_BYTES,
    )) as { repo?: Record<string, unknown> };
    const repo = target.repo;
    if (repo === undefined) continue;
    const named = strings(repo['repositories']);
    const any = named.some((r) => /^ANY( LOCAL| FEDERATED)?$/i.test(r));
    const actions = (repo['actions'] ?? {}) as Record<string, unknown>;
    for (const [kind, key] of [
      ['user', 'users'],
      ['group', 'groups'],
    ] as const) {
      const map = (actions[key] ?? {}) as Record<string, unknown>;
      for (const [principal, granted] of Object.entries(map)) {
        const raw = strings(granted).map((a) => a.toLowerCase());
        if (kind === 'group') groupNames.add(principal);
        grants.push({
          origin: `Artifactory permission target ${str(name)}`,
          repositories: (r) => any || named.includes(r.name),
          include: strings(repo['include-patterns']),
          exclude: strings(repo['exclude-patterns']),
          principal:
            kind === 'user' && principal === 'anonymous'
              ? { kind: 'anonymous' }
              : { kind, name: principal },
          actions: [...new Set(raw.flatMap((a) => ARTIFACTORY_ACTIONS[a] ?? []))],
          unmappable: raw.filter((a) => ARTIFACTORY_ACTIONS[a] === undefined),
        });
      }
    }
  }
  const groups = new Map<string, readonly string[] | undefined>();
  for (const group of groupNames) {
    try {
      const body = (await getJson(
        http,
        `/api/security/groups/${encodeURIComponent(group)}?includeUsers=true`,
        MAX_BYTES,
      )) as { userNames?: unknown };
      groups.set(group, strings(body.userNames).sort());
    } catch (err) {
      if (!(err instanceof ImportSourceError) || err.status === undefined) throw err;
      groups.set(group, undefined);
    }
  }
  return {
    grants,
    groups,
    notes: [
      'Artifactory administrators hold every permission without a permission target: they are not in these rules (NORA: admin_users)',
    ],
  };
}

const NEXUS_ACTIONS: Readonly<Record<string, readonly RuleAction[]>> = {
  browse: ['read'],
  read: ['read'],
  add: ['write'],
  edit: ['write'],
  delete: ['delete'],
  all: ['read', 'write', 'delete'],
  '*': ['read', 'write', 'delete'],
};

interface NexusPrivilege {
  name: string;
  type: string;
  format: string;
  repository: string;
  actions: string[];
  pattern: string;
}

/**
 * Nexus 3's roles, privileges, users and anonymous access (Security REST API); a role with
 * repository-view privileges becomes a group named as the role, its rules the privileges of the
 * role and of the roles it contains.
 */
export async function readNexusPermissions(http: SourceHttp): Promise<SourcePermissions> {
  const base = '/service/rest/v1/security';
  const privilegeList = await getJson(http, `${base}/privileges`, MAX_BYTES);
  const roleList = await getJson(http, `${base}/roles`, MAX_BYTES);
  const userList = await getJson(http, `${base}/users`, MAX_BYTES);
  const anonymous = (await getJson(http, `${base}/anonymous`, MAX_BYTES)) as {
    enabled?: unknown;
    userId?: unknown;
  };
  if (!Array.isArray(privilegeList) || !Array.isArray(roleList) || !Array.isArray(userList)) {
    throw new ImportSourceError(`GET ${base}/privileges, roles, users: not JSON arrays`);
  }
  const privileges = new Map<string, NexusPrivilege>();
  for (const p of privilegeList as Record<string, unknown>[]) {
    if (typeof p['name'] !== 'string') continue;
    privileges.set(p['name'], {
      name: p['name'],
      type: text(p['type'], ''),
      format: text(p['format'], '*'),
      repository: text(p['repository'], '*'),
      actions: strings(p['actions']).map((a) => a.toLowerCase()),
      pattern: text(p['pattern'], ''),
    });
  }
  const roles = new Map<string, { privileges: string[]; roles: string[] }>();
  for (const r of roleList as Record<string, unknown>[]) {
    if (typeof r['id'] === 'string') {
      roles.set(r['id'], { privileges: strings(r['privileges']), roles: strings(r['roles']) });
    }
  }
  /** A role's privileges with those of the roles it contains (cycles cut). */
  const effective = (id: string, seen = new Set<string>()): string[] => {
    const role = roles.get(id);
    if (role === undefined || seen.has(id)) return [];
    seen.add(id);
    return [...role.privileges, ...role.roles.flatMap((r) => effective(r, seen))];
  };
  const anonymousUser =
    anonymous.enabled === true && typeof anonymous.userId === 'string' ? anonymous.userId : '';
  const members = new Map<string, string[]>();
  const anonymousRoles: string[] = [];
  for (const u of userList as Record<string, unknown>[]) {
    if (typeof u['userId'] !== 'string') continue;
    for (const role of strings(u['roles'])) {
      if (u['userId'] === anonymousUser) anonymousRoles.push(role);
      else members.set(role, [...(members.get(role) ?? []), u['userId']]);
    }
  }
  const grants: SourceGrant[] = [];
  const notes: string[] = [];
  const grantsOf = (role: string, principal: Principal): void => {
    for (const name of new Set(effective(role))) {
      const p = privileges.get(name);
      if (p === undefined) continue;
      const origin = `Nexus role ${str(role)} (privilege ${str(p.name)})`;
      if (p.type === 'wildcard' && /^nexus:\*$/.test(p.pattern)) {
        notes.push(
          `${origin}, ${who(principal)}: every permission (nx-all) not mapped: make them NORA admins (admin_users) by hand if meant`,
        );
        continue;
      }
      if (p.type === 'repository-content-selector' || p.type === 'repository-admin') {
        notes.push(
          `${origin}, ${who(principal)} on ${p.repository}: not mapped (${p.type === 'repository-admin' ? 'repository administration' : 'content selectors have no NORA equivalent'})`,
        );
        continue;
      }
      if (p.type !== 'repository-view') continue;
      grants.push({
        origin,
        repositories: (r) =>
          (p.repository === '*' || p.repository === r.name) &&
          (p.format === '*' || p.format === r.packageType),
        include: [],
        exclude: [],
        principal,
        actions: [...new Set(p.actions.flatMap((a) => NEXUS_ACTIONS[a] ?? []))],
        unmappable: p.actions.filter((a) => NEXUS_ACTIONS[a] === undefined),
      });
    }
  };
  for (const role of [...members.keys()].sort()) grantsOf(role, { kind: 'group', name: role });
  for (const role of anonymousRoles) grantsOf(role, { kind: 'anonymous' });
  const groups = new Map<string, readonly string[] | undefined>(
    [...members].map(([role, users]) => [role, users.sort()]),
  );
  return { grants, groups, notes };
}
