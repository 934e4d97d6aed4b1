/**
 * `nora curation validate FILE` and `nora curation explain registry:name@version`
 * (docs/curation.md "Command line").
 *
 * - validate: reads a blocklist or allowlist file (which one: its `rules` or `entries` key) and
 *   prints `ok: <file>: blocklist, N rules` (exit 0) or every problem as `<file>:<line>: <path>:
 *   <message>` on stderr (exit 1).
 * - explain: loads the configuration as `serve` does (`-c`, NORA_CONFIG_PATH, NORA_*), reads the
 *   lists it names, and prints the decision the running server would make for one proxied
 *   download (mode, decision, reason, rule, internal namespace), exit 0; a list that does not
 *   load is reported as the server would treat it (on_failure).
 */
import { quarantineLine } from './quarantine.ts';
import { minAgeLine } from './settings.ts';
import { formatDuration } from '../config/fields.ts';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { FORMAT_NAMES } from '../config/schema.ts';
import { loadCheckedConfig } from '../app.ts';
import { describeSubject, findRefusal, loadPolicy } from './engine.ts';
import { parseInternalNamespace, parseList, PolicyError } from './policy.ts';
import type { CurationRegistry, CurationSubject } from './types.ts';

/** Thrown for a usage mistake (exit 2 through main.ts's UsageError handling is not reachable here). */
export class CurationCliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'CurationCliError';
    this.exitCode = exitCode;
  }
}

/** `registry:name@version` → subject (`npm:@scope/pkg@1.2.3`, `pypi:requests@2.31.0`, `cargo:serde@*`: every version, a
 * name-level question). Throws CurationCliError (exit 2) for an unknown registry, no name, no version. */
export function parseSubject(text: string): CurationSubject {
  const colon = text.indexOf(':');
  const registry = colon < 0 ? '' : text.slice(0, colon);
  if (!(FORMAT_NAMES as readonly string[]).includes(registry)) {
    throw new CurationCliError(
      `nora curation explain: expected registry:name@version with registry one of ${FORMAT_NAMES.join(', ')}, got ${JSON.stringify(text)}`,
      2,
    );
  }
  const rest = text.slice(colon + 1);
  // The version follows the last '@' that is not the first character (npm scopes start with '@').
  const at = rest.lastIndexOf('@');
  const name = at > 0 ? rest.slice(0, at) : rest;
  const version = at > 0 ? rest.slice(at + 1) : undefined;
  if (name === '') {
    throw new CurationCliError(`nora curation explain: no name in ${JSON.stringify(text)}`, 2);
  }
  // Without a version the answer would be for a name-level question (only `*` rules refuse it)
  // and read "allowed" for a name a version rule blocks: a usage error, `@*` asks it on purpose
  // (trial 27 newC F7). Maven's `group:artifact:version` is the likely slip: named.
  // A raw file has no version: its path names it (`raw:tools/x.bin`).
  if (registry === 'raw' && version === undefined) return { registry, name };
  if (version === undefined || version === '') {
    const parts = name.split(':');
    const hint =
      registry === 'maven' && parts.length === 3
        ? ` (Maven: ${registry}:${parts[0]}:${parts[1]}@${parts[2]})`
        : '';
    throw new CurationCliError(
      `nora curation explain: no version in ${JSON.stringify(text)}: expected registry:name@version${hint}, or name@* for what applies to every version`,
      2,
    );
  }
  return {
    registry: registry as CurationRegistry,
    name,
    ...(version === '*' ? {} : { version }),
  };
}

/** The text `validate` prints for `file`, or throws `CurationCliError` (exit 1) listing problems. */
export function validateFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CurationCliError(
      `${file}: cannot read: ${err instanceof Error ? err.message : String(err)}`,
      1,
    );
  }
  // Which list: by its key (a file with neither is judged as a blocklist, whose error says so).
  let kind: 'blocklist' | 'allowlist' = 'blocklist';
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof doc === 'object' && doc !== null && 'entries' in doc && !('rules' in doc)) {
      kind = 'allowlist';
    }
  } catch {
    // parseList reports the syntax error with its line.
  }
  try {
    const list = parseList(kind, file, text);
    const count = list.kind === 'blocklist' ? list.rules.length : list.entries.length;
    const noun =
      list.kind === 'blocklist'
        ? count === 1
          ? 'rule'
          : 'rules'
        : count === 1
          ? 'entry'
          : 'entries';
    return `ok: ${file}: ${kind}, ${count} ${noun}\n`;
  } catch (err) {
    if (err instanceof PolicyError) throw new CurationCliError(err.message, 1);
    throw err;
  }
}

/** The lines `explain` prints for `subject` under the configuration in force. */
export async function explain(subject: CurationSubject, file: string | undefined): Promise<string> {
  const loaded = await loadCheckedConfig({
    env: process.env,
    ...(file === undefined ? {} : { file }),
  });
  const config = loaded.config.curation;
  const policy = loadPolicy(config, process.env, false);
  const lines = [`subject: ${describeSubject(subject)}`, `mode: ${policy.mode}`];
  const internal = config.internal_namespaces
    .map((entry) => ({ entry, ns: parseInternalNamespace(entry) }))
    .find(
      ({ ns }) =>
        (ns.registry === '*' || ns.registry === subject.registry) &&
        ns.pattern.matches(subject.registry, subject.name),
    );
  if (internal !== undefined) {
    lines.push(
      `internal namespace: ${internal.entry} (never fetched from an upstream: proxies answer 404, groups serve their hosted copy)`,
    );
  }
  // An internal name never reaches the lists: the proxy answers 404 without asking, a hosted
  // copy is served (hosted is never curated). The decision says that, not what a rule would do
  // to a proxied download no request gets (trial 27 newC F8).
  if (internal !== undefined) {
    lines.push(
      'decision: not proxied (a proxy answers 404 without asking its upstream; a hosted copy is served, never curated)',
    );
    return `${lines.join('\n')}\n`;
  }
  const times = policy.times[subject.registry];
  lines.push(minAgeLine(times, subject.registry), quarantineLine(times));
  if (policy.unavailable !== undefined) {
    lines.push(`policy unavailable (on_failure = "${policy.onFailure}"): ${policy.unavailable}`);
  }
  const found = policy.mode === 'off' ? undefined : findRefusal(policy, subject);
  // The age of one version is the server's to know (the upstream's date, its first-seen
  // table): explain says what decides, not a verdict it cannot make (trial 29 F4).
  const aged =
    policy.mode !== 'off' &&
    times.minReleaseAge > 0 &&
    (subject.version !== undefined || subject.registry === 'raw');
  if (found === undefined && aged) {
    const refused = policy.mode === 'enforce' ? 'blocked (403)' : 'audited (served, logged)';
    lines.push(
      `decision: allowed by the lists; by age: ${refused} while younger than ${formatDuration(times.minReleaseAge)}, allowed after (reason min_release_age)`,
    );
  } else if (found === undefined) {
    lines.push(
      policy.mode === 'off'
        ? 'decision: allowed (curation is off; only internal namespaces apply)'
        : 'decision: allowed (no rule refuses it)',
    );
  } else {
    const decision = policy.mode === 'enforce' ? 'blocked (403)' : 'audited (served, logged)';
    lines.push(`decision: ${decision}`, `reason: ${found.reason}: ${found.why}`);
    if (found.rule !== undefined) {
      lines.push(`rule: ${found.rule}${found.source === undefined ? '' : `, ${found.source}`}`);
    }
    if (policy.bypassToken !== undefined) {
      lines.push('bypass: a request with the X-Nora-Bypass-Token header would be served');
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Adds `nora curation validate|explain` to `program`. */
export function addCurationCommands(program: Command): void {
  const curation = program
    .command('curation')
    .description('validate or explain the curation policy (docs/curation.md)');
  curation
    .command('validate')
    .argument('<file>', 'a blocklist or allowlist JSON file')
    .description('check a curation list file: exit 0 when valid, 1 with every problem and its line')
    .action((file: string) => {
      try {
        process.stdout.write(validateFile(file));
      } catch (err) {
        if (!(err instanceof CurationCliError)) throw err;
        process.stderr.write(`${err.message}\n`);
        process.exitCode = err.exitCode;
      }
    });
  curation
    .command('explain')
    .argument('<subject>', 'registry:name@version (raw: raw:path), e.g. npm:left-pad@1.3.0')
    .option('-c, --config <file>', 'config file (default: NORA_CONFIG_PATH or ./config.toml)')
    .description('print the decision curation would make for one proxied download, and why')
    .action(async (text: string, opts: { config?: string }) => {
      try {
        process.stdout.write(await explain(parseSubject(text), opts.config));
      } catch (err) {
        if (!(err instanceof CurationCliError)) throw err;
        process.stderr.write(`${err.message}\n`);
        process.exitCode = err.exitCode;
      }
    });
}
