/**
 * Helm test helpers: small real chart archives (`<name>/Chart.yaml`, `values.yaml`,
 * `templates/…`, gzipped tar as `helm package` writes them) and a chart repository client
 * written from the Helm repository spec (https://helm.sh/docs/topics/chart_repository/): fetch
 * `index.yaml`, parse it with `yaml`, pick the newest version by SemVer, resolve its URL against
 * the repository URL (relative URLs allowed), download it and verify its sha256 digest. Also a
 * fixture host for proxy tests (an upstream, or another host its index points at) that logs what
 * it was asked.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import semver from 'semver';
import tar from 'tar-stream';
import { parse as parseYaml } from 'yaml';

export interface ChartSpec {
  readonly name: string;
  readonly version: string;
  readonly appVersion?: string;
  readonly description?: string;
  /** Extra Chart.yaml text appended verbatim. */
  readonly extra?: string;
  /** Replaces the whole Chart.yaml. */
  readonly chartYaml?: string;
  /** Directory name inside the archive (default: the chart name). */
  readonly dir?: string;
  /** Entries added after Chart.yaml and the usual files: a text, or `zeros` bytes of 0. */
  readonly extraFiles?: readonly { name: string; text?: string; zeros?: number }[];
}

/** A gzipped chart archive. */
export async function buildChart(spec: ChartSpec): Promise<Buffer> {
  const dir = spec.dir ?? spec.name;
  const chartYaml =
    spec.chartYaml ??
    [
      'apiVersion: v2',
      `name: ${spec.name}`,
      `version: ${spec.version}`,
      `description: ${spec.description ?? `A test chart ${spec.name}`}`,
      'type: application',
      `appVersion: "${spec.appVersion ?? '1.0.0'}"`,
      'keywords: [test, nora]',
      'maintainers:',
      '  - name: Nora Tester',
      '    email: tester@example.com',
      spec.extra ?? '',
    ].join('\n');
  const files: [string, string][] = [
    [`${dir}/Chart.yaml`, chartYaml],
    [`${dir}/values.yaml`, 'replicaCount: 1\nimage:\n  repository: nginx\n  tag: stable\n'],
    [
      `${dir}/templates/deployment.yaml`,
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicaCount }}\n',
    ],
    [`${dir}/.helmignore`, '.git\n'],
  ];
  const pack = tar.pack();
  // Streamed through gzip: an entry of `zeros` bytes (a gzip bomb) is never held unpacked.
  const gzip = createGzip();
  const chunks: Buffer[] = [];
  gzip.on('data', (c: Buffer) => {
    chunks.push(c);
  });
  const done = new Promise<void>((resolve, reject) => {
    gzip.on('end', resolve);
    gzip.on('error', reject);
    pack.on('error', reject);
  });
  pack.pipe(gzip);
  for (const [name, text] of files) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, text);
  const zeros = Buffer.alloc(1024 * 1024);
  for (const extra of spec.extraFiles ?? []) {
    const header = { name: extra.name, mode: 0o644, mtime: new Date(0) };
    if (extra.zeros === undefined) {
      pack.entry(header, extra.text ?? '');
      continue;
    }
    const size = extra.zeros;
    const entry = pack.entry({ ...header, size }) as unknown as Writable;
    for (let left = size; left > 0; left -= zeros.length) {
      if (!entry.write(left >= zeros.length ? zeros : zeros.subarray(0, left))) {
        await new Promise((resolve) => entry.once('drain', resolve));
      }
    }
    entry.end();
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A minimal provenance file for a chart (clear-signed layout; the signature is not checked). */
export function provenance(name: string, version: string, archive: Buffer): string {
  return [
    '-----BEGIN PGP SIGNED MESSAGE-----',
    'Hash: SHA512',
    '',
    'apiVersion: v2',
    `name: ${name}`,
    `version: ${version}`,
    '',
    '...',
    'files:',
    `  ${name}-${version}.tgz: sha256:${sha256(archive)}`,
    '-----BEGIN PGP SIGNATURE-----',
    '',
    'wsBcBAEBCgAQBQJfake',
    '-----END PGP SIGNATURE-----',
    '',
  ].join('\n');
}

/** A fixture host started by {@link serveFixture}. */
export interface FixtureHost {
  /** `http://127.0.0.1:<port>/` (with the slash). */
  readonly url: string;
  readonly port: number;
  /** Every request, in order: its URL and Authorization header (undefined when none was sent). */
  readonly hits: { url: string; authorization: string | undefined }[];
  /** Drops open connections (NORA's keep-alive ones), then stops listening. */
  close(): Promise<void>;
}

/**
 * Serves `handler` on 127.0.0.1 and a free port, logging each request in `hits` first: an
 * upstream for the helm proxy, or the other host an upstream's index.yaml names.
 */
export async function serveFixture(handler: http.RequestListener): Promise<FixtureHost> {
  const hits: FixtureHost['hits'] = [];
  const server = http.createServer((request, response) => {
    hits.push({ url: request.url ?? '', authorization: request.headers.authorization });
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    hits,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface IndexFile {
  readonly apiVersion: string;
  readonly entries: Record<
    string,
    { name: string; version: string; urls: string[]; digest?: string }[]
  >;
}

/**
 * What `helm repo add` + `helm pull` do: index, newest version (stable only unless `devel`, as
 * Helm), download from the entry's first URL resolved against the repository URL, digest check.
 */
export async function helmPull(
  repoUrl: string,
  chart: string,
  options: { authorization?: string; version?: string; devel?: boolean } = {},
): Promise<{ version: string; bytes: Buffer; index: IndexFile }> {
  const base = repoUrl.endsWith('/') ? repoUrl : `${repoUrl}/`;
  const headers: Record<string, string> = {};
  if (options.authorization) headers['authorization'] = options.authorization;
  const response = await fetch(new URL('index.yaml', base), { headers });
  if (response.status !== 200) throw new Error(`index.yaml: HTTP ${response.status}`);
  const index = parseYaml(await response.text(), { maxAliasCount: 100 }) as IndexFile;
  if (index.apiVersion !== 'v1') throw new Error(`unexpected apiVersion ${index.apiVersion}`);
  const versions = index.entries[chart] ?? [];
  // As `helm install` without --devel: pre-releases only when asked for.
  const candidates = versions.filter((v) =>
    options.version !== undefined
      ? v.version === options.version
      : options.devel === true || semver.prerelease(v.version) === null,
  );
  const newest = candidates.sort((a, b) => semver.rcompare(a.version, b.version))[0];
  if (!newest) throw new Error(`chart ${chart} not in the index`);
  const url = newest.urls[0];
  if (url === undefined) throw new Error('no url');
  const download = await fetch(new URL(url, base), { headers });
  if (download.status !== 200) throw new Error(`${url}: HTTP ${download.status}`);
  const bytes = Buffer.from(await download.arrayBuffer());
  if (newest.digest !== undefined && sha256(bytes) !== newest.digest) {
    throw new Error(`digest mismatch for ${url}`);
  }
  return { version: newest.version, bytes, index };
}

/**
 * A real-looking upstream index.yaml (the shape `helm repo index` writes for a big public
 * repository: annotations with a block scalar, dependencies, keywords, maintainers, sources, an
 * absolute chart URL, a sha256 digest) of `charts` × `versions` chart versions, ~1.1 KB each:
 * 16 × 1100 is ~20 MB. Deterministic for the same arguments. `base` is the chart URLs' origin.
 */
export function bigUpstreamIndex(
  charts: number,
  versions: number,
  base = 'https://charts.example.org/stable',
): string {
  const parts: string[] = ['apiVersion: v1\nentries:\n'];
  for (let c = 0; c < charts; c++) {
    const name = `chart-${c.toString(36)}`;
    parts.push(`  ${name}:\n`);
    for (let v = versions - 1; v >= 0; v--) {
      const version = `${1 + (v % 7)}.${Math.floor(v / 7)}.${c % 5}`;
      const digest = createHash('sha256').update(`${name}@${version}`).digest('hex');
      parts.push(
        [
          '  - annotations:',
          '      category: Infrastructure',
          '      images: |',
          `        - name: ${name}`,
          `          image: docker.example.org/acme/${name}:${version}-debian-12-r${v}`,
          '        - name: os-shell',
          `          image: docker.example.org/acme/os-shell:12-debian-12-r${v}`,
          '      licenses: Apache-2.0',
          '    apiVersion: v2',
          `    appVersion: ${1 + (v % 3)}.${v % 11}.${c % 13}`,
          `    created: "2024-${String(1 + (v % 12)).padStart(2, '0')}-${String(1 + (v % 28)).padStart(2, '0')}T10:${String(v % 60).padStart(2, '0')}:07.123456789Z"`,
          '    dependencies:',
          '    - name: common',
          '      repository: oci://registry.example.org/acme',
          '      tags:',
          '      - acme-common',
          '      version: 2.x.x',
          `    description: ${name} is a test chart that stands in for a real one; this line is about as long as the descriptions of a public repository.`,
          `    digest: ${digest}`,
          '    home: https://example.org/charts',
          `    icon: https://example.org/assets/stacks/${name}/img/${name}-stack-220x234.png`,
          '    keywords:',
          `    - ${name}`,
          '    - http',
          '    - web',
          '    maintainers:',
          '    - name: Acme, Inc.',
          '      url: https://example.org/acme/charts',
          `    name: ${name}`,
          '    sources:',
          `    - https://example.org/acme/charts/tree/main/acme/${name}`,
          '    urls:',
          `    - ${base}/${name}-${version}.tgz`,
          `    version: ${version}`,
          '',
        ].join('\n'),
      );
    }
  }
  parts.push('generated: "2024-12-01T00:00:00.000000000Z"\n');
  return parts.join('');
}
