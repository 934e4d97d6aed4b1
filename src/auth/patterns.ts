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
  /**
   * The format's canonical spelling of names (PyPI: PEP 503; Cargo: `-` as `_`, lower case),
   * applied to the pattern's path glob and to `path` before they are compared, as rules do
   * (auth/rules.ts `pathForms`): a scope `pypi:Trial_Pkg` covers the project `trial-pkg`.
   * Undefined: compared as written (npm, Go, OCI, Maven names are exact).
   */
  readonly form?: PathForm | undefined;
}

/**
 * A format's canonical spelling of a name (`FormatModule.rulePath`), applied to globs too: it
 * must keep `*` and `/` as they are.
 */
export type PathForm = (path: string) => string;

/** A compiled glob: `test` tells whether a whole name is covered. */
export interface Glob {
  readonly text: string;
  test(value: string): boolean;
}

/**
 * Compiles a segment-aware glob (see the module comment). Matching is a dynamic programme over
 * segments and characters, O(|glob| × |value|) whatever the input: a regular expression of the
 * glob backtracked exponentially (`*a*a*a*a*a*a*a*a*b`, a token scope any user may set, took 20 s
 * against a 60-character name). A `**` segment covers zero or more non-empty segments; a value
 * `""` is covered by a glob of `**` segments only.
 */
export function compileGlob(glob: string): Glob {
  const segments = glob.split('/');
  return {
    text: glob,
    test(value: string): boolean {
      if (value === '' && segments.every((s) => s === '**')) return true;
      return matchSegments(segments, value.split('/'));
    },
  };
}

/** Whether the glob segments `glob` cover the value segments `value` (one row at a time). */
function matchSegments(glob: readonly string[], value: readonly string[]): boolean {
  // reach[j]: the glob segments so far cover value[0, j).
  let reach: boolean[] = Array.from({ length: value.length + 1 }, (_, j) => j === 0);
  for (const segment of glob) {
    const next: boolean[] = new Array<boolean>(value.length + 1).fill(false);
    if (segment === '**') {
      for (let j = 0; j <= value.length; j++) {
        next[j] = reach[j] === true || (j > 0 && next[j - 1] === true && value[j - 1] !== '');
      }
    } else {
      for (let j = 0; j < value.length; j++) {
        if (reach[j] === true && matchSegment(segment, value[j] ?? '')) next[j + 1] = true;
      }
    }
    reach = next;
  }
  return reach[value.length] === true;
}

/**
 * Whether one glob segment (`*` = any run of characters, the rest literal) covers one value
 * segment: the greedy matcher with one backtrack point, O(|segment| × |value|) at worst.
 */
function matchSegment(glob: string, value: string): boolean {
  let g = 0;
  let v = 0;
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    if (g < glob.length && glob[g] === '*') {
      star = g++;
      resume = v;
    } else if (g < glob.length && glob[g] === value[v]) {
      g++;
      v++;
    } else if (star !== -1) {
      g = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob[g] === '*') g++;
  return g === glob.length;
}

/** One compiled pattern. */
export class ResourcePattern {
  readonly text: string;
  readonly #repository: Glob;
  readonly #pathText: string;
  readonly #path: Glob;
  /** The path glob compiled in each format's spelling met so far (a handful of formats). */
  readonly #formed = new Map<PathForm, Glob>();

  constructor(text: string) {
    this.text = text;
    const colon = text.indexOf(':');
    this.#repository = compileGlob(colon === -1 ? '**' : text.slice(0, colon) || '**');
    this.#pathText = colon === -1 ? text : text.slice(colon + 1) || '**';
    this.#path = compileGlob(this.#pathText);
  }

  /**
   * True when `ref` is covered; a ref without a path is covered when its repository is. With a
   * `ref.form`, the glob and the path are both compared in that spelling.
   */
  matches(ref: ResourceRef): boolean {
    if (!this.#repository.test(ref.repository)) return false;
    if (ref.path === undefined) return true;
    const form = ref.form;
    if (form === undefined) return this.#path.test(ref.path);
    let glob = this.#formed.get(form);
    if (glob === undefined) {
      glob = compileGlob(form(this.#pathText));
      this.#formed.set(form, glob);
    }
    return glob.test(form(ref.path));
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
 * through (`via`), so a pattern naming the group covers the member a write lands in; both in the
 * target's format's spelling (`pathForm`, set by `AccessControl.authorize`).
 */
export function targetRefs(target: {
  readonly repository: { readonly name: string };
  readonly path?: string | undefined;
  readonly via?: { readonly name: string } | undefined;
  readonly pathForm?: PathForm | undefined;
}): ResourceRef[] {
  const form = target.pathForm;
  const refs: ResourceRef[] = [{ repository: target.repository.name, path: target.path, form }];
  if (target.via !== undefined) refs.push({ repository: target.via.name, path: target.path, form });
  return refs;
}
