// A whole Portcullis in-process for TLS and forward-proxy tests: a temp folder with portcullis.yaml (endpoints and
// listeners given as YAML), policy files, the caller's secret store, and a flows file the test reads back.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createLogger } from '../../src/observe/logger.js';
import { startPortcullis, type Portcullis } from '../../src/runtime/server.js';
import { waitUntil } from './wait.js';

export interface RuntimeOptions {
  /** Root of the secret store (none when no listener or policy needs one). */
  readonly certs?: string;
  /** File name -> policy YAML. */
  readonly policies: Readonly<Record<string, string>>;
  /** YAML list items under `endpoints:` (each line starting with `- `), indented by the helper. */
  readonly endpoints: string;
  /** YAML list items under `listeners:`. */
  readonly listeners: string;
  /** Serve the admin endpoint (/metrics) on an OS-chosen loopback port. */
  readonly admin?: boolean;
  /** Watch policy and secret files (default false: tests reload explicitly). */
  readonly watch?: boolean;
  /** Policy enforcement mode (default: the loader's default). */
  readonly enforcement?: 'default' | 'always' | 'never';
  /** Where the proxy logs (default: nowhere). */
  readonly log?: Logger;
}

export interface FlowRecord {
  readonly flow: Record<string, any>;
}

export interface Runtime {
  readonly dir: string;
  readonly proxy: Portcullis;
  /** Port of the listener named `name`. */
  port(name: string): number;
  /** Every flow record written so far. */
  flows(): Promise<FlowRecord[]>;
  /**
   * The flows matching `predicate`, once there are `count` of them (default 1): a client may see its answer, reset
   * or failed handshake before the proxy has recorded it. Resolves with what there is after 2 s.
   */
  waitForFlows(predicate: (flow: FlowRecord['flow']) => boolean, count?: number): Promise<Array<FlowRecord['flow']>>;
  /** Replaces a policy file and reloads (throws if the reload was rejected). */
  setPolicy(file: string, yaml: string): void;
  close(): Promise<void>;
}

const indent = (yaml: string): string =>
  yaml
    .trim()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');

export async function startRuntime(o: RuntimeOptions): Promise<Runtime> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-tls-'));
  const policies = join(dir, 'policies');
  mkdirSync(policies);
  for (const [file, yaml] of Object.entries(o.policies)) writeFileSync(join(policies, file), yaml);
  const flowsFile = join(dir, 'flows.jsonl');
  const configFile = join(dir, 'portcullis.yaml');
  writeFileSync(
    configFile,
    `policies: ${JSON.stringify(policies)}\n${o.certs === undefined ? '' : `certs: ${JSON.stringify(o.certs)}\n`}admin: ${o.admin ? '"127.0.0.1:0"' : 'off'}\n${o.enforcement === undefined ? '' : `enforcement: ${o.enforcement}\n`}flows: ${JSON.stringify(flowsFile)}\nendpoints:\n${indent(o.endpoints)}\nlisteners:\n${indent(o.listeners)}\n`,
  );
  let proxy: Portcullis;
  try {
    proxy = await startPortcullis(configFile, { watch: o.watch ?? false, log: o.log ?? createLogger({ level: 'silent' }) });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const runtime: Runtime = {
    dir,
    proxy,
    port(name) {
      const l = proxy.listeners.find((x) => x.name === name);
      if (l === undefined) throw new Error(`no listener ${name}`);
      return l.address.port;
    },
    async flows() {
      await proxy.flushFlows();
      let text = '';
      try {
        text = readFileSync(flowsFile, 'utf8');
      } catch {
        // No record written yet.
      }
      return text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as FlowRecord);
    },
    async waitForFlows(predicate, count = 1) {
      const matching = async () => (await runtime.flows()).map((r) => r.flow).filter(predicate);
      return waitUntil(`${count} matching flows`, async () => {
        const found = await matching();
        return found.length >= count && found;
      }, 2000, 25).catch(matching);
    },
    setPolicy(file, yaml) {
      writeFileSync(join(policies, file), yaml);
      if (!proxy.state.reload(`test writes ${file}`)) throw new Error(`policy ${file} was rejected`);
    },
    async close() {
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return runtime;
}
