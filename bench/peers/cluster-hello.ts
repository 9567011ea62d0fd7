// Benchmark server for bench/workers-spread: a node:cluster primary with `argv[4]` workers, each serving a tiny
// keep-alive HTTP/1.1 "ok" on argv[2]:argv[3], with the scheduling policy argv[5] (`rr` or `none`). Each line on
// stdin asks every worker for the connections and requests it served since the last line; the primary prints
// them as one JSON line on stdout: [{pid, connections, requests}, ...] in fork order.
import cluster, { type Worker } from 'node:cluster';
import http from 'node:http';
import { createInterface } from 'node:readline';

interface Counts {
  readonly pid: number;
  readonly connections: number;
  readonly requests: number;
}

const [host = '127.0.0.1', port = '0', count = '2', policy = 'rr'] = process.argv.slice(2);

if (cluster.isPrimary) {
  // Must be set before the first fork; the workers learn it from the primary.
  cluster.schedulingPolicy = policy === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR;
  const workers: Worker[] = Array.from({ length: Number(count) }, () => cluster.fork());
  const ask = (w: Worker) =>
    new Promise<Counts>((resolve) => {
      w.once('message', (m: Counts) => resolve(m));
      w.send('report');
    });
  createInterface({ input: process.stdin }).on('line', () => {
    void Promise.all(workers.map(ask)).then((counts) => process.stdout.write(`${JSON.stringify(counts)}\n`));
  });
  process.on('SIGTERM', () => {
    for (const w of workers) w.kill();
    process.exit(0);
  });
} else {
  let connections = 0;
  let requests = 0;
  const server = http.createServer((_req, res) => {
    requests++;
    res.end('ok');
  });
  server.keepAliveTimeout = 600_000; // wrk keeps its connections for the whole run
  server.on('connection', () => connections++);
  server.listen(Number(port), host);
  process.on('message', () => {
    process.send!({ pid: process.pid, connections, requests } satisfies Counts);
    connections = 0;
    requests = 0;
  });
}
