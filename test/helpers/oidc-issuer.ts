/**
 * A local OIDC issuer for tests (no network): an HTTP server on 127.0.0.1 serving
 * `/.well-known/openid-configuration` and `/jwks` from keys generated with jose, and a `mint`
 * that signs ID tokens the way a CI platform does. Keys can be rotated (the served set changed)
 * and the server stopped (a JWKS outage).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export interface IssuerKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256';
  readonly privateKey: SigningKey;
  readonly jwk: JWK;
}

export interface MintOptions {
  readonly sub?: string;
  readonly aud?: string | string[];
  /** Seconds relative to now (negative = in the past). */
  readonly iatOffset?: number | null;
  readonly expOffset?: number;
  readonly nbfOffset?: number;
  /** Signing key kid (default: the first key). */
  readonly kid?: string;
  readonly iss?: string;
  readonly claims?: JWTPayload;
}

export class OidcIssuer {
  readonly url: string;
  readonly keys = new Map<string, IssuerKey>();
  /** kids the JWKS endpoint serves (rotation = change this). */
  served: string[] = [];
  jwksHits = 0;
  discoveryHits = 0;
  readonly #server: Server;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.url = `http://127.0.0.1:${port}`;
  }

  /** Starts the issuer with one RS256 key (`rs-1`) and one ES256 key (`es-1`), both served. */
  static async start(): Promise<OidcIssuer> {
    const started: { issuer?: OidcIssuer } = {};
    const server = createServer((req, res) => {
      started.issuer?.handle(req.url ?? '/', (status, body) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const issuer = new OidcIssuer(server, (server.address() as AddressInfo).port);
    started.issuer = issuer;
    await issuer.addKey('rs-1', 'RS256');
    await issuer.addKey('es-1', 'ES256');
    return issuer;
  }

  handle(url: string, send: (status: number, body: unknown) => void): void {
    if (url === '/.well-known/openid-configuration') {
      this.discoveryHits++;
      send(200, { issuer: this.url, jwks_uri: `${this.url}/jwks` });
    } else if (url === '/jwks') {
      this.jwksHits++;
      send(200, {
        keys: this.served.map((kid) => this.keys.get(kid)?.jwk).filter((k) => k !== undefined),
      });
    } else {
      send(404, { error: 'not found' });
    }
  }

  /** Generates a key pair and serves its public half. */
  async addKey(kid: string, alg: 'RS256' | 'ES256', serve = true): Promise<IssuerKey> {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    const key: IssuerKey = { kid, alg, privateKey, jwk };
    this.keys.set(kid, key);
    if (serve) this.served.push(kid);
    return key;
  }

  /** A signed ID token; defaults: sub `repo:myorg/app:ref:refs/heads/main`, 5 minutes. */
  async mint(options: MintOptions = {}): Promise<string> {
    const key = this.keys.get(options.kid ?? 'rs-1');
    if (!key) throw new Error(`no key ${options.kid ?? 'rs-1'}`);
    const now = Math.floor(Date.now() / 1000);
    const payload: JWTPayload = {
      iss: options.iss ?? this.url,
      sub: options.sub ?? 'repo:myorg/app:ref:refs/heads/main',
      aud: options.aud ?? 'nora',
      exp: now + (options.expOffset ?? 300),
      ...(options.iatOffset === null ? {} : { iat: now + (options.iatOffset ?? 0) }),
      ...(options.nbfOffset === undefined ? {} : { nbf: now + options.nbfOffset }),
      ...options.claims,
    };
    return new SignJWT(payload)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .sign(key.privateKey);
  }

  /** Stops answering: connections to the issuer URL are refused from now on. */
  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    if (this.#server.listening) await this.stop();
  }
}

/** An HS256 token signed with a shared secret, claiming to come from `iss`. */
export async function mintHs256(
  iss: string,
  secret = 'shared-secret-of-32-bytes-length!',
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss, sub: 'repo:myorg/app:ref:refs/heads/main', aud: 'nora' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(new TextEncoder().encode(secret));
}

/**
 * `[auth.oidc]` with one provider `ci` trusting `issuerUrl` (audience `nora`) and one role rule
 * giving `role` to builds of `main` of any `myorg` repository (what `mint` signs by default).
 */
export function oidcSection(
  issuerUrl: string,
  role: 'read' | 'write' | 'admin',
): Record<string, unknown> {
  return {
    enabled: true,
    providers: [
      {
        name: 'ci',
        issuer: issuerUrl,
        audience: 'nora',
        role_rules: [{ pattern: 'repo:myorg/*:ref:refs/heads/main', role }],
      },
    ],
  };
}
