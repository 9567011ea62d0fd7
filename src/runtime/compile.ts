// Config + policy files -> one validated snapshot. Shared by `run` (and its reloads), `check` and `trace`.
import { loadConfig } from '../config/load.js';
import type { EndpointConfig, PortcullisConfig } from '../config/types.js';
import { loadPolicyPaths } from '../policy/load.js';
import { buildSnapshot } from '../policy/snapshot.js';
import type { PolicySnapshot, SourceError } from '../policy/types.js';

export interface Compiled {
  readonly config: PortcullisConfig;
  readonly snapshot: PolicySnapshot;
  /** Policy files that were read (for watching). */
  readonly files: readonly string[];
}

export interface CompileOptions {
  readonly revision: number;
  /** Extra policy paths (e.g. `portcullis check <paths…>`), read in addition to the config's. */
  readonly extraPolicies?: readonly string[];
  /** Extra endpoints (e.g. `trace --from org=empire` builds a synthetic endpoint). */
  readonly extraEndpoints?: readonly EndpointConfig[];
}

export function compile(configFile: string, options: CompileOptions): { compiled?: Compiled; errors: SourceError[] } {
  const { config, errors } = loadConfig(configFile);
  if (config === undefined) return { errors };
  return compileConfig(config, options);
}

export function compileConfig(config: PortcullisConfig, options: CompileOptions): { compiled?: Compiled; errors: SourceError[] } {
  const loaded = loadPolicyPaths([...config.policies, ...(options.extraPolicies ?? [])]);
  if (loaded.errors.length > 0) return { errors: loaded.errors };
  const built = buildSnapshot({
    documents: loaded.documents,
    endpoints: [...config.endpoints, ...(options.extraEndpoints ?? [])],
    enforcement: config.enforcement,
    audit: config.audit,
    revision: options.revision,
  });
  if (built.snapshot === undefined || built.errors.length > 0) return { errors: built.errors };
  return { compiled: { config, snapshot: built.snapshot, files: loaded.files }, errors: [] };
}
