// `portcullis check`: validate the config and the policies; exit 1 with file:line errors.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { PortcullisConfig } from '../config/types.js';
import { formatSourceError, type SourceError } from '../policy/types.js';
import { compileConfig } from '../runtime/compile.js';

/** With no config file around, policies are checked on their own (no endpoints, no listeners). */
export function policyOnlyConfig(): PortcullisConfig {
  return {
    file: resolve('portcullis.yaml'),
    policies: [],
    certs: resolve('certs'),
    enforcement: 'default',
    audit: false,
    workers: 1,
    flows: 'off',
    redactHeaders: [],
    endpoints: [],
    listeners: [],
  };
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('validate the config file and policies (and any extra policy files or folders given)')
    .argument('[paths...]', 'extra policy files or folders')
    .option('-c, --config <file>', 'config file (default: portcullis.yaml if it exists)')
    .action((paths: string[], opts: { config?: string }) => {
      const configFile = opts.config ?? (existsSync('portcullis.yaml') || paths.length === 0 ? 'portcullis.yaml' : undefined);
      let config = policyOnlyConfig();
      let errors: SourceError[] = [];
      if (configFile !== undefined) {
        const loaded = loadConfig(configFile);
        if (loaded.config === undefined) errors = loaded.errors;
        else config = loaded.config;
      }
      if (errors.length === 0) {
        const result = compileConfig(config, { revision: 1, extraPolicies: paths.map((p) => resolve(p)) });
        errors = result.errors;
        if (result.compiled !== undefined) {
          const s = result.compiled.snapshot;
          process.stdout.write(
            `OK: ${s.policies.length} policies (${s.policies.reduce((n, p) => n + p.rules, 0)} rules) in ${result.compiled.files.length} files, ` +
              `${s.endpoints.list().length} endpoints, ${config.listeners.length} listeners\n`,
          );
          return;
        }
      }
      for (const e of errors) process.stderr.write(`${formatSourceError(e)}\n`);
      process.stderr.write(`${errors.length} error${errors.length === 1 ? '' : 's'}\n`);
      process.exitCode = 1;
    });
}
