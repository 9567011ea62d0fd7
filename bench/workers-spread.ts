// bench/workers-spread: how evenly node:cluster spreads keep-alive connections, and so requests, over 2 workers
// with SCHED_RR (the primary accepts every connection and hands it to the next worker over IPC) and SCHED_NONE
// (every worker accepts on the shared listening socket, whichever the kernel wakes first). Node 20 has no
// `reusePort` on net.Server (SO_REUSEPORT, where the kernel hashes connections over one socket per worker, came
// in Node 22.12/23.1), so these two are the choice. The server is a tiny keep-alive HTTP/1.1 "ok" in each worker
// (bench/peers/cluster-hello.ts); wrk (1 thread) drives 8, 32 and 128 connections for BENCH_SECONDS (4) each,
// both clusters alternating. Per worker: connections accepted and requests served; and the primary's CPU, the
// cost of RR's hand-over, once per connection: a last run per policy sends `Connection: close`, a new connection
// per request, where that cost is largest.
//   npm run bench:workers-spread      (BENCH_SECONDS=4, BENCH_CONNECTIONS=8,32,128)
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { processCpuSeconds } from './lib/cpu.js';
import { asChild, freePort, waitForChild, type Child } from './lib/processes.js';
import { wrk, wrkInstalled } from './lib/wrk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '8,32,128').split(',').map(Number);
const CLOSE_CONNECTIONS = 32;
const WORKERS = 2;
const POLICIES = ['rr', 'none'] as const;
const here = fileURLToPath(new URL('.', import.meta.url));

interface WorkerCounts {
  readonly pid: number;
  readonly connections: number;
  readonly requests: number;
}

interface Cluster {
  readonly policy: (typeof POLICIES)[number];
  readonly url: string;
  readonly child: Child;
  /** Each worker's counts since the previous call. */
  counts(): Promise<WorkerCounts[]>;
}

async function startCluster(policy: Cluster['policy']): Promise<Cluster> {
  const port = await freePort();
  const proc = spawn(process.execPath, [join(here, 'peers', 'cluster-hello.js'), '127.0.0.1', String(port), String(WORKERS), policy], { stdio: ['pipe', 'pipe', 'inherit'] });
  const child = asChild(`cluster ${policy}`, proc);
  const replies: Array<(c: WorkerCounts[]) => void> = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => replies.shift()!(JSON.parse(line) as WorkerCounts[]));
  await waitForChild(child, '127.0.0.1', port);
  return {
    policy,
    url: `http://127.0.0.1:${port}/`,
    child,
    counts: () =>
      new Promise((resolve) => {
        replies.push(resolve);
        proc.stdin!.write('\n');
      }),
  };
}

interface Row {
  readonly policy: string;
  readonly connections: number;
  /** A new connection per request (`Connection: close`) rather than keep-alive. */
  readonly close: boolean;
  readonly rps: number;
  readonly workers: ReadonlyArray<WorkerCounts & { cpu: number }>;
  readonly primaryCpu: number;
}

/** One wrk run against `c`, with each worker's counts and CPU and the primary's CPU over it. */
async function measure(c: Cluster, connections: number, close = false): Promise<Row> {
  const before = await c.counts(); // resets the counters; gives the workers' pids
  const primary = c.child.process.pid;
  const cpu0 = [primary, ...before.map((w) => w.pid)].map(processCpuSeconds);
  const r = await wrk({ url: c.url, connections, seconds: SECONDS, ...(close ? { headers: { connection: 'close' } } : {}) });
  const after = await c.counts();
  const cpu1 = [primary, ...after.map((w) => w.pid)].map(processCpuSeconds);
  if (r.errors + r.non2xx > 0) throw new Error(`${c.policy}, ${connections} connections: ${r.errors} errors, ${r.non2xx} non-2xx`);
  return {
    policy: c.policy,
    connections,
    close,
    rps: r.rps,
    workers: after.map((w, i) => ({ ...w, cpu: cpu1[i + 1]! - cpu0[i + 1]! })),
    primaryCpu: cpu1[0]! - cpu0[0]!,
  };
}

function report(rows: readonly Row[]): void {
  console.log(`\nnode:cluster, ${WORKERS} workers, keep-alive HTTP/1.1 "ok", wrk 1 thread, ${SECONDS} s per run`);
  console.log('policy   conns    req/s   connections per worker   requests per worker (share)          worker CPU s   primary CPU s');
  for (const r of rows) {
    const total = r.workers.reduce((n, w) => n + w.requests, 0);
    const conns = r.workers.map((w) => String(w.connections)).join(' / ');
    const reqs = r.workers.map((w) => `${w.requests} (${((w.requests / total) * 100).toFixed(0)}%)`).join(' / ');
    const cpu = r.workers.map((w) => w.cpu.toFixed(2)).join(' / ');
    console.log(
      `${r.policy.padEnd(6)} ${`${r.close ? 'c' : ''}${r.connections}`.padStart(6)} ${String(Math.round(r.rps)).padStart(8)}   ${conns.padEnd(22)}   ${reqs.padEnd(35)}  ${cpu.padEnd(13)}  ${r.primaryCpu.toFixed(2).padStart(6)}`,
    );
  }
  console.log('(c: Connection: close, a new connection per request)');
  console.log('\nbusiest worker\'s share of requests (50% is even):');
  for (const policy of POLICIES) {
    const shares = rows.filter((r) => r.policy === policy).map((r) => {
      const total = r.workers.reduce((n, w) => n + w.requests, 0);
      return `${r.connections} conns${r.close ? ' (close)' : ''} ${((Math.max(...r.workers.map((w) => w.requests)) / total) * 100).toFixed(0)}%`;
    });
    console.log(`${policy.padEnd(6)} ${shares.join(', ')}`);
  }
}

async function main(): Promise<void> {
  if (!wrkInstalled()) throw new Error('bench/workers-spread needs wrk');
  const clusters: Cluster[] = [];
  try {
    for (const p of POLICIES) clusters.push(await startCluster(p));
    for (const c of clusters) await wrk({ url: c.url, connections: 8, seconds: 1 }); // JIT
    const rows: Row[] = [];
    for (const connections of CONNECTIONS) {
      for (const c of clusters) {
        const row = await measure(c, connections);
        rows.push(row);
        process.stderr.write(`${c.policy} ${connections} connections: ${Math.round(row.rps)} req/s\n`);
      }
    }
    for (const c of clusters) rows.push(await measure(c, CLOSE_CONNECTIONS, true));
    report(rows);
  } finally {
    for (const c of clusters) await c.child.stop();
  }
}

await main();
