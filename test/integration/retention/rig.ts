/**
 * Retention test rig: a server on its own data directory with `[[retention.rules]]`, the same
 * configuration as a config.toml for `nora retention-plan/-apply` (run as a real process on the
 * data directory once the server is closed), and a restart on the same data.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'smol-toml';
import { nora } from '../../helpers/cli.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import type { RunResult } from '../../helpers/tools.ts';

export interface RetentionRig {
  readonly dataDir: string;
  server: TestServer;
  /** `nora <args> -c <config.toml>` on the data directory. */
  cli(args: readonly string[]): Promise<RunResult>;
  /** Closes the server (the CLI refuses to run beside it). */
  stop(): Promise<void>;
  /** Starts the server again on the same data (a new port). */
  restart(): Promise<TestServer>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function retentionRig(
  dataDir: string,
  rules: readonly Record<string, unknown>[],
  config: Record<string, unknown> = {},
): Promise<RetentionRig> {
  const sections = { ...config, retention: { rules } };
  const start = () => startTestServer({ dataDir, config: sections });
  const file = path.join(dataDir, 'config.toml');
  await fs.writeFile(
    file,
    stringify({
      storage: { mode: 'local', path: path.join(dataDir, 'storage') },
      auth: { htpasswd_file: path.join(dataDir, 'users.htpasswd') },
      ...sections,
    }),
  );
  let running: TestServer | undefined = await start();
  const rig: RetentionRig = {
    dataDir,
    server: running,
    cli: (args) => nora([...args, '-c', file], {}, dataDir, 120_000),
    async stop() {
      await running?.close();
      running = undefined;
    },
    async restart() {
      await running?.close();
      running = await start();
      rig.server = running;
      return running;
    },
    async [Symbol.asyncDispose]() {
      await running?.close();
    },
  };
  return rig;
}
