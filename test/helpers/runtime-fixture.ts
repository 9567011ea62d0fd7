// A whole Portcullis in-process on a temp folder (config + policies) in front of the real deathstar, for
// end-to-end tests of the runtime, the CLI and the demos.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/observe/logger.js';
import { startDeathstar, type Deathstar } from '../../src/demo/starwars/deathstar.js';
import { packageFile } from '../../src/package-root.js';
import { startPortcullis, type Portcullis } from '../../src/runtime/server.js';
import { TIMINGS, type Timings } from '../../src/runtime/timings.js';
import { execCommand, type Exited } from './exec.js';

export const TIEFIGHTER = '127.0.0.2';
export const XWING = '127.0.0.3';
export const DEATHSTAR = '127.0.0.10';

/** Production timings but a short debounce of file events, for tests that save files and wait for the reload. */
export const QUICK_RELOAD_TIMINGS: Timings = { ...TIMINGS, policyDebounceMs: 50 };

export interface StarWarsFixture {
  readonly dir: string;
  readonly policies: string;
  readonly configFile: string;
  readonly flowsFile: string;
  readonly proxy: Portcullis;
  readonly deathstar: Deathstar;
  readonly url: string;
  /** Copies a policy from policies/starwars/ into the watched folder. */
  usePolicy(file: string): void;
  flows(): Promise<Array<{ flow: Record<string, any> }>>;
  close(): Promise<void>;
}

export function starWarsConfig(o: { upstreamPort: number; policies: string; flows: string; audit?: boolean; admin?: boolean; hubble?: boolean }): string {
  return `policies: ${JSON.stringify(o.policies)}
admin: ${o.admin ? '"127.0.0.1:0"' : 'off'}
${o.hubble ? 'workers: 1\nhubble: {listen: "127.0.0.1:0"}\n' : ''}flows: ${JSON.stringify(o.flows)}
audit: ${o.audit ?? false}
endpoints:
  - {name: deathstar, namespace: default, labels: {org: empire, class: deathstar}, addresses: [${DEATHSTAR}]}
  - {name: tiefighter, namespace: default, labels: {org: empire, class: tiefighter}, addresses: [${TIEFIGHTER}]}
  - {name: xwing, namespace: default, labels: {org: alliance, class: xwing}, addresses: [${XWING}]}
listeners:
  - {name: deathstar-http, listen: "127.0.0.1:0", protocol: http, to: deathstar, upstream: "${DEATHSTAR}:${o.upstreamPort}", port: 80}
`;
}

/** `extraConfig`: top-level portcullis.yaml lines added to the Star Wars config. `flowsOff`: `flows: off` (no file). */
export async function startStarWars(o: { policy?: string; audit?: boolean; admin?: boolean; hubble?: boolean; flowsOff?: boolean; watch?: boolean; timings?: Timings; extraConfig?: string } = {}): Promise<StarWarsFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-test-'));
  const policies = join(dir, 'policies');
  mkdirSync(policies);
  const usePolicy = (file: string) => copyFileSync(packageFile('policies', 'starwars', file), join(policies, file));
  if (o.policy) usePolicy(o.policy);
  const deathstar = await startDeathstar(DEATHSTAR);
  const flowsFile = join(dir, 'flows.jsonl');
  const configFile = join(dir, 'portcullis.yaml');
  writeFileSync(configFile, starWarsConfig({ upstreamPort: deathstar.port, policies, flows: o.flowsOff ? 'off' : flowsFile, audit: o.audit ?? false, admin: o.admin ?? false, hubble: o.hubble ?? false }) + (o.extraConfig ?? ''));
  const proxy = await startPortcullis(configFile, { watch: o.watch ?? false, log: createLogger({ level: 'silent' }), ...(o.timings ? { timings: o.timings } : {}) });
  const at = proxy.listeners[0]!.address;
  return {
    dir,
    policies,
    configFile,
    flowsFile,
    proxy,
    deathstar,
    url: `http://${at.host}:${at.port}`,
    usePolicy,
    async flows() {
      await proxy.flushFlows();
      return readFileSync(flowsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },
    async close() {
      await proxy.close();
      await deathstar.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Reloads rejected so far, from the admin endpoint's /metrics (the proxy must have one). */
export async function reloadFailures(proxy: Portcullis): Promise<number> {
  const { host, port } = proxy.admin!.address;
  const text = await (await fetch(`http://${host}:${port}/metrics`)).text();
  const m = /^portcullis_policy_reload_total\{result="failure"\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Runs curl; returns its exit code, stdout and stderr (never throws on a non-zero exit). */
export function curl(args: readonly string[]): Promise<Exited> {
  return execCommand('curl', ['-sS', '--max-time', '5', ...args]);
}

/** Runs the built CLI (`dist/src/cli/main.js`). */
export function cli(args: readonly string[], cwd?: string): Promise<Exited> {
  // No deadline of its own: the test's timeout bounds it.
  return execCommand(process.execPath, [packageFile('dist', 'src', 'cli', 'main.js'), ...args], { ...(cwd ? { cwd } : {}), timeoutMs: 0 });
}
