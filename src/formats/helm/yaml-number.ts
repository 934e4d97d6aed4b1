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
  const special = /^([-+]?)\.(inf|Inf|INF)$/.exec(written);
  if (special) return special[1] === '-' ? '-Inf' : '+Inf';
  if (/^\.(nan|NaN|NAN)$/.test(written)) return 'NaN';
  const plain = written.replaceAll('_', '');
  const int = GO_INT.exec(plain);
  if (int) {
    const [, sign, digits] = int as unknown as [string, string, string];
    const magnitude = parseGoUnsigned(digits);
    const value = sign === '-' ? -magnitude : magnitude;
    // int64 first, then uint64 (no sign), as go-yaml v2's resolve; past both it tries a float.
    if (value >= INT64_MIN && value < -INT64_MIN) return value.toString();
    if (sign === '' && value <= UINT64_MAX) return value.toString();
  }
  if (!YAML_FLOAT.test(plain)) return undefined;
  return formatFloat32Shortest(Number(plain));
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
