// `portcullis check`: validate the config and the policies; exit 1 with file:line errors. Warnings (documents of
// other kinds skipped, fields ignored, listeners on every interface) are printed and do not fail, unless --strict.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { PortcullisConfig } from '../config/types.js';
import { formatSourceError, formatSourceWarning, type SourceError } from '../policy/types.js';
import { compileConfig, type Compiled } from '../runtime/compile.js';

interface CheckOptions {
  config?: string;
  strict?: boolean;
  json?: boolean;
}

type Severity = 'error' | 'warning';

/** One line of `--json` output's `problems`: what CI turns into an annotation. */
interface Problem extends SourceError {
  readonly severity: Severity;
}

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
    log: { level: 'info', format: 'json' },
    redactHeaders: [],
    redactQuery: false,
    endpoints: [],
    listeners: [],
  };
}

/** Everything wrong with the config and the policies, and the compiled result when nothing is. */
function checkSources(paths: readonly string[], configFile: string | undefined): { compiled?: Compiled; errors: SourceError[]; warnings: SourceError[] } {
  let config = policyOnlyConfig();
  let configWarnings: SourceError[] = [];
  if (configFile !== undefined) {
    const loaded = loadConfig(configFile);
    if (loaded.config === undefined) return loaded;
    config = loaded.config;
    configWarnings = loaded.warnings;
  }
  return compileConfig(config, { revision: 1, extraPolicies: paths.map((p) => resolve(p)) }, '', configWarnings);
}

function summary(compiled: Compiled): { policies: number; rules: number; files: number; endpoints: number; listeners: number } {
  const s = compiled.snapshot;
  return {
    policies: s.policies.length,
    rules: s.policies.reduce((n, p) => n + p.rules, 0),
    files: compiled.files.length,
    endpoints: s.endpoints.list().length,
    listeners: compiled.config.listeners.length,
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function check(paths: readonly string[], o: CheckOptions): number {
  const configFile = o.config ?? (existsSync('portcullis.yaml') || paths.length === 0 ? 'portcullis.yaml' : undefined);
  const result = checkSources(paths, configFile);
  // --strict: what would only be printed fails the check.
  const warningSeverity: Severity = o.strict ? 'error' : 'warning';
  const problems: Problem[] = [
    ...result.warnings.map((w) => ({ ...w, severity: warningSeverity })),
    ...result.errors.map((e) => ({ ...e, severity: 'error' as const })),
  ].sort((a, b) => (a.file === b.file ? a.line - b.line || a.column - b.column : a.file < b.file ? -1 : 1));
  const errors = problems.filter((p) => p.severity === 'error').length;
  const warnings = problems.length - errors;
  const ok = errors === 0 && result.compiled !== undefined;
  if (o.json) {
    const counts = result.compiled === undefined ? {} : { summary: summary(result.compiled) };
    process.stdout.write(`${JSON.stringify({ ok, errors, warnings, problems, ...counts }, null, 2)}\n`);
    return ok ? 0 : 1;
  }
  for (const p of problems) process.stderr.write(`${p.severity === 'warning' ? formatSourceWarning(p) : formatSourceError(p)}\n`);
  if (!ok) {
    process.stderr.write(`${plural(errors, 'error')}${warnings > 0 ? `, ${plural(warnings, 'warning')}` : ''}\n`);
    return 1;
  }
  const s = summary(result.compiled!);
  process.stdout.write(
    `OK: ${s.policies} policies (${s.rules} rules) in ${s.files} files, ${s.endpoints} endpoints, ${s.listeners} listeners` +
      `${warnings > 0 ? ` (${plural(warnings, 'warning')})` : ''}\n`,
  );
  return 0;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('validate the config file and policies (and any extra policy files or folders given)')
    .argument('[paths...]', 'extra policy files or folders')
    .option('-c, --config <file>', 'config file (default: portcullis.yaml if it exists)')
    .option('--strict', 'treat warnings (skipped documents, ignored fields, listeners on every interface) as errors')
    .option('--json', 'print every problem as JSON (file, line, column, path, severity, message) for CI annotations')
    .addHelpText('after', '\nExit codes: 0 valid (warnings allowed unless --strict), 1 errors.')
    .action((paths: string[], o: CheckOptions) => {
      process.exitCode = check(paths, o);
    });
}
