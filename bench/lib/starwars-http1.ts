// The Star Wars HTTP/1.1 setup bench/http1 and bench/http1-idle share: the deathstar upstream and Portcullis in
// front of it with the L7 policy, the tiefighter being the load generator's source addresses.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { haproxyInstalled, startHaproxyHttp1 } from './haproxy.js';
import type { LoadOptions } from './autocannon-run.js';
import type { HttpAllowRule } from './http-rule.js';
import { nginxInstalled, startNginxHttp1 } from './nginx.js';
import { freePort, startChild, waitForChild, type Child } from './processes.js';

const here = fileURLToPath(new URL('.', import.meta.url));
/** This build's CLI (from dist/bench/lib). */
export const CLI = join(here, '..', '..', 'src', 'cli', 'main.js');
export const L7_POLICY = join(here, '..', '..', '..', 'policies', 'starwars', 'sw_l3_l4_l7_policy.yaml');
export const DEATHSTAR_HOST = '127.0.0.10';
export const LANDING_PATH = '/v1/request-landing';
export const LANDING_BODY = '{"ship":"tie-ln"}'; // 17 bytes, as in the issue's reference run
const LANDING_HEADERS = { 'content-type': 'application/json' };
/** wrk and autocannon cannot choose their source address: 127.0.0.1 is a tiefighter. */
export const LOAD_SOURCE = '127.0.0.1';

/** The load: the tiefighter's landing through `base` (`http://host:port`). */
export function landingLoad(base: string, connections: number, seconds: number): LoadOptions {
  return { url: `${base}${LANDING_PATH}`, connections, seconds, method: 'POST', body: LANDING_BODY, headers: LANDING_HEADERS };
}

/**
 * Through `base`: the status of the landing (the L7 policy allows it) and of PUT /v1/exhaust-port (it does not),
 * so a bench proves a proxy lands the ship and enforces the rule before trusting its figures.
 */
export async function landingAndExhaustStatus(base: string): Promise<{ landing: number; exhaust: number }> {
  const landing = await fetch(`${base}${LANDING_PATH}`, { method: 'POST', body: LANDING_BODY, headers: LANDING_HEADERS });
  await landing.arrayBuffer();
  const exhaust = await fetch(`${base}/v1/exhaust-port`, { method: 'PUT' });
  await exhaust.arrayBuffer();
  return { landing: landing.status, exhaust: exhaust.status };
}

/** A server of the bench, listening on `host`:`port`. */
export interface Running {
  readonly name: string;
  readonly child: Child;
  readonly host: string;
  readonly port: number;
}

export async function startDeathstar(): Promise<Running> {
  const port = await freePort(DEATHSTAR_HOST);
  const child = startChild('deathstar', [join(here, '..', 'peers', 'deathstar.js'), DEATHSTAR_HOST, String(port)]);
  await waitForChild(child, DEATHSTAR_HOST, port);
  return { name: 'deathstar', child, host: DEATHSTAR_HOST, port };
}

export interface PortcullisOptions {
  readonly cli?: string;
  readonly policies: readonly string[];
  /** Write flow records to a file in `dir` (as in production), or not at all. */
  readonly flows: boolean;
  /** Tiefighter addresses besides LOAD_SOURCE. */
  readonly moreSources?: readonly string[];
  /** Extra fields of the listener, as YAML flow-mapping entries (`maxConnections: 20000`). */
  readonly listener?: string;
  /** More arguments for `portcullis run` (`--workers 2`); default `--workers 1`, one process whose figures are the proxy's. */
  readonly runArgs?: readonly string[];
  /** Serve the Hubble API on 127.0.0.1:`hubblePort` (one process: `workers: 1`). */
  readonly hubblePort?: number;
}

/** Starts Portcullis in front of the deathstar at `upstreamPort`; resolves once it listens on 127.0.0.1. */
export async function startPortcullis(name: string, dir: string, upstreamPort: number, opts: PortcullisOptions): Promise<Running> {
  const port = await freePort();
  const config = join(dir, `portcullis-${port}.yaml`);
  const tiefighters = [`${LOAD_SOURCE}/32`, ...(opts.moreSources ?? [])];
  writeFileSync(
    config,
    `policies: [${opts.policies.map((p) => JSON.stringify(p)).join(', ')}]
admin: off
flows: ${opts.flows ? JSON.stringify(join(dir, `flows-${port}.jsonl`)) : 'off'}
${opts.hubblePort === undefined ? '' : `workers: 1\nhubble: {listen: "127.0.0.1:${opts.hubblePort}"}\n`}endpoints:
  - {name: deathstar, labels: {org: empire, class: deathstar}, addresses: [${DEATHSTAR_HOST}]}
  - {name: tiefighter, labels: {org: empire, class: tiefighter}, addresses: [${tiefighters.join(', ')}]}
listeners:
  - {name: deathstar-http, listen: "127.0.0.1:${port}", protocol: http, to: deathstar, upstream: "${DEATHSTAR_HOST}:${upstreamPort}", port: 80${opts.listener === undefined ? '' : `, ${opts.listener}`}}
`,
  );
  const child = startChild(name, [opts.cli ?? CLI, 'run', '--no-watch', ...(opts.runArgs ?? ['--workers', '1']), '-c', config]);
  await waitForChild(child, '127.0.0.1', port);
  return { name, child, host: '127.0.0.1', port };
}

/** haproxy and nginx in front of the deathstar with `rule`, each that is installed (a note on stderr for each that is not). */
export async function startNativePeers(dir: string, upstreamPort: number, rule: HttpAllowRule, maxConnections?: number): Promise<Running[]> {
  const peers = [
    ['haproxy', haproxyInstalled, startHaproxyHttp1],
    ['nginx', nginxInstalled, startNginxHttp1],
  ] as const;
  const running: Running[] = [];
  try {
    for (const [name, installed, start] of peers) {
      if (!installed()) {
        process.stderr.write(`${name} is not installed: its setups are skipped\n`);
        continue;
      }
      const port = await freePort();
      const child = start(dir, { host: '127.0.0.1', port }, { host: DEATHSTAR_HOST, port: upstreamPort }, rule, maxConnections);
      await waitForChild(child, '127.0.0.1', port);
      running.push({ name, child, host: '127.0.0.1', port });
    }
    return running;
  } catch (e) {
    for (const r of running) await r.child.stop();
    throw e;
  }
}
