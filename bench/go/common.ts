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

/**
 * A consumer module at `dir` (created) requiring each of `modules` at its version (go.mod only,
 * `go 1.19`): what `go mod download all` resolves in the benches.
 */
export async function writeConsumerModule(
  dir: string,
  modules: readonly { readonly path: string; readonly version: string }[],
): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const requires = modules.map((m) => `\t${m.path} ${m.version}\n`).join('');
  await fs.writeFile(
    path.join(dir, 'go.mod'),
    `module example.com/bench\n\ngo 1.19\n\nrequire (\n${requires})\n`,
  );
}
