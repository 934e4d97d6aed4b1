/**
 * Property tests for credential redaction (src/core/redact.ts): a credential planted in any of
 * the documented shapes, inside arbitrary text or nested values, never survives `redactText` /
 * `redactDeep`; redaction never throws and is idempotent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { REDACTED, redactDeep, redactEveryPattern, redactText } from '../../../src/core/redact.ts';
import { cpuNow } from '../../helpers/properties.ts';

/** A secret that no surrounding text can spell by accident. */
const secretArb = fc.stringMatching(/^[A-Za-z0-9]{12,24}$/).map((s) => `Q${s}Z`);
const around = fc.oneof(
  fc.constantFrom('', ' ', '\n', 'GET ', 'url=', '(', '"', 'x ', 'error: ', ', '),
  fc.string({ maxLength: 12 }).filter((s) => !/[A-Za-z0-9_.+-]$/.test(s)),
);
const shape = fc.constantFrom(
  (s: string) => `https://user:${s}@registry.invalid/x`,
  (s: string) => `http://${s}@h/`,
  (s: string) => `Authorization: Bearer ${s}`,
  (s: string) => `Basic ${s}`,
  (s: string) => `/x?token=${s}&a=1`,
  (s: string) => `/x?a=1&_authToken=${s}`,
  (s: string) => `password=${s}`,
  (s: string) => `"password":"${s}"`,
  (s: string) => `api_key: "${s}"`,
  (s: string) => `/-/user/token/${s}`,
  (s: string) => `/-/npm/v1/tokens/token/${s}`,
  (s: string) => `nra_${s}${s}${s}`,
  (s: string) => `https://h/v2|user:${s}|prefix`,
);

test('redactText removes a credential in every documented shape, whatever surrounds it', () => {
  fc.assert(
    fc.property(secretArb, shape, around, around, (secret, make, before, after) => {
      const text = `${before}${make(secret)}${after}`;
      const out = redactText(text);
      assert.ok(!out.includes(secret), `${JSON.stringify(text)} → ${JSON.stringify(out)}`);
      assert.ok(out.includes(REDACTED));
      assert.equal(redactText(out), out, 'idempotent');
    }),
    { numRuns: 2000 },
  );
});

test("redactText's shortcut for short plain text changes no answer", () => {
  // Short strings built from pieces of every credential shape: the shortcut (no pass run) must
  // give what every pass gives.
  const piece = fc.oneof(
    fc.constantFrom(
      'Bearer',
      'Basic',
      ' ',
      '\t',
      'eyJ',
      '.',
      'nra_',
      'nora_',
      'token',
      '=',
      ':',
      '/',
      '%5F',
      '|',
      '@',
      'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef',
      '10.20.30.40',
      '::1',
      'alice',
    ),
    fc.string({ maxLength: 6 }),
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 6 }), (pieces) => {
      const text = pieces.join('');
      assert.equal(redactText(text), redactEveryPattern(text), JSON.stringify(text));
    }),
    { numRuns: 5000 },
  );
  for (const text of ['GET', 'alice', '10.20.30.40', 'anonymous', `nra_${'A'.repeat(30)}`]) {
    assert.equal(redactText(text), redactEveryPattern(text), text);
  }
  assert.equal(redactText(`nra_${'A'.repeat(30)}`), `nra_${REDACTED}`);
});

test('redactText is total and idempotent on arbitrary text', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (text) => {
      const out = redactText(text);
      assert.equal(redactText(out), out);
    }),
    { numRuns: 1000 },
  );
});

test('redactDeep: no secret survives in nested plain values, whatever the keys are named', () => {
  const key = fc.oneof(
    fc.constantFrom(
      'password',
      'token',
      'authorization',
      'url',
      'message',
      '__proto__',
      'constructor',
    ),
    fc.stringMatching(/^[a-z]{1,6}$/),
  );
  fc.assert(
    fc.property(
      secretArb,
      shape,
      fc.array(key, { minLength: 1, maxLength: 4 }),
      (secret, make, path) => {
        // Built by JSON.parse: `__proto__` is an own key, as in a parsed request body.
        let json = JSON.stringify(make(secret));
        for (const k of [...path].reverse()) json = `{${JSON.stringify(k)}:${json}}`;
        const value = JSON.parse(json) as unknown;
        const out = redactDeep(value);
        const seen: unknown[] = [];
        const walk = (v: unknown): void => {
          if (typeof v === 'string') seen.push(v);
          else if (typeof v === 'object' && v !== null) {
            assert.equal(
              Object.getPrototypeOf(v),
              Array.isArray(v) ? Array.prototype : Object.prototype,
            );
            for (const child of Object.values(v)) walk(child);
          }
        };
        walk(out);
        for (const text of seen) assert.ok(!String(text).includes(secret), JSON.stringify(out));
      },
    ),
    { numRuns: 1000 },
  );
});

test("regression: a `__proto__` member stays a redacted member, not the copy's prototype", () => {
  // Found by the nested property: `out[key] = …` with key `__proto__` replaced the copy's
  // prototype, so the member vanished from the log line and its fields were inherited.
  const value = JSON.parse('{"__proto__":{"password":"hunter2"},"a":1}') as object;
  const out = redactDeep(value) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.equal(JSON.stringify(out), '{"__proto__":{"password":"[redacted]"},"a":1}');
});

/**
 * The regular expressions redact.ts used before its linear scans (0f5dce0): the reference the
 * scans must agree with on short text, where the expressions' backtracking costs nothing.
 */
const SECRET_NAME_BEFORE =
  '[A-Za-z0-9_.-]*(?:token|passw(?:or)?d|secret|auth|signature|credential|api[-_]?key|session|access[-_]?key)[A-Za-z0-9_.-]*';
const PATTERNS_BEFORE: readonly [RegExp, string][] = [
  [/\b(Bearer|Basic)\s+(?!\[redacted\])[A-Za-z0-9._~+/=-]+/g, `$1 ${REDACTED}`],
  [/(\/-\/user\/token\/)[^/?#\s"']+/gi, `$1${REDACTED}`],
  [/(\/-\/npm\/v1\/tokens\/token\/)[^/?#\s"']+/gi, `$1${REDACTED}`],
  [/(%2F-%2Fuser%2Ftoken%2F)[^/?#&\s"']+/gi, `$1${REDACTED}`],
  // Without the `\b` it had: a token after a letter, digit or `_` (`x_nra_…`) is a token too.
  [/(nra|nora)_(?=[A-Za-z0-9_-]*[A-Z])[A-Za-z0-9_-]{30,}/g, `$1_${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, REDACTED],
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^/?#\s@"']+@/gi, `$1${REDACTED}@`],
  [new RegExp(`([?&;]${SECRET_NAME_BEFORE}=)[^&#\\s"']*`, 'gi'), `$1${REDACTED}`],
  [
    new RegExp(
      `(\\b${SECRET_NAME_BEFORE}["']?\\s*(?:=\\s*["']?|:\\s*["']|:(?=[^\\s"'])|(?<=["'])\\s*:\\s*))(?!\\[redacted\\]|Bearer\\b|Basic\\b)[^\\s"',&}]+`,
      'gi',
    ),
    `$1${REDACTED}`,
  ],
  [/(\bhttps?:\/\/[^|\s,]*\|)[^|,\s"']+/gi, `$1${REDACTED}`],
];
function redactBefore(text: string): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS_BEFORE) out = out.replace(pattern, replacement);
  return out;
}

/** Text made of the pieces the patterns look for, in any order. */
const patternSoup = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        'a',
        'Z',
        '0',
        '_',
        '-',
        '.',
        '+',
        ':',
        '/',
        '//',
        '://',
        '?',
        '&',
        ';',
        '=',
        '@',
        '|',
        ',',
        ' ',
        '"',
        "'",
        '#',
        '}',
        '[redacted]',
        'token',
        'Token',
        'password',
        'auth',
        'api-key',
        'nra_',
        'nora_',
        'eyJ',
        'http',
        'https://',
        'Bearer ',
        'Basic ',
        '/-/user/token/',
        'ABCDEFGHIJKLMNOPQRSTUVWXYZabcd',
      ),
      fc.string({ maxLength: 3 }),
    ),
    { maxLength: 24 },
  )
  .map((parts) => parts.join(''));

test('redactText agrees with the regular expressions it replaced (differential)', () => {
  fc.assert(
    fc.property(patternSoup, (text) => {
      assert.equal(redactText(text), redactBefore(text), JSON.stringify(text));
    }),
    { numRuns: 5000 },
  );
});

test('regression: redaction is linear on long runs of pattern characters (was cubic)', () => {
  // The access log redacts every request URL (8 KiB at most). `tokena.` repeated to 5.6 KB took
  // 4 s, to 8 KB 12 s (the secret-name pattern); `a-` repeated 85 ms (URL userinfo's scheme);
  // `eyJ-` 94 ms (JWT); `http://` 41 ms (upstream credentials).
  const units = ['tokena.', 'a.', 'a-', 'nra-', 'x-nra_', 'eyJ-', '-eyJa', 'http://', 'token:'];
  for (const unit of units) {
    const text = `/${unit.repeat(Math.ceil(65_536 / unit.length))}`;
    redactText(text.slice(0, 1000)); // compiled before timing
    // CPU time, not wall time: the bound is on the work (the cubic version took seconds of CPU
    // for 8 KB); a loaded CI machine stretches wall time, not this.
    const started = cpuNow();
    redactText(text);
    const ms = cpuNow() - started;
    assert.ok(
      ms < 500,
      `${JSON.stringify(unit)} × ${text.length / unit.length}: ${ms.toFixed(0)} ms`,
    );
  }
});
