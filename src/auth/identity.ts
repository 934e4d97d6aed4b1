/**
 * The identity services every format shares, built once by the composition root: users and API
 * tokens in the metadata store, and the credential resolvers that turn an `Authorization` header
 * into a principal for every route of every format (Bearer token; Basic with a user's password,
 * or with a token as the password under any username; Bearer registry tokens issued at
 * `/v2/token`).
 */
import type { Kysely } from 'kysely';
import type { Db } from '../db/database.ts';
import type { AccessControl } from './access.ts';
import type { AuthTables } from './migrations.ts';
import { RegistryTokenResolver, RegistryTokens, SigningKeys } from './registry-token.ts';
import { BasicPasswordResolver, BearerTokenResolver } from './resolvers.ts';
import { TokenStore, UserStore } from './users.ts';

export interface Identity {
  readonly users: UserStore;
  readonly tokens: TokenStore;
  /** Docker registry tokens (`/v2/token`): issued by the OCI format, accepted on every route. */
  readonly registryTokens: RegistryTokens;
}

/**
 * Builds the stores and registers their resolvers on `access`: registry tokens first (a signature
 * check, no database), then API tokens (one indexed lookup, no KDF), then passwords.
 */
export function createIdentity(db: Db, access: AccessControl): Identity {
  const authDb: Kysely<AuthTables> = db.$extendTables<AuthTables>();
  const users = new UserStore(authDb);
  const tokens = new TokenStore(authDb);
  const registryTokens = new RegistryTokens(new SigningKeys(authDb));
  access.addResolver(new RegistryTokenResolver(registryTokens));
  access.addResolver(new BearerTokenResolver(tokens));
  access.addResolver(new BasicPasswordResolver(users));
  return { users, tokens, registryTokens };
}
