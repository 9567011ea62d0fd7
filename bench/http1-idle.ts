// bench/http1-idle: resident memory of each proxy holding 10,000 idle keep-alive client connections.
//   npm run bench:http1-idle       (BENCH_IDLE_CONNECTIONS=10000 by default; target for Portcullis <= 200 MB)
//   BENCH_PEERS=off                Portcullis only, without haproxy and nginx (quicker iterations)
//   BENCH_BASELINE_CLI=<other build>/dist/src/cli/main.js adds that build's Portcullis, measured the same way
//   BENCH_IDLE_SETTLE_SECONDS=60   how long Portcullis' RSS is watched after the first reading (0: not at all)
// Portcullis (Star Wars L7 policy, flow records to a file), haproxy and nginx (the same rule) run one at a time
// in front of the deathstar. This process opens the connections with raw sockets from 127.0.1.1..127.0.1.20
// (500 per source address, under Portcullis' default per-source cap of 1,000), a few hundred at a time; each
// lands one ship (POST /v1/request-landing, so the request went through the policy and upstream) and then stays
// open and idle. Once all are open, the proxy's VmRSS (nginx: master + worker) is read from /proc, 3 s later.
// Portcullis' RSS then still holds the garbage of the opening and a young generation V8 grew for it; V8's memory
// reducer gives that back once allocation has stayed low for a while (15-50 s here), so for Portcullis the lowest
// RSS over the next BENCH_IDLE_SETTLE_SECONDS is reported too ("settled"), before the connections and with them:
// what a proxy holding idle connections for hours costs. haproxy and nginx have no garbage collector; their first
// readings are their settled ones.
// haproxy reserves two file descriptors per connection: under an open-files limit below twice the connections
// (and no right to raise it) it holds fewer, and its RSS at the full count is extrapolated from its per-connection cost.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { haproxyMaxConnections } from './lib/haproxy.js';
import { landingRule } from './lib/http-rule.js';
import { treeRssBytes } from './lib/memory.js';
import { openFilesLimit } from './lib/processes.js';
import { L7_POLICY, LANDING_BODY, LANDING_PATH, LOAD_SOURCE, startDeathstar, startNativePeers, startPortcullis, type Running } from './lib/starwars-http1.js';

const CONNECTIONS = Number(process.env.BENCH_IDLE_CONNECTIONS ?? 10_000);
const SOURCES = Array.from({ length: 20 }, (_, i) => `127.0.1.${i + 1}`);
const OPENING_AT_ONCE = 250;
/** Time for the proxy to settle (timers, lazy frees) before its memory is read. */
const SETTLE_MS = 3_000;
const SETTLED_WATCH_MS = Number(process.env.BENCH_IDLE_SETTLE_SECONDS ?? 60) * 1000;
const ANSWER_TIMEOUT_MS = 10_000;
const TARGET_MB = 200;
const PORTCULLIS = 'portcullis L7, flow file';
const BASELINE = 'baseline portcullis';
const baselineCli = process.env.BENCH_BASELINE_CLI;
const withPeers = process.env.BENCH_PEERS !== 'off';
const REQUEST = `POST ${LANDING_PATH} HTTP/1.1\r\nHost: deathstar\r\nContent-Type: application/json\r\nContent-Length: ${LANDING_BODY.length}\r\n\r\n${LANDING_BODY}`;

interface Idle {
  readonly name: string;
  readonly connections: number;
  readonly rssBefore: number;
  readonly rssIdle: number;
  /** The lowest RSS over the watch after rssBefore and after rssIdle (the same where not watched). */
  readonly settledBefore: number;
  readonly settledIdle: number;
  readonly stillOpen: number;
}

async function main(): Promise<void> {
  const limit = openFilesLimit();
  if (limit < CONNECTIONS + 500) {
    console.error(`open files limit ${limit} is too low for ${CONNECTIONS} connections: raise it (ulimit -n ${2 * CONNECTIONS + 1000}) and run again`);
    process.exitCode = 1;
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-idle-'));
  const servers: Running[] = [];
  const results: Idle[] = [];
  try {
    const deathstar = await startDeathstar();
    servers.push(deathstar);
    // Idle connections must outlive the opening of the others and the settling: Portcullis closes them after 5 s.
    const listener = `maxConnections: ${CONNECTIONS + 100}, http: {idleTimeoutMs: 600000}`;
    const setup = { policies: [L7_POLICY], flows: true, moreSources: ['127.0.1.0/24'], listener };
    const natives = withPeers ? await startNativePeers(dir, deathstar.port, landingRule([LOAD_SOURCE, '127.0.1.0/24']), CONNECTIONS + 100) : [];
    servers.push(...natives);
    // Each Portcullis starts right before it is measured (its RSS before the connections must not depend on how
    // long it sat idle while another one was measured) and stops after.
    const builds = [{ name: PORTCULLIS, cli: undefined }, ...(baselineCli === undefined ? [] : [{ name: BASELINE, cli: baselineCli }])];
    for (const { name, cli } of builds) {
      const proxy = await startPortcullis(name, dir, deathstar.port, { ...setup, cli });
      servers.push(proxy);
      results.push(await measureAndTell(proxy, CONNECTIONS, SETTLED_WATCH_MS));
      await proxy.child.stop();
    }
    // One at a time: only the proxy being measured holds connections (and file descriptors).
    for (const proxy of natives) {
      // A few below haproxy's maxconn: the warm-up connection may not be gone yet.
      const connections = proxy.name === 'haproxy' ? Math.min(CONNECTIONS, haproxyMaxConnections() - 16) : CONNECTIONS;
      results.push(await measureAndTell(proxy, connections, 0));
    }
  } finally {
    for (const s of servers.reverse()) await s.child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  report(results);
}

async function measureAndTell(proxy: Running, connections: number, watchMs: number): Promise<Idle> {
  const r = await measureIdle(proxy, connections, watchMs);
  process.stderr.write(`${proxy.name}: ${mb(r.rssIdle)} MB (settled ${mb(r.settledIdle)} MB) with ${connections} idle connections\n`);
  return r;
}

async function measureIdle(proxy: Running, connections: number, watchMs: number): Promise<Idle> {
  const pid = proxy.child.process.pid!;
  (await openIdle(proxy, 1)).forEach((s) => s.destroy()); // one request through: pools, code paths, caches
  await sleep(SETTLE_MS);
  const rssBefore = treeRssBytes(pid);
  const settledBefore = await lowestRss(pid, rssBefore, watchMs);
  const sockets = await openIdle(proxy, connections);
  await sleep(SETTLE_MS);
  const rssIdle = treeRssBytes(pid);
  const settledIdle = await lowestRss(pid, rssIdle, watchMs);
  const stillOpen = sockets.filter((s) => !s.closed).length;
  for (const s of sockets) s.destroy();
  await sleep(1_000); // let the proxy see the closes before the next one is measured
  return { name: proxy.name, connections, rssBefore, rssIdle, settledBefore, settledIdle, stillOpen };
}

/** The lowest RSS of `pid` (starting from `rss`, just read) over the next `watchMs`, read every second. */
async function lowestRss(pid: number, rss: number, watchMs: number): Promise<number> {
  let lowest = rss;
  for (let waited = 0; waited < watchMs; waited += 1_000) {
    await sleep(1_000);
    lowest = Math.min(lowest, treeRssBytes(pid));
  }
  return lowest;
}

/** `count` connections to the proxy, each having landed one ship (200) and now idle, spread over SOURCES. */
async function openIdle(proxy: Running, count: number): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  for (let i = 0; i < count; i += OPENING_AT_ONCE) {
    const batch = Array.from({ length: Math.min(OPENING_AT_ONCE, count - i) }, (_, j) => landOne(proxy, SOURCES[(i + j) % SOURCES.length]!));
    sockets.push(...(await Promise.all(batch)));
  }
  return sockets;
}

function landOne(proxy: Running, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: proxy.host, port: proxy.port, localAddress }, () => s.write(REQUEST));
    s.setTimeout(ANSWER_TIMEOUT_MS, () => s.destroy(new Error(`${proxy.name}: no answer from ${localAddress} in ${ANSWER_TIMEOUT_MS} ms`)));
    // After the answer an error only shows as the socket being closed, which measureIdle counts.
    s.on('error', reject);
    s.once('data', (chunk: Buffer) => {
      s.setTimeout(0);
      const status = chunk.toString('latin1', 0, chunk.indexOf('\r\n'));
      if (status.startsWith('HTTP/1.1 200 ')) resolve(s);
      else s.destroy(new Error(`${proxy.name}: ${status} for ${localAddress}`));
    });
  });
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/** RSS with CONNECTIONS idle connections: measured, or extrapolated from the per-connection cost when the proxy held fewer. */
const rssAtFullCount = (r: Idle) => r.rssBefore + ((r.rssIdle - r.rssBefore) / r.connections) * CONNECTIONS;

function report(results: readonly Idle[]): void {
  console.log(`\nHTTP/1.1 idle keep-alive client connections (each landed one ship), VmRSS`);
  console.log(`                                         3 s after opening                                    settled`);
  console.log(`proxy                       connections  before MB  idle MB  KB/connection  at ${CONNECTIONS} MB  before MB  idle MB  KB/connection  still open`);
  for (const r of results) {
    const perConnection = (before: number, idle: number) => ((idle - before) / 1024 / r.connections).toFixed(1).padStart(13);
    const atFull = `${mb(rssAtFullCount(r))}${r.connections < CONNECTIONS ? '*' : ''}`;
    console.log(
      `${r.name.padEnd(27)} ${String(r.connections).padStart(11)}  ${mb(r.rssBefore).padStart(9)}  ${mb(r.rssIdle).padStart(7)}  ${perConnection(r.rssBefore, r.rssIdle)}  ${atFull.padStart(9 + String(CONNECTIONS).length)}` +
        `  ${mb(r.settledBefore).padStart(9)}  ${mb(r.settledIdle).padStart(7)}  ${perConnection(r.settledBefore, r.settledIdle)}  ${String(r.stillOpen).padStart(10)}`,
    );
  }
  if (results.some((r) => r.connections < CONNECTIONS)) console.log(`* extrapolated: the open-files limit (${openFilesLimit()}) let it hold fewer`);
  const p = results.find((r) => r.name === PORTCULLIS)!;
  const haproxy = results.find((r) => r.name === 'haproxy');
  const versus = haproxy === undefined ? '' : `, ${(p.rssIdle / rssAtFullCount(haproxy)).toFixed(1)} x haproxy's ${mb(rssAtFullCount(haproxy))} MB`;
  console.log(`${p.rssIdle <= TARGET_MB * 2 ** 20 ? 'PASS' : 'MISS'}  ${PORTCULLIS} RSS with ${CONNECTIONS} idle connections <= ${TARGET_MB} MB: ${mb(p.rssIdle)} MB (settled ${mb(p.settledIdle)} MB)${versus}`);
  if (results.some((r) => r.stillOpen < r.connections)) {
    console.log('WARNING: some proxies closed idle connections before their memory was read; their figures are not comparable');
    process.exitCode = 1;
  }
}

await main();
