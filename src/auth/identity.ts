/**
 * The identity services every format shares, built once by the composition root: users and API
 * tokens in the metadata store, and the credential resolvers that turn an `Authorization` header
 * into a principal for every route of every format (Bearer token; Basic with a user's password,
 * or with a token as the password under any username).
 */
import type { Kysely } from 'kysely';
import type { Db } from '../db/database.ts';
import type { AccessControl } from './access.ts';
import type { AuthTables } from './migrations.ts';
import { BasicPasswordResolver, BearerTokenResolver } from './resolvers.ts';
import { TokenStore, UserStore } from './users.ts';

export interface Identity {
  readonly users: UserStore;
  readonly tokens: TokenStore;
}

/** Builds the stores and registers their resolvers on `access` (tokens first: cheap, no KDF). */
export function createIdentity(db: Db, access: AccessControl): Identity {
  const authDb: Kysely<AuthTables> = db.$extendTables<AuthTables>();
  const users = new UserStore(authDb);
  const tokens = new TokenStore(authDb);
  access.addResolver(new BearerTokenResolver(tokens));
  access.addResolver(new BasicPasswordResolver(users));
  return { users, tokens };
}
