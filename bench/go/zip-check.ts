/**
 * The proxy's whole-zip check alone (zipIntegrityProblem on zips held in memory), two builds
 * interleaved run by run (A B, B A, …): each run a fresh node process that reads every `.zip`
 * of bench/go's tree as 64 KiB chunks (as a fill's body arrives), then checks them all once
 * (first pass: cold JIT, as a fresh server's first round) and then PASSES times more (JIT-warm),
 * printing the process's CPU (utime + stime, all threads: pool work included) per pass. A build
 * whose check takes one buffer gets the chunks joined, the join counted, as its proxy did.
 * Not part of `npm test`.
 *
 *   ZIPCHECK_A=/tmp/main ZIPCHECK_B=. ZIPCHECK_N=6 node bench/go/zip-check.ts
 *
 * ZIPCHECK_TREE=<dir>: an existing tree (its `*.zip` files); else bench/go's tree is built.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildGotree, buildTree, DEBIAN_MODULES, syntheticModules } from '../../test/helpers/go.ts';
import { log, median, onCleanup, runCleanups } from '../harness.ts';

const N = Number(process.env['ZIPCHECK_N'] ?? 6);
const PASSES = Number(process.env['ZIPCHECK_PASSES'] ?? 10);

/** Runs in the child: `node zip-check.ts child <root> <list file>`. */
async function child(root: string, list: string): Promise<void> {
  const zipModule = (await import(path.join(root, 'src/formats/go/zip.ts'))) as {
    zipIntegrityProblem: (source: Buffer | readonly Buffer[]) => Promise<string | undefined>;
  };
  const files = (await fs.readFile(list, 'utf8')).trim().split('\n');
  const zips: Buffer[][] = [];
  for (const file of files) {
    const bytes = await fs.readFile(file);
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 65_536) {
      chunks.push(Buffer.from(bytes.subarray(at, at + 65_536)));
    }
    zips.push(chunks);
  }
  // A build that takes chunks says so by accepting them; an older one gets them joined.
  let chunked: boolean;
  try {
    chunked = (await zipModule.zipIntegrityProblem(zips[0] ?? [])) === undefined;
  } catch {
    chunked = false;
  }
  const cpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const pass = async (): Promise<void> => {
    for (const chunks of zips) {
      const problem = await zipModule.zipIntegrityProblem(chunked ? chunks : Buffer.concat(chunks));
      if (problem !== undefined) throw new Error(problem);
    }
  };
  let t = cpu();
  await pass();
  const first = cpu() - t;
  t = cpu();
  for (let i = 0; i < PASSES; i++) await pass();
  const warm = (cpu() - t) / PASSES;
  process.stdout.write(`${JSON.stringify({ first, warm, chunked })}\n`);
}

async function main(): Promise<void> {
  let tree = process.env['ZIPCHECK_TREE'];
  if (tree === undefined) {
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-zipcheck-'));
    onCleanup(() => fs.rm(work, { recursive: true, force: true }));
    const gotree = await buildGotree(path.join(work, 'bin'));
    const synthetic = await syntheticModules(path.join(work, 'synthetic'), 45);
    tree = path.join(work, 'www');
    await buildTree(gotree, tree, [...DEBIAN_MODULES, ...synthetic]);
  }
  const zips = execFileSync('find', [tree, '-name', '*.zip'], { encoding: 'utf8' }).trim();
  const list = path.join(os.tmpdir(), `nora-zipcheck-${process.pid}.list`);
  await fs.writeFile(list, `${zips}\n`);
  onCleanup(() => fs.rm(list, { force: true }));
  const roots = {
    A: path.resolve(process.env['ZIPCHECK_A'] ?? '.'),
    B: path.resolve(process.env['ZIPCHECK_B'] ?? '.'),
  };
  log(
    `${zips.split('\n').length} zips; A=${roots.A} B=${roots.B}; load ${os.loadavg()[0]?.toFixed(1)}`,
  );
  const got: Record<'A' | 'B', { first: number[]; warm: number[] }> = {
    A: { first: [], warm: [] },
    B: { first: [], warm: [] },
  };
  for (let i = 0; i < N; i++) {
    const order: ('A' | 'B')[] = i % 2 === 0 ? ['A', 'B'] : ['B', 'A'];
    const line: string[] = [];
    for (const which of order) {
      const out = execFileSync(
        process.execPath,
        [import.meta.filename, 'child', roots[which], list],
        { encoding: 'utf8' },
      );
      const r = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as {
        first: number;
        warm: number;
      };
      got[which].first.push(r.first);
      got[which].warm.push(r.warm);
      line.push(`${which} first ${r.first.toFixed(0)} warm ${r.warm.toFixed(1)} ms`);
    }
    log(`pair ${i + 1}: ${line.join(' | ')} (load ${os.loadavg()[0]?.toFixed(1)})`);
  }
  for (const which of ['A', 'B'] as const) {
    log(
      `${which}: first pass median ${median(got[which].first).toFixed(0)} ms, warm pass median ${median(got[which].warm).toFixed(1)} ms`,
    );
  }
}

if (process.argv[2] === 'child') {
  await child(process.argv[3] ?? '.', process.argv[4] ?? '');
} else {
  try {
    await main();
  } finally {
    await runCleanups();
  }
}
