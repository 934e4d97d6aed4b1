/**
 * Test doubles for the PyPI index tests: an in-memory hosted backend (a PypiSource plus the
 * hosted operations, recording what the routes handed it) and a static upstream simple index
 * (PEP 691 JSON pages and files over HTTP on 127.0.0.1) for the real proxy source.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { RegistryError } from '../../../src/core/errors.ts';
import { readAllBounded } from '../../../src/core/streams.ts';
import type {
  DistFile,
  OpenedDistFile,
  ProjectPage,
  PypiSource,
} from '../../../src/formats/pypi/model.ts';
import type { PypiHostedOperations, UploadRequest } from '../../../src/formats/pypi/service.ts';
import type { Repository } from '../../../src/repos/repository.ts';

export const sha256 = (bytes: Buffer | string): string =>
  createHash('sha256').update(bytes).digest('hex');

interface StoredFile {
  readonly info: DistFile;
  readonly bytes: Buffer;
  readonly metadata: Buffer | undefined;
}

function opened(bytes: Buffer): OpenedDistFile {
  return {
    size: bytes.length,
    sha256: sha256(bytes),
    open: (range) =>
      Promise.resolve(
        Readable.from([bytes.subarray(range?.start ?? 0, (range?.end ?? bytes.length - 1) + 1)]),
      ),
  };
}

/** An in-memory hosted store keyed by repository name. */
export class FakeHosted implements PypiSource, PypiHostedOperations {
  readonly #repos = new Map<string, Map<string, Map<string, StoredFile>>>();
  /** Projects ever held (the guard's "ever"). */
  readonly uploads: { repo: string; contentType: string | undefined; bytes: number }[] = [];
  readonly yanks: { repo: string; project: string; version: string; yanked: false | string }[] = [];
  /** Called on every change: the app's write generation, as the real store bumps it. */
  onChange: (() => void) | undefined;

  add(
    repo: string,
    project: string,
    filename: string,
    version: string,
    bytes: string,
    extra: Partial<DistFile> = {},
  ): void {
    this.onChange?.();
    const body = Buffer.from(bytes);
    const metadata = filename.endsWith('.whl')
      ? Buffer.from(`Metadata-Version: 2.1\nName: ${project}\nVersion: ${version}\n`)
      : undefined;
    const files = this.#project(repo, project, true);
    files?.set(filename, {
      bytes: body,
      metadata,
      info: {
        filename,
        version,
        sha256: sha256(body),
        size: body.length,
        requiresPython: '>=3.8',
        yanked: false,
        uploadTime: '2026-01-01T00:00:00Z',
        coreMetadata: metadata === undefined ? undefined : { sha256: sha256(metadata) },
        ...extra,
      },
    });
  }

  #project(repo: string, project: string, create: boolean): Map<string, StoredFile> | undefined {
    let projects = this.#repos.get(repo);
    if (!projects) {
      if (!create) return undefined;
      projects = new Map();
      this.#repos.set(repo, projects);
    }
    let files = projects.get(project);
    if (!files && create) {
      files = new Map();
      projects.set(project, files);
    }
    return files;
  }

  projectNames(repo: Repository): Promise<readonly string[]> {
    return Promise.resolve([...(this.#repos.get(repo.name)?.keys() ?? [])]);
  }

  projectPage(repo: Repository, project: string): Promise<ProjectPage | undefined> {
    const files = this.#project(repo.name, project, false);
    if (!files) return Promise.resolve(undefined);
    return Promise.resolve({ name: project, files: [...files.values()].map((f) => f.info) });
  }

  openFile(repo: Repository, project: string, filename: string) {
    const file = this.#project(repo.name, project, false)?.get(filename);
    return Promise.resolve(file ? opened(file.bytes) : undefined);
  }

  openCoreMetadata(repo: Repository, project: string, filename: string) {
    const file = this.#project(repo.name, project, false)?.get(filename);
    return Promise.resolve(file?.metadata ? opened(file.metadata) : undefined);
  }

  /** Reads the multipart body (small in tests) and stores its `content` under its `name`. */
  async upload(repo: Repository, request: UploadRequest) {
    this.onChange?.();
    const text = (await readAllBounded(request.body, 1024 * 1024)).toString('latin1');
    this.uploads.push({ repo: repo.name, contentType: request.contentType, bytes: text.length });
    const field = (name: string) =>
      new RegExp(`name="${name}"\\r\\n\\r\\n([^\\r]*)\\r\\n`).exec(text)?.[1];
    const name = field('name');
    const version = field('version');
    const file = /name="content"; filename="([^"]+)"\r\n(?:[^\r]*\r\n)*?\r\n([^\r]*)\r\n/.exec(
      text,
    );
    if (name === undefined || version === undefined || file === null) {
      throw new RegistryError('BAD_REQUEST', 'not an upload form');
    }
    const project = name.toLowerCase().replace(/[-_.]+/g, '-');
    request.authorize(project);
    const filename = file[1] ?? '';
    if (this.#project(repo.name, project, false)?.has(filename)) {
      throw new RegistryError('BAD_REQUEST', `File already exists: ${filename}`);
    }
    this.add(repo.name, project, filename, version, file[2] ?? '');
    return { project, filename };
  }

  setYanked(repo: Repository, project: string, version: string, yanked: false | string) {
    this.onChange?.();
    this.yanks.push({ repo: repo.name, project, version, yanked });
    const files = this.#project(repo.name, project, false);
    if (!files) return Promise.reject(new RegistryError('NOT_FOUND', `no project ${project}`));
    for (const [name, file] of files) {
      if (file.info.version === version)
        files.set(name, { ...file, info: { ...file.info, yanked } });
    }
    return Promise.resolve({ project, version, yanked: yanked !== false });
  }

  deleteRelease(repo: Repository, project: string, version: string) {
    this.onChange?.();
    const files = this.#project(repo.name, project, false);
    for (const [name, file] of files ?? []) if (file.info.version === version) files?.delete(name);
    return Promise.resolve({ deleted: version });
  }

  projectVersions(repo: Repository, project: string) {
    const files = [...(this.#project(repo.name, project, false)?.values() ?? [])];
    return Promise.resolve([...new Set(files.map((f) => f.info.version))]);
  }

  deleteFile(repo: Repository, project: string, _version: string, filename: string) {
    this.onChange?.();
    this.#project(repo.name, project, false)?.delete(filename);
    return Promise.resolve({ deleted: filename });
  }

  holdsProject(repo: Repository, project: string): Promise<boolean> {
    return Promise.resolve((this.#project(repo.name, project, false)?.size ?? 0) > 0);
  }
}

/** A static upstream index: `/simple/<project>/` as PEP 691 JSON, files at `/files/<name>`. */
export class StaticUpstream {
  readonly #projects = new Map<string, Map<string, Buffer>>();
  readonly #server = http.createServer((req, res) => {
    this.requests.push(req.url ?? '');
    const page = /^\/simple\/([^/]+)\/$/.exec(req.url ?? '');
    if (page) {
      const files = this.#projects.get(page[1] ?? '');
      if (!files) return void res.writeHead(404).end('not found');
      res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json' });
      return void res.end(
        JSON.stringify({
          meta: { 'api-version': '1.1' },
          name: page[1],
          files: [...files].map(([filename, bytes]) => ({
            filename,
            url: `${this.url}/files/${filename}`,
            hashes: { sha256: sha256(bytes) },
            size: bytes.length,
          })),
        }),
      );
    }
    const file = /^\/files\/([^/]+)$/.exec(req.url ?? '');
    const served = this.#served.get(file?.[1] ?? '');
    if (served) return void res.writeHead(200, { 'content-length': served.length }).end(served);
    for (const files of this.#projects.values()) {
      const bytes = files.get(file?.[1] ?? '');
      if (bytes) return void res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
    }
    res.writeHead(404).end('not found');
  });
  /** Bytes served for a file in place of those its page's hash names (see `corrupt`). */
  readonly #served = new Map<string, Buffer>();
  readonly requests: string[] = [];
  url = '';

  /** Serves `bytes` for `filename` while its page still lists the hash of the original. */
  corrupt(filename: string, bytes: Buffer): void {
    this.#served.set(filename, bytes);
  }

  add(project: string, filename: string, bytes: string): void {
    let files = this.#projects.get(project);
    if (!files) {
      files = new Map<string, Buffer>();
      this.#projects.set(project, files);
    }
    files.set(filename, Buffer.from(bytes));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }
}
