// `portcullis run --workers 2` as a child process (proxy-process.ts), for tests that every protocol works when the
// primary spreads connections over two workers: each listener's port by name, the admin endpoint's /workers and
// /metrics, and the check that both workers hold some of a test's open connections.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';

export interface WorkerEntry {
  readonly worker: number;
  readonly pid: number;
  readonly serving: boolean;
  readonly revision: number;
  readonly connections: number | null;
}

export interface WorkersProxy extends ProxyProcess {
  /** The port of the listener named `name` (the same on every worker). */
  listenerPort(name: string): Promise<number>;
  /** `GET path` on the admin endpoint: its status and body. */
  admin(path: string): Promise<{ status: number; body: string }>;
  workers(): Promise<WorkerEntry[]>;
}

export const WORKERS = 2;

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
  try {
    // Workers log their listeners and the primary its admin address on one stderr, in no set order.
    const adminPort = Number(await fromLog(proc, /"address":\{"host":"[\d.]+","port":(\d+)\},"msg":"admin listener started"/));
    const admin = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${adminPort}${path}`, { signal: AbortSignal.timeout(5000) });
      return { status: res.status, body: await res.text() };
    };
    return {
      ...proc,
      listenerPort: async (name) => Number(await fromLog(proc, new RegExp(`"listener":"${name}","protocol":"\\w+","address":"[\\d.]+:(\\d+)","msg":"listening"`))),
      admin,
      workers: async () => (JSON.parse((await admin('/workers')).body) as { workers: WorkerEntry[] }).workers,
    };
  } catch (e) {
    await proc.close();
    throw e;
  }
}

/** The first capture of `pattern` in the proxy's log, waiting up to 5 s for it. */
async function fromLog(proc: ProxyProcess, pattern: RegExp): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const match = pattern.exec(proc.log());
    if (match) return match[1]!;
    await sleep(25);
  }
  throw new Error(`${pattern} not in the log:\n${proc.log()}`);
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
  for (let i = 0; i < 100; i++) {
    workers = await proxy.workers();
    if (workers.every((w) => w.connections === 0)) return;
    await sleep(50);
  }
  assert.fail(`connections still open: ${JSON.stringify(workers)}`);
}

/** Opens `count` connections one after another, each finished with `open` before the next, so round-robin alternates. */
export async function openInTurn<T>(count: number, open: (i: number) => Promise<T>): Promise<T[]> {
  const opened: T[] = [];
  for (let i = 0; i < count; i++) opened.push(await open(i));
  return opened;
}
