/**
 * PyPI test fixtures: zip archives written by hand (wheels with a METADATA, without, or with a
 * bomb), gzip'd sdists, the legacy-upload multipart body twine sends, and a hosted repository
 * over a real SQLite database and blob store in a temp dir.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import type { Kysely } from 'kysely';
import { openDatabase } from '../../../src/db/database.ts';
import { SqlBlobIndex } from '../../../src/db/blob-index.ts';
import { blake2b } from '@noble/hashes/blake2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { PypiHosted } from '../../../src/formats/pypi/hosted.ts';
import { pypiMigrations, type PypiTables } from '../../../src/formats/pypi/migrations.ts';
import { toRepository, type Repository } from '../../../src/repos/repository.ts';
import { BlobStore } from '../../../src/storage/blob-store.ts';
import { FsDriver } from '../../../src/storage/drivers/fs-driver.ts';
import { GuardedDriver } from '../../../src/storage/guarded-driver.ts';
import { removeDir } from '../../helpers/tmp.ts';

export interface ZipEntry {
  readonly name: string;
  readonly data: Buffer;
  /** Store instead of deflate. */
  readonly store?: boolean;
  /** Lie about the uncompressed size in the headers (a bomb that hides its size). */
  readonly declaredSize?: number;
}

/** A zip archive (deflate or stored entries), the way wheel-building tools lay it out. */
export function makeZip(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name);
    const packed = entry.store ? entry.data : deflateRawSync(entry.data);
    const crc = crc32(entry.data);
    const size = entry.declaredSize ?? entry.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(entry.store ? 0 : 8, 8);
    local.writeUInt32LE(0, 10);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(entry.store ? 0 : 8, 10);
    central.writeUInt32LE(0, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, packed);
    centrals.push(central, name);
    offset += local.length + name.length + packed.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

export function coreMetadata(name: string, version: string, extra: string[] = []): string {
  return [
    'Metadata-Version: 2.1',
    `Name: ${name}`,
    `Version: ${version}`,
    'Summary: a test project',
    ...extra,
    '',
    'Long description.',
    '',
  ].join('\n');
}

export interface WheelOptions {
  /** The METADATA text; undefined: generated; null: no METADATA at all. */
  readonly metadata?: string | null;
  readonly filename?: string;
  readonly extra?: readonly ZipEntry[];
}

/**
 * `<name>-<version>-py3-none-any.whl` (name escaped and lowercased, as current build tools spell
 * it) with a `<Name>-<version>.dist-info/METADATA` (the name's case kept, as older tools did).
 */
export function makeWheel(
  name: string,
  version: string,
  options: WheelOptions = {},
): { filename: string; data: Buffer } {
  const stem = name.replace(/[-.]+/g, '_');
  const distInfo = `${stem}-${version}.dist-info`;
  const entries: ZipEntry[] = [
    {
      name: `${stem.toLowerCase()}/__init__.py`,
      data: Buffer.from(`VERSION = ${JSON.stringify(version)}\n`),
    },
    ...(options.extra ?? []),
  ];
  if (options.metadata !== null) {
    entries.push({
      name: `${distInfo}/METADATA`,
      data: Buffer.from(options.metadata ?? coreMetadata(name, version)),
    });
  }
  entries.push(
    {
      name: `${distInfo}/WHEEL`,
      data: Buffer.from('Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n'),
    },
    { name: `${distInfo}/RECORD`, data: Buffer.from('') },
  );
  return {
    filename: options.filename ?? `${stem.toLowerCase()}-${version}-py3-none-any.whl`,
    data: makeZip(entries),
  };
}

/** A POSIX tar header (ustar) for a regular file `name` of `size` bytes: sdists, npm tarballs. */
export function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return header;
}

/** `<name>-<version>.tar.gz` with a PKG-INFO, as `python -m build --sdist` lays it out. */
export function makeSdist(name: string, version: string): { filename: string; data: Buffer } {
  const stem = `${name.replace(/[-.]+/g, '_').toLowerCase()}-${version}`;
  const files: Record<string, string> = {
    'PKG-INFO': coreMetadata(name, version),
    'pyproject.toml': `[project]\nname = "${name}"\nversion = "${version}"\n`,
  };
  const parts: Buffer[] = [];
  for (const [file, content] of Object.entries(files)) {
    const data = Buffer.from(content);
    parts.push(
      tarHeader(`${stem}/${file}`, data.length),
      data,
      Buffer.alloc((512 - (data.length % 512)) % 512),
    );
  }
  parts.push(Buffer.alloc(1024));
  return { filename: `${stem}.tar.gz`, data: gzipSync(Buffer.concat(parts)) };
}

export function digestsOf(data: Buffer): { sha256: string; md5: string; blake2_256: string } {
  return {
    sha256: createHash('sha256').update(data).digest('hex'),
    md5: createHash('md5').update(data).digest('hex'),
    blake2_256: bytesToHex(blake2b(data, { dkLen: 32 })),
  };
}

export type FormFields = Record<string, string | readonly string[]>;

/** The fields twine sends for `file` (override or drop with `overrides`: undefined drops). */
export function twineFields(
  name: string,
  version: string,
  file: { filename: string; data: Buffer },
  overrides: Record<string, string | readonly string[] | undefined> = {},
): FormFields {
  const wheel = file.filename.endsWith('.whl');
  const digests = digestsOf(file.data);
  const fields: Record<string, string | readonly string[] | undefined> = {
    ':action': 'file_upload',
    protocol_version: '1',
    metadata_version: '2.1',
    name,
    version,
    filetype: wheel ? 'bdist_wheel' : 'sdist',
    pyversion: wheel ? 'py3' : 'source',
    summary: 'a test project',
    description: 'Long description.',
    author: 'Test Author',
    author_email: 'author@example.invalid',
    requires_python: '>=3.8',
    classifiers: ['Programming Language :: Python :: 3', 'License :: OSI Approved :: MIT License'],
    project_urls: ['Homepage, https://example.invalid/home', 'Source, https://example.invalid/src'],
    requires_dist: ['requests>=2', 'idna; extra == "x"'],
    md5_digest: digests.md5,
    sha256_digest: digests.sha256,
    blake2_256_digest: digests.blake2_256,
    ...overrides,
  };
  return Object.fromEntries(
    Object.entries(fields).filter(
      (e): e is [string, string | readonly string[]] => e[1] !== undefined,
    ),
  );
}

export const BOUNDARY = '----nora-pypi-test-boundary';
export const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;

/**
 * A multipart/form-data body: the fields, then (or first, `fileFirst`) the `content` part.
 * `file: null` sends no content part.
 */
export function multipartBody(
  fields: FormFields,
  file: { filename: string; data: Buffer } | null,
  options: { fileFirst?: boolean } = {},
): Buffer {
  const fieldParts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    for (const v of typeof value === 'string' ? [value] : value) {
      fieldParts.push(
        Buffer.from(
          `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${v}\r\n`,
        ),
      );
    }
  }
  const fileParts =
    file === null
      ? []
      : [
          Buffer.from(
            `--${BOUNDARY}\r\nContent-Disposition: form-data; name="content"; filename="${file.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
          ),
          file.data,
          Buffer.from('\r\n'),
        ];
  const parts = options.fileFirst ? [...fileParts, ...fieldParts] : [...fieldParts, ...fileParts];
  return Buffer.concat([...parts, Buffer.from(`--${BOUNDARY}--\r\n`)]);
}

/** POSTs a fresh wheel of `name` `version` to the upload URL `url`, as twine sends it. */
export function uploadWheel(url: string, name: string, version: string): Promise<Response> {
  const wheel = makeWheel(name, version);
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': MULTIPART },
    body: multipartBody(twineFields(name, version, wheel), wheel),
  });
}

/** The body as a stream of 64 KiB chunks (as a socket delivers it). */
export function chunked(body: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < body.length; i += 65536) chunks.push(body.subarray(i, i + 65536));
  return Readable.from(chunks);
}

export interface HostedFixture {
  readonly hosted: PypiHosted;
  readonly repo: Repository;
  readonly blobs: BlobStore;
  readonly db: Kysely<PypiTables>;
  readonly dir: string;
  /** Every row of pypi_files (what a refusal must not leave behind). */
  fileRows(): Promise<number>;
  /** Files in the blob store's spool (what a refusal must clean up). */
  spoolFiles(): Promise<string[]>;
  close(): Promise<void>;
}

export async function hostedFixture(maxUploadBytes = 64 * 1024 * 1024): Promise<HostedFixture> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-pypi-'));
  const core = await openDatabase({ file: path.join(dir, 'nora.db'), migrations: pypiMigrations });
  const blobs = new BlobStore(
    new GuardedDriver(await FsDriver.open(path.join(dir, 'storage'))),
    new SqlBlobIndex(core),
  );
  const db = core.$extendTables<PypiTables>();
  const hosted = new PypiHosted({ db, blobs, maxUploadBytes: () => maxUploadBytes });
  const repo = toRepository(
    { name: 'pypi-hosted', format: 'pypi', kind: 'hosted', members: [], upstreams: [] },
    true,
  );
  return {
    hosted,
    repo,
    blobs,
    db,
    dir,
    async fileRows() {
      const row = await db
        .selectFrom('pypi_files')
        .select((eb) => eb.fn.countAll<number | bigint>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    async spoolFiles() {
      return fs.readdir(path.join(dir, 'storage', '.tmp', 'pypi-upload')).catch(() => []);
    },
    async close() {
      await core.destroy();
      await removeDir(dir);
    },
  };
}
