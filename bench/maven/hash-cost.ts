/**
 * What a Maven proxy fill's hashing costs, alone (not part of `npm test`):
 *
 *   npx node bench/maven/hash-cost.ts        BENCH_ROUNDS=8
 *
 * Every `.pom` and `.jar` of the machine's local Maven repository (what the bench's upstream
 * serves) is hashed in memory, chunk by chunk as a fill receives it (64 KiB), with the blob
 * store's HashSet: the set a fill computed before 2026-12-06 (sha256 + md5, sha1, sha512) and
 * the one it computes now (sha256 + sha1), interleaved round by round. Printed: CPU ms per MB of
 * each set (process utime + stime), and per cold round of bench/maven/cold-cpu.ts (19.7 MB: the
 * 166 files a cold `mvn -C package` of the bench project fills).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { M2_REPOSITORY } from '../../test/helpers/maven.ts';
import { type HashName, HashSet } from '../../src/storage/blob-store.ts';

const ROUNDS = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? 8));
const COLD_ROUND_MB = 19.7;
const CHUNK = 64 * 1024;
const SETS: Record<string, readonly HashName[]> = {
  'four (md5, sha1, sha256, sha512)': ['md5', 'sha1', 'sha512'],
  'two (sha1, sha256)': ['sha1'],
};

const files: Buffer[] = [];
for (const entry of await fs.readdir(M2_REPOSITORY, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !/\.(pom|jar)$/.test(entry.name)) continue;
  files.push(await fs.readFile(path.join(entry.parentPath, entry.name)));
}
const mb = files.reduce((n, b) => n + b.length, 0) / 1e6;
process.stdout.write(`${files.length} files, ${mb.toFixed(1)} MB\n`);

const perMb = new Map<string, number[]>(Object.keys(SETS).map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  const names = Object.keys(SETS);
  if (round % 2 === 1) names.reverse();
  for (const name of names) {
    const start = process.cpuUsage();
    for (const file of files) {
      const hashes = new HashSet('sha256', SETS[name]);
      for (let at = 0; at < file.length; at += CHUNK) hashes.update(file.subarray(at, at + CHUNK));
      hashes.digest();
    }
    const used = process.cpuUsage(start);
    perMb.get(name)?.push((used.user + used.system) / 1000 / mb);
  }
}
for (const [name, values] of perMb) {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  process.stdout.write(
    `${name}: median ${median.toFixed(2)} ms/MB (${sorted.map((v) => v.toFixed(2)).join(' ')}), ` +
      `${(median * COLD_ROUND_MB).toFixed(0)} ms per cold round\n`,
  );
}
