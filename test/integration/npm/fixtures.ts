/** Builders for npm test packages: a real gzipped tarball and the body `npm publish` sends. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512, 0);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100, 8, 'ascii');
  header.write('0000000\0', 108, 8, 'ascii');
  header.write('0000000\0', 116, 8, 'ascii');
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 12, 'ascii');
  header.write(
    // A fixed mtime keeps tarballs byte-identical across calls (tests compare integrities).
    `${(1_700_000_000).toString(8).padStart(11, '0')}\0`,
    136,
    12,
    'ascii',
  );
  header.write('        ', 148, 8, 'ascii');
  header.write('0', 156, 1, 'ascii');
  header.write('ustar\0', 257, 6, 'ascii');
  header.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return header;
}

/** An uncompressed tar of regular files at the paths given, in order (paths ≤ 100 bytes). */
export function tarEntries(entries: readonly (readonly [string, string | Buffer])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, content] of entries) {
    const data = Buffer.from(content);
    parts.push(tarHeader(name, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A gzipped tar with `package/<file>` entries, as `npm pack` makes. */
export function makeTarball(files: Record<string, string>): Buffer {
  return gzipSync(
    tarEntries(Object.entries(files).map(([name, content]) => [`package/${name}`, content])),
  );
}

export interface PackageSpec {
  readonly name: string;
  readonly version: string;
  readonly dependencies?: Record<string, string>;
  readonly description?: string;
  readonly keywords?: string[];
  readonly tag?: string;
  readonly extra?: Record<string, unknown>;
}

export function manifestOf(spec: PackageSpec): Record<string, unknown> {
  return {
    name: spec.name,
    version: spec.version,
    description: spec.description ?? `test package ${spec.name}`,
    keywords: spec.keywords ?? [],
    main: 'index.js',
    dependencies: spec.dependencies ?? {},
    ...spec.extra,
  };
}

export function tarballOf(spec: PackageSpec): Buffer {
  const manifest = manifestOf(spec);
  return makeTarball({
    'package.json': JSON.stringify(manifest, null, 2),
    'index.js': `module.exports = ${JSON.stringify(`${spec.name}@${spec.version}`)};\n`,
  });
}

export function integrityOf(data: Buffer): { integrity: string; shasum: string } {
  return {
    integrity: `sha512-${createHash('sha512').update(data).digest('base64')}`,
    shasum: createHash('sha1').update(data).digest('hex'),
  };
}

/** The JSON body of `npm publish` for one version. */
export function publishBody(
  spec: PackageSpec,
  registry = 'http://127.0.0.1/npm',
): Record<string, unknown> {
  const tarball = tarballOf(spec);
  const { integrity, shasum } = integrityOf(tarball);
  const unscoped = spec.name.includes('/') ? spec.name.split('/')[1]! : spec.name;
  const manifest = {
    ...manifestOf(spec),
    _id: `${spec.name}@${spec.version}`,
    dist: {
      integrity,
      shasum,
      tarball: `${registry}/${spec.name}/-/${unscoped}-${spec.version}.tgz`,
    },
  };
  return {
    _id: spec.name,
    name: spec.name,
    description: spec.description ?? `test package ${spec.name}`,
    'dist-tags': { [spec.tag ?? 'latest']: spec.version },
    versions: { [spec.version]: manifest },
    access: null,
    _attachments: {
      [`${spec.name}-${spec.version}.tgz`]: {
        content_type: 'application/octet-stream',
        data: tarball.toString('base64'),
        length: tarball.length,
      },
    },
  };
}

/** Path form npm uses for a name: `@scope%2fname`. */
export function escapedName(name: string): string {
  return name.replace('/', '%2f');
}

/** A packument answer's version keys and `latest` dist-tag; asserts it is a 200. */
export function packumentOf(answer: { readonly status: number; readonly text: string }): {
  versions: string[];
  latest: string | undefined;
} {
  assert.equal(answer.status, 200, answer.text);
  const doc = JSON.parse(answer.text) as {
    versions: Record<string, unknown>;
    'dist-tags': Record<string, string>;
  };
  return { versions: Object.keys(doc.versions), latest: doc['dist-tags']['latest'] };
}
