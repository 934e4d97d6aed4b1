/**
 * Driving the `nora mirror` formats' items directly in tests: the verb's own client
 * (src/mirror/client.ts) without credentials, and a sequential run reporting one line per item.
 */
import { createMirrorClient } from '../../src/mirror/client.ts';
import type { MirrorClient, MirrorItem } from '../../src/mirror/types.ts';

/** The verb's client for `base`, anonymous, 30 s idle timeout. */
export function mirrorClient(base: string): MirrorClient {
  return createMirrorClient(base, { credentials: { kind: 'none' }, idleTimeoutMs: 30_000 });
}

/** Runs every item one after another: `ok <label> <bytes>` or `fail <label>: <message>` each. */
export async function runItems(
  items: readonly MirrorItem[],
  client: MirrorClient,
): Promise<string[]> {
  const lines: string[] = [];
  for (const item of items) {
    try {
      lines.push(`ok ${item.label} ${await item.fetch(client)}`);
    } catch (err) {
      lines.push(`fail ${item.label}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return lines;
}
