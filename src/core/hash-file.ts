/** A file's hash, streamed (one read chunk in memory). */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** The hex digest of the file at `file` with `algorithm` (`sha256`, `sha512`). Errors: the read's. */
export async function hashFile(file: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest('hex');
}
