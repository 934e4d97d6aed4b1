/**
 * Resource patterns: the one syntax every access rule, token scope and OIDC namespace scope uses
 * to name what it covers.
 *
 * A pattern is `<path-glob>` (any repository) or `<repository-glob>:<path-glob>`, where the path is
 * the format's own name of the thing inside the repository (an OCI image name `team/app`, an npm
 * package `@corp/pkg`, a Maven path `com/example/…`, a crate). Globs are segment-aware, as NORA's
 * namespace scopes: `*` matches within one `/`-separated segment, `**` matches any number of whole
 * segments (zero included), every other character is literal. `team/**` covers `team/app` and
 * `team/a/b`; `@corp/*` covers every package of the npm scope `@corp`; `*` alone covers names
 * without a slash; `**` covers everything.
 */

export interface ResourceRef {
  readonly repository: string;
  /** Undefined for repository-wide operations (catalog, search): only the repository part counts. */
  readonly path?: string | undefined;
}

/** Compiles a segment-aware glob (see the module comment) to an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  const segments = glob.split('/');
  let source = '';
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    if (segment === '**') {
      // Zero or more whole segments, with their separators (`team/**` covers `team` itself).
      if (!last) source += '(?:[^/]+/)*';
      else if (index === 0) source += '(?:[^/]+(?:/[^/]+)*)?';
      else source = `${source.slice(0, -1)}(?:/[^/]+)*`;
      return;
    }
    source += segment
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*');
    if (!last) source += '/';
  });
  return new RegExp(`^${source}$`);
}

/** One compiled pattern. */
export class ResourcePattern {
  readonly text: string;
  readonly #repository: RegExp;
  readonly #path: RegExp;

  constructor(text: string) {
    this.text = text;
    const colon = text.indexOf(':');
    this.#repository = globToRegExp(colon === -1 ? '**' : text.slice(0, colon) || '**');
    this.#path = globToRegExp(colon === -1 ? text : text.slice(colon + 1) || '**');
  }

  /** True when `ref` is covered; a ref without a path is covered when its repository is. */
  matches(ref: ResourceRef): boolean {
    if (!this.#repository.test(ref.repository)) return false;
    return ref.path === undefined || this.#path.test(ref.path);
  }
}

/** A list of patterns; covers what any of them covers. */
export class ResourcePatterns {
  readonly patterns: readonly ResourcePattern[];

  constructor(texts: readonly string[]) {
    this.patterns = texts.map((t) => new ResourcePattern(t));
  }

  matches(ref: ResourceRef): boolean {
    return this.patterns.some((p) => p.matches(ref));
  }

  toString(): string {
    return this.patterns.map((p) => p.text).join(', ');
  }
}

/** Why a pattern text is unusable (for config validation), or undefined when it is fine. */
export function patternProblem(text: string): string | undefined {
  if (text.trim() === '') return 'empty pattern';
  if (text.split(':').length > 2) return `"${text}" has more than one ":"`;
  if (text.length > 512) return 'longer than 512 characters';
  if (/[\s\0]/.test(text)) return 'contains whitespace or NUL';
  const colon = text.indexOf(':');
  const path = colon === -1 ? text : text.slice(colon + 1);
  if (colon !== -1 && text.slice(0, colon).includes('/')) return 'a repository name has no "/"';
  if (path !== '' && path.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    return 'empty, "." or ".." path segment (names never have them, so it would match nothing)';
  }
  return undefined;
}

/**
 * The refs a check on `target` may be matched as: its repository, and the group it was reached
 * through (`via`), so a pattern naming the group covers the member a write lands in.
 */
export function targetRefs(target: {
  readonly repository: { readonly name: string };
  readonly path?: string | undefined;
  readonly via?: { readonly name: string } | undefined;
}): ResourceRef[] {
  const refs: ResourceRef[] = [{ repository: target.repository.name, path: target.path }];
  if (target.via !== undefined) refs.push({ repository: target.via.name, path: target.path });
  return refs;
}
