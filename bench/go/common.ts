/** What the Go benches share (run.ts, pairs.ts): one timed `go mod download all`. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { goEnv, goRun } from '../../test/helpers/go.ts';
import { removeDir } from '../../test/helpers/tmp.ts';

/**
 * `go mod download all` of `consumer` through `goproxy` with an empty module cache (a fresh
 * GOMODCACHE under `work`, removed afterwards; GOSUMDB off, a shared GOCACHE); seconds.
 */
export async function download(consumer: string, goproxy: string, work: string): Promise<number> {
  const home = await fs.mkdtemp(path.join(work, 'go-'));
  const env = goEnv(home, {
    GOPROXY: goproxy,
    GOSUMDB: 'off',
    GOCACHE: path.join(work, 'gocache'),
  });
  const started = performance.now();
  await goRun(['mod', 'download', 'all'], consumer, env);
  const seconds = (performance.now() - started) / 1000;
  await removeDir(home);
  return seconds;
}
