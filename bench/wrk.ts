/**
 * wrk runs, and NORA side by side with a reference server in alternating pairs (every bench
 * had its own copy of the runner, and measured NORA once and the reference once: on this 2-core
 * machine two runs of the same server minutes apart differ by up to ±40%, so a single pair's
 * ratio near a target line was a coin flip).
 *
 * `compareRates` runs an untimed warm-up of each side, then BENCH_PAIRS (default 3) pairs of
 * measured runs, the order within a pair alternating (NORA first, then the reference first, …),
 * and reports the median of the per-pair ratios with every pair's figures, so a verdict rests on
 * three side-by-side comparisons made under the same conditions rather than one.
 */
import { run } from '../test/helpers/tools.ts';
import { cpuSeconds, median } from './harness.ts';

/** Measured pairs per comparison (BENCH_PAIRS, default 3). */
export const PAIRS = Math.max(1, Math.floor(Number(process.env['BENCH_PAIRS'] ?? 3)) || 3);

export interface WrkOptions {
  /** Open connections (wrk -c); 2 threads always (the machine has 2 cores). Default 16. */
  readonly connections?: number;
  /** Duration of one run, in seconds. */
  readonly seconds: number;
  /** Request headers, name → value. */
  readonly headers?: Readonly<Record<string, string>>;
  /** A Lua script (wrk -s) and its arguments (after `--`). */
  readonly script?: string;
  readonly scriptArgs?: readonly string[];
}

export interface WrkRun {
  /** Requests per second, as wrk reports it. */
  readonly rps: number;
  /** Requests completed in the run. */
  readonly requests: number;
  /** Body bytes per second, in MiB/s. */
  readonly mbps: number;
  /** Answers that were not 2xx/3xx. */
  readonly errors: number;
  /** Requests wrk gave up on (its 2 s timeout). */
  readonly timeouts: number;
}

/** One wrk run against `url`. Throws when wrk fails to run; error answers are counted, not thrown. */
export async function wrk(url: string, options: WrkOptions): Promise<WrkRun> {
  const args = ['-t2', `-c${options.connections ?? 16}`, `-d${options.seconds}s`];
  for (const [name, value] of Object.entries(options.headers ?? {}))
    args.push('-H', `${name}: ${value}`);
  if (options.script !== undefined) args.push('-s', options.script);
  args.push(url);
  if (options.scriptArgs !== undefined) args.push('--', ...options.scriptArgs);
  const out = (await run('wrk', args, { timeoutMs: (options.seconds + 30) * 1000 })).stdout;
  const transfer = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/.exec(out);
  const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[transfer?.[2] ?? 'B'] ?? 1;
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN),
    mbps: (Number(transfer?.[1] ?? 0) * unit) / 1024 ** 2,
    errors: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
    timeouts: Number(/Socket errors:.*timeout (\d+)/.exec(out)?.[1] ?? 0),
  };
}

/** One side of a comparison. */
export interface Side {
  readonly url: string;
  /** Whose CPU to count per request (NORA's process). */
  readonly pid?: number | undefined;
  /**
   * Script arguments of run `n` (0 = the warm-up, then 1, 2, …), for scripts that must not
   * repeat themselves (PUTs of new paths); default: options.scriptArgs.
   */
  readonly scriptArgs?: (n: number) => readonly string[];
  /** Request headers of this side only, added to options.headers. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Comparison {
  readonly nora: readonly WrkRun[];
  readonly reference: readonly WrkRun[];
  /** Median of the per-pair ratios NORA rps / reference rps. */
  readonly ratio: number;
  /** Medians of each side's rates, req/s. */
  readonly noraRps: number;
  readonly referenceRps: number;
  /** NORA's CPU (user + system) per request over its measured runs, in µs; NaN without a pid. */
  readonly cpuMicros: number;
  /** Error answers or timeouts on either side, summed over the measured runs. */
  readonly errors: number;
  readonly timeouts: number;
}

/**
 * NORA and a reference side by side: one untimed warm-up run of each (a server in service has
 * compiled its hot path; `warmSeconds`, default min(2, seconds)), then `pairs` (default PAIRS)
 * pairs of measured runs, NORA first in odd pairs and the reference first in even ones.
 */
export async function compareRates(
  nora: Side,
  reference: Side,
  options: WrkOptions & { readonly pairs?: number; readonly warmSeconds?: number },
): Promise<Comparison> {
  const pairs = options.pairs ?? PAIRS;
  const runs = { nora: [] as WrkRun[], reference: [] as WrkRun[] };
  let cpu = 0;
  const once = async (side: Side, n: number, seconds: number): Promise<WrkRun> => {
    const before = await cpuSeconds(side.pid);
    const result = await wrk(side.url, {
      ...options,
      seconds,
      headers: { ...options.headers, ...side.headers },
      ...(side.scriptArgs === undefined ? {} : { scriptArgs: side.scriptArgs(n) }),
    });
    if (side === nora && n > 0) cpu += (await cpuSeconds(side.pid)) - before;
    return result;
  };
  const warm = options.warmSeconds ?? Math.min(2, options.seconds);
  await once(nora, 0, warm);
  await once(reference, 0, warm);
  const ratios: number[] = [];
  for (let n = 1; n <= pairs; n++) {
    const order = n % 2 === 1 ? [nora, reference] : [reference, nora];
    const [first, second] = [
      await once(order[0]!, n, options.seconds),
      await once(order[1]!, n, options.seconds),
    ];
    const [ours, theirs] = order[0] === nora ? [first, second] : [second, first];
    runs.nora.push(ours);
    runs.reference.push(theirs);
    ratios.push(ours.rps / theirs.rps);
  }
  const all = [...runs.nora, ...runs.reference];
  const noraRequests = runs.nora.reduce((sum, r) => sum + r.requests, 0);
  return {
    ...runs,
    ratio: median(ratios),
    noraRps: median(runs.nora.map((r) => r.rps)),
    referenceRps: median(runs.reference.map((r) => r.rps)),
    cpuMicros: (cpu * 1e6) / noraRequests,
    errors: all.reduce((sum, r) => sum + r.errors, 0),
    timeouts: all.reduce((sum, r) => sum + r.timeouts, 0),
  };
}

/**
 * `NORA 12,345 req/s  nginx 23,456 req/s  0.53× (pairs 0.50 0.53 0.61)  31 µs CPU/req`: the
 * medians, the per-pair ratios, NORA's CPU when measured, and a warning on errors/timeouts.
 */
export function describeComparison(c: Comparison, referenceName = 'nginx', mbps = false): string {
  const rate = (rps: number, runs: readonly WrkRun[]) =>
    `${rps.toFixed(0)} req/s${mbps ? ` (${median(runs.map((r) => r.mbps)).toFixed(0)} MB/s)` : ''}`;
  const pairs = c.nora.map((r, i) => (r.rps / (c.reference[i]?.rps ?? NaN)).toFixed(2)).join(' ');
  const cpu = Number.isFinite(c.cpuMicros) ? `  ${c.cpuMicros.toFixed(0)} µs NORA CPU/req` : '';
  const bad =
    c.errors > 0 || c.timeouts > 0 ? `  ERRORS: ${c.errors} non-2xx, ${c.timeouts} timeouts` : '';
  return `NORA ${rate(c.noraRps, c.nora)}  ${referenceName} ${rate(c.referenceRps, c.reference)}  ${c.ratio.toFixed(2)}× (pairs ${pairs})${cpu}${bad}`;
}
