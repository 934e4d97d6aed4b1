/**
 * checkGoModSyntax (trial 18 fmts F13): go.mod files go parses pass (every go.mod of the Go
 * sources Debian ships), and each way go's modfile reader refuses one is refused with go's
 * message and position.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { checkGoModSyntax, unknownGoModStatements } from '../../../src/formats/go/gomod-syntax.ts';

const GOCODE = '/usr/share/gocode/src';

/** The go.mod files under `dir` (a walk; Debian's Go sources hold a dozen or so). */
function goMods(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'testdata') found.push(...goMods(full));
    else if (entry.name === 'go.mod') found.push(full);
  }
  return found;
}

test(
  'every go.mod of the Go sources on this machine passes',
  { skip: existsSync(GOCODE) ? false : `${GOCODE} is not installed (Debian golang-*-dev)` },
  () => {
    const files = goMods(GOCODE);
    assert.ok(files.length >= 3, `only ${files.length} go.mod files under ${GOCODE}`);
    for (const file of files) {
      assert.equal(checkGoModSyntax(readFileSync(file, 'utf8')), undefined, file);
    }
  },
);

test('the spellings go accepts pass', () => {
  for (const text of [
    'module example.com/a\n',
    'module example.com/a', // no final newline
    '// top comment\nmodule "example.com/a" // why\r\n\ngo 1.21\ntoolchain go1.21.4\n',
    'module (\n\texample.com/a\n)\n',
    'module example.com/a\nrequire (\n\t// c\n\tx.org/y v1.0.0 // indirect\n)\n',
    'module example.com/a\nrequire ( // deps\n)\nreplace x.org/y => ../y\n',
    'module example.com/a\nrequire ( )\nexclude x.org/y v1.0.0\nretract [v1.0.0, v1.1.0]\n',
    'module example.com/a\ngodebug default=go1.21\ntool x.org/y/cmd\nignore ./node_modules\n',
    // An unknown directive: go ignores it in a dependency's go.mod (modfile.ParseLax).
    'module example.com/a\nfuture thing\n',
    'module example.com/a\nrequire x.org/y "v1.0.0" // "quoted"\n',
  ]) {
    assert.equal(checkGoModSyntax(text), undefined, JSON.stringify(text));
  }
});

test('what go refuses, with go’s message and position', () => {
  const cases: [string, string][] = [
    [
      'module corp.example.com/q3\n\ngo 1.19\nrequire (\n',
      'go.mod:5: syntax error (unterminated block started at go.mod:4:1)',
    ],
    [
      'module a\nrequire (\n\tx v1',
      'go.mod:3:6: syntax error (unterminated block started at go.mod:2:1)',
    ],
    ['module a\nrequire x "v1\n', 'go.mod:2:14: unexpected newline in string'],
    ['module a\nrequire x "v1', 'go.mod:2:11: unexpected EOF in string'],
    ['module a\nrequire x `v1', 'go.mod:2:11: unexpected EOF in string'],
    ['module a /* x */\n', 'go.mod:1:10: mod files must use // comments (not /* */ comments)'],
    [
      'module a\nrequire (\n\tx v1\n) y\n',
      'go.mod:4:4: syntax error (expected newline after closing paren)',
    ],
    ['module a\nmodule b\n', 'go.mod:2: repeated module statement'],
    ['module (\n\ta\n\tb\n)\n', 'go.mod:3:2: repeated module statement'],
    ['module a b\n', 'go.mod:1: usage: module module/path'],
    // A raw string is lexed as one token but is no module path: go 1.19's `go list -m` says
    // the same (trial 19: the lax parse checks quoting).
    [
      'module `example.com/a`\n',
      'go.mod:1: invalid quoted string: unquoted string cannot contain quote',
    ],
    ['module a\n\u0000\n', "go.mod:2: unexpected input character '\\x00'"],
  ];
  for (const [text, message] of cases) {
    assert.equal(checkGoModSyntax(text), message, JSON.stringify(text));
  }
});

/**
 * Trial 21 fmts F3: the module's own go.mod (`nora go publish`) is read as `go build` in it reads
 * it, so a misspelt directive is named. Each message is what go 1.19's `go mod edit -json` printed
 * for the same text on this machine (the path before `go.mod` dropped).
 */
test('mainModule: unknown directives and block types, in go’s words', () => {
  const cases: [string, string][] = [
    ['modul corp.example.com/x\n', 'go.mod:1: unknown directive: modul'],
    ['  modul corp.example.com/x\n', 'go.mod:1:3: unknown directive: modul'],
    ['"modul" x\n', 'go.mod:1: unknown directive: "modul"'],
    ['module corp.example.com/x\nmodul\n', 'go.mod:2: unknown directive: modul'],
    ['module x\nmodul (\n  a\n  b\n)\n', 'go.mod:2: unknown block type: modul'],
    ['module x\nmodul a (\n  a\n)\n', 'go.mod:2: unknown block type: modul a'],
    ['module x\nrequire a (\n  a\n)\n', 'go.mod:2: unknown block type: require a'],
    ['module x\ngo (\n  1.19\n)\n', 'go.mod:2: unknown block type: go'],
    ['module x\n  foo ( )\n', 'go.mod:2:3: unknown block type: foo'],
    [
      'module x\n\tfoo a b (\n)\nbar\n',
      'go.mod:2:2: unknown block type: foo a b; go.mod:4: unknown directive: bar',
    ],
    [
      'modul x\ngo 1.19\nrequire a\n',
      'go.mod:1: unknown directive: modul; go.mod:3: usage: require module/path v1.2.3',
    ],
  ];
  for (const [text, message] of cases) {
    assert.equal(checkGoModSyntax(text, { mainModule: true }), message, JSON.stringify(text));
    // A dependency's go.mod (the server's check): go's lax parse skips these statements.
    const lax = checkGoModSyntax(text);
    if (lax !== undefined) assert.ok(!lax.includes('unknown'), JSON.stringify(text));
  }
});

test('mainModule: the directives newer go releases know pass (go 1.19 knows fewer)', () => {
  for (const text of [
    'module example.com/a\ngo 1.21\ntoolchain go1.21.4\n',
    'module example.com/a\ngodebug (\n\tdefault=go1.21\n)\n',
    'module example.com/a\ntool (\n\tx.org/y/cmd\n)\nignore ./node_modules\n',
    'module example.com/a\nrequire ( )\nexclude x.org/y v1.0.0\nretract [v1.0.0, v1.1.0]\n',
    'module example.com/a\nreplace (\n\tx.org/y => ../y\n)\n',
  ]) {
    assert.equal(checkGoModSyntax(text, { mainModule: true }), undefined, JSON.stringify(text));
  }
});

test('a dependency: the lines of a block go does not read as one are not judged', () => {
  // go 1.19 fetched a dependency with this go.mod and built against it (`go list -m all`).
  const text = 'module corp.example.com/dep\ngo (\n banana\n)\nfoo ( )\nbar a (\n)\n';
  assert.equal(checkGoModSyntax(text), undefined);
  assert.equal(
    checkGoModSyntax(text, { mainModule: true }),
    'go.mod:2: unknown block type: go; go.mod:5: unknown block type: foo; go.mod:6: unknown block type: bar a',
  );
});

test('unknownGoModStatements: the hint beside "no module line"', () => {
  assert.deepEqual(unknownGoModStatements('modul corp.example.com/x\ngo 1.19\n'), [
    'go.mod:1: unknown directive: modul',
  ]);
  assert.deepEqual(unknownGoModStatements('go 1.19\n'), []);
  assert.deepEqual(unknownGoModStatements('modul "x\n'), []); // a syntax error: no hint
});

test('positions count runes, not UTF-16 units: astral and non-ASCII runes, a lone surrogate', () => {
  // The lexer scans by UTF-16 index (speed); go's columns are runes: 𝔸 is two units, one column.
  const cases: [string, string][] = [
    [
      'module x.com/m\nrequire 𝔸é/b v1.0.0 /* c */\n',
      'go.mod:2:21: mod files must use // comments (not /* */ comments)',
    ],
    [
      'module x.com/m // 𝔸𝔸\nrequire "a\u00a0b" v1.0.0\nrequire 𝔸é\u00a0v1\n',
      "go.mod:3:11: unexpected input character '\\u00a0'",
    ],
    [
      'module x.com/m\ngo 1.21 // é\nrequire 𝔸.com/x v1.0.0 \ud800\n',
      "go.mod:3:24: unexpected input character '\\ud800'",
    ],
    ['module x.com/m\nrequire "x.com/𝔸\n', 'go.mod:2:17: unexpected newline in string'],
  ];
  for (const [text, message] of cases) assert.equal(checkGoModSyntax(text), message, text);
});
