/**
 * The check of an uploaded go.mod (trial 18 fmts F13, trial 19 fmts F2, trial 23): a hosted
 * version is immutable, so a go.mod that `go` refuses must be refused at upload, or every use of
 * that version fails for good (`go.mod:5: syntax error (unterminated block started at
 * go.mod:4:1)`, `go.mod:3: invalid go version '1.2.3.4': must match format 1.23.0`).
 *
 * This follows golang.org/x/mod/modfile: read.go (the lexer and the line/block structure), and
 * rule.go's Parse with no version fixer, the strict parse that `go mod edit`, `go install m@v`
 * and `go run m@v` (cmd/go/internal/load: the version's own go.mod) and anyone working in the
 * module apply (`go get` of a dependency reads it with ParseLax, which skips `exclude`, `replace`,
 * `toolchain`, … and bad `retract` lines, but the version is still unusable to those). Each
 * directive go knows is checked as that parse checks it, in go's words:
 * - `module`: repeated, not exactly one argument, a path that is not a valid Go string when
 *   quoted (`"…"`), or an unquoted one holding a quote;
 * - `go`: repeated, not exactly one argument, a version not of the form `1.21`, `1.21.0`,
 *   `1.21rc1` (GoVersionRE: `1.021`, `1.2.3.4` are refused); `toolchain`: likewise, a name not
 *   `default` nor `go1…`;
 * - `require`, `exclude`: not exactly path and version, either badly quoted, a version that is no
 *   semantic version (`v1.2` and `v1` pass, as go takes them), a path with a malformed major
 *   suffix (`/v1`), or a version whose major does not match the path's (`/v2` wants v2);
 * - `replace`: no `=>` where it belongs or the wrong count around it, an old side checked as a
 *   `require` (its version optional), a new side without version that is no directory path
 *   (`./x`, `../x`, rooted) or holds a backslash, one with a version that is a directory;
 * - `retract`: a version or a closed interval `[v1.0.0, v1.1.0]`, nothing after it (a
 *   rationale is a `//` comment), versions checked for quoting only as go does;
 * - `godebug` (`key=value`), `tool`, `ignore` (one, well quoted, argument).
 * Unknown directives, and blocks with more than the verb, are not judged by default, as ParseLax
 * skips them: a go.mod written for a newer go (a directive this check does not know yet) still
 * publishes. Nor are the lines of a block whose verb rule.go does not read as a block (`go (`,
 * `toolchain (`, `foo (`).
 *
 * `{ mainModule: true }` (the `nora go publish` CLI, which reads the module's own go.mod as `go
 * build` in it does) also refuses those statements (trial 21 fmts F3): `go.mod:1: unknown
 * directive: modul` for a verb no go release knows, `go.mod:4: unknown block type: foo a` for a
 * block whose verb is not a block verb or that has more than its verb before the paren. The
 * verbs and version forms known are the newest go's, not the oldest's: go 1.19 calls `toolchain`
 * unknown and `go 1.21.0` invalid in its own main module, but a go.mod that a newer go wrote with
 * them builds with that go.
 */
import { canonicalVersion, semverBuild, semverMajor, splitPathVersion } from './module.ts';

/** A position as go reports it: line and rune within the line, both from 1. */
interface Pos {
  line: number;
  col: number;
}

type Kind = 'ident' | 'string' | 'eol' | 'eof' | '(' | ')' | 'punct';

interface Token {
  readonly kind: Kind;
  readonly text: string;
  readonly start: Pos;
  readonly end: Pos;
}

/** Thrown inside the check with go's message; caught by checkGoModSyntax. */
class GoModSyntaxError extends Error {}

/** go's position prefix: `go.mod:L:C: ` (the column only when it is past the line's start). */
function at(pos: Pos): string {
  return pos.col > 1 ? `go.mod:${pos.line}:${pos.col}: ` : `go.mod:${pos.line}: `;
}

/**
 * go's isIdent: a printable rune (unicode.IsPrint: letters, marks, numbers, punctuation,
 * symbols) that is not `( ) [ ] { } ,` (spaces are not printable runes here).
 */
const ASCII_NOT_IDENT: ReadonlySet<number> = new Set(Array.from('()[]{},', (c) => c.charCodeAt(0)));
const IDENT_RUNE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const isIdent = (c: string): boolean =>
  c.length === 1 && c.charCodeAt(0) < 0x80
    ? isAsciiIdent(c.charCodeAt(0))
    : IDENT_RUNE.test(c) && !'()[]{},'.includes(c);
/** isIdent of an ASCII code: every printable but space is a letter, digit, punctuation or symbol. */
const isAsciiIdent = (code: number): boolean =>
  code > 0x20 && code < 0x7f && !ASCII_NOT_IDENT.has(code);

/** go's %#q of a rune, for "unexpected input character". */
function quoteRune(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (code < 0x80) return `'\\x${code.toString(16).padStart(2, '0')}'`;
  return `'\\u${code.toString(16).padStart(4, '0')}'`;
}

/** read.go's readToken over the whole text: the tokens, end-of-line comments dropped. */
function tokenize(text: string): Token[] {
  // `i` is a UTF-16 index into `text` that moves a whole rune at a time (columns count runes, as
  // go's do), and ASCII, nearly every go.mod, is scanned by its code without a one-rune string or
  // the Unicode class test: the rune-array version was ~2% of a cold Go round's CPU (the require
  // prefetch parses every filled go.mod), ~120 µs for a 470-byte go.mod when warm (now ~75).
  const end = text.length;
  const tokens: Token[] = [];
  const pos: Pos = { line: 1, col: 1 };
  let i = 0;
  /** UTF-16 units of the rune at `k`: 2 for a surrogate pair, else 1 (a lone surrogate alone). */
  const width = (k: number): number =>
    (text.charCodeAt(k) & 0xfc00) === 0xd800 && (text.charCodeAt(k + 1) & 0xfc00) === 0xdc00
      ? 2
      : 1;
  const here = (): Pos => ({ line: pos.line, col: pos.col });
  /** Moves past the rune at `i` (past the end: one column on, as go's readRune at EOF). */
  const skip = (): void => {
    if (text.charCodeAt(i) === 0x0a) {
      i++;
      pos.line++;
      pos.col = 1;
    } else {
      i += width(i);
      pos.col++;
    }
  };
  const fail = (where: Pos, message: string): never => {
    throw new GoModSyntaxError(`${at(where)}${message}`);
  };
  const lineComment = (): boolean => text.charCodeAt(i) === 0x2f && text.charCodeAt(i + 1) === 0x2f;
  const blockComment = (): boolean =>
    text.charCodeAt(i) === 0x2f && text.charCodeAt(i + 1) === 0x2a;
  for (;;) {
    const code = text.charCodeAt(i);
    if (code === 0x20 || code === 0x09 || code === 0x0d) {
      i++;
      pos.col++;
      continue;
    }
    if (lineComment()) {
      // A comment runs to the end of its line; the newline stays a token (it ends a line).
      while (i < end && text.charCodeAt(i) !== 0x0a) skip();
      continue;
    }
    if (blockComment()) fail(here(), 'mod files must use // comments (not /* */ comments)');
    const start = here();
    if (i >= end) {
      tokens.push({ kind: 'eof', text: '', start, end: start });
      return tokens;
    }
    const c = text.slice(i, i + width(i));
    if (c === '\n' || c === '(' || c === ')') {
      skip();
      tokens.push({ kind: c === '\n' ? 'eol' : c, text: c, start, end: here() });
      continue;
    }
    if ('[]{},'.includes(c)) {
      skip();
      tokens.push({ kind: 'punct', text: c, start, end: here() });
      continue;
    }
    if (c === '"' || c === '`') {
      const from = i;
      skip();
      for (;;) {
        if (i >= end) fail(start, 'unexpected EOF in string');
        if (text.charCodeAt(i) === 0x0a) fail(here(), 'unexpected newline in string');
        const r = text.charCodeAt(i);
        skip();
        if (r === code) break;
        if (r === 0x5c && c === '"') {
          if (i >= end) fail(start, 'unexpected EOF in string');
          skip();
        }
      }
      tokens.push({ kind: 'string', text: text.slice(from, i), start, end: here() });
      continue;
    }
    if (!isIdent(c)) fail(start, `unexpected input character ${quoteRune(c)}`);
    const from = i;
    while (i < end) {
      const unit = text.charCodeAt(i);
      if (unit < 0x80 ? !isAsciiIdent(unit) : !isIdent(text.slice(i, i + width(i)))) break;
      if (lineComment()) break;
      if (blockComment()) fail(here(), 'mod files must use // comments (not /* */ comments)');
      i += unit < 0x80 ? 1 : width(i);
      pos.col++;
    }
    tokens.push({ kind: 'ident', text: text.slice(from, i), start, end: here() });
  }
}

const isEol = (t: Token): boolean => t.kind === 'eol' || t.kind === 'eof';

/** One directive line: a statement, or a line of a block (then `verb` is the block's verb). */
interface DirectiveLine {
  readonly kind: 'line';
  readonly verb: string;
  /** The line's arguments: a statement's tokens after the verb, a block line's tokens. */
  readonly args: readonly string[];
  readonly start: Pos;
  /** A line of a block (read only when the block is one go reads: BLOCK_VERBS, verb alone). */
  readonly inBlock: boolean;
}

/** A block's head (`require (`, `foo a (`, an empty `foo ( )`), before its lines. */
interface BlockHead {
  readonly kind: 'block';
  /** The tokens before the paren, the verb first. */
  readonly tokens: readonly string[];
  readonly start: Pos;
}

type Statement = DirectiveLine | BlockHead;

/**
 * Checks `text` (a go.mod) as go's strict parse does, unknown statements aside (see the file's
 * comment): undefined when go takes it, else go's message, position first (`go.mod:5: syntax
 * error (unterminated block started at go.mod:4:1)`, `go.mod:3: repeated module statement`,
 * `go.mod:3: require foo.com/x: version "notaversion" invalid: must be of the form v1.2.3`,
 * `go.mod:4: replacement module directory path "./y" cannot have version`); when several lines
 * are wrong, their messages joined with `; ` (go lists them all, one a line). A go.mod with no
 * module directive passes here (the caller requires one). `mainModule`: also refuse unknown
 * directives and block types, as go's strict parse of the main module's go.mod does. Linear in
 * the text's length.
 */
export function checkGoModSyntax(
  text: string,
  options: { readonly mainModule?: boolean } = {},
): string | undefined {
  let statements: Statement[];
  try {
    statements = checkStructure(tokenize(text));
  } catch (err) {
    if (err instanceof GoModSyntaxError) return err.message;
    throw err;
  }
  const errors = checkDirectives(statements, options.mainModule === true);
  return errors.length === 0 ? undefined : errors.join('; ');
}

/**
 * What go's strict parse (modfile.Parse, a module's own `go build`) says of the statements of
 * `text` that its lax parse of a dependency skips: `go.mod:1: unknown directive: modul`, `go.mod:4:
 * unknown block type: foo a`, in file order; empty when there are none or the text does not
 * parse. For a hint beside a lax-parse error (a go.mod whose only module line is misspelt).
 */
export function unknownGoModStatements(text: string): string[] {
  let statements: Statement[];
  try {
    statements = checkStructure(tokenize(text));
  } catch (err) {
    if (err instanceof GoModSyntaxError) return [];
    throw err;
  }
  const errors: string[] = [];
  for (const s of statements) {
    const message = unknownStatement(s);
    if (message !== undefined) errors.push(`${at(s.start)}${message}`);
  }
  return errors;
}

/**
 * What the Go proxy's prefetch (proxy.ts) reads of a dependency's go.mod `text`: its `go`
 * directive's version (undefined when absent or not one go takes) and its `require` lines as
 * `{ path, version }` (canonical version), in file order, as go's lax parse reads them:
 * `require p v` statements and the lines of `require ( … )` blocks; a line go would refuse (bad
 * quoting, a version that is no semantic version, a major that does not match the path) is
 * skipped. `{ requires: [] }` when the text does not parse. Linear in the text's length.
 */
export function goModGraphFacts(text: string): {
  go?: string | undefined;
  requires: { path: string; version: string }[];
} {
  let statements: Statement[];
  try {
    statements = checkStructure(tokenize(text));
  } catch (err) {
    if (err instanceof GoModSyntaxError) return { requires: [] };
    throw err;
  }
  let go: string | undefined;
  const requires: { path: string; version: string }[] = [];
  for (const s of statements) {
    if (s.kind !== 'line' || unknownStatement(s) !== undefined) continue;
    if (s.verb === 'go' && !s.inBlock && s.args.length === 1) {
      const v = s.args[0] ?? '';
      if (GO_VERSION.test(v)) go = v;
      continue;
    }
    if (s.verb !== 'require' || checkRequire('require', s.args) !== undefined) continue;
    const path = parseString(s.args[0] ?? '');
    if (path.error !== undefined) continue;
    const version = parseVersion('require', path.value, s.args[1] ?? '');
    if (version.error !== undefined) continue;
    requires.push({ path: path.value, version: version.value });
  }
  return go === undefined ? { requires } : { go, requires };
}

/** rule.go's verbs: what the newest go's modfile.Parse reads as a statement, and as a block. */
const KNOWN_VERBS: ReadonlySet<string> = new Set([
  'module',
  'go',
  'toolchain',
  'godebug',
  'require',
  'exclude',
  'replace',
  'retract',
  'tool',
  'ignore',
]);
const BLOCK_VERBS: ReadonlySet<string> = new Set([
  'module',
  'godebug',
  'require',
  'exclude',
  'replace',
  'retract',
  'tool',
  'ignore',
]);

/** The strict parse's message for a statement its lax parse skips (no position), or undefined. */
function unknownStatement(s: Statement): string | undefined {
  if (s.kind === 'block') {
    const [verb = '', ...rest] = s.tokens;
    return rest.length > 0 || !BLOCK_VERBS.has(verb)
      ? `unknown block type: ${s.tokens.join(' ')}`
      : undefined;
  }
  return s.inBlock || KNOWN_VERBS.has(s.verb) ? undefined : `unknown directive: ${s.verb}`;
}

/**
 * read.go's parseFile/parseStmt/parseLineBlock: the statements in file order (each block's head,
 * then the lines of a block rule.go reads: a block verb alone before the paren); throws go's
 * syntax errors.
 */
function checkStructure(tokens: readonly Token[]): Statement[] {
  let i = 0;
  const tok = (k: number): Token => tokens[Math.min(k, tokens.length - 1)] as Token;
  const lines: Statement[] = [];
  for (;;) {
    const first = tok(i);
    if (first.kind === 'eof') return lines;
    if (first.kind === 'eol') {
      i++;
      continue;
    }
    // A statement: tokens up to the end of its line, or `verb … (` + newline opening a block.
    i++;
    const args: string[] = [];
    let block = false;
    let emptyBlock = false;
    for (;;) {
      const t = tok(i);
      if (isEol(t)) {
        i++;
        break;
      }
      if (t.kind === '(' && isEol(tok(i + 1))) {
        i++;
        block = true;
        break;
      }
      if (t.kind === '(' && tok(i + 1).kind === ')' && isEol(tok(i + 2))) {
        i += 3; // `verb ( )`: an empty block
        emptyBlock = true;
        break;
      }
      args.push(t.text);
      i++;
    }
    if (!block) {
      if (emptyBlock)
        lines.push({ kind: 'block', tokens: [first.text, ...args], start: first.start });
      else lines.push({ kind: 'line', verb: first.text, args, start: first.start, inBlock: false });
      continue;
    }
    lines.push({ kind: 'block', tokens: [first.text, ...args], start: first.start });
    // rule.go skips a block with more than its verb before the paren (`require x (`), and one
    // whose verb is no block verb (`go (`: its lines are not read, even in a dependency).
    const keep = args.length === 0 && BLOCK_VERBS.has(first.text);
    for (;;) {
      const t = tok(i);
      if (t.kind === 'eof') {
        throw new GoModSyntaxError(
          `${at(t.start)}syntax error (unterminated block started at go.mod:${first.start.line}:${first.start.col})`,
        );
      }
      if (t.kind === 'eol') {
        i++;
        continue;
      }
      if (t.kind === ')') {
        const next = tok(i + 1);
        if (!isEol(next)) {
          // go reports where its lexer stands then: past the token after the paren.
          throw new GoModSyntaxError(
            `${at(next.end)}syntax error (expected newline after closing paren)`,
          );
        }
        i += 2;
        break;
      }
      // A line of the block: its tokens up to the end of the line.
      const lineArgs: string[] = [];
      while (!isEol(tok(i))) {
        lineArgs.push(tok(i).text);
        i++;
      }
      if (tok(i).kind === 'eol') i++;
      if (keep) {
        lines.push({
          kind: 'line',
          verb: first.text,
          args: lineArgs,
          start: t.start,
          inBlock: true,
        });
      }
    }
  }
}

/**
 * rule.go's GoVersionRE (go 1.21 on: `1.21`, `1.21.0`, `1.21rc1`; not `1.021`, `1.2.3.4`) and
 * ToolchainRE (`go1…` or `default`, kept loose by go for toolchain names to come).
 */
const GO_VERSION = /^([1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?([a-z]+[0-9]+)?$/;
const TOOLCHAIN = /^default$|^go1($|\.)/;

/**
 * rule.go's File.add as modfile.Parse (strict, no version fixer: `go mod edit`, `go install
 * m@v`) runs it, over every statement in order: go's message for each refused one (`go.mod:L:
 * …`). Unknown directives and block types are refused only when `unknownToo` (the main module:
 * unknownStatement); otherwise skipped as ParseLax skips them, so a go.mod with a newer go's
 * directive still publishes.
 */
function checkDirectives(statements: readonly Statement[], unknownToo: boolean): string[] {
  const errors: string[] = [];
  const seen = new Set<string>();
  for (const statement of statements) {
    const { start } = statement;
    const fail = (message: string): void => {
      errors.push(`${at(start)}${message}`);
    };
    const unknown = unknownStatement(statement);
    if (unknown !== undefined) {
      if (unknownToo) fail(unknown);
      continue;
    }
    if (statement.kind === 'block') continue;
    const message = checkDirective(statement.verb, statement.args, seen);
    if (message !== undefined) fail(message);
  }
  return errors;
}

/**
 * One known directive's check (rule.go's File.add, strict): go's message after the position, or
 * undefined. `seen` holds the single-use verbs (`module`, `go`, `toolchain`) already taken.
 */
function checkDirective(
  verb: string,
  args: readonly string[],
  seen: Set<string>,
): string | undefined {
  switch (verb) {
    case 'module': {
      // go records the module before judging its arguments: a second line is "repeated" even
      // when the first was malformed.
      if (seen.has(verb)) return 'repeated module statement';
      seen.add(verb);
      if (args.length !== 1) return 'usage: module module/path';
      const path = parseString(args[0] ?? '');
      return path.error === undefined ? undefined : `invalid quoted string: ${path.error}`;
    }
    case 'go':
    case 'toolchain': {
      // go records these only once the version is taken: a bad line, then a good one, is one error.
      if (seen.has(verb)) return `repeated ${verb} statement`;
      if (args.length !== 1) return `${verb} directive expects exactly one argument`;
      const v = args[0] ?? '';
      if (verb === 'go' && !GO_VERSION.test(v))
        return `invalid go version '${v}': must match format 1.23.0`;
      if (verb === 'toolchain' && !TOOLCHAIN.test(v))
        return `invalid toolchain version '${v}': must match format go1.23.0 or default`;
      seen.add(verb);
      return undefined;
    }
    case 'godebug': {
      const arg = args[0] ?? '';
      return args.length !== 1 || /["`',]/.test(arg) || !arg.includes('=')
        ? 'usage: godebug key=value'
        : undefined;
    }
    case 'require':
    case 'exclude':
      return checkRequire(verb, args);
    case 'replace':
      return checkReplace(args);
    case 'retract':
      return checkRetract(args);
    case 'tool':
    case 'ignore': {
      if (args.length !== 1) return `${verb} directive expects exactly one argument`;
      const path = parseString(args[0] ?? '');
      return path.error === undefined ? undefined : `invalid quoted string: ${path.error}`;
    }
    default:
      return undefined;
  }
}

/**
 * rule.go's parseVersion with no fixer: the canonical version (`v1.2` is `v1.2.0`), or go's error
 * (`require p: version "x" invalid: must be of the form v1.2.3`).
 */
function parseVersion(
  verb: string,
  path: string,
  raw: string,
): { value: string; error?: undefined } | { error: string } {
  const directive = `${verb} ${path}: `;
  const version = parseString(raw);
  if (version.error !== undefined)
    return { error: `${directive}version ${goQuote(raw)} invalid: ${version.error}` };
  const v = canonicalVersion(version.value);
  if (v === '') {
    return {
      error: `${directive}version ${goQuote(version.value)} invalid: must be of the form v1.2.3`,
    };
  }
  return { value: v };
}

/**
 * x/mod/module.CheckPathMajor for `path` (whose `/vN` or `.vN` suffix is `pathMajor`) at the
 * canonical version `v`, in rule.go's wording (`verb path: version "v2.0.0" invalid: should be v0
 * or v1, not v2`), or undefined.
 */
function checkPathMajor(
  verb: string,
  path: string,
  pathMajor: string,
  v: string,
): string | undefined {
  let major = pathMajor;
  if (major.startsWith('.v') && major.endsWith('-unstable'))
    major = major.slice(0, -'-unstable'.length);
  if (v.startsWith('v0.0.0-') && major === '.v1') return undefined;
  const got = semverMajor(v);
  let want: string;
  if (major === '') {
    if (got === 'v0' || got === 'v1' || semverBuild(v) === '+incompatible') return undefined;
    want = 'v0 or v1';
  } else {
    if (got === major.slice(1)) return undefined;
    want = major.slice(1);
  }
  return `${verb} ${path}: version ${goQuote(v)} invalid: should be ${want}, not ${got}`;
}

/** rule.go's `require` and `exclude` line check (after the position): go's message, or undefined. */
function checkRequire(verb: string, args: readonly string[]): string | undefined {
  if (args.length !== 2) return `usage: ${verb} module/path v1.2.3`;
  const path = parseString(args[0] ?? '');
  if (path.error !== undefined) return `invalid quoted string: ${path.error}`;
  const p = path.value;
  const version = parseVersion(verb, p, args[1] ?? '');
  if (version.error !== undefined) return version.error;
  const split = splitPathVersion(p);
  if (!split.ok) return 'invalid module path';
  return checkPathMajor(verb, p, split.pathMajor, version.value);
}

/**
 * rule.go's IsDirectoryPath: `.`, `..`, `./…`, `../…` (either slash), rooted, or a drive letter:
 * a `replace` target that is a directory, which takes no version.
 */
function isDirectoryPath(ns: string): boolean {
  return (
    ns === '.' ||
    ns.startsWith('./') ||
    ns.startsWith('.\\') ||
    ns === '..' ||
    ns.startsWith('../') ||
    ns.startsWith('..\\') ||
    ns.startsWith('/') ||
    ns.startsWith('\\') ||
    /^[A-Za-z]:/.test(ns)
  );
}

/**
 * rule.go's parseReplace: `old [v] => new v` or `old [v] => ../dir`; go's message (go on a
 * non-Windows system: a target with a backslash is refused), or undefined.
 */
function checkReplace(args: readonly string[]): string | undefined {
  const arrow = args.length >= 2 && args[1] === '=>' ? 1 : 2;
  if (args.length < arrow + 2 || args.length > arrow + 3 || args[arrow] !== '=>') {
    return (
      'usage: replace module/path [v1.2.3] => other/module v1.4\n' +
      '\t or replace module/path [v1.2.3] => ../local/directory'
    );
  }
  const old = parseString(args[0] ?? '');
  if (old.error !== undefined) return `invalid quoted string: ${old.error}`;
  const split = splitPathVersion(old.value);
  if (!split.ok) return `replace ${old.value}: invalid module path`;
  if (arrow === 2) {
    const v = parseVersion('replace', old.value, args[1] ?? '');
    if (v.error !== undefined) return v.error;
    const major = checkPathMajor('replace', old.value, split.pathMajor, v.value);
    if (major !== undefined) return major;
  }
  const target = parseString(args[arrow + 1] ?? '');
  if (target.error !== undefined) return `invalid quoted string: ${target.error}`;
  const ns = target.value;
  if (args.length === arrow + 2) {
    if (!isDirectoryPath(ns)) {
      return ns.includes('@')
        ? "replacement module must match format 'path version', not 'path@version'"
        : 'replacement module without version must be directory path (rooted or starting with . or ..)';
    }
    if (ns.includes('\\'))
      return 'replacement directory appears to be Windows path (on a non-windows system)';
    return undefined;
  }
  const v = parseVersion('replace', ns, args[arrow + 2] ?? '');
  if (v.error !== undefined) return v.error;
  if (isDirectoryPath(ns))
    return `replacement module directory path ${goQuote(ns)} cannot have version`;
  return undefined;
}

/**
 * rule.go's parseVersionInterval and the strict parse's check after it: `retract v1.2.3` or
 * `retract [v1.0.0, v1.1.0]` (a rationale is a comment, which the lexer already dropped); go's
 * message, or undefined. Like `go mod edit`, the versions are checked for quoting only (rule.go
 * reads them with dontFixRetract): `go build` in the module resolves `retract v1.2` as it does a
 * query, and a dependency's retractions are only compared.
 */
function checkRetract(args: readonly string[]): string | undefined {
  let i = 0;
  const next = (): string | undefined => args[i];
  const version = (): string | undefined => {
    const raw = args[i] ?? '';
    i++;
    const v = parseString(raw);
    return v.error === undefined
      ? undefined
      : `retract: version ${goQuote(raw)} invalid: ${v.error}`;
  };
  if (next() === undefined || next() === '(') return "expected '[' or version";
  if (next() !== '[') {
    const error = version();
    if (error !== undefined) return error;
  } else {
    i++;
    if (next() === undefined) return "expected version after '['";
    const low = version();
    if (low !== undefined) return low;
    if (next() !== ',') return "expected ',' after version";
    i++;
    if (next() === undefined) return "expected version after ','";
    const high = version();
    if (high !== undefined) return high;
    if (next() !== ']') return "expected ']' after version";
    i++;
  }
  const rest = next();
  return rest === undefined ? undefined : `unexpected token after version: ${goQuote(rest)}`;
}

/**
 * rule.go's parseString: a token starting with `"` is a Go string literal (strconv.Unquote);
 * any other is taken as it is unless it holds a quote (`"`, `'`, or a backquote, so a raw
 * string literal is refused too).
 */
function parseString(token: string): { value: string; error?: undefined } | { error: string } {
  if (token.startsWith('"')) {
    const value = unquote(token);
    return value === undefined ? { error: 'invalid syntax' } : { value };
  }
  if (/["'`]/.test(token)) return { error: 'unquoted string cannot contain quote' };
  return { value: token };
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
};

/**
 * strconv.Unquote of a double-quoted Go string literal: its value, or undefined when it is not
 * one (an unknown escape, `\'`, a bad `\x`/`\u`/`\U`/octal escape, a quote inside).
 */
function unquote(literal: string): string | undefined {
  if (literal.length < 2 || !literal.endsWith('"')) return undefined;
  const runes = Array.from(literal.slice(1, -1));
  let out = '';
  for (let i = 0; i < runes.length; i++) {
    const c = runes[i] ?? '';
    if (c === '"' || c === '\n') return undefined;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = runes[++i];
    if (e === undefined) return undefined;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      out += simple;
      continue;
    }
    const hexDigits = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (hexDigits > 0) {
      const digits = runes.slice(i + 1, i + 1 + hexDigits).join('');
      if (!new RegExp(`^[0-9A-Fa-f]{${hexDigits}}$`).test(digits)) return undefined;
      i += hexDigits;
      const n = Number.parseInt(digits, 16);
      if (e === 'x') {
        // A byte: go keeps it as is (the string may then not be UTF-8; the path is only compared).
        out += String.fromCharCode(n);
        continue;
      }
      if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return undefined;
      out += String.fromCodePoint(n);
      continue;
    }
    if (e >= '0' && e <= '7') {
      const digits = runes.slice(i, i + 3).join('');
      if (!/^[0-7]{3}$/.test(digits)) return undefined;
      const n = Number.parseInt(digits, 8);
      if (n > 255) return undefined;
      i += 2;
      out += String.fromCharCode(n);
      continue;
    }
    return undefined;
  }
  return out;
}

/** Go's %q of a string, as far as go.mod text can need: `"`, `\\` and control runes escaped. */
function goQuote(s: string): string {
  let out = '"';
  for (const c of s) {
    const code = c.codePointAt(0) ?? 0;
    if (c === '"' || c === '\\') out += `\\${c}`;
    else if (c === '\n') out += '\\n';
    else if (c === '\t') out += '\\t';
    else if (c === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += c;
  }
  return `${out}"`;
}
