// `portcullis run --workers 2` as a child process (proxy-process.ts): the fixture of every workers test. It gives
// each listener's port by name, the admin endpoint (/workers, /metrics), the JSON log line by line, and the check
// that both workers hold some of a test's open connections. The life-cycle tests' proxy (workers-lifecycle.ts) is
// this one in front of the echo upstream.
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';
import { waitUntil } from './wait.js';

/** One entry of the admin endpoint's /workers. */
export interface WorkerEntry {
  readonly worker: number;
  readonly pid: number;
  readonly serving: boolean;
  readonly revision: number;
  readonly connections: number | null;
}

export type LogLine = Record<string, unknown> & { msg: string };

export interface WorkersProxy {
  readonly proc: ProxyProcess;
  /** The port of the listener named `name` (the same on every worker). */
  listenerPort(name: string): Promise<number>;
  /** `GET path` on the admin endpoint: its status and body. */
  admin(path: string): Promise<{ status: number; body: string }>;
  workers(): Promise<WorkerEntry[]>;
  /** The JSON log lines so far whose msg starts with `msg`. */
  logLines(msg: string): LogLine[];
  /** Waits until `count` log lines start with `msg`; resolves with Date.now() when that was seen. */
  waitForLog(msg: string, count?: number, ms?: number): Promise<number>;
  close(): Promise<void>;
}

export const WORKERS = 2;

/** Every admin request of these tests is answered within this. */
const ADMIN_TIMEOUT_MS = 5000;

const indent = (yaml: string): string =>
  yaml
    .trim()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');

/**
 * portcullis.yaml with the admin endpoint on a loopback port: `endpoints` and `listeners` are YAML list items,
 * `policies` file names written beside it, `flows` a path (default off), `certs` the secret store's root.
 */
export function workersConfig(o: { endpoints: string; listeners: string; policies: readonly string[]; flows?: string; certs?: string }): string {
  return `policies: ${JSON.stringify(o.policies.map((p) => `./${p}`))}
${o.certs === undefined ? '' : `certs: ${JSON.stringify(o.certs)}\n`}admin: "127.0.0.1:0"
flows: ${JSON.stringify(o.flows ?? 'off')}
endpoints:
${indent(o.endpoints)}
listeners:
${indent(o.listeners)}
`;
}

/**
 * Starts the proxy with two workers on `config`, which must have `admin: "127.0.0.1:0"`; `files` are written beside
 * it (policies, named by relative path).
 */
export async function startWorkersProxy(config: string, files: Record<string, string> = {}, o: { captureStdout?: boolean } = {}): Promise<WorkersProxy> {
  const proc = await startProxyProcess(config, { workers: WORKERS, files, ...o });
  // Only whole lines: the last one may still be being written.
  const logLines = (msg: string): LogLine[] =>
    proc
      .log()
      .split('\n')
      .slice(0, -1)
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine)
      .filter((line) => line.msg.startsWith(msg));
  try {
    // The primary starts its admin endpoint before the workers, so its address is logged once the proxy is up.
    const started = logLines('admin listener started')[0]?.address as { host: string; port: number } | undefined;
    if (started === undefined) throw new Error(`no admin address in the log:\n${proc.log()}`);
    const admin = async (path: string): Promise<{ status: number; body: string }> => {
      const res = await request(`http://${started.host}:${started.port}${path}`, { headersTimeout: ADMIN_TIMEOUT_MS, bodyTimeout: ADMIN_TIMEOUT_MS });
      return { status: res.statusCode, body: await res.body.text() };
    };
    return {
      proc,
      // Every worker logs each listener it starts, on the same port; the first one is enough.
      listenerPort: async (name) => {
        const line = await waitUntil(`listener ${name} in the log`, () => logLines('listening').find((l) => l.listener === name));
        return Number(String(line.address).split(':').pop());
      },
      admin,
      workers: async () => (JSON.parse((await admin('/workers')).body) as { workers: WorkerEntry[] }).workers,
      logLines,
      async waitForLog(msg, count = 1, ms = 10_000) {
        await waitUntil(`${count}× "${msg}" in the log`, () => logLines(msg).length >= count, ms, 10);
        return Date.now();
      },
      close: () => proc.close(),
    };
  } catch (e) {
    await proc.close();
    throw e;
  }
}

/** The value of a sample line of the admin endpoint's /metrics, e.g. `name{label="x"}`; undefined when absent. */
export async function metric(proxy: WorkersProxy, series: string): Promise<number | undefined> {
  const line = (await proxy.admin('/metrics')).body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/**
 * Asserts that both workers serve and each holds at least one of the connections the test has open now (so
 * round-robin really put them on both). `what` names them in the failure message.
 */
export async function assertBothWorkersHold(proxy: WorkersProxy, what: string): Promise<void> {
  const workers = await proxy.workers();
  assert.equal(workers.length, WORKERS, JSON.stringify(workers));
  for (const w of workers) {
    assert.equal(w.serving, true, `worker ${w.worker} serves`);
    assert.ok((w.connections ?? 0) >= 1, `every worker holds some of ${what}: ${JSON.stringify(workers)}`);
  }
}

/** Waits until no worker holds a connection (the previous test's clients have gone), at most 5 s. */
export async function waitUntilIdle(proxy: WorkersProxy): Promise<void> {
  let workers: WorkerEntry[] = [];
  await waitUntil(
    'no connection open on any worker',
    async () => (workers = await proxy.workers()).every((w) => w.connections === 0),
    5000,
    50,
  ).catch((e: Error) => assert.fail(`${e.message}; connections still open: ${JSON.stringify(workers)}`));
}

/** Opens `count` connections one after another, each finished with `open` before the next, so round-robin alternates. */
export async function openInTurn<T>(count: number, open: (i: number) => Promise<T>): Promise<T[]> {
  const opened: T[] = [];
  for (let i = 0; i < count; i++) opened.push(await open(i));
  return opened;
}
