// bench/kafka: Kafka produce and consume throughput (MB/s, records/s) and produce latency with 1 KB records,
// direct to the broker vs through Portcullis with the Empire policy, in one run.
//   npm run bench:kafka            (BENCH_SECONDS=5 per produce run, BENCH_ROUNDS=5 by default)
// The broker is a real Apache Kafka 3.9 (scripts/kafka/install.sh) when installed, else the embedded demo
// broker (BENCH_BROKER=real|demo chooses); the report says which. Portcullis runs twice: with flow records
// off, and writing one Hubble flow record per request to a file, since on a small machine writing them costs
// about as much CPU as proxying. haproxy in TCP mode (no parsing, no policy, responses spliced in the kernel)
// runs beside them when installed: what the cheapest proxy hop costs on this machine. Broker and proxies run
// in their own processes, the load generator (bench/lib/kafka-load.ts) in this one. The report ends with the
// CPU each of them used per GB and how busy the cores were: when the direct run already keeps every core
// busy, a proxy's CPU is taken from the broker and the client, and the ratio falls with it. The machine is
// shared and noisy: compare the ratios of one run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertKafkaInstalled, startRealKafka } from '../test/helpers/kafka-broker-real.js';
import { median } from './lib/autocannon-run.js';
import { measureCpu, type CpuUse } from './lib/cpu.js';
import { haproxyInstalled, startHaproxyTcp } from './lib/haproxy.js';
import { consumeLoad, percentile, produceLatency, produceLoad, type ConsumeResult, type ProduceResult, type Target } from './lib/kafka-load.js';
import { freePort, startChild, waitForPort, type Child } from './lib/processes.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
/** Five: a 5 s produce run now and then lands on the broker's log flush or segment roll and halves. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** A consume run takes well under a second: more of them, for a steadier median. */
const CONSUME_ROUNDS = 2 * ROUNDS + 1;
/** Per setup, before any measured round: the broker's JIT keeps speeding it up for the first 10-20 s of load. */
const WARM_UP_SECONDS = 5;
const RECORD_BYTES = 1024;
/** A producer's default batch.size is 16 KB: 16 records of 1 KB per request. */
const RECORDS_PER_REQUEST = 16;
const CONNECTIONS = 2;
const IN_FLIGHT = 5; // the Java producer's max.in.flight.requests.per.connection
const LATENCY_SAMPLES = 2000;
/** Records each consume run reads from offset 0 (at most what was produced): about 100 MB. */
const CONSUME_RECORDS = 100_000;
const FETCH_MAX_BYTES = 1024 * 1024; // max.partition.fetch.bytes
const TOPIC = 'empire-announce';
const HQ = '127.0.0.81';
const OUTPOST = '127.0.0.82';
const here = fileURLToPath(new URL('.', import.meta.url));
const cli = join(here, '..', 'src', 'cli', 'main.js');
const policy = join(here, '..', '..', 'policies', 'kafka', 'kafka-sw-security-policy.yaml');

interface Broker {
  readonly kind: string;
  readonly target: Target;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** Real Kafka when installed (or BENCH_BROKER=real, which then insists), the demo broker otherwise (or BENCH_BROKER=demo). */
function realKafkaWanted(): boolean {
  const wanted = process.env.BENCH_BROKER;
  if (wanted === 'demo') return false;
  try {
    assertKafkaInstalled();
    return true;
  } catch (err) {
    if (wanted === 'real') throw err;
    return false;
  }
}

async function startBroker(): Promise<Broker> {
  if (!realKafkaWanted()) {
    const port = await freePort();
    const child = startChild('demo broker', [join(here, 'peers', 'kafka-demo-broker.js'), '127.0.0.1', String(port)]);
    await waitForPort('127.0.0.1', port);
    return { kind: 'embedded demo broker (in-memory, one node)', target: { host: '127.0.0.1', port }, pid: child.process.pid, stop: () => child.stop() };
  }
  const kafka = await startRealKafka({ topics: [TOPIC] });
  return { kind: 'Apache Kafka 3.9.2 (KRaft, one node)', target: { host: kafka.host, port: kafka.port }, pid: kafka.pid, stop: () => kafka.stop() };
}

function portcullisConfig(dir: string, port: number, broker: Target, flows: boolean): string {
  const file = join(dir, `portcullis-${port}.yaml`);
  writeFileSync(
    file,
    `policies: [${JSON.stringify(policy)}]
admin: off
flows: ${flows ? JSON.stringify(join(dir, `flows-${port}.jsonl`)) : 'off'}
endpoints:
  - {name: kafka-broker, labels: {app: kafka}, addresses: [127.0.0.80]}
  - {name: empire-hq, labels: {app: empire-hq}, addresses: [${HQ}]}
  - {name: empire-outpost, labels: {app: empire-outpost, outpostid: "8888"}, addresses: [${OUTPOST}]}
listeners:
  - {name: kafka-service, listen: "127.0.0.1:${port}", protocol: kafka, to: kafka-broker, upstream: "${broker.host}:${broker.port}", port: 9092}
`,
  );
  return file;
}

interface Setup {
  readonly name: string;
  readonly target: Target;
  /** The proxy's process, whose CPU time per byte is reported (a figure the machine's noise does not skew). */
  readonly pid?: number;
  readonly produce: ProduceResult[];
  readonly latencyMs: number[];
  readonly consume: ConsumeResult[];
  /** CPU used by the proxy, the broker and this process in each produce and consume run. */
  readonly cpu: { produce: CpuUse[]; consume: CpuUse[] };
}

const mbps = (bytes: number, seconds: number) => bytes / 1e6 / seconds;

/** The setups alternate round by round, so drift on a shared machine hits them alike. */
async function measure(setups: readonly Setup[], brokerPid: number | undefined): Promise<void> {
  const watch = (s: Setup) => measureCpu({ proxy: s.pid, broker: brokerPid });
  const produceOpts = (target: Target) => ({ target, localAddress: HQ, topic: TOPIC, connections: CONNECTIONS, inFlight: IN_FLIGHT, recordsPerRequest: RECORDS_PER_REQUEST, recordBytes: RECORD_BYTES });
  let written = 0;
  for (const s of setups) written += (await produceLoad({ ...produceOpts(s.target), seconds: WARM_UP_SECONDS })).records; // JIT, log segments
  for (let round = 1; round <= ROUNDS; round++) {
    for (const s of setups) {
      const cpu = watch(s);
      const r = await produceLoad({ ...produceOpts(s.target), seconds: SECONDS });
      s.cpu.produce.push(cpu());
      s.produce.push(r);
      written += r.records;
      process.stderr.write(`round ${round} ${s.name}: produce ${mbps(r.bytes, r.seconds).toFixed(1)} MB/s\n`);
    }
  }
  for (const s of setups) s.latencyMs.push(...(await produceLatency({ target: s.target, localAddress: HQ, topic: TOPIC, count: LATENCY_SAMPLES, recordBytes: RECORD_BYTES })));
  const records = Math.min(CONSUME_RECORDS, written);
  const consumeOpts = (target: Target) => ({ target, localAddress: OUTPOST, topic: TOPIC, maxBytes: FETCH_MAX_BYTES, records });
  for (let i = 0; i < 2; i++) for (const s of setups) await consumeLoad(consumeOpts(s.target)); // JIT, page cache
  for (let round = 1; round <= CONSUME_ROUNDS; round++) {
    for (const s of setups) {
      const cpu = watch(s);
      const r = await consumeLoad(consumeOpts(s.target));
      s.cpu.consume.push(cpu());
      s.consume.push(r);
      process.stderr.write(`round ${round} ${s.name}: consume ${mbps(r.bytes, r.seconds).toFixed(1)} MB/s\n`);
    }
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-kafka-'));
  const broker = await startBroker();
  const proxies: Child[] = [];
  try {
    const setup = (name: string, target: Target, pid?: number): Setup => ({ name, target, ...(pid === undefined ? {} : { pid }), produce: [], latencyMs: [], consume: [], cpu: { produce: [], consume: [] } });
    const setups = [setup('direct', broker.target)];
    for (const [name, flows] of [['portcullis', false], ['+ flow file', true]] as const) {
      const port = await freePort();
      const proxy = startChild(name, [cli, 'run', '--no-watch', '-c', portcullisConfig(dir, port, broker.target, flows)]);
      proxies.push(proxy);
      await waitForPort('127.0.0.1', port);
      setups.push(setup(name, { host: '127.0.0.1', port }, proxy.process.pid));
    }
    if (haproxyInstalled()) {
      const listen = { host: '127.0.0.1', port: await freePort() };
      const haproxy = startHaproxyTcp(dir, listen, broker.target);
      proxies.push(haproxy);
      await waitForPort(listen.host, listen.port);
      setups.push(setup('haproxy tcp', listen, haproxy.process.pid));
    }
    await measure(setups, broker.pid);
    report(broker.kind, setups);
  } finally {
    for (const p of proxies) await p.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(kind: string, setups: readonly Setup[]): void {
  const produceMbps = (s: Setup) => median(s.produce.map((r) => mbps(r.bytes, r.seconds)));
  const consumeMbps = (s: Setup) => median(s.consume.map((r) => mbps(r.bytes, r.seconds)));
  const row = (s: Setup) =>
    [
      s.name.padEnd(12),
      produceMbps(s).toFixed(1).padStart(8),
      String(Math.round(median(s.produce.map((r) => r.records / r.seconds)))).padStart(10),
      median(s.produce.map((r) => percentile(r.latenciesMs, 99))).toFixed(1).padStart(9),
      percentile(s.latencyMs, 50).toFixed(2).padStart(9),
      percentile(s.latencyMs, 99).toFixed(2).padStart(9),
      consumeMbps(s).toFixed(1).padStart(9),
      String(Math.round(median(s.consume.map((r) => r.records / r.seconds)))).padStart(10),
      String(s.produce.reduce((n, r) => n + r.errors, 0)).padStart(7),
    ].join(' ');
  console.log(`\nKafka, ${kind}`);
  console.log(`produce: ${RECORD_BYTES} B records, ${RECORDS_PER_REQUEST} per request (acks=all), ${CONNECTIONS} connections x ${IN_FLIGHT} in flight, ${SECONDS} s x ${ROUNDS} round(s), median`);
  console.log(`latency: one ${RECORD_BYTES} B record per request, one in flight, ${LATENCY_SAMPLES} requests`);
  console.log(`consume: one Fetch (<= 1 MiB) in flight, ${CONSUME_ROUNDS} rounds after a warm-up, median`);
  console.log('setup         produce   produce  loaded p99  1-rec p50  1-rec p99   consume   consume  errors');
  console.log('                 MB/s  records/s         ms         ms         ms      MB/s  records/s');
  for (const s of setups) console.log(row(s));
  const [direct, ...proxied] = setups as [Setup, ...Setup[]];
  console.log('');
  for (const s of proxied) {
    const added = (p: number) => (percentile(s.latencyMs, p) - percentile(direct.latencyMs, p)).toFixed(2);
    console.log(
      `${s.name} / direct: produce ${((produceMbps(s) / produceMbps(direct)) * 100).toFixed(0)}%, consume ${((consumeMbps(s) / consumeMbps(direct)) * 100).toFixed(0)}% ` +
        `(target >= 85%); added single-record latency p50 ${added(50)} ms, p99 ${added(99)} ms`,
    );
  }
  console.log('\nCPU seconds per GB (proxy / broker / load generator) and how busy both cores were:');
  for (const s of setups) console.log(`${s.name.padEnd(12)} produce ${cpuSummary(s.cpu.produce, s.produce)}   consume ${cpuSummary(s.cpu.consume, s.consume)}`);
  if (setups.some((s) => s.produce.some((r) => r.errors > 0))) {
    console.log('WARNING: some produce requests failed; the figures are not comparable');
    process.exitCode = 1;
  }
}

/** "proxy / broker / load generator" CPU seconds per GB moved, then the machine's busy share over the runs. */
function cpuSummary(uses: readonly CpuUse[], results: ReadonlyArray<{ bytes: number; seconds: number }>): string {
  const gb = results.reduce((n, r) => n + r.bytes, 0) / 1e9;
  const perGb = (name: string) => (uses.reduce((n, u) => n + u.seconds[name]!, 0) / gb).toFixed(1).padStart(4);
  const time = results.reduce((n, r) => n + r.seconds, 0);
  const busy = uses.reduce((n, u, i) => n + u.busy * results[i]!.seconds, 0) / time;
  return `${perGb('proxy')} / ${perGb('broker')} / ${perGb('self')}, ${(busy * 100).toFixed(0).padStart(3)}% busy`;
}

await main();
