/**
 * The check of an uploaded go.mod as `go` reads a dependency's (trial 18 fmts F13, trial 19 fmts
 * F2): a hosted version is immutable, so a go.mod that `go` refuses must be refused at upload, or
 * every `go get` of that version fails for good (`go.mod:5: syntax error (unterminated block
 * started at go.mod:4:1)`, `go.mod:3: invalid go version 'banana': must match format 1.23`).
 *
 * This follows golang.org/x/mod/modfile: read.go (the lexer and the line/block structure), and
 * what rule.go's ParseLax with no version fixer (cmd/go's modload and modfetch read a
 * dependency's go.mod so) refuses of the directives it reads in a dependency's go.mod — `module`,
 * `go` and `require` (and `retract`, whose errors it ignores there):
 * - `module`: repeated, not exactly one argument, a path that is not a valid Go string when
 *   quoted (`"…"`), or an unquoted one holding a quote;
 * - `go`: repeated, not exactly one argument, a version that matches neither `1.23` nor the
 *   newer forms go reads leniently there (`1.21.0`, `1.21rc1`: `1.N` then a non-digit, anything);
 * - `require`: not exactly path and version, either badly quoted, a version that is no semantic
 *   version (`v1.2.3`; `v1.2` and `v1` pass, as go takes them), a path with a malformed major
 *   suffix (`/v1`, `/v0`), or a version whose major does not match the path's (`/v2` wants v2).
 * `exclude`, `replace`, unknown directives and blocks with more than the verb are not judged, as
 * ParseLax skips them: go ignores them in a dependency's go.mod so that one written for a newer
 * go still builds (a module's own `go build` refuses them, not its users'). Nor are the lines of
 * a block whose verb ParseLax does not read as a block (`go (`, `toolchain (`, `foo (`).
 *
 * `{ mainModule: true }` (the `nora go publish` CLI, which reads the module's own go.mod as `go
 * build` in it does: modfile.Parse) also names what the strict parse refuses of the statements
 * themselves (trial 21 fmts F3): `go.mod:1: unknown directive: modul` for a verb no go release
 * knows, `go.mod:4: unknown block type: foo a` for a block whose verb is not a block verb or that
 * has more than its verb before the paren. The verbs known are the newest go's (module, go,
 * toolchain, godebug, require, exclude, replace, retract, tool, ignore), not the oldest's: go 1.19
 * calls `toolchain` unknown in its own main module, but a go.mod that a newer go wrote with it
 * builds with that go, and every go skips the line in a dependency.
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
const IDENT_RUNE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const isIdent = (c: string): boolean => IDENT_RUNE.test(c) && !'()[]{},'.includes(c);

/** go's %#q of a rune, for "unexpected input character". */
function quoteRune(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (code < 0x80) return `'\\x${code.toString(16).padStart(2, '0')}'`;
  return `'\\u${code.toString(16).padStart(4, '0')}'`;
}

/** read.go's readToken over the whole text: the tokens, end-of-line comments dropped. */
function tokenize(text: string): Token[] {
  const runes = Array.from(text);
  const tokens: Token[] = [];
  const pos: Pos = { line: 1, col: 1 };
  let i = 0;
  const here = (): Pos => ({ line: pos.line, col: pos.col });
  const read = (): string => {
    const c = runes[i++] ?? '';
    if (c === '\n') {
      pos.line++;
      pos.col = 1;
    } else pos.col++;
    return c;
  };
  const fail = (where: Pos, message: string): never => {
    throw new GoModSyntaxError(`${at(where)}${message}`);
  };
  const prefix = (s: string): boolean => runes[i] === s[0] && runes[i + 1] === s[1];
  for (;;) {
    const c = runes[i];
    if (c === ' ' || c === '\t' || c === '\r') {
      read();
      continue;
    }
    if (prefix('//')) {
      // A comment runs to the end of its line; the newline stays a token (it ends a line).
      while (i < runes.length && runes[i] !== '\n') read();
      continue;
    }
    if (prefix('/*')) fail(here(), 'mod files must use // comments (not /* */ comments)');
    const start = here();
    if (c === undefined) {
      tokens.push({ kind: 'eof', text: '', start, end: start });
      return tokens;
    }
    if (c === '\n') {
      read();
      tokens.push({ kind: 'eol', text: c, start, end: here() });
      continue;
    }
    if (c === '(' || c === ')') {
      read();
      tokens.push({ kind: c, text: c, start, end: here() });
      continue;
    }
    if ('[]{},'.includes(c)) {
      read();
      tokens.push({ kind: 'punct', text: c, start, end: here() });
      continue;
    }
    if (c === '"' || c === '`') {
      const from = i;
      read();
      for (;;) {
        if (i >= runes.length) fail(start, 'unexpected EOF in string');
        if (runes[i] === '\n') fail(here(), 'unexpected newline in string');
        const r = read();
        if (r === c) break;
        if (r === '\\' && c === '"') {
          if (i >= runes.length) fail(start, 'unexpected EOF in string');
          read();
        }
      }
      tokens.push({ kind: 'string', text: runes.slice(from, i).join(''), start, end: here() });
      continue;
    }
    if (!isIdent(c)) fail(start, `unexpected input character ${quoteRune(c)}`);
    const from = i;
    while (i < runes.length && isIdent(runes[i] ?? '')) {
      if (prefix('//')) break;
      if (prefix('/*')) fail(here(), 'mod files must use // comments (not /* */ comments)');
      read();
    }
    tokens.push({ kind: 'ident', text: runes.slice(from, i).join(''), start, end: here() });
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
 * Checks `text` (a go.mod) as go reads a dependency's go.mod: undefined when go takes it, else
 * go's message, position first (`go.mod:5: syntax error (unterminated block started at
 * go.mod:4:1)`, `go.mod:3: repeated module statement`, `go.mod:3: require foo.com/x: version
 * "notaversion" invalid: must be of the form v1.2.3`); when several lines are wrong, their
 * messages joined with `; ` (go lists them all, one a line). A go.mod with no module directive
 * passes here (the caller requires one). `mainModule`: also refuse unknown directives and block
 * types, as go's strict parse of the main module's go.mod does (see the file's comment). Linear in
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
/** The verbs modfile.ParseLax reads in a dependency's go.mod (rule.go's File.add, strict false). */
const LAX_VERBS: ReadonlySet<string> = new Set(['module', 'go', 'require', 'retract']);

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

/** rule.go's GoVersionRE, and laxGoVersionRE: what ParseLax takes of a dependency's `go` line. */
const GO_VERSION = /^([1-9][0-9]*)\.(0|[1-9][0-9]*)$/;
const LAX_GO_VERSION = /^v?(([1-9][0-9]*)\.(0|[1-9][0-9]*))([^0-9].*)$/su;

/**
 * rule.go's File.add for a dependency's go.mod (strict false, no version fixer), over every
 * statement in order: go's message for each refused one (`go.mod:L: …`); `strict` adds the strict
 * parse's unknown directives and block types (unknownStatement).
 */
function checkDirectives(statements: readonly Statement[], strict: boolean): string[] {
  const errors: string[] = [];
  let modules = 0;
  let goSeen = false;
  for (const statement of statements) {
    const { start } = statement;
    const fail = (message: string): void => {
      errors.push(`${at(start)}${message}`);
    };
    const unknown = strict ? unknownStatement(statement) : undefined;
    if (unknown !== undefined) {
      fail(unknown);
      continue;
    }
    if (statement.kind === 'block' || !LAX_VERBS.has(statement.verb)) continue;
    const { verb, args } = statement;
    if (verb === 'module') {
      if (++modules > 1) fail('repeated module statement');
      else if (args.length !== 1) fail('usage: module module/path');
      else {
        const path = parseString(args[0] ?? '');
        if (path.error !== undefined) fail(`invalid quoted string: ${path.error}`);
      }
    } else if (verb === 'go') {
      if (goSeen) fail('repeated go statement');
      else if (args.length !== 1) fail('go directive expects exactly one argument');
      else {
        const v = args[0] ?? '';
        // go records the statement only once its version is taken: a bad one, then a good one, passes the second.
        if (GO_VERSION.test(v) || LAX_GO_VERSION.test(v)) goSeen = true;
        else fail(`invalid go version '${v}': must match format 1.23`);
      }
    } else if (verb === 'require') {
      const message = checkRequire(args);
      if (message !== undefined) fail(message);
    }
    // `retract`: ParseLax drops a line it cannot read rather than refuse the file; `exclude`,
    // `replace` and other verbs are not read in a dependency's go.mod.
  }
  return errors;
}

/** rule.go's `require` line check (after the position): go's message, or undefined. */
function checkRequire(args: readonly string[]): string | undefined {
  if (args.length !== 2) return 'usage: require module/path v1.2.3';
  const path = parseString(args[0] ?? '');
  if (path.error !== undefined) return `invalid quoted string: ${path.error}`;
  const p = path.value;
  const raw = args[1] ?? '';
  const version = parseString(raw);
  if (version.error !== undefined)
    return `require ${p}: version ${goQuote(raw)} invalid: ${version.error}`;
  const v = canonicalVersion(version.value);
  if (v === '') {
    return `require ${p}: version ${goQuote(version.value)} invalid: must be of the form v1.2.3`;
  }
  const split = splitPathVersion(p);
  if (!split.ok) return 'invalid module path';
  // x/mod/module.CheckPathMajor, with rule.go's wording of its error.
  let pathMajor = split.pathMajor;
  if (pathMajor.startsWith('.v') && pathMajor.endsWith('-unstable'))
    pathMajor = pathMajor.slice(0, -'-unstable'.length);
  if (v.startsWith('v0.0.0-') && pathMajor === '.v1') return undefined;
  const major = semverMajor(v);
  let want: string;
  if (pathMajor === '') {
    if (major === 'v0' || major === 'v1' || semverBuild(v) === '+incompatible') return undefined;
    want = 'v0 or v1';
  } else {
    if (major === pathMajor.slice(1)) return undefined;
    want = pathMajor.slice(1);
  }
  return `require ${p}: version ${goQuote(v)} invalid: should be ${want}, not ${major}`;
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
