// bench/kafka: Kafka produce and consume throughput (MB/s, records/s) and produce latency with 1 KB records,
// direct to the broker vs through Portcullis with the Empire policy, in one run.
//   npm run bench:kafka   (BENCH_SECONDS=5 per produce run, BENCH_ROUNDS=5, BENCH_CLIENTS=wire,java, BENCH_FETCH_BYTES=1048576)
// The broker is a real Apache Kafka 3.9 (scripts/kafka/install.sh) when installed, else the embedded demo
// broker (BENCH_BROKER=real|demo chooses); the report says which. Portcullis runs three times: with flow records
// off, writing one Hubble flow record per request to a file (on a small machine writing them costs about as much
// CPU as proxying), and with flows off but without zero copy (kafka.zeroCopy: false), so the run shows what
// splicing large responses saves. haproxy in TCP mode (no parsing, no policy, responses spliced in the kernel)
// runs beside them when installed: what the cheapest proxy hop costs on this machine. So does a bare Node relay
// (bench/peers/kafka-node-relay.ts: no parsing but each response's size, large ones spliced with the same addon):
// what any Node proxy costs, so the rest of Portcullis' cost is its own work.
// Two load generators, each measured on every setup: the raw wire generator (bench/lib/kafka-load.ts, in this
// process), which does no work per record, so the proxy's share of the machine is as large as it can be; and
// the Java client as applications use it (bench/lib/kafka-java-load.ts, its own JVMs). Broker and proxies run in
// their own processes. Each report ends with the CPU each process used per GB and how busy the cores were: when
// the direct run already keeps every core busy, a proxy's CPU is taken from the broker and the client, and the
// ratio falls with it. The machine is shared and noisy: compare the ratios of one run.
// BENCH_WORKERS=1,2 (the default) runs each Portcullis variant with each worker count (`--workers N`) side by
// side; its CPU per GB is the whole process tree's (primary and workers), and the ratio from 1 to N workers is
// reported (target: at most +10% for 2).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zeroCopySupport } from '../src/protocols/kafka/proxy/zero-copy.js';
import { assertKafkaInstalled, startRealKafka } from '../test/helpers/kafka-broker-real.js';
import { median } from './lib/autocannon-run.js';
import { measureCpu, type CpuUse } from './lib/cpu.js';
import { haproxyInstalled, startHaproxyTcp } from './lib/haproxy.js';
import { JavaKafkaLoad } from './lib/kafka-java-load.js';
import { consumeLoad, percentile, produceLatency, produceLoad, type ConsumeResult, type ProduceResult, type Target } from './lib/kafka-load.js';
import { freePort, startChild, waitForPort, type Child } from './lib/processes.js';
import { benchWorkerCounts, printWorkerCostRatios, workerVariants, type WorkerVariant } from './lib/workers.js';

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
/** Producer connections of the wire client (BENCH_PRODUCERS): with workers, how many workers share the produce load. */
const CONNECTIONS = Number(process.env.BENCH_PRODUCERS ?? 2);
const IN_FLIGHT = 5; // the Java producer's max.in.flight.requests.per.connection
const LATENCY_SAMPLES = 2000;
/** Records each consume run reads from offset 0 (at most what was produced): about 100 MB. */
const CONSUME_RECORDS = 100_000;
/** The Java consumer is slower to start a run (ListOffsets, then a fetch pipeline): about 300 MB. */
const JAVA_CONSUME_RECORDS = 300_000;
/** The wire generator's Fetch size: the Java consumer's max.partition.fetch.bytes, for one partition (BENCH_FETCH_BYTES). */
const FETCH_MAX_BYTES = Number(process.env.BENCH_FETCH_BYTES ?? 1024 * 1024);
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

function portcullisConfig(dir: string, port: number, broker: Target, flows: boolean, zeroCopy: boolean): string {
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
  - {name: kafka-service, listen: "127.0.0.1:${port}", protocol: kafka, to: kafka-broker, upstream: "${broker.host}:${broker.port}", port: 9092, kafka: {zeroCopy: ${zeroCopy}}}
`,
  );
  return file;
}

/** What one load generator measured through one setup, with the CPU each process used in each run. */
interface Results {
  readonly produce: ProduceResult[];
  readonly consume: ConsumeResult[];
  readonly cpu: { produce: CpuUse[]; consume: CpuUse[] };
}

interface Setup {
  readonly name: string;
  readonly target: Target;
  /** The proxy's process, whose tree's CPU time per byte is reported (a figure the machine's noise does not skew). */
  readonly pid?: number;
  /** Portcullis only: its variant and worker count. */
  readonly variant?: WorkerVariant;
  readonly latencyMs: number[];
  readonly results: Record<Client, Results>;
  /**
   * Whether a client that follows Metadata stays on this setup: haproxy in TCP mode passes the broker's own
   * address through, so the Java client would bootstrap through it and then talk to the broker directly.
   */
  readonly keepsClients: boolean;
  /** The Java client's producer (as hq) and consumer (as an outpost) for this setup. */
  java?: { producer: JavaKafkaLoad; consumer: JavaKafkaLoad };
}

/**
 * `wire`: the raw generator (bench/lib/kafka-load.ts), which does nothing per record, so the proxy's share of the
 * machine is as large as it gets. `java`: the reference Java client as applications run it.
 */
type Client = 'wire' | 'java';

const mbps = (bytes: number, seconds: number) => bytes / 1e6 / seconds;

/** The setups a client is measured on: the wire generator sends everything to its target, the Java client follows Metadata. */
const setupsFor = (client: Client, setups: readonly Setup[]) => (client === 'wire' ? setups : setups.filter((s) => s.keepsClients));

/** The setups alternate round by round, so drift on a shared machine hits them alike. */
async function measure(all: readonly Setup[], clients: readonly Client[], brokerPid: number | undefined): Promise<void> {
  const produceOpts = (target: Target) => ({ target, localAddress: HQ, topic: TOPIC, connections: CONNECTIONS, inFlight: IN_FLIGHT, recordsPerRequest: RECORDS_PER_REQUEST, recordBytes: RECORD_BYTES });
  const produce = (client: Client, s: Setup, seconds: number) =>
    client === 'wire' ? produceLoad({ ...produceOpts(s.target), seconds }) : s.java!.producer.produce(seconds, RECORD_BYTES);
  const watch = (client: Client, s: Setup, role: 'producer' | 'consumer') =>
    measureCpu({ proxy: s.pid, broker: brokerPid, ...(client === 'java' ? { client: s.java![role].pid } : {}) });
  let written = 0;
  for (const client of clients) {
    const setups = setupsFor(client, all);
    for (const s of setups) written += (await produce(client, s, WARM_UP_SECONDS)).records; // JIT, log segments
    for (let round = 1; round <= ROUNDS; round++) {
      for (const s of setups) {
        const cpu = watch(client, s, 'producer');
        const r = await produce(client, s, SECONDS);
        s.results[client].cpu.produce.push(cpu());
        s.results[client].produce.push(r);
        written += r.records;
        process.stderr.write(`round ${round} ${s.name} (${client}): produce ${mbps(r.bytes, r.seconds).toFixed(1)} MB/s\n`);
      }
    }
  }
  for (const s of all) s.latencyMs.push(...(await produceLatency({ target: s.target, localAddress: HQ, topic: TOPIC, count: LATENCY_SAMPLES, recordBytes: RECORD_BYTES })));
  const consume = (client: Client, s: Setup) =>
    client === 'wire'
      ? consumeLoad({ target: s.target, localAddress: OUTPOST, topic: TOPIC, maxBytes: FETCH_MAX_BYTES, records: Math.min(CONSUME_RECORDS, written) })
      : s.java!.consumer.consume(Math.min(JAVA_CONSUME_RECORDS, written));
  for (const client of clients) {
    const setups = setupsFor(client, all);
    for (let i = 0; i < 2; i++) for (const s of setups) await consume(client, s); // JIT, page cache
    for (let round = 1; round <= CONSUME_ROUNDS; round++) {
      for (const s of setups) {
        const cpu = watch(client, s, 'consumer');
        const r = await consume(client, s);
        s.results[client].cpu.consume.push(cpu());
        s.results[client].consume.push(r);
        process.stderr.write(`round ${round} ${s.name} (${client}): consume ${mbps(r.bytes, r.seconds).toFixed(1)} MB/s\n`);
      }
    }
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-kafka-'));
  const broker = await startBroker();
  const clients = chosenClients();
  const proxies: Child[] = [];
  const setups: Setup[] = [];
  try {
    const setup = (name: string, target: Target, pid?: number, keepsClients = true, variant?: WorkerVariant): Setup => {
      const results = () => ({ produce: [], consume: [], cpu: { produce: [], consume: [] } });
      return { name, target, ...(pid === undefined ? {} : { pid }), ...(variant === undefined ? {} : { variant }), latencyMs: [], results: { wire: results(), java: results() }, keepsClients };
    };
    setups.push(setup('direct', broker.target));
    const variants = [['portcullis', false, true], ['+ flow file', true, true], ['no zero copy', false, false]] as const;
    for (const [base, flows, zeroCopy] of variants) {
      for (const v of workerVariants(base, benchWorkerCounts())) {
        const port = await freePort();
        const proxy = startChild(v.name, [cli, 'run', '--no-watch', ...v.args, '-c', portcullisConfig(dir, port, broker.target, flows, zeroCopy)]);
        proxies.push(proxy);
        await waitForPort('127.0.0.1', port);
        setups.push(setup(v.name, { host: '127.0.0.1', port }, proxy.process.pid, true, v));
      }
    }
    if (haproxyInstalled()) {
      const listen = { host: '127.0.0.1', port: await freePort() };
      const haproxy = startHaproxyTcp(dir, listen, broker.target);
      proxies.push(haproxy);
      await waitForPort(listen.host, listen.port);
      setups.push(setup('haproxy tcp', listen, haproxy.process.pid, false));
    }
    if (zeroCopySupport().available) {
      const port = await freePort();
      const relay = startChild('node relay', [join(here, 'peers', 'kafka-node-relay.js'), String(port), broker.target.host, String(broker.target.port)]);
      proxies.push(relay);
      await waitForPort('127.0.0.1', port);
      setups.push(setup('node relay', { host: '127.0.0.1', port }, relay.process.pid, false));
    }
    if (clients.includes('java')) {
      for (const s of setupsFor('java', setups)) {
        s.java = {
          producer: JavaKafkaLoad.start({ target: s.target, localAddress: HQ, topic: TOPIC, clientId: 'empire-hq' }),
          consumer: JavaKafkaLoad.start({ target: s.target, localAddress: OUTPOST, topic: TOPIC, clientId: 'empire-outpost' }),
        };
      }
    }
    await measure(setups, clients, broker.pid);
    report(broker.kind, setups, clients);
  } finally {
    await Promise.all(setups.flatMap((s) => (s.java === undefined ? [] : [s.java.producer.close(), s.java.consumer.close()])));
    for (const p of proxies) await p.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** BENCH_CLIENTS=wire,java (the default; java only where scripts/kafka/install.sh has installed it). */
function chosenClients(): Client[] {
  const asked = (process.env.BENCH_CLIENTS ?? 'wire,java').split(',').map((c) => c.trim());
  const unknown = asked.filter((c) => c !== 'wire' && c !== 'java');
  if (unknown.length > 0) throw new Error(`BENCH_CLIENTS: unknown client(s) ${unknown.join(', ')} (wire, java)`);
  let javaInstalled = true;
  try {
    assertKafkaInstalled();
  } catch {
    javaInstalled = false;
    if (asked.includes('java')) process.stderr.write('the Java client is not installed (scripts/kafka/install.sh): measuring with the wire generator only\n');
  }
  return asked.filter((c): c is Client => c === 'wire' || (c === 'java' && javaInstalled));
}

const CLIENT_TITLES: Record<Client, string> = {
  wire: `raw wire generator: produce ${RECORDS_PER_REQUEST} x ${RECORD_BYTES} B records per request (acks=all), ${CONNECTIONS} connections x ${IN_FLIGHT} in flight; consume one Fetch (<= ${FETCH_MAX_BYTES >> 10} KiB) in flight`,
  java: `Java client 3.9 with its defaults: producer (idempotent, acks=all, 16 KB batches) sending ${RECORD_BYTES} B records as fast as it accepts them; consumer without a group, default fetch sizes, every record decoded (not through haproxy tcp nor the node relay, which leave the broker's address in Metadata)`,
};

function report(kind: string, all: readonly Setup[], clients: readonly Client[]): void {
  const width = Math.max(12, ...all.map((s) => s.name.length));
  console.log(`\nKafka, ${kind}; ${SECONDS} s x ${ROUNDS} produce rounds, ${CONSUME_ROUNDS} consume rounds after warm-ups, medians`);
  for (const client of clients) {
    const setups = setupsFor(client, all);
    const results = (s: Setup) => s.results[client];
    const produceMbps = (s: Setup) => median(results(s).produce.map((r) => mbps(r.bytes, r.seconds)));
    const consumeMbps = (s: Setup) => median(results(s).consume.map((r) => mbps(r.bytes, r.seconds)));
    const row = (s: Setup) =>
      [
        s.name.padEnd(width),
        produceMbps(s).toFixed(1).padStart(8),
        String(Math.round(median(results(s).produce.map((r) => r.records / r.seconds)))).padStart(10),
        median(results(s).produce.map((r) => r.p99Ms)).toFixed(1).padStart(9),
        consumeMbps(s).toFixed(1).padStart(9),
        String(Math.round(median(results(s).consume.map((r) => r.records / r.seconds)))).padStart(10),
        String(results(s).produce.reduce((n, r) => n + r.errors, 0)).padStart(7),
      ].join(' ');
    console.log(`\n${CLIENT_TITLES[client]}`);
    console.log(`${'setup'.padEnd(width)}  produce   produce  loaded p99   consume   consume  errors`);
    console.log(`${''.padEnd(width)}     MB/s  records/s         ms      MB/s  records/s`);
    for (const s of setups) console.log(row(s));
    const [direct, ...proxied] = setups as [Setup, ...Setup[]];
    for (const s of proxied) {
      console.log(`${s.name} / direct: produce ${((produceMbps(s) / produceMbps(direct)) * 100).toFixed(0)}%, consume ${((consumeMbps(s) / consumeMbps(direct)) * 100).toFixed(0)}% (target >= 85%)`);
    }
    console.log('CPU seconds per GB (proxy / broker / load generator) and how busy both cores were:');
    for (const s of setups) {
      const r = results(s);
      const generator = client === 'java' ? 'client' : 'self';
      console.log(`${s.name.padEnd(width)} produce ${cpuSummary(r.cpu.produce, r.produce, generator)}   consume ${cpuSummary(r.cpu.consume, r.consume, generator)}`);
    }
    const portcullis = setups.filter((s) => s.variant !== undefined);
    for (const phase of ['produce', 'consume'] as const) {
      printWorkerCostRatios(portcullis.map((s) => ({ variant: s.variant!, cost: cpuSecondsPerGb(results(s).cpu[phase], results(s)[phase], 'proxy') })), `s/GB ${phase}d`);
    }
  }
  const [direct, ...proxied] = all as [Setup, ...Setup[]];
  console.log(`\nsingle-record produce latency (one in flight, ${LATENCY_SAMPLES} requests): direct p50 ${percentile(direct.latencyMs, 50).toFixed(2)} ms, p99 ${percentile(direct.latencyMs, 99).toFixed(2)} ms`);
  for (const s of proxied) {
    const added = (p: number) => (percentile(s.latencyMs, p) - percentile(direct.latencyMs, p)).toFixed(2);
    console.log(`${s.name.padEnd(width)} adds p50 ${added(50)} ms, p99 ${added(99)} ms`);
  }
  if (all.some((s) => clients.some((c) => s.results[c].produce.some((r) => r.errors > 0)))) {
    console.log('WARNING: some produce requests failed; the figures are not comparable');
    process.exitCode = 1;
  }
}

type Moved = ReadonlyArray<{ bytes: number; seconds: number }>;

/** CPU seconds the process named `name` (with its descendants) used per GB moved over the runs. */
function cpuSecondsPerGb(uses: readonly CpuUse[], results: Moved, name: string): number {
  return uses.reduce((n, u) => n + u.seconds[name]!, 0) / (results.reduce((n, r) => n + r.bytes, 0) / 1e9);
}

/** "proxy / broker / load generator" CPU seconds per GB moved, then the machine's busy share over the runs. */
function cpuSummary(uses: readonly CpuUse[], results: Moved, generator: string): string {
  const perGb = (name: string) => cpuSecondsPerGb(uses, results, name).toFixed(1).padStart(4);
  const time = results.reduce((n, r) => n + r.seconds, 0);
  const busy = uses.reduce((n, u, i) => n + u.busy * results[i]!.seconds, 0) / time;
  return `${perGb('proxy')} / ${perGb('broker')} / ${perGb(generator)}, ${(busy * 100).toFixed(0).padStart(3)}% busy`;
}

await main();
