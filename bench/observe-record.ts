// Micro-benchmark of flow records on the HTTP path: the events are built by the real HttpExchange (a REQUEST and
// a RESPONSE record per request, 50 keep-alive connections, decisions from the Star Wars policy engine) and go
// through a real recorder to a file in /tmp. Reported per request, from process.cpuUsage() (all threads, GC and
// the writer's thread-pool writes included): flows to a file minus flows off. Bounded: REQUESTS per round.
//   npx tsc -p . && node dist/bench/observe-record.js      (add --cpu-prof to see where the time goes)
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createFlowRecorder } from '../src/observe/flows.js';
import { writeFlow } from '../src/observe/hubble-flow.js';
import { LineSlab } from '../src/observe/line-slab.js';
import type { RunningFlowRecorder } from '../src/observe/flows.js';
import type { FlowEvent, Metrics } from '../src/observe/types.js';
import type { ListenerContext } from '../src/protocols/context.js';
import type { FlowParties } from '../src/protocols/connection-policy.js';
import { HttpExchange } from '../src/protocols/http/request-policy.js';
import type { ConnectionDecision } from '../src/policy/types.js';
import { peer, starwarsSnapshot } from '../test/helpers/observe-starwars-snapshot.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 40_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
/** Requests per millisecond timer tick (at most ~20 000 requests/s, as a busy proxy serves them), so the
 * recorder batches across turns as in production and keeps up: no flow is dropped, all are paid for. */
const BURST = 20;
const REDACT = ['authorization', 'cookie', 'set-cookie', 'proxy-authorization', 'x-api-key'];
const RESPONSE_HEADERS = [['content-type', 'application/json'], ['content-length', '34'], ['date', 'Mon, 07 Dec 2026 13:44:07 GMT']] as const;

const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
const snapshot = starwarsSnapshot(1);
const tiefighter = peer(snapshot, 'tiefighter');
const deathstar = peer(snapshot, 'deathstar');

interface Connection {
  readonly parties: FlowParties;
  readonly decision: ConnectionDecision;
}

/** Connections as ConnectionPolicy makes them: their own peers, port and connection decision. */
function connections(): Connection[] {
  return Array.from({ length: CONNECTIONS }, (_, i) => {
    const source = { identity: tiefighter.identity, address: '127.0.0.1' };
    const destination = { identity: deathstar.identity, address: '127.0.0.10' };
    const parties = { source, destination, sourceAddress: '127.0.0.1', sourcePort: 40_000 + i, destinationPort: 80, direction: 'ingress' as const };
    return { parties, decision: snapshot.decideConnection({ source, destination, port: 80 }) };
  });
}

const noMetrics = { policyL7() {}, httpRequest() {} } as unknown as Metrics;
const context = (flows: RunningFlowRecorder): ListenerContext =>
  ({ flows, metrics: noMetrics, config: { name: 'deathstar-http' } }) as unknown as ListenerContext;

/** One request as the HTTP/1.1 server sees it: parsed facts (fresh arrays), decision, REQUEST and RESPONSE flows. */
function serve(ctx: ListenerContext, conn: Connection): void {
  const headers: Array<[string, string]> = [['host', '127.0.0.1:8080'], ['content-type', 'application/json'], ['content-length', '17']];
  const facts = { method: 'POST', path: '/v1/request-landing', host: '127.0.0.1:8080', headers };
  const exchange = new HttpExchange(ctx, conn.parties, conn.decision, facts, 'HTTP/1.1', 'http');
  exchange.responded(200, RESPONSE_HEADERS.map(([k, v]) => [k, v] as const));
}

/** CPU µs per request (all, and the kernel's share) for REQUESTS requests in bursts, flushed at the end. */
async function round(flows: RunningFlowRecorder): Promise<{ all: number; sys: number }> {
  const ctx = context(flows);
  const conns = connections();
  const start = process.cpuUsage();
  for (let i = 0; i < REQUESTS; ) {
    for (const end = Math.min(REQUESTS, i + BURST); i < end; i++) serve(ctx, conns[i % CONNECTIONS]!);
    await sleep(1);
  }
  await flows.flush();
  const used = process.cpuUsage(start);
  return { all: (used.user + used.system) / REQUESTS, sys: used.system / REQUESTS };
}

function disabled(): RunningFlowRecorder {
  return createFlowRecorder({ target: 'off', redactHeaders: REDACT });
}

/** Render cost alone, as the recorder renders (into its line slab), on the events the HTTP path builds. */
function renderNsPerFlow(): { ns: number; bytes: number } {
  const events: FlowEvent[] = [];
  const capture = { enabled: true, record: (e: FlowEvent) => events.push(e) } as unknown as RunningFlowRecorder;
  const ctx = context(capture);
  const conns = connections();
  for (let i = 0; i < 10_000; i++) serve(ctx, conns[i % CONNECTIONS]!);
  const opts = { redactHeaders: new Set(REDACT), nodeName: 'bench' };
  const lines = new LineSlab();
  /** As the writer reports them written: the slab reuses its memory, as the recorder's does. */
  const written = (n: number): number => {
    lines.done(n);
    return n;
  };
  let bytes = 0;
  const renderAll = (): void => {
    for (const e of events) {
      writeFlow(lines, e, opts);
      if (lines.pending > 64 * 1024) bytes += written(lines.take().length); // as the recorder's chunks do
    }
    bytes += written(lines.take().length);
  };
  renderAll(); // warm-up
  const perPass = bytes;
  const start = process.cpuUsage(); // CPU time, not wall time: other processes on the machine do not count
  for (let r = 0; r < 5; r++) renderAll();
  const used = process.cpuUsage(start);
  return { ns: ((used.user + used.system) * 1000) / (5 * events.length), bytes: perPass / events.length };
}

const file = join(dir, 'flows.json');
let lost = 0;
const onFile = createFlowRecorder({ target: file, redactHeaders: REDACT, nodeName: 'bench', onLost: (n) => (lost += n) });
await round(onFile); // warm-up (JIT)
await round(disabled());
const on: number[] = [];
const off: number[] = [];
const onSys: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const file = await round(onFile);
  on.push(file.all);
  onSys.push(file.sys);
  off.push((await round(disabled())).all);
}
await onFile.close();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const render = renderNsPerFlow();
const round1 = (x: number): number => Math.round(x * 10) / 10;
console.log(JSON.stringify({
  requests: REQUESTS * (ROUNDS + 1),
  flows_file_us_per_request: on.map(round1),
  flows_file_kernel_us_per_request: onSys.map(round1),
  flows_off_us_per_request: off.map(round1),
  flow_cost_us_per_request: round1(median(on) - median(off)),
  render_ns_per_flow: Math.round(render.ns),
  bytes_per_flow: Math.round(render.bytes),
  lost,
  file_bytes: statSync(file).size,
}));
rmSync(dir, { recursive: true, force: true });
