/**
 * What a V8 `.cpuprofile` (--cpu-prof, or the inspector's Profiler.stop) spent its samples on:
 * the functions with the most self time, and the inclusive ("total") share of NORA's own
 * functions (src/), each counted once per sample however deep it recurses. Not part of `npm test`.
 *
 *   node bench/profile-top.ts FILE.cpuprofile [TOP=40]      PROFILE_WINDOW=<from>-<to> PROFILE_ALL=1
 *
 * Shares are of the non-idle samples (`(idle)` and `(program)` excluded from the denominator but
 * `(garbage collector)` kept). Frames are named `function file:line` with file relative to the
 * project (node_modules/<package>/…, node:<module>).
 */
import fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (file === undefined) throw new Error('usage: node bench/profile-top.ts FILE.cpuprofile [TOP]');
const top = Number(process.argv[3] ?? 40);
/** PROFILE_ALL=1: the inclusive list names every function, not only NORA's. */
const ALL = process.env['PROFILE_ALL'] === '1';
/**
 * PROFILE_WINDOW=<from>-<to>: only the samples taken in that span, in µs of the profile's clock
 * (its `startTime` is in the same one: on Linux CLOCK_MONOTONIC, which the benchmark process reads
 * as `process.hrtime.bigint() / 1000n`, so a bench can print the span of one phase). Several
 * spans: comma-separated.
 */
const WINDOWS = (process.env['PROFILE_WINDOW'] ?? '')
  .split(',')
  .filter((w) => w !== '')
  .map((w) => w.split('-').map(Number) as [number, number]);
const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;

const byId = new Map<number, ProfileNode>();
const parent = new Map<number, number>();
for (const node of profile.nodes) {
  byId.set(node.id, node);
  for (const child of node.children ?? []) parent.set(child, node.id);
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  let where = url.replace(/^file:\/\//, '');
  const modules = where.lastIndexOf('/node_modules/');
  if (modules >= 0) where = where.slice(modules + 1);
  else {
    const src = where.search(/\/(src|bin|bench|test)\//);
    if (src >= 0) where = where.slice(src + 1);
  }
  return `${functionName === '' ? '(anonymous)' : functionName} ${where}${where === '' ? '' : `:${lineNumber + 1}`}`;
}

/** Which part of the process a frame belongs to. */
function area(node: ProfileNode): string {
  const url = node.callFrame.url;
  if (url === '')
    return node.callFrame.functionName.startsWith('(') ? node.callFrame.functionName : '(native)';
  if (url.startsWith('node:')) return 'node:*';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return `node_modules/${rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const src = url.search(/\/src\//);
  if (src >= 0)
    return url
      .slice(src + 1)
      .split('/')
      .slice(0, 3)
      .join('/');
  return url;
}

const self = new Map<string, number>();
const total = new Map<string, number>();
const areas = new Map<string, number>();
const areasTotal = new Map<string, number>();
let counted = 0;
const skipped = new Set(['(idle)', '(program)']);
let sampledAt = profile.startTime;
for (const [i, id] of profile.samples.entries()) {
  sampledAt += profile.timeDeltas[i] ?? 0;
  if (WINDOWS.length > 0 && !WINDOWS.some(([from, to]) => sampledAt >= from && sampledAt <= to))
    continue;
  const leaf = byId.get(id);
  if (leaf === undefined || skipped.has(leaf.callFrame.functionName)) continue;
  counted += 1;
  const leafName = frameName(leaf);
  self.set(leafName, (self.get(leafName) ?? 0) + 1);
  const leafArea = area(leaf);
  areas.set(leafArea, (areas.get(leafArea) ?? 0) + 1);
  const seen = new Set<string>();
  const seenAreas = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const node = byId.get(at);
    if (node === undefined) continue;
    const nodeArea = area(node);
    if (!seenAreas.has(nodeArea)) {
      seenAreas.add(nodeArea);
      areasTotal.set(nodeArea, (areasTotal.get(nodeArea) ?? 0) + 1);
    }
    if (!(ALL || /\/src\//.test(node.callFrame.url))) continue;
    const name = frameName(node);
    if (seen.has(name)) continue;
    seen.add(name);
    total.set(name, (total.get(name) ?? 0) + 1);
  }
}

const pct = (n: number): string => `${((100 * n) / counted).toFixed(1).padStart(5)}%`;
const sorted = (m: Map<string, number>): [string, number][] =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
const interval =
  profile.timeDeltas.length === 0
    ? 0
    : profile.timeDeltas.reduce((a, b) => a + b, 0) / profile.timeDeltas.length;
console.log(
  `${counted} non-idle samples of ${profile.samples.length} (≈${interval.toFixed(0)} µs apart)`,
);
console.log('\nself time by area (leaf frame):');
for (const [name, n] of sorted(areas)) console.log(`${pct(n)}  ${name}`);
console.log('\ninclusive by area (any frame of the stack):');
for (const [name, n] of sorted(areasTotal)) console.log(`${pct(n)}  ${name}`);
console.log('\nself time by function:');
for (const [name, n] of sorted(self)) console.log(`${pct(n)}  ${name}`);
console.log(ALL ? '\nall functions, inclusive:' : "\nNORA's own functions (src/), inclusive:");
for (const [name, n] of sorted(total)) console.log(`${pct(n)}  ${name}`);
