/**
 * Cold start to first /health 200, and idle RSS, of `node src/main.ts serve` on an empty data
 * directory. Targets (issue #2): start < 1 s, idle RSS < 80 MB. Usage: npx node bench/startup/run.ts [runs]
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, startNoraProcess } from '../../test/helpers/process.ts';

const runs = Number(process.argv[2] ?? 5);
const startMs: number[] = [];
const rssMb: number[] = [];

for (let i = 0; i < runs; i++) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-bench-start-'));
  const spawnedAt = performance.now();
  const server = await startNoraProcess({
    port: await freePort(),
    env: { NORA_STORAGE_PATH: path.join(dir, 'storage'), NORA_LOG_LEVEL: 'warn' },
  });
  startMs.push(performance.now() - spawnedAt);
  await new Promise((r) => setTimeout(r, 2000));
  rssMb.push(await rssOf(server.child.pid ?? 0));
  server.child.kill('SIGTERM');
  await server.exited;
  await fs.rm(dir, { recursive: true, force: true });
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const start = median(startMs);
const rss = median(rssMb);
console.log(`runs: ${runs}`);
console.log(
  `cold start to first /health 200: median ${start.toFixed(0)} ms (all: ${startMs.map((v) => v.toFixed(0)).join(', ')})  target < 1000 ms  ${start < 1000 ? 'OK' : 'MISSED'}`,
);
console.log(
  `idle RSS after 2 s:              median ${rss.toFixed(1)} MB (all: ${rssMb.map((v) => v.toFixed(1)).join(', ')})  target < 80 MB  ${rss < 80 ? 'OK' : 'MISSED'}`,
);
console.log(
  `vs NORA's claims (< 3 s, < 50 MB): start ${(start / 3000).toFixed(2)}x of the claim, RSS ${(rss / 50).toFixed(2)}x`,
);

async function rssOf(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}
