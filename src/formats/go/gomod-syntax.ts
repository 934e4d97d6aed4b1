/**
 * The syntax check of an uploaded go.mod (trial 18 fmts F13): a hosted version is immutable, so
 * a go.mod that `go` cannot parse must be refused at upload, or every `go get` of that version
 * fails for good (`go.mod:5: syntax error (unterminated block started at go.mod:4:1)`).
 *
 * This follows golang.org/x/mod/modfile's read.go (the lexer and the line/block structure) and
 * what its ParseLax (how `go` reads a dependency's go.mod) refuses of rule.go: a repeated
 * `module`, or one without exactly one argument. It does not judge directives' arguments, and it
 * accepts unknown directives as ParseLax does: go ignores them in a dependency's go.mod so that
 * one written for a newer go still builds (a module's own `go build` refuses them, not its users').
 */

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

/**
 * Checks `text` (a go.mod) as go reads a dependency's go.mod: undefined when it parses, else
 * go's message, position first (`go.mod:5: syntax error (unterminated block started at
 * go.mod:4:1)`, `go.mod:3: repeated module statement`). A go.mod with no module directive
 * passes here (the caller requires one). Linear in the text's length.
 */
export function checkGoModSyntax(text: string): string | undefined {
  try {
    checkStructure(tokenize(text));
    return undefined;
  } catch (err) {
    if (err instanceof GoModSyntaxError) return err.message;
    throw err;
  }
}

/** read.go's parseFile/parseStmt/parseLineBlock, and rule.go's checks of `module` lines. */
function checkStructure(tokens: readonly Token[]): void {
  let i = 0;
  const tok = (k: number): Token => tokens[Math.min(k, tokens.length - 1)] as Token;
  let modules = 0;
  // One `module` line (a statement, or a line of a `module (` block): its arguments.
  const moduleLine = (start: Pos, args: number): void => {
    if (++modules > 1) throw new GoModSyntaxError(`${at(start)}repeated module statement`);
    if (args !== 1) throw new GoModSyntaxError(`${at(start)}usage: module module/path`);
  };
  for (;;) {
    const first = tok(i);
    if (first.kind === 'eof') return;
    if (first.kind === 'eol') {
      i++;
      continue;
    }
    // A statement: tokens up to the end of its line, or `verb … (` + newline opening a block.
    i++;
    let args = 0;
    let block = false;
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
        args = -1;
        break;
      }
      args++;
      i++;
    }
    if (!block) {
      if (first.text === 'module' && args >= 0) moduleLine(first.start, args);
      continue;
    }
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
      const line = t;
      let count = 0;
      while (!isEol(tok(i))) {
        count++;
        i++;
      }
      if (tok(i).kind === 'eol') i++;
      if (first.text === 'module') moduleLine(line.start, count);
    }
  }
}
