// The workers life-cycle tests' proxy (reload, a worker killed, drain, rolling restart): the workers fixture
// (workers-proxy.ts) running deathstarProcessConfig in front of the echo upstream, with a flow file and ./policy.yaml,
// plus an HTTP/1.1 load from undici that keeps every outcome.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'undici';
import { startEchoUpstream, type EchoUpstream } from './http-echo-upstream.js';
import { deathstarHttpPolicy, deathstarProcessConfig, TIEFIGHTER } from './http-proxy-fixture.js';
import { startWorkersProxy, type WorkerEntry, type WorkersProxy } from './workers-proxy.js';

/** Every request and response of these tests is over within this (the slow ones take about a second). */
const REQUEST_TIMEOUT_MS = 5000;

/** A policy letting tiefighters GET exactly `paths` (regular expressions). */
export function getPolicy(...paths: readonly string[]): string {
  return deathstarHttpPolicy(
    'lifecycle',
    paths.map((p) => `\n        - {method: GET, path: "${p}"}`).join(''),
  );
}

export interface LifecycleProxy extends WorkersProxy {
  readonly upstream: EchoUpstream;
  /** The listener, http://127.0.0.1:port. */
  readonly origin: string;
  /** Replaces ./policy.yaml (the proxy runs with --no-watch: a SIGHUP makes it read it). */
  writePolicy(text: string): void;
  /** The flow records written so far. */
  flows(): Array<{ flow: Record<string, any> }>;
}

/** The proxy with two workers in front of a fresh echo upstream, under `policy`. */
export async function startLifecycleProxy(policy: string): Promise<LifecycleProxy> {
  const upstream = await startEchoUpstream();
  let proxy: WorkersProxy;
  try {
    proxy = await startWorkersProxy(deathstarProcessConfig(upstream.port, '', { admin: '127.0.0.1:0', flows: './flows.jsonl' }), { 'policy.yaml': policy });
  } catch (e) {
    await upstream.close();
    throw e;
  }
  const { proc } = proxy;
  return {
    ...proxy,
    upstream,
    origin: `http://${proc.host}:${proc.port}`,
    writePolicy: (text) => writeFileSync(join(proc.dir, 'policy.yaml'), text),
    flows: () =>
      readFileSync(join(proc.dir, 'flows.jsonl'), 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as { flow: Record<string, any> }),
    async close() {
      await proxy.close();
      await upstream.close();
    },
  };
}

/** One request of a load: which lane sent it, when, and its status or transport error. */
export interface Outcome {
  readonly lane: number;
  readonly path: string;
  readonly sentAt: number;
  readonly status?: number;
  readonly error?: string;
}

export interface Load {
  /** Outcomes so far, in the order they completed. */
  readonly outcomes: readonly Outcome[];
  /** Connections the load has opened so far. */
  connects(): number;
  /** Stops sending, waits for the requests in flight and closes the connections. */
  stop(): Promise<readonly Outcome[]>;
}

/**
 * `lanes` undici Clients from the tiefighter's address, each one connection at a time (a lane's requests fail
 * together only if its connection does), sending GETs for `paths` in turn, back to back, until stop().
 * `pipelining: 0` makes every request open a new connection.
 */
export function startLoad(origin: string, o: { lanes: number; paths: readonly string[]; pipelining?: number }): Load {
  const outcomes: Outcome[] = [];
  let stopping = false;
  const clients = Array.from(
    { length: o.lanes },
    () => new Client(origin, { localAddress: TIEFIGHTER, pipelining: o.pipelining ?? 1, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS }),
  );
  let connects = 0;
  for (const client of clients) client.on('connect', () => connects++);
  const lanes = clients.map(async (client, lane) => {
    for (let i = lane; !stopping; i++) {
      const path = o.paths[i % o.paths.length]!;
      const sentAt = Date.now();
      try {
        const res = await client.request({ path, method: 'GET' });
        await res.body.text();
        outcomes.push({ lane, path, sentAt, status: res.statusCode });
      } catch (e) {
        outcomes.push({ lane, path, sentAt, error: (e as { code?: string }).code ?? (e as Error).message });
      }
    }
  });
  return {
    outcomes,
    connects: () => connects,
    async stop() {
      stopping = true;
      await Promise.all(lanes);
      await Promise.all(clients.map((c) => c.close()));
      return outcomes;
    },
  };
}

/** The outcomes that are transport errors. */
export function failed(outcomes: readonly Outcome[]): Outcome[] {
  return outcomes.filter((o) => o.error !== undefined);
}

/** Runs a load of `lanes` new connections for `ms` and returns /workers as seen while those connections were open. */
export async function loadOnFreshConnections(proxy: LifecycleProxy, lanes: number, paths: readonly string[], ms: number): Promise<{ outcomes: readonly Outcome[]; workers: WorkerEntry[] }> {
  const load = startLoad(proxy.origin, { lanes, paths });
  await sleep(ms);
  const workers = await proxy.workers();
  return { outcomes: await load.stop(), workers };
}
