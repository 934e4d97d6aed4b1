/**
 * Maven's version order (maven-artifact's `ComparableVersion`, as documented in the POM reference,
 * "Version Order Specification", and in ComparableVersion's javadoc), re-implemented from that
 * description: it decides `latest`/`release` and the order of `<versions>` in maven-metadata.xml.
 *
 * The algorithm, as Maven 3.8 (Debian's mvn 3.8.7, the client tested here) applies it:
 * - The version is lower-cased and split into items at `.`, at `-` and at every transition between
 *   digits and other characters. An empty item (`1..2`, `1-`) is the number 0.
 * - A `-`, and a digit/letter transition, open a nested list: `1-alpha-2` is `[1, [alpha, [2]]]`,
 *   `1.0alpha1` is `[1, 0, [alpha, [1]]]`. A `.` keeps adding to the current list, except that a
 *   qualifier followed by a digit (`1.0.rc2`) or ending the version (`1.0.foo`) after other items
 *   opens a nested list too, i.e. `.X` counts as `-X` there (`1.0.RC2` = `1-rc-2`).
 * - An item of digits is a number (arbitrary size). Any other item is a qualifier string; `a`, `b`,
 *   `m` directly followed by a digit mean `alpha`, `beta`, `milestone`; `ga`, `final` and
 *   `release` mean the empty string, `cr` means `rc`.
 * - Each list then drops its trailing "null" items (0, the empty qualifier, an empty list),
 *   looking past nested lists at its end: `1.0.0` = `1`, `1.0-a` = `1-a`, `1-ga` = `1`.
 * - Comparison walks both lists; a missing item compares as "null" (so `1` = `1.0`). Numbers
 *   compare numerically and beat qualifiers and lists (`1.1 > 1-1 > 1-sp`); qualifiers order as
 *   alpha < beta < milestone < rc < snapshot < "" < sp < any other qualifier, those lexically; a
 *   list beats a qualifier (`1-1 > 1-sp`).
 *
 * Only ASCII `0-9` count as digits.
 */

/** A parsed version item: number (digits without leading zeros), qualifier, or nested list. */
type Item =
  | { readonly kind: 'int'; readonly digits: string }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'list'; readonly items: Item[] };

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const RELEASE_INDEX = String(QUALIFIERS.indexOf(''));
const ALIASES: Readonly<Record<string, string>> = {
  ga: '',
  final: '',
  release: '',
  cr: 'rc',
};

/** The sort key of a qualifier: its rank among the known ones, else after them all, lexically. */
function comparableQualifier(value: string): string {
  const index = QUALIFIERS.indexOf(value);
  return index === -1 ? `${QUALIFIERS.length}-${value}` : String(index);
}

function intItem(digits: string): Item {
  return { kind: 'int', digits: digits.replace(/^0+/, '') };
}

function stringItem(value: string, followedByDigit: boolean): Item {
  let v = value;
  if (followedByDigit && v.length === 1) {
    if (v === 'a') v = 'alpha';
    else if (v === 'b') v = 'beta';
    else if (v === 'm') v = 'milestone';
  }
  // Own keys only: a qualifier `constructor` or `__proto__` would find Object.prototype's members.
  return { kind: 'string', value: Object.hasOwn(ALIASES, v) ? (ALIASES[v] ?? v) : v };
}

function isDigitCode(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isNull(item: Item): boolean {
  switch (item.kind) {
    case 'int':
      return item.digits === '';
    case 'string':
      return item.value === '';
    case 'list':
      return item.items.length === 0;
  }
}

/** Drops trailing null items, looking past nested lists (they were normalised first). */
function normalize(list: Item[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const item = list[i] as Item;
    if (isNull(item)) list.splice(i, 1);
    else if (item.kind !== 'list') break;
  }
}

/** Parses a version string into its item tree (see the module comment). Never throws. */
function parse(version: string): Item[] {
  const text = version.toLowerCase();
  const root: Item[] = [];
  let list = root;
  const stack: Item[][] = [root];
  let isDigit = false;
  let start = 0;
  const item = (digit: boolean, part: string): Item =>
    digit ? intItem(part) : stringItem(part, false);
  const openList = (): void => {
    const nested: Item[] = [];
    list.push({ kind: 'list', items: nested });
    list = nested;
    stack.push(nested);
  };
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 46 /* . */) {
      list.push(i === start ? intItem('0') : item(isDigit, text.slice(start, i)));
      start = i + 1;
    } else if (code === 45 /* - */) {
      list.push(i === start ? intItem('0') : item(isDigit, text.slice(start, i)));
      start = i + 1;
      openList();
    } else if (isDigitCode(code)) {
      if (!isDigit && i > start) {
        // `.X1` is treated as `-X1`: a qualifier never sits beside earlier items of its list.
        if (list.length > 0) openList();
        list.push(stringItem(text.slice(start, i), true));
        start = i;
        openList();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        list.push(intItem(text.slice(start, i)));
        start = i;
        openList();
      }
      isDigit = false;
    }
  }
  if (text.length > start) {
    // Likewise a trailing `.X`: `1.0.foo` = `1-foo`.
    if (!isDigit && list.length > 0) openList();
    list.push(item(isDigit, text.slice(start)));
  }
  for (let i = stack.length - 1; i >= 0; i--) normalize(stack[i] as Item[]);
  return root;
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return sign(a.length - b.length);
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `item` against an absent item (the shorter version's padding). */
function compareToNull(item: Item): number {
  switch (item.kind) {
    case 'int':
      return item.digits === '' ? 0 : 1;
    case 'string':
      return compareStrings(comparableQualifier(item.value), RELEASE_INDEX);
    case 'list':
      // Every item in turn, not only the first (Maven 3.8's MNG-6964 fix): `0.2-0.2-m` > `0.2`.
      for (const nested of item.items) {
        const result = compareToNull(nested);
        if (result !== 0) return result;
      }
      return 0;
  }
}

function compareItems(left: Item | undefined, right: Item | undefined): number {
  if (left === undefined) return right === undefined ? 0 : -compareToNull(right);
  if (right === undefined) return compareToNull(left);
  switch (left.kind) {
    case 'int':
      return right.kind === 'int' ? compareDigits(left.digits, right.digits) : 1;
    case 'string':
      if (right.kind === 'int') return -1;
      if (right.kind === 'list') return -1;
      return compareStrings(comparableQualifier(left.value), comparableQualifier(right.value));
    case 'list':
      if (right.kind === 'int') return -1;
      if (right.kind === 'string') return 1;
      return compareLists(left.items, right.items);
  }
}

function compareLists(left: readonly Item[], right: readonly Item[]): number {
  const length = Math.max(left.length, right.length);
  for (let i = 0; i < length; i++) {
    const result = compareItems(left[i], right[i]);
    if (result !== 0) return result;
  }
  return 0;
}

/** Parsed versions, for sorting long lists without re-parsing (bounded). */
const parsedCache = new Map<string, Item[]>();
const PARSED_CACHE_MAX = 10_000;

function parsed(version: string): Item[] {
  let items = parsedCache.get(version);
  if (items === undefined) {
    items = parse(version);
    if (parsedCache.size >= PARSED_CACHE_MAX) parsedCache.clear();
    parsedCache.set(version, items);
  }
  return items;
}

/**
 * Compares two Maven versions in Maven's order: negative when `a` comes before `b`, 0 when Maven
 * considers them equal (`1` = `1.0` = `1-ga`), positive otherwise. Total and never throws, for any
 * strings (as Maven's is). Use as an `Array.prototype.sort` comparator.
 */
export function compareMavenVersions(a: string, b: string): number {
  if (a === b) return 0;
  return compareLists(parsed(a), parsed(b));
}

/** `1.0-20261130.101010-3`: a timestamped snapshot build (groups: base, timestamp, build number). */
export const TIMESTAMPED_VERSION = /^(.*)-(\d{8}\.\d{6})-(\d+)$/;

/**
 * Whether `version` is a snapshot: it ends with `SNAPSHOT` (any case, as Maven's
 * ArtifactUtils.isSnapshot) or is a timestamped snapshot build (`1.0-20261130.101010-3`).
 */
export function isSnapshot(version: string): boolean {
  return version.toUpperCase().endsWith('SNAPSHOT') || TIMESTAMPED_VERSION.test(version);
}

/**
 * The base version of a timestamped snapshot build: `1.0-20261130.101010-3` → `1.0-SNAPSHOT`; any
 * other version is returned as it is.
 */
export function baseVersion(version: string): string {
  const match = TIMESTAMPED_VERSION.exec(version);
  return match ? `${match[1] as string}-SNAPSHOT` : version;
}
