/**
 * A working folder for the containers/image clients (skopeo, podman) of one e2e suite: its own
 * empty `auth.json` (no login of the machine's user leaks in) and a `registries.conf` without
 * search registries, and `tool` to run a client there with them (HOME too), not failing on a
 * non-zero exit (the tests assert it).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../../helpers/tmp.ts';
import { run, type RunResult } from '../../helpers/tools.ts';

export interface ContainersWork {
  readonly path: string;
  tool(name: string, args: readonly string[]): Promise<RunResult>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function containersWork(prefix: string): Promise<ContainersWork> {
  const work = await tempDir(prefix);
  await fs.writeFile(path.join(work.path, 'auth.json'), '{"auths":{}}');
  await fs.writeFile(
    path.join(work.path, 'registries.conf'),
    'unqualified-search-registries = []\n',
  );
  const env = {
    ...process.env,
    REGISTRY_AUTH_FILE: path.join(work.path, 'auth.json'),
    CONTAINERS_REGISTRIES_CONF: path.join(work.path, 'registries.conf'),
    HOME: work.path,
  };
  return {
    path: work.path,
    tool: (name, args) =>
      run(name, args, { env, cwd: work.path, timeoutMs: 120_000, check: false }),
    [Symbol.asyncDispose]: () => work[Symbol.asyncDispose](),
  };
}
