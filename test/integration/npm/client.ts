/** A tiny npm-registry HTTP client for integration tests (fetch against a listening server). */
import { escapedName, publishBody, type PackageSpec } from './fixtures.ts';

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // The caller states the shape it expects from the server (tests only).
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
  json<T = Record<string, unknown>>(): T;
}

export class NpmHttp {
  readonly base: string;
  token: string | undefined;

  constructor(base: string, token?: string) {
    this.base = base.replace(/\/+$/, '');
    this.token = token;
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
      ...(body === undefined
        ? {}
        : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      text,
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
      json<T>() {
        return JSON.parse(text) as T;
      },
    };
  }

  publish(spec: PackageSpec): Promise<Reply> {
    return this.request('PUT', `/${escapedName(spec.name)}`, publishBody(spec, this.base));
  }

  packument(name: string, abbreviated = false): Promise<Reply> {
    return this.request(
      'GET',
      `/${escapedName(name)}`,
      undefined,
      abbreviated ? { accept: 'application/vnd.npm.install-v1+json' } : {},
    );
  }

  async login(user: string, password: string): Promise<Reply> {
    const reply = await this.request('PUT', `/-/user/org.couchdb.user:${user}`, {
      _id: `org.couchdb.user:${user}`,
      name: user,
      password,
      email: `${user}@example.test`,
      type: 'user',
      roles: [],
      date: new Date().toISOString(),
    });
    if (reply.status === 201) this.token = reply.json<{ token: string }>().token;
    return reply;
  }
}
