/**
 * Runs one `nora import` writer on a local file against a listening test server: a WriteContext
 * whose source is the file on disk (listed size and sha256 as a source would list them) and whose
 * target is the server, over HTTP as the verb sends.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import { httpRequest, type HttpAnswer } from '../../src/core/http-client.ts';
import type {
  ImportWriter,
  NoraTarget,
  SourceRepository,
  TargetRepository,
  WriteContext,
  WriteOutcome,
} from '../../src/import/types.ts';

/** An answer 404 with an empty body, made here (no request). */
function notFound(): Promise<HttpAnswer> {
  return Promise.resolve({
    status: 404,
    statusText: 'Not Found',
    ok: false,
    header: () => undefined,
    text: () => Promise.resolve(''),
    discard: () => Promise.resolve(),
    body: Readable.from([]),
  });
}

/** The server at `base` as a NoraTarget, anonymous. */
export function noraTarget(base: string): NoraTarget {
  return {
    base,
    request: (method, path, options = {}) =>
      httpRequest(`${base}${path}`, {
        method,
        ...(options.headers === undefined ? {} : { headers: options.headers }),
        ...(options.body === undefined
          ? {}
          : { body: Buffer.isBuffer(options.body) ? Readable.from([options.body]) : options.body }),
      }),
    async exists(path) {
      const answer = await httpRequest(`${base}${path}`, { method: 'HEAD' });
      await answer.discard();
      if (answer.ok) return true;
      if (answer.status === 404) return false;
      throw new Error(`${answer.status} from HEAD ${path}`);
    },
  };
}

/** The default repository of `format` on the server (`/npm`, `/simple`, `/helm`, `/cargo`). */
export function defaultTarget(format: TargetRepository['format'], path: string): TargetRepository {
  return { name: format, format, isDefault: true, path };
}

/**
 * Runs `writer` for `file` (a local path) listed at `sourcePath` of a source repository of
 * `packageType`, after checking that the writer takes it; `sourceRegistryBase`: the source's
 * package API root (`/v2/…` under it) for the Docker writer; without it every package API path is
 * absent (404).
 */
export async function writeFile(
  writer: ImportWriter,
  base: string,
  target: TargetRepository,
  file: string,
  sourcePath: string,
  packageType: string = target.format,
  sourceRegistryBase?: string,
): Promise<WriteOutcome> {
  const bytes = await fs.readFile(file);
  const source: SourceRepository = { name: `src-${packageType}`, packageType, kind: 'local' };
  const listed = {
    path: sourcePath,
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  const acceptance = writer.accepts(listed, source);
  if (acceptance.action !== 'take') {
    throw new Error(`${writer.format} writer does not take ${sourcePath}: ${acceptance.reason}`);
  }
  const ctx: WriteContext = {
    source,
    file: listed,
    target,
    nora: noraTarget(base),
    open: () => Promise.resolve({ stream: createReadStream(file), length: bytes.length }),
    sourceRegistry: () => {
      // A source without a package API: every path is absent (Cargo's index: no yanked state).
      if (sourceRegistryBase === undefined) {
        return { base: 'http://source.invalid', cargoIndex: '/index', get: notFound };
      }
      return {
        base: sourceRegistryBase,
        cargoIndex: '/index',
        get: (path, headers) =>
          httpRequest(`${sourceRegistryBase}${path}`, headers === undefined ? {} : { headers }),
      };
    },
    signal: new AbortController().signal,
  };
  return writer.write(ctx);
}

/** The reason of a `failed` outcome (an assertion error for any other). */
export function failureReason(outcome: WriteOutcome): string {
  if (outcome.status !== 'failed')
    throw new Error(`expected a failure, got ${JSON.stringify(outcome)}`);
  return outcome.reason;
}
