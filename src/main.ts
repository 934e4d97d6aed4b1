/**
 * The `nora` command line: `nora serve` (default), `nora config check [FILE]`, `--version`,
 * `--help`. Exit codes: 0 ok, 1 runtime failure, 2 invalid configuration or usage.
 */
import { Command, CommanderError } from 'commander';
import { describeConfig } from './config/describe.ts';
import { redactText } from './core/redact.ts';
import { ConfigError, loadConfig } from './config/load.ts';
import { startServer } from './server.ts';
import { VERSION } from './version.ts';

export const EXIT_RUNTIME = 1;
export const EXIT_CONFIG = 2;

export function buildProgram(): Command {
  const program = new Command('nora')
    .description(
      'NORA: one self-hosted registry for Docker/OCI, npm, PyPI, Maven, Cargo, Go and raw files',
    )
    .version(VERSION, '-V, --version')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  program
    .command('serve', { isDefault: true })
    .description('run the registry server (NORA_HOST:NORA_PORT, default 127.0.0.1:4000)')
    .option('-c, --config <file>', 'config file (default: NORA_CONFIG_PATH or ./config.toml)')
    .action(async (opts: { config?: string }) => {
      const loadOptions = {
        env: process.env,
        ...(opts.config === undefined ? {} : { file: opts.config }),
      };
      const loaded = await loadConfig(loadOptions);
      await startServer(loaded.config, loadOptions, loaded.warnings);
    });

  const config = program.command('config').description('configuration tools');
  config
    .command('check')
    .argument('[file]', 'config file (default: NORA_CONFIG_PATH or ./config.toml)')
    .description(
      'validate a config file (with NORA_* overrides) and print the effective config, secrets masked',
    )
    .action(async (file: string | undefined) => {
      const loaded = await loadConfig({
        env: process.env,
        ...(file === undefined ? {} : { file }),
      });
      for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
      process.stdout.write(
        `# effective configuration (${loaded.file ?? 'defaults + environment'})\n`,
      );
      process.stdout.write(describeConfig(loaded.config));
      process.stdout.write('\n');
    });

  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_CONFIG;
      return;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`nora: ${redactText(err.message)}\n`);
      process.exitCode = EXIT_CONFIG;
      return;
    }
    // A config file's syntax error quotes its line, which may hold a credential.
    process.stderr.write(`nora: ${redactText(err instanceof Error ? err.message : String(err))}\n`);
    process.exitCode = EXIT_RUNTIME;
  }
}

if (import.meta.main) {
  await main(process.argv.slice(2));
}
