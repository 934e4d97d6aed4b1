/**
 * Trial 23: NORA's go.mod check (gomod-syntax.ts, used by hosted uploads and `nora go publish`)
 * and go's own strict parse (modfile.Parse: `go mod edit`, `go install m@v`) agree on `exclude`,
 * `replace`, `retract`, `go`, `toolchain` and repeated directives. Each text is also given to the
 * real `go mod edit -json` on this machine, whose verdict and words must be NORA's; a row whose
 * directive or wording is newer than the installed go (`since`) is checked against NORA's
 * expectation only.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { checkGoModSyntax } from '../../../src/formats/go/gomod-syntax.ts';
import { goEnv } from '../../helpers/go.ts';
import { findTool } from '../../helpers/tools.ts';

interface Row {
  readonly text: string;
  /** NORA's message (go's, newest wording), or undefined when the go.mod is taken. */
  readonly want: string | undefined;
  /** The go 1.N from which go says exactly `want` (a newer directive, version form or wording). */
  readonly since?: number;
}

const M = 'module example.com/a\n';
const REPLACE_USAGE =
  'usage: replace module/path [v1.2.3] => other/module v1.4\n' +
  '\t or replace module/path [v1.2.3] => ../local/directory';

const ROWS: readonly Row[] = [
  // exclude: a require line's rules.
  { text: `${M}exclude x.org/y v1.0.0\n`, want: undefined },
  { text: `${M}exclude x.org/y v1\n`, want: undefined },
  { text: `${M}exclude x.org/y\n`, want: 'go.mod:2: usage: exclude module/path v1.2.3' },
  {
    text: `${M}exclude x.org/y v1.0.0 v1.1.0\n`,
    want: 'go.mod:2: usage: exclude module/path v1.2.3',
  },
  {
    text: `${M}exclude x.org/y banana\n`,
    want: 'go.mod:2: exclude x.org/y: version "banana" invalid: must be of the form v1.2.3',
  },
  {
    text: `${M}exclude x.org/y/v2 v1.0.0\n`,
    want: 'go.mod:2: exclude x.org/y/v2: version "v1.0.0" invalid: should be v2, not v1',
  },
  {
    text: `${M}exclude (\n\tx.org/y v1.0.0\n\tx.org/z v2.0.0\n)\n`,
    want: 'go.mod:4:2: exclude x.org/z: version "v2.0.0" invalid: should be v0 or v1, not v2',
  },
  // replace: arity, arrow, versions, local paths.
  { text: `${M}replace x.org/y => ../y\n`, want: undefined },
  { text: `${M}replace x.org/y v1.0.0 => x.org/z v1.2.0\n`, want: undefined },
  { text: `${M}replace (\n\tx.org/y => /abs/y\n\tx.org/w v1 => ./w\n)\n`, want: undefined },
  { text: `${M}replace x.org/y ../y\n`, want: `go.mod:2: ${REPLACE_USAGE}` },
  { text: `${M}replace x.org/y =>\n`, want: `go.mod:2: ${REPLACE_USAGE}` },
  { text: `${M}replace x.org/y => x.org/z v1.0.0 extra\n`, want: `go.mod:2: ${REPLACE_USAGE}` },
  {
    text: `${M}replace x.org/y v1.0.0 => ./y v1.0.0\n`,
    want: 'go.mod:2: replacement module directory path "./y" cannot have version',
  },
  {
    text: `${M}replace x.org/y => x.org/z\n`,
    want: 'go.mod:2: replacement module without version must be directory path (rooted or starting with . or ..)',
    since: 20,
  },
  {
    text: `${M}replace x.org/y => x.org/z@v1.0.0\n`,
    want: "go.mod:2: replacement module must match format 'path version', not 'path@version'",
    since: 20,
  },
  {
    text: `${M}replace x.org/y => ..\\y\n`,
    want: 'go.mod:2: replacement directory appears to be Windows path (on a non-windows system)',
  },
  {
    text: `${M}replace x.org/y banana => ../y\n`,
    want: 'go.mod:2: replace x.org/y: version "banana" invalid: must be of the form v1.2.3',
  },
  {
    text: `${M}replace x.org/y => x.org/z banana\n`,
    want: 'go.mod:2: replace x.org/z: version "banana" invalid: must be of the form v1.2.3',
  },
  {
    text: `${M}replace x.org/y/v2 v1.0.0 => ../y\n`,
    want: 'go.mod:2: replace x.org/y/v2: version "v1.0.0" invalid: should be v2, not v1',
  },
  // retract: a version or a closed interval, a rationale comment, nothing more.
  { text: `${M}retract v1.0.0 // published too early\n`, want: undefined },
  { text: `${M}retract [v1.0.0, v1.1.0] // broken\n`, want: undefined },
  { text: `${M}// why\nretract (\n\tv1.0.1\n\t[v1.2.0,v1.3.0] // r\n)\n`, want: undefined },
  { text: `${M}retract v1.2\n`, want: undefined }, // go mod edit checks quoting only
  { text: `${M}retract\n`, want: "go.mod:2: expected '[' or version" },
  {
    text: `${M}retract v1.0.0 v1.1.0\n`,
    want: 'go.mod:2: unexpected token after version: "v1.1.0"',
  },
  { text: `${M}retract [v1.0.0 v1.1.0]\n`, want: "go.mod:2: expected ',' after version" },
  { text: `${M}retract [v1.0.0, v1.1.0\n`, want: "go.mod:2: expected ']' after version" },
  { text: `${M}retract [v1.0.0,]\n`, want: "go.mod:2: expected ']' after version" },
  { text: `${M}retract [\n`, want: "go.mod:2: expected version after '['" },
  { text: `${M}retract [v1.0.0,\n`, want: "go.mod:2: expected version after ','" },
  {
    text: `${M}retract (\n\t[v1.0.0, v1.1.0] x\n)\n`,
    want: 'go.mod:3:2: unexpected token after version: "x"',
  },
  {
    text: `${M}retract v1'0\n`,
    want: 'go.mod:2: retract: version "v1\'0" invalid: unquoted string cannot contain quote',
  },
  // go: the version forms.
  { text: `${M}go 1.19\n`, want: undefined },
  { text: `${M}go 1.21.0\n`, want: undefined, since: 21 },
  { text: `${M}go 1.21rc1\n`, want: undefined, since: 21 },
  {
    text: `${M}go 1.021\n`,
    want: "go.mod:2: invalid go version '1.021': must match format 1.23.0",
    since: 22,
  },
  {
    text: `${M}go 1.2.3.4\n`,
    want: "go.mod:2: invalid go version '1.2.3.4': must match format 1.23.0",
    since: 22,
  },
  {
    text: `${M}go 1.21-rc1\n`,
    want: "go.mod:2: invalid go version '1.21-rc1': must match format 1.23.0",
    since: 22,
  },
  { text: `${M}go\n`, want: 'go.mod:2: go directive expects exactly one argument' },
  { text: `${M}go 1.19\ngo 1.20\n`, want: 'go.mod:3: repeated go statement' },
  // toolchain (go 1.21).
  { text: `${M}go 1.21\ntoolchain go1.21.4\n`, want: undefined, since: 21 },
  { text: `${M}go 1.21\ntoolchain default\n`, want: undefined, since: 21 },
  {
    text: `${M}go 1.21\ntoolchain 1.21.4\n`,
    want: "go.mod:3: invalid toolchain version '1.21.4': must match format go1.23.0 or default",
    since: 22,
  },
  {
    text: `${M}go 1.21\ntoolchain go1.21.4 x\n`,
    want: 'go.mod:3: toolchain directive expects exactly one argument',
    since: 21,
  },
  {
    text: `${M}go 1.21\ntoolchain go1.21.4\ntoolchain go1.22.0\n`,
    want: 'go.mod:4: repeated toolchain statement',
    since: 21,
  },
  // module: repeated.
  { text: `${M}module example.com/b\n`, want: 'go.mod:2: repeated module statement' },
  // Several errors: go lists them all.
  {
    text: `${M}exclude x.org/y\nreplace x.org/y => x.org/z v1.0.0\nretract v1.0.0 x\n`,
    want: 'go.mod:2: usage: exclude module/path v1.2.3; go.mod:4: unexpected token after version: "x"',
  },
];

/** The installed go's minor release (`go1.19.8` is 19), or undefined when go is absent. */
function goMinor(go: string): number | undefined {
  const out = spawnSync(go, ['env', 'GOVERSION'], { encoding: 'utf8' }).stdout.trim();
  const m = /^go1\.(\d+)/.exec(out);
  return m === null ? undefined : Number(m[1]);
}

test('NORA’s go.mod check: each row as expected, hosted and mainModule alike', () => {
  for (const { text, want } of ROWS) {
    assert.equal(checkGoModSyntax(text), want, JSON.stringify(text));
    assert.equal(checkGoModSyntax(text, { mainModule: true }), want, JSON.stringify(text));
  }
});

const go = findTool('go');

test(
  'the real go agrees: `go mod edit -json` takes or refuses each row in the same words',
  { skip: go === undefined ? 'go is not installed (Debian golang-go)' : false },
  (t) => {
    const minor = goMinor(go ?? 'go') ?? 0;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nora-gomod-'));
    try {
      const env = { ...goEnv(dir), GOFLAGS: '', GOTOOLCHAIN: 'local', GOPROXY: 'off' };
      let compared = 0;
      for (const { text, want, since } of ROWS) {
        if (since !== undefined && minor < since) continue;
        fs.writeFileSync(path.join(dir, 'go.mod'), text);
        const r = spawnSync(go ?? 'go', ['mod', 'edit', '-json'], {
          cwd: dir,
          env,
          encoding: 'utf8',
        });
        // go: "go: errors parsing go.mod:" then one error a line (a replace usage spans two).
        const said =
          r.status === 0
            ? undefined
            : r.stderr
                .replace(/^go: errors parsing go\.mod:\n/, '')
                .replaceAll(`${dir}/go.mod`, 'go.mod')
                .trimEnd()
                .replace(/\n(?=go\.mod:)/g, '; ');
        assert.equal(said, want, `go 1.${minor} on ${JSON.stringify(text)}`);
        compared++;
      }
      t.diagnostic(
        `go 1.${minor}: ${compared} of ${ROWS.length} rows compared (the rest need a newer go)`,
      );
      assert.ok(compared >= ROWS.length / 2, `only ${compared} rows compared`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
