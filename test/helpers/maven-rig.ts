/**
 * The setup most Maven e2e tests share: a work directory, nginx serving the machine's local Maven
 * repository ({@link M2_REPOSITORY}) read-only as the upstream, a NORA whose `maven-proxy` asks
 * it, and a settings.xml whose mirror is NORA's default group `/maven2/`. (Apart from
 * test/helpers/maven.ts, which bench/ imports without starting a server in-process.)
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { M2_REPOSITORY, settingsXml, startNginx, type Nginx } from './maven.ts';
import { startTestServer, type TestServer } from './server.ts';
import { removeDir } from './tmp.ts';

export interface MavenRig {
  readonly work: string;
  readonly nginx: Nginx;
  readonly server: TestServer;
  /** settings.xml: the mirror of everything is `<server>/maven2/`. */
  readonly settings: string;
  /** Stops NORA, then nginx, and removes the work directory. */
  close(): Promise<void>;
}

export interface MavenRigOptions {
  /** The work directory's name prefix (under the temporary directory). */
  readonly prefix: string;
  /** NORA's NORA_* variables, given nginx's URL; default `NORA_MAVEN_PROXIES` = nginx. */
  readonly env?: (nginxUrl: string) => Record<string, string>;
  /** A change to settings.xml's text (e.g. `<pluginGroups>`). */
  readonly settings?: (xml: string) => string;
}

export async function startMavenRig(options: MavenRigOptions): Promise<MavenRig> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), options.prefix));
  let nginx: Nginx | undefined;
  let server: TestServer | undefined;
  const close = async () => {
    await server?.close();
    await nginx?.stop();
    await removeDir(work);
  };
  try {
    nginx = await startNginx(M2_REPOSITORY, path.join(work, 'nginx'), { accessLog: false });
    const url = nginx.url;
    server = await startTestServer({
      env: options.env?.(url) ?? { NORA_MAVEN_PROXIES: url },
    });
    const settings = path.join(work, 'settings.xml');
    const xml = settingsXml(`${server.url}/maven2/`);
    await fs.writeFile(settings, options.settings?.(xml) ?? xml);
    return { work, nginx, server, settings, close };
  } catch (err) {
    await close();
    throw err;
  }
}
