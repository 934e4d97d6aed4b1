/** Small HTTP helpers for OCI integration tests (plain fetch against a listening test server). */
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type TestServerOptions } from '../../helpers/server.ts';

/**
 * startTestServer whose close also drops keep-alive connections that become idle while closing:
 * a response can reach the client a moment before the server sees it "finish", and such a
 * connection would otherwise hold close() for the whole keep-alive timeout (~72 s).
 */
export async function startOciServer(options: TestServerOptions = {}): Promise<TestServer> {
  const server = await startTestServer(options);
  const close = async () => {
    const timer = setInterval(() => {
      server.app.fastify.server.closeIdleConnections();
    }, 25);
    try {
      await server.close();
    } finally {
      clearInterval(timer);
    }
  };
  return { ...server, close, [Symbol.asyncDispose]: close };
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function sha512(data: Buffer | string): string {
  return `sha512:${createHash('sha512').update(data).digest('hex')}`;
}

export interface ErrorBody {
  errors: { code: string; message: string; detail: unknown }[];
}

/** Asserts an OCI error envelope with `code` and returns it. */
export async function expectError(
  response: Response,
  status: number,
  code: string,
): Promise<ErrorBody> {
  const text = await response.text();
  assert.equal(
    response.status,
    status,
    `expected ${status} ${code}, got ${response.status}: ${text}`,
  );
  const body = JSON.parse(text) as ErrorBody;
  assert.equal(body.errors[0]?.code, code, text);
  return body;
}

export class Client {
  readonly base: string;

  constructor(base: string) {
    this.base = base;
  }

  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.base}${path}`, init);
  }

  /** Monolithic POST ?digest= upload; returns the digest. */
  async pushBlob(name: string, data: Buffer | string): Promise<string> {
    const digest = sha256(data);
    const response = await this.fetch(`/v2/${name}/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body: data,
    });
    assert.equal(response.status, 201, await response.text());
    return digest;
  }

  /** Pushes config + one layer and a manifest; returns the manifest bytes and digest. */
  async pushImage(
    name: string,
    tag: string,
    options: { layer?: string; extra?: Record<string, unknown> } = {},
  ): Promise<{ digest: string; body: string; layer: string; config: string }> {
    const layerData = options.layer ?? `layer of ${name}:${tag}`;
    const configData = JSON.stringify({ architecture: 'amd64', os: 'linux', tag });
    const layer = await this.pushBlob(name, layerData);
    const config = await this.pushBlob(name, configData);
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config, size: Buffer.byteLength(configData) },
      layers: [{ mediaType: OCI_LAYER, digest: layer, size: Buffer.byteLength(layerData) }],
      ...options.extra,
    });
    const digest = await this.putManifest(name, tag, body);
    return { digest, body, layer, config };
  }

  async putManifest(
    name: string,
    reference: string,
    body: string,
    mediaType = OCI_MANIFEST,
  ): Promise<string> {
    const response = await this.fetch(`/v2/${name}/manifests/${reference}`, {
      method: 'PUT',
      body,
      headers: { 'content-type': mediaType },
    });
    assert.equal(response.status, 201, await response.text());
    const digest = response.headers.get('docker-content-digest');
    assert.equal(digest, sha256(body));
    return digest;
  }
}

/** A Client that sends one Authorization header (`Basic …`, `Bearer …`) on every request. */
export class AuthClient extends Client {
  readonly #authorization: string;

  constructor(base: string, authorization: string) {
    super(base);
    this.#authorization = authorization;
  }

  override fetch(path: string, init: RequestInit = {}): Promise<Response> {
    return super.fetch(path, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), authorization: this.#authorization },
    });
  }
}
