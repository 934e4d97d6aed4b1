/**
 * A MirrorClient over Node's fetch, for driving the `nora mirror` formats' items directly in
 * tests (the verb's own client lives in src/mirror/). Basic credentials optional.
 */
import { createHash } from 'node:crypto';
import type { MirrorClient, MirrorItem, MirrorResponse } from '../../src/mirror/types.ts';

export function fetchClient(
  base: string,
  basic?: { user: string; password: string },
): MirrorClient {
  const auth =
    basic === undefined
      ? {}
      : {
          authorization: `Basic ${Buffer.from(`${basic.user}:${basic.password}`).toString('base64')}`,
        };
  return {
    base,
    async get(path, headers = {}) {
      const res = await fetch(`${base}${path}`, { headers: { ...auth, ...headers } });
      const read = async (each: (chunk: Uint8Array) => void): Promise<number> => {
        let bytes = 0;
        if (res.body === null) return 0;
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          bytes += chunk.byteLength;
          each(chunk);
        }
        return bytes;
      };
      const response: MirrorResponse = {
        status: res.status,
        header: (name) => res.headers.get(name) ?? undefined,
        async text(maxBytes) {
          const chunks: Uint8Array[] = [];
          let total = 0;
          await read((chunk) => {
            total += chunk.byteLength;
            if (total > maxBytes) throw new Error(`body of ${path} is over ${maxBytes} bytes`);
            chunks.push(chunk);
          });
          return Buffer.concat(chunks).toString('utf8');
        },
        drain: () => read(() => undefined),
        async drainDigest(algorithm) {
          const hash = createHash(algorithm);
          const bytes = await read((chunk) => hash.update(chunk));
          return { bytes, hex: hash.digest('hex') };
        },
      };
      return response;
    },
  };
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
