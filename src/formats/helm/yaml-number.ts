/**
 * What Helm makes of a plain YAML number in a Chart.yaml string field (`appVersion: 1.20`).
 *
 * Helm reads Chart.yaml with sigs.k8s.io/yaml: go-yaml v2 resolves the plain scalar (YAML 1.1
 * rules: `_` ignored, `0x`/`0o`/`0b`/leading-`0` integer bases, then a float), and the
 * YAML-to-JSON step turns a number bound for a Go string into text — an integer in base 10, a
 * float through `strconv.FormatFloat(v, 'g', -1, 32)`, i.e. rounded to float32 first. So
 * `1.20` becomes `1.2` and `1.23456789` becomes `1.2345679`, `12345678.0` becomes
 * `1.2345678e+07`. The JS `yaml` package keeps 64-bit floats, so its reading cannot say this.
 */

/** go-yaml v2's YAML 1.1 booleans (its resolve table), which Helm writes as `true`/`false`. */
const YAML11_TRUE = new Set([
  'y',
  'Y',
  'yes',
  'Yes',
  'YES',
  'true',
  'True',
  'TRUE',
  'on',
  'On',
  'ON',
]);
const YAML11_FALSE = new Set([
  'n',
  'N',
  'no',
  'No',
  'NO',
  'false',
  'False',
  'FALSE',
  'off',
  'Off',
  'OFF',
]);

/**
 * What Helm reads for a plain scalar written as `written` bound for a Chart.yaml string field,
 * with what YAML 1.1 makes of it: `{ text: 'true', kind: 'boolean' }` for `yes`/`on`/`y`…,
 * `{ text: '1.2', kind: 'number' }` for `1.20` (helmNumberText); undefined when go-yaml v2 keeps
 * it as text (Helm then reads it as written).
 */
export function helmScalarText(
  written: string,
): { text: string; kind: 'boolean' | 'number' } | undefined {
  if (YAML11_TRUE.has(written)) return { text: 'true', kind: 'boolean' };
  if (YAML11_FALSE.has(written)) return { text: 'false', kind: 'boolean' };
  const text = helmNumberText(written);
  return text === undefined ? undefined : { text, kind: 'number' };
}

/** go-yaml v2's float pattern for a plain scalar, after `_` is removed. */
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
/** Go's `strconv.ParseInt(s, 0, 64)` syntax (base prefix or leading-0 octal), sign allowed. */
const GO_INT = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[1-9][0-9]*|0)$/;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * The text Helm reads for a plain YAML scalar written as `written` bound for a string field;
 * undefined when go-yaml v2 would not read `written` as a number (Helm then keeps the text as
 * written). Special floats: `.inf` → `+Inf`, `-.inf` → `-Inf`, `.nan` → `NaN`, as Go prints them.
 */
export function helmNumberText(written: string): string | undefined {
  const number = goYamlNumber(written);
  if (number === undefined) return undefined;
  return number.kind === 'int' ? number.value.toString() : formatFloat32Shortest(number.value);
}

/**
 * go-yaml v2's resolve of a scalar as a number: an int (int64, then uint64) or a float64;
 * undefined when it stays text. Its first character decides whether a number is tried at all
 * (its resolve table: a digit, a sign or `.`; `_1000` is text), `_` is dropped except after a
 * leading `.` (that case goes to Go's ParseFloat as written, which refuses `_`), and a float
 * out of float64's range is text too (Go's ParseFloat fails with a range error: `1e400` is read
 * as "1e400", not +Inf).
 */
function goYamlNumber(
  written: string,
): { kind: 'int'; value: bigint } | { kind: 'float'; value: number } | undefined {
  const special = /^([-+]?)\.(inf|Inf|INF)$/.exec(written);
  if (special) return { kind: 'float', value: special[1] === '-' ? -Infinity : Infinity };
  if (/^\.(nan|NaN|NAN)$/.test(written)) return { kind: 'float', value: NaN };
  if (!/^[-+.0-9]/.test(written)) return undefined;
  const plain = written.startsWith('.') ? written : written.replaceAll('_', '');
  const int = GO_INT.exec(plain);
  if (int) {
    const [, sign, digits] = int as unknown as [string, string, string];
    const magnitude = parseGoUnsigned(digits);
    const value = sign === '-' ? -magnitude : magnitude;
    // int64 first, then uint64 (no sign), as go-yaml v2's resolve; past both it tries a float.
    if (value >= INT64_MIN && value < -INT64_MIN) return { kind: 'int', value };
    if (sign === '' && value <= UINT64_MAX) return { kind: 'int', value };
  }
  if (!YAML_FLOAT.test(plain)) return undefined;
  const value = Number(plain);
  return Number.isFinite(value) ? { kind: 'float', value } : undefined;
}

/** What Helm makes of a scalar with its tag: see helmWrittenScalar. */
export type HelmScalarReading =
  | {
      /** The text Helm's string field holds; undefined for a null (the field is absent). */
      readonly text: string | undefined;
      readonly kind: 'boolean' | 'number' | 'timestamp' | 'binary' | 'null';
    }
  | {
      /** go-yaml's words for a scalar it cannot decode as its tag says; Helm refuses the file. */
      readonly refused: string;
    };

/** How a scalar was written: its text (quotes and escapes resolved), explicit tag and style. */
export interface WrittenScalar {
  readonly source: string;
  /** The explicit tag, as the `yaml` package names it (`tag:yaml.org,2002:bool`, `!foo`). */
  readonly tag: string | undefined;
  /** A plain (unquoted, not block) scalar: only those are resolved when untagged. */
  readonly plain: boolean;
}

/** The YAML 1.1 tags go-yaml v2 resolves (its resolvableTag); any other tag keeps the text. */
const RESOLVED_TAGS = new Set(['!!bool', '!!int', '!!float', '!!null', '!!timestamp']);
const NULLS = new Set(['~', 'null', 'Null', 'NULL', '']);

/**
 * What Helm (sigs.k8s.io/yaml over go-yaml v2) reads into a Chart.yaml or index.yaml string field
 * for a scalar written as `written`, explicit tag included (trial 23 fmts F1):
 * - untagged plain: helmScalarText (`yes` → "true", `1.20` → "1.2"); untagged quoted: the text;
 * - `!!str` and tags go-yaml does not resolve (`!foo`, `!`): the text (undefined);
 * - `!!bool`, `!!int`, `!!float`, `!!null`, `!!timestamp`: go-yaml resolves the text as YAML 1.1
 *   whatever its style, and the result must be of the tag's type (an int is taken as a
 *   `!!float`): `!!bool yes` → "true", `!!int 017` → "15", `!!int 1_000` → "1000",
 *   `!!float .inf` → "+Inf", `!!timestamp 2021-01-01` → "2021-01-01" (go-yaml keeps a
 *   timestamp's text for a non-time target); otherwise `{ refused }` with go-yaml's error
 *   (`cannot decode !!str \`1e400\` as a !!float`);
 * - `!!binary`: the base64 text decoded (refused when it is not base64).
 * undefined when Helm reads the text as written.
 */
export function helmWrittenScalar(written: WrittenScalar): HelmScalarReading | undefined {
  const { source, plain } = written;
  const tag = written.tag?.replace(/^tag:yaml\.org,2002:/, '!!');
  if (tag === undefined) return plain ? helmScalarText(source) : undefined;
  if (tag === '!!binary') {
    const base64 = source.replace(/[\r\n]/g, '');
    if (base64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) {
      return { refused: `illegal base64 data in !!binary \`${source}\`` };
    }
    return { text: Buffer.from(base64, 'base64').toString('utf8'), kind: 'binary' };
  }
  if (!RESOLVED_TAGS.has(tag)) return undefined;
  const resolved = goYamlResolve(source, tag === '!!timestamp');
  const refuse = () => ({
    refused: `cannot decode ${resolved.tag} \`${source}\` as a ${tag}`,
  });
  switch (tag) {
    case '!!bool':
      return resolved.tag === '!!bool' ? { text: resolved.text, kind: 'boolean' } : refuse();
    case '!!int':
      return resolved.tag === '!!int' ? { text: resolved.text, kind: 'number' } : refuse();
    case '!!float':
      return resolved.tag === '!!float' || resolved.tag === '!!int'
        ? { text: formatFloat32Shortest(resolved.float), kind: 'number' }
        : refuse();
    case '!!null':
      return resolved.tag === '!!null' ? { text: undefined, kind: 'null' } : refuse();
    default:
      return resolved.tag === '!!timestamp' ? { text: source, kind: 'timestamp' } : refuse();
  }
}

/** go-yaml v2's resolve of a scalar's text: its type, Helm's text for it, its float value. */
function goYamlResolve(
  source: string,
  timestamp: boolean,
): { tag: string; text: string; float: number } {
  if (YAML11_TRUE.has(source)) return { tag: '!!bool', text: 'true', float: NaN };
  if (YAML11_FALSE.has(source)) return { tag: '!!bool', text: 'false', float: NaN };
  if (NULLS.has(source)) return { tag: '!!null', text: '', float: NaN };
  // Timestamps are tried before numbers, only for an explicit !!timestamp here (untagged ones
  // are kept as their text by go-yaml for a non-time target, as every other reader keeps them).
  if (timestamp && isGoYamlTimestamp(source)) {
    return { tag: '!!timestamp', text: source, float: NaN };
  }
  const number = goYamlNumber(source);
  if (number === undefined) return { tag: '!!str', text: source, float: NaN };
  return number.kind === 'int'
    ? { tag: '!!int', text: number.value.toString(), float: Number(number.value) }
    : { tag: '!!float', text: formatFloat32Shortest(number.value), float: number.value };
}

/**
 * go-yaml v2's timestamp forms (its allowedTimestampFormats): `2006-1-2`,
 * `2006-1-2T15:4:5.999999999Z07:00` (`t` too) and `2006-1-2 15:4:5.999999999`, with Go's range
 * checks on month, day, hour, minute and second.
 */
function isGoYamlTimestamp(source: string): boolean {
  const m =
    /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?))?$/.exec(
      source,
    );
  if (m === null) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const hour = Number(m[4] ?? m[7] ?? 0);
  const minute = Number(m[5] ?? m[8] ?? 0);
  const second = Number(m[6] ?? m[9] ?? 0);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    hour < 24 &&
    minute < 60 &&
    second < 60
  );
}

/** `0x1f`, `017` / `0o17`, `0b101` or decimal digits (no sign) as a BigInt, as Go's base 0. */
function parseGoUnsigned(digits: string): bigint {
  const prefix = digits.slice(0, 2).toLowerCase();
  if (prefix === '0x' || prefix === '0b') return BigInt(digits.toLowerCase());
  if (prefix === '0o') return BigInt(`0o${digits.slice(2)}`);
  if (digits.length > 1 && digits.startsWith('0')) return BigInt(`0o${digits.slice(1)}`);
  return BigInt(digits);
}

/**
 * Go's `strconv.FormatFloat(v, 'g', -1, 32)`: v rounded to float32, its shortest digits that
 * read back to the same float32, in %e form when the decimal exponent is < -4 or >= 6 (Go's
 * "shortest" rule uses precision 6 for that choice), with at least two exponent digits.
 */
function formatFloat32Shortest(value: number): string {
  const f = Math.fround(value);
  if (Number.isNaN(f)) return 'NaN';
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  let exponential = f.toExponential(8);
  for (let p = 1; p <= 9; p++) {
    const candidate = f.toExponential(p - 1);
    if (Math.fround(Number(candidate)) === f) {
      exponential = candidate;
      break;
    }
  }
  const [mantissa, expText] = exponential.split('e') as [string, string];
  const negative = mantissa.startsWith('-');
  const exp = Number(expText);
  const digits = evenOnTie(f, mantissa.replace('-', '').replace('.', ''), exp);
  const sign = negative ? '-' : '';
  if (exp < -4 || exp >= 6) {
    const rest = digits.slice(1);
    const e = Math.abs(exp).toString().padStart(2, '0');
    return `${sign}${digits[0]}${rest === '' ? '' : `.${rest}`}e${exp < 0 ? '-' : '+'}${e}`;
  }
  // %f with as many decimals as the digits reach past the point.
  const point = exp + 1;
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/**
 * `digits` (the shortest ones toExponential chose for f, `exp` their decimal exponent) with the
 * tie rule Go's shortest formatting keeps: when f lies exactly halfway between two shortest
 * candidates, Go takes the even last digit where toExponential takes the larger one (3084742.25
 * is 3.0847422e+06 to Go). f's exact decimal expansion decides the tie (toPrecision(100) holds
 * it for any value a Chart.yaml field would hold).
 */
function evenOnTie(f: number, digits: string, exp: number): string {
  const last = Number(digits.at(-1));
  if (last % 2 === 0) return digits;
  const [exactMantissa = ''] = Math.abs(f).toExponential(99).split('e');
  const exact = exactMantissa.replace('.', '');
  if (!/^50*$/.test(exact.slice(digits.length))) return digits;
  const lower = `${digits.slice(0, -1)}${last - 1}`;
  const value = Number(`${lower[0]}.${lower.slice(1)}e${exp}`);
  return Math.fround(value) === Math.abs(f) ? lower : digits;
}

/**
 * An upstream index.yaml value Helm cannot read, put in place of the value before the entry is
 * checked (upstream-index.ts): chartMetadata skips the entry with `message`.
 */
export class HelmRefusal {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}
