/**
 * Ports WHATWG fetch refuses ("bad port": the Fetch standard's list of ports of other protocols)
 * while NORA, its CLI and its proxies must use them like any other (sixteenth trial F3).
 */
import { createServer } from 'node:net';

/** The Fetch standard's bad ports a test may bind (root may bind the low ones too). */
export const FETCH_BLOCKED_PORTS: readonly number[] = [
  6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080, 5060, 5061, 4190, 4045, 3659, 2049,
  1719, 1720, 1723,
];

/**
 * The ports of FETCH_BLOCKED_PORTS that 127.0.0.1 can bind now (empty: every one is taken; the
 * caller then skips, saying so). Another process may take one before the caller binds it, so a
 * caller tries them in turn.
 */
export async function freeBlockedPorts(): Promise<number[]> {
  const free: number[] = [];
  for (const port of FETCH_BLOCKED_PORTS) {
    const ok = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => {
        resolve(false);
      });
      probe.listen(port, '127.0.0.1', () => {
        probe.close(() => {
          resolve(true);
        });
      });
    });
    if (ok) free.push(port);
  }
  return free;
}
