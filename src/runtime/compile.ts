// Config + policy files -> one validated snapshot. Shared by `run` (and its reloads), `check` and `trace`.
// A revision is compiled from its sources: the texts of the config and of every policy file, read once. Workers
// compile the primary's sources, never the files, so every worker runs the same revision whatever the disk holds.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseConfigText } from '../config/load.js';
import type { EndpointConfig, PortcullisConfig } from '../config/types.js';
import { parsePolicyTexts, readPolicyPaths, type PolicyText } from '../policy/load.js';
import { buildSnapshot } from '../policy/snapshot.js';
import type { PolicySnapshot, SourceError } from '../policy/types.js';

/** The bytes one revision is compiled from. Plain data: it crosses to the workers as an IPC message. */
export interface Sources {
  readonly configFile: string;
  readonly configText: string;
  readonly policies: readonly PolicyText[];
}

export interface Compiled {
  readonly config: PortcullisConfig;
  readonly snapshot: PolicySnapshot;
  /** Policy files that were read (for watching). */
  readonly files: readonly string[];
  readonly sources: Sources;
  /** What is valid but skipped or likely not meant (other kinds in a policy folder, a listener on every interface). */
  readonly warnings: readonly SourceError[];
}

export interface CompileOptions {
  readonly revision: number;
  /** Extra policy paths (e.g. `portcullis check <paths…>`), read in addition to the config's. */
  readonly extraPolicies?: readonly string[];
  /** Extra endpoints (e.g. `trace --from org=empire` builds a synthetic endpoint). */
  readonly extraEndpoints?: readonly EndpointConfig[];
}

type Result = { compiled?: Compiled; errors: SourceError[]; warnings: SourceError[] };

/** Reads the config file and the policy files it names, and compiles them. */
export function compile(configFile: string, options: CompileOptions): Result {
  let configText: string;
  try {
    configText = readFileSync(configFile, 'utf8');
  } catch (e) {
    return { errors: [{ file: configFile, line: 1, column: 1, path: '', message: `cannot read config: ${(e as Error).message}` }], warnings: [] };
  }
  const { config, errors, warnings } = parseConfigText(configText, configFile);
  if (config === undefined) return { errors, warnings };
  return compileConfig(config, options, configText, warnings);
}

/** Compiles sources read elsewhere (a worker compiling the primary's revision). */
export function compileSources(sources: Sources, options: CompileOptions): Result {
  const { config, errors, warnings } = parseConfigText(sources.configText, sources.configFile);
  if (config === undefined) return { errors, warnings };
  return build(config, sources, options, warnings);
}

/**
 * Reads the policy files a parsed config names (and `extraPolicies`) and compiles them; `configWarnings` are the
 * config's own, passed on with the policies'.
 */
export function compileConfig(config: PortcullisConfig, options: CompileOptions, configText = '', configWarnings: readonly SourceError[] = []): Result {
  const read = readPolicyPaths([...config.policies, ...(options.extraPolicies ?? [])]);
  // A config kept in its own policy folder is not a policy.
  const policies = read.texts.filter((t) => resolve(t.file) !== config.file);
  return build(config, { configFile: config.file, configText, policies }, options, configWarnings, read.errors);
}

/** `readErrors`: files that could not be read; the others are still parsed, so one answer names every problem. */
function build(
  config: PortcullisConfig, sources: Sources, options: CompileOptions, configWarnings: readonly SourceError[], readErrors: readonly SourceError[] = [],
): Result {
  const parsed = parsePolicyTexts(sources.policies);
  const errors = [...readErrors, ...parsed.errors];
  const warnings = [...configWarnings, ...parsed.warnings];
  if (errors.length > 0) return { errors, warnings };
  const built = buildSnapshot({
    documents: parsed.documents,
    endpoints: [...config.endpoints, ...(options.extraEndpoints ?? [])],
    enforcement: config.enforcement,
    audit: config.audit,
    revision: options.revision,
  });
  if (built.snapshot === undefined || built.errors.length > 0) return { errors: built.errors, warnings };
  return { compiled: { config, snapshot: built.snapshot, files: sources.policies.map((p) => p.file), sources, warnings }, errors: [], warnings };
}
