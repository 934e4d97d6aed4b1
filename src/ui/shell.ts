/**
 * Shell quoting for the command lines the UI prints (browse detail commands, dashboard setup
 * lines), so that a line pasted into a POSIX shell (sh, bash, zsh) runs as shown whatever the
 * name holds: a raw file may be called `"q' ü.txt`.
 */

// Characters no POSIX shell treats specially anywhere in a word (no glob, no quote, no `~` at
// its start, no `=` that would make a leading word an assignment... `=` is kept: harmless in
// arguments and needed unquoted in `VAR=value` prefixes the caller builds itself).
const PLAIN = /^[A-Za-z0-9@%_+=:,./-]+$/;

/**
 * `word` as one shell word: unchanged when it holds only plain characters (`@scope/pkg@1.0.0`,
 * `http://host:8080/npm/`), else in single quotes with each `'` written `'\''`; `''` for the
 * empty string. POSIX "Shell Command Language" §2.2.2 (single quotes keep every character).
 */
export function shellQuote(word: string): string {
  if (PLAIN.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** `words` quoted with `shellQuote` and joined by spaces: one command line. */
export function shellCommand(...words: readonly string[]): string {
  return words.map(shellQuote).join(' ');
}
