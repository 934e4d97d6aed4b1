/**
 * The `WWW-Authenticate` challenge of an npm-protocol 401. Clients other than the npm CLI (curl,
 * yarn berry, pnpm, Renovate, any HTTP library) learn from it that credentials are wanted, and
 * how (Basic: the user name and a password or API token, as every NORA format takes them), so
 * the 401 carries NORA's challenge as the other formats' do (`Basic realm="nora"`).
 *
 * The npm CLI is the exception: its registry client (npm-registry-fetch `check-response.js`)
 * turns any 401 with a `WWW-Authenticate` header into an "auth" error (`HttpErrorAuthUnknown`,
 * or the one-time-password flow when the header says `otp`), and npm then prints "Unable to
 * authenticate, need: …" or, for `Basic`, "Incorrect or missing password … npm login" in place
 * of our `{"error": "…"}` message. Without the header npm prints the message, which says what
 * is wrong (a read-only token, a rule, the anonymous token of auth-off mode), so it gets none.
 */

/** NORA's Basic challenge (the realm every format uses). */
export const NPM_BASIC_CHALLENGE = 'Basic realm="nora"';

/**
 * The challenge value for a 401 to a client with this `User-Agent` header, or undefined for the
 * npm CLI (a User-Agent starting `npm/`, as `npm/11.6.0 node/v24.0.0 linux x64 …`; yarn and
 * pnpm start with their own name and mention `npm/?` later, so they get the challenge).
 */
export function npmChallenge(userAgent: string | undefined): string | undefined {
  if (userAgent !== undefined && /^npm\//i.test(userAgent.trimStart())) return undefined;
  return NPM_BASIC_CHALLENGE;
}
