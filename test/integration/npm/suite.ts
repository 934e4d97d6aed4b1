/** The set-up most npm integration suites share: one NORA with the defaults per `describe`. */
import { after, before } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from './client.ts';

/**
 * Registers, in the calling `describe`, a NORA with the default config (auth off) started
 * before its tests and closed after them; `use` receives the server and an NpmHttp client of
 * its `/npm` mount once it listens.
 */
export function npmServerPerSuite(use: (server: TestServer, npm: NpmHttp) => void): void {
  let server: TestServer | undefined;
  before(async () => {
    server = await startTestServer();
    use(server, new NpmHttp(`${server.url}/npm`));
  });
  after(async () => {
    await server?.close();
  });
}
