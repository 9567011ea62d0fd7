// `portcullis run --workers 2` as a child process in front of the echo upstream, with its admin endpoint (read
// from the primary's log) and flow file, plus an HTTP/1.1 load from undici that keeps every outcome: the fixture of
// the workers life-cycle tests (reload, a worker killed, drain, rolling restart).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, request } from 'undici';
import { startEchoUpstream, type EchoUpstream } from './http-echo-upstream.js';
import { deathstarHttpPolicy, deathstarProcessConfig, TIEFIGHTER } from './http-proxy-fixture.js';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';

/** Every request and response of these tests is over within this (the slow ones take about a second). */
const REQUEST_TIMEOUT_MS = 5000;

/** A policy letting tiefighters GET exactly `paths` (regular expressions). */
export function getPolicy(...paths: readonly string[]): string {
  return deathstarHttpPolicy(
    'lifecycle',
    paths.map((p) => `\n        - {method: GET, path: "${p}"}`).join(''),
  );
}

/** One entry of the admin endpoint's /workers. */
export interface WorkerRow {
  readonly worker: number;
  readonly pid: number;
  readonly serving: boolean;
  readonly revision: number;
  readonly connections: number | null;
}

export type LogLine = Record<string, unknown> & { msg: string };

export interface WorkersProxy {
  readonly proc: ProxyProcess;
  readonly upstream: EchoUpstream;
  /** The listener, http://127.0.0.1:port. */
  readonly origin: string;
  admin(path: string): Promise<{ status: number; body: string }>;
  workers(): Promise<WorkerRow[]>;
  /** Replaces ./policy.yaml (the proxy runs with --no-watch: a SIGHUP makes it read it). */
  writePolicy(text: string): void;
  /** The JSON log lines whose msg starts with `msg`. */
  logLines(msg: string): LogLine[];
  /** Waits until `count` log lines start with `msg`; resolves with Date.now() when that was seen. */
  waitForLog(msg: string, count?: number, ms?: number): Promise<number>;
  /** The flow records written so far. */
  flows(): Array<{ flow: Record<string, any> }>;
  close(): Promise<void>;
}

export async function startWorkersProxy(policy: string, listenerFields = ''): Promise<WorkersProxy> {
  const upstream = await startEchoUpstream();
  let proc: ProxyProcess;
  try {
    proc = await startProxyProcess(deathstarProcessConfig(upstream.port, listenerFields, { admin: '127.0.0.1:0', flows: './flows.jsonl' }), {
      workers: 2,
      files: { 'policy.yaml': policy },
    });
  } catch (e) {
    await upstream.close();
    throw e;
  }
  const logLines = (msg: string): LogLine[] =>
    proc
      .log()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine)
      .filter((line) => line.msg.startsWith(msg));
  const started = logLines('admin listener started')[0]?.address as { host: string; port: number } | undefined;
  if (started === undefined) throw new Error(`no admin address in the log:\n${proc.log()}`);
  const admin = async (path: string): Promise<{ status: number; body: string }> => {
    const res = await request(`http://${started.host}:${started.port}${path}`, { headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
    return { status: res.statusCode, body: await res.body.text() };
  };
  return {
    proc,
    upstream,
    origin: `http://${proc.host}:${proc.port}`,
    admin,
    workers: async () => (JSON.parse((await admin('/workers')).body) as { workers: WorkerRow[] }).workers,
    writePolicy: (text) => writeFileSync(join(proc.dir, 'policy.yaml'), text),
    logLines,
    async waitForLog(msg, count = 1, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (logLines(msg).length < count) {
        if (Date.now() > deadline) throw new Error(`no ${count}× "${msg}" in the log within ${ms} ms:\n${proc.log()}`);
        await sleep(10);
      }
      return Date.now();
    },
    flows: () =>
      readFileSync(join(proc.dir, 'flows.jsonl'), 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as { flow: Record<string, any> }),
    async close() {
      await proc.close();
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

/** The value of a sample line of the admin endpoint's /metrics, e.g. `name{label="x"}`; undefined when absent. */
export async function metric(proxy: WorkersProxy, series: string): Promise<number | undefined> {
  const line = (await proxy.admin('/metrics')).body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The outcomes that are transport errors. */
export function failed(outcomes: readonly Outcome[]): Outcome[] {
  return outcomes.filter((o) => o.error !== undefined);
}

/** Runs a load of `lanes` new connections for `ms` and returns /workers as seen while those connections were open. */
export async function loadOnFreshConnections(proxy: WorkersProxy, lanes: number, paths: readonly string[], ms: number): Promise<{ outcomes: readonly Outcome[]; workers: WorkerRow[] }> {
  const load = startLoad(proxy.origin, { lanes, paths });
  await sleep(ms);
  const workers = await proxy.workers();
  return { outcomes: await load.stop(), workers };
}
