// Config + policy files -> one validated snapshot. Shared by `run` (and its reloads), `check` and `trace`.
// A revision is compiled from its sources: the texts of the config and of every policy file, read once. Workers
// compile the primary's sources, never the files, so every worker runs the same revision whatever the disk holds.
import { readFileSync } from 'node:fs';
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
}

export interface CompileOptions {
  readonly revision: number;
  /** Extra policy paths (e.g. `portcullis check <paths…>`), read in addition to the config's. */
  readonly extraPolicies?: readonly string[];
  /** Extra endpoints (e.g. `trace --from org=empire` builds a synthetic endpoint). */
  readonly extraEndpoints?: readonly EndpointConfig[];
}

type Result = { compiled?: Compiled; errors: SourceError[] };

/** Reads the config file and the policy files it names, and compiles them. */
export function compile(configFile: string, options: CompileOptions): Result {
  let configText: string;
  try {
    configText = readFileSync(configFile, 'utf8');
  } catch (e) {
    return { errors: [{ file: configFile, line: 1, column: 1, path: '', message: `cannot read config: ${(e as Error).message}` }] };
  }
  const { config, errors } = parseConfigText(configText, configFile);
  if (config === undefined) return { errors };
  return compileConfig(config, options, configText);
}

/** Compiles sources read elsewhere (a worker compiling the primary's revision). */
export function compileSources(sources: Sources, options: CompileOptions): Result {
  const { config, errors } = parseConfigText(sources.configText, sources.configFile);
  if (config === undefined) return { errors };
  return build(config, sources, options);
}

/** Reads the policy files a parsed config names (and `extraPolicies`) and compiles them. */
export function compileConfig(config: PortcullisConfig, options: CompileOptions, configText = ''): Result {
  const read = readPolicyPaths([...config.policies, ...(options.extraPolicies ?? [])]);
  return build(config, { configFile: config.file, configText, policies: read.texts }, options, read.errors);
}

/** `readErrors`: files that could not be read; the others are still parsed, so one answer names every problem. */
function build(config: PortcullisConfig, sources: Sources, options: CompileOptions, readErrors: readonly SourceError[] = []): Result {
  const parsed = parsePolicyTexts(sources.policies);
  const errors = [...readErrors, ...parsed.errors];
  if (errors.length > 0) return { errors };
  const built = buildSnapshot({
    documents: parsed.documents,
    endpoints: [...config.endpoints, ...(options.extraEndpoints ?? [])],
    enforcement: config.enforcement,
    audit: config.audit,
    revision: options.revision,
  });
  if (built.snapshot === undefined || built.errors.length > 0) return { errors: built.errors };
  return { compiled: { config, snapshot: built.snapshot, files: sources.policies.map((p) => p.file), sources }, errors: [] };
}
