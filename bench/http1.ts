// bench/http1: HTTP/1.1 requests/s, latency and proxy CPU per request, in one run: direct, haproxy and nginx with
// the Star Wars rule as ACLs, Portcullis (flow records to a file, with 10,000 more rules, flow records off) and
// @fastify/http-proxy; with the real `hubble` CLI installed (scripts/install-hubble.sh), Portcullis with its
// Hubble server on, without a client and with one `hubble observe -f` following every flow (one worker only).
//   npm run bench:http1            (BENCH_SECONDS=8 BENCH_ROUNDS=3 by default: alternating rounds, medians)
//   BENCH_LOADGEN=autocannon       autocannon drives every round (the default is wrk when installed)
//   BENCH_BASELINE_CLI=<other build>/dist/src/cli/main.js adds that build's Portcullis (flows to a file, and off)
//   beside this one, so two versions are compared in the same run.
//   BENCH_WORKERS=1,2 (the default) runs each Portcullis variant with each worker count (`--workers N`), side by
//   side; the CPU per request is the whole process tree's (primary and workers), and its ratio from 1 to N
//   workers is reported (target: at most +10% for 2). A baseline build must know `--workers` too.
// Every server runs in its own process; wrk (1 thread, 50 connections) in another. With wrk as the load generator,
// a last round runs autocannon (the design card's) against Portcullis and haproxy as a cross-check. Each round also
// measures direct, haproxy, nginx and Portcullis unloaded (wrk, 1 connection, sequential requests) for the latency
// a hop adds. The machine is shared and noisy, so compare the ratios of one run, not absolute numbers across runs.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, median, type LoadOptions, type LoadResult } from './lib/autocannon-run.js';
import { treeCpuSeconds } from './lib/cpu.js';
import { landingRule } from './lib/http-rule.js';
import { manyHttpPolicies } from './lib/policies.js';
import { HUBBLE } from './lib/hubble-tools.js';
import { asChild, freePort, startChild, waitForChild, waitForPort, type Child } from './lib/processes.js';
import {
  DEATHSTAR_HOST, L7_POLICY, LANDING_PATH, LOAD_SOURCE, landingAndExhaustStatus, landingLoad, startDeathstar, startNativePeers, startPortcullis, type Running,
} from './lib/starwars-http1.js';
import { benchWorkerCounts, printWorkerCostRatios, workerVariants, type WorkerVariant } from './lib/workers.js';
import { wrk, wrkInstalled } from './lib/wrk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARM_UP_SECONDS = 2;
const UNLOADED_SECONDS = 3;
const CONNECTIONS = 50;
const WORKERS = benchWorkerCounts();
/** Width of the setup column: the longest name is a Portcullis variant with its worker count. */
const NAME_WIDTH = 36;
const baselineCli = process.env.BENCH_BASELINE_CLI;
const here = fileURLToPath(new URL('.', import.meta.url));

type LoadGenerator = (opts: LoadOptions) => Promise<LoadResult>;
const haveWrk = wrkInstalled();
const useWrk = process.env.BENCH_LOADGEN !== 'autocannon' && haveWrk;
const main: { name: string; run: LoadGenerator } = useWrk ? { name: 'wrk', run: wrk } : { name: 'autocannon', run: load };

const HAPROXY = 'haproxy';
const PORTCULLIS = 'portcullis L7, flow file';
const MANY_RULES = 'portcullis +10,000 rules';
const FLOWS_OFF = 'portcullis L7, flows off';
const HUBBLE_ON = 'portcullis L7, flow file, hubble';
const HUBBLE_FOLLOWED = 'portcullis L7, flow file, hubble -f';
const FASTIFY = '@fastify/http-proxy';
/** The setups measured unloaded too. */
const UNLOADED = ['direct', HAPROXY, 'nginx', PORTCULLIS, FLOWS_OFF];

interface Setup {
  readonly name: string;
  readonly url: string;
  /** The proxy's process (none for the direct connection). */
  readonly proxy?: Child;
}

type Measured = LoadResult & { readonly cpuUsPerRequest: number };

async function mainRun(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
  const servers: Running[] = [];
  try {
    const deathstar = await startDeathstar();
    servers.push(deathstar);
    servers.push(...(await startNativePeers(dir, deathstar.port, landingRule([LOAD_SOURCE]))));
    const many = join(dir, 'many.yaml');
    writeFileSync(many, manyHttpPolicies(1000, 10));
    // Flow records go to a file, as in production; the no-flows variant compares like with like against
    // haproxy and @fastify/http-proxy, which write no log here.
    const variants: Array<[string, string | undefined, string[], boolean]> = [
      [PORTCULLIS, undefined, [L7_POLICY], true],
      [MANY_RULES, undefined, [L7_POLICY, many], true],
      [FLOWS_OFF, undefined, [L7_POLICY], false],
    ];
    if (baselineCli !== undefined) variants.push(['baseline L7, flow file', baselineCli, [L7_POLICY], true], ['baseline L7, flows off', baselineCli, [L7_POLICY], false]);
    const portcullis: WorkerVariant[] = [];
    for (const [base, cli, policies, flows] of variants) {
      for (const v of workerVariants(base, WORKERS)) {
        portcullis.push(v);
        servers.push(await startPortcullis(v.name, dir, deathstar.port, { cli, policies, flows, runArgs: v.args }));
      }
    }
    const followers: Child[] = [];
    if (existsSync(HUBBLE)) {
      for (const name of [HUBBLE_ON, HUBBLE_FOLLOWED]) {
        const hubblePort = await freePort();
        servers.push(await startPortcullis(name, dir, deathstar.port, { policies: [L7_POLICY], flows: true, hubblePort }));
        if (name === HUBBLE_FOLLOWED) followers.push(await startFollower(hubblePort));
      }
    } else {
      process.stderr.write(`${HUBBLE} is missing (scripts/install-hubble.sh): the Hubble setups are skipped\n`);
    }
    servers.push(await startFastify(deathstar.port));

    const setups: Setup[] = servers.map((s) =>
      s === deathstar ? { name: 'direct', url: `http://${s.host}:${s.port}` } : { name: s.name, url: `http://${s.host}:${s.port}`, proxy: s.child },
    );
    for (const s of setups) await checkRule(s);

    const loaded = new Map<string, Measured[]>();
    const unloaded = new Map<string, number[]>();
    const unloadedSetups = setups.filter((s) => UNLOADED.includes(s.name));
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of setups) {
        const r = await measure(s, main.run, CONNECTIONS, SECONDS);
        append(loaded, s.name, r);
        process.stderr.write(`round ${round + 1} ${s.name}: ${Math.round(r.rps)} req/s, p99 ${r.p99.toFixed(2)} ms, ${r.cpuUsPerRequest.toFixed(0)} µs CPU/request\n`);
      }
      // autocannon reports whole milliseconds, too coarse for one hop: wrk's microseconds or nothing.
      if (haveWrk) for (const s of unloadedSetups) append(unloaded, s.name, (await wrk(loadOptions(s, 1, UNLOADED_SECONDS))).p50);
    }
    const crossCheck = new Map<string, Measured[]>();
    if (useWrk) for (const s of setups.filter((x) => x.name === HAPROXY || x.name === PORTCULLIS)) append(crossCheck, s.name, await measure(s, load, CONNECTIONS, SECONDS));

    reportLoaded(loaded, portcullis);
    if (haveWrk) reportUnloaded(unloaded);
    else console.log('\nunloaded latency not measured: wrk is not installed');
    if (crossCheck.size > 0) reportCrossCheck(crossCheck);
    await Promise.all(followers.map((f) => f.stop()));
  } finally {
    for (const s of servers.reverse()) await s.child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `hubble observe -f` on the Hubble server at `port`, printing every flow as JSON (to nowhere). */
async function startFollower(port: number): Promise<Child> {
  await waitForPort('127.0.0.1', port);
  return asChild('hubble observe -f', spawn(HUBBLE, ['observe', '--server', `127.0.0.1:${port}`, '-f', '-o', 'json'], { stdio: 'ignore' }));
}

async function startFastify(upstreamPort: number): Promise<Running> {
  const port = await freePort();
  const child = startChild(FASTIFY, [join(here, 'peers', 'fastify-proxy.js'), '127.0.0.1', String(port), `http://${DEATHSTAR_HOST}:${upstreamPort}`]);
  await waitForChild(child, '127.0.0.1', port);
  return { name: FASTIFY, child, host: '127.0.0.1', port };
}

/** Every setup must land the ship; every proxy must refuse what the rule does not allow, or its figures mean nothing. */
async function checkRule(s: Setup): Promise<void> {
  const { landing, exhaust } = await landingAndExhaustStatus(s.url);
  const enforces = s.proxy !== undefined && s.name !== FASTIFY;
  if (landing !== 200 || (exhaust === 403) !== enforces) throw new Error(`${s.name}: POST ${LANDING_PATH} answered ${landing}, PUT /v1/exhaust-port ${exhaust}`);
}

function loadOptions(s: Setup, connections: number, seconds: number): LoadOptions {
  return landingLoad(s.url, connections, seconds);
}

/** One warmed-up run, with the CPU the proxy's processes used per request meanwhile. */
async function measure(s: Setup, run: LoadGenerator, connections: number, seconds: number): Promise<Measured> {
  await run(loadOptions(s, connections, WARM_UP_SECONDS)); // JIT, pools
  const pid = s.proxy?.process.pid;
  const cpuBefore = treeCpuSeconds(pid);
  const r = await run(loadOptions(s, connections, seconds));
  return { ...r, cpuUsPerRequest: ((treeCpuSeconds(pid) - cpuBefore) * 1e6) / (r.rps * seconds) };
}

function append<T>(map: Map<string, T[]>, key: string, value: T): void {
  map.set(key, [...(map.get(key) ?? []), value]);
}

interface Summary {
  readonly name: string;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly cpu: number;
  readonly bad: number;
}

function summarise(results: Map<string, Measured[]>): Summary[] {
  return [...results].map(([name, rs]) => ({
    name,
    rps: median(rs.map((r) => r.rps)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
    cpu: median(rs.map((r) => r.cpuUsPerRequest)),
    bad: rs.reduce((n, r) => n + r.errors + r.non2xx, 0),
  }));
}

const pad = (v: string, n: number) => v.padStart(n);
const ratio = (a: number, b: number | undefined) => (b === undefined ? '-' : (a / b).toFixed(2));

function printTable(title: string, summary: readonly Summary[]): void {
  const direct = summary.find((s) => s.name === 'direct')?.rps;
  const haproxy = summary.find((s) => s.name === HAPROXY)?.rps;
  console.log(`\n${title}`);
  console.log(`${'setup'.padEnd(NAME_WIDTH)} ${pad('req/s', 8)}  x haproxy  x direct  p50 ms  p99 ms  proxy CPU µs/req  errors+non-2xx`);
  for (const s of summary) {
    const cpu = s.name === 'direct' ? '-' : s.cpu.toFixed(0);
    console.log(
      `${s.name.padEnd(NAME_WIDTH)} ${pad(String(Math.round(s.rps)), 8)}  ${pad(ratio(s.rps, haproxy), 9)}  ${pad(ratio(s.rps, direct), 8)}  ${pad(s.p50.toFixed(2), 6)}  ${pad(s.p99.toFixed(2), 6)}  ${pad(cpu, 16)}  ${s.bad}`,
    );
  }
  if (summary.some((s) => s.bad > 0)) {
    console.log('WARNING: some setups had errors or non-2xx answers; their figures are not comparable');
    process.exitCode = 1;
  }
}

/** `PASS`/`MISS` and the figures, or `n/a` when the comparison's peer did not run. */
function target(label: string, met: boolean | undefined, detail: string): void {
  console.log(`${met === undefined ? 'n/a ' : met ? 'PASS' : 'MISS'}  ${label}: ${detail}`);
}

function reportLoaded(results: Map<string, Measured[]>, portcullis: readonly WorkerVariant[]): void {
  const summary = summarise(results);
  printTable(`HTTP/1.1, POST ${LANDING_PATH}, ${main.name}, ${CONNECTIONS} connections, ${SECONDS} s x ${ROUNDS} alternating round(s), median`, summary);
  const get = (name: string) => summary.find((s) => s.name === name);
  const p = get(PORTCULLIS)!;
  const haproxy = get(HAPROXY);
  console.log(`\ntargets for ${PORTCULLIS}:`);
  target('CPU per request <= 40 µs', p.cpu <= 40, `${p.cpu.toFixed(1)} µs`);
  target('req/s >= 0.6 x haproxy', haproxy === undefined ? undefined : p.rps >= 0.6 * haproxy.rps, `${ratio(p.rps, haproxy?.rps)} x`);
  target('p99 <= 2 x haproxy', haproxy === undefined ? undefined : p.p99 <= 2 * haproxy.p99, `${p.p99.toFixed(2)} ms against ${haproxy?.p99.toFixed(2) ?? '-'} ms`);
  const cost = 1 - get(MANY_RULES)!.rps / p.rps;
  target('10,000 rules cost < 10% of req/s', cost < 0.1, `${(cost * 100).toFixed(1)}%`);
  const fastify = get(FASTIFY)!.rps;
  target('req/s >= 1.5 x @fastify/http-proxy', p.rps >= 1.5 * fastify, `${ratio(p.rps, fastify)} x with flow records, ${ratio(get(FLOWS_OFF)!.rps, fastify)} x without`);
  printWorkerCostRatios(portcullis.map((variant) => ({ variant, cost: get(variant.name)!.cpu })), 'µs/request');
  for (const name of [HUBBLE_ON, HUBBLE_FOLLOWED]) {
    const h = get(name);
    if (h === undefined) continue;
    const rise = h.cpu / p.cpu - 1;
    target(`${name}: CPU per request <= +5% of ${PORTCULLIS}'s`, rise <= 0.05, `${h.cpu.toFixed(1)} against ${p.cpu.toFixed(1)} µs (${(rise * 100).toFixed(1)}%)`);
  }
}

function reportUnloaded(results: Map<string, number[]>): void {
  const p50 = new Map([...results].map(([name, values]) => [name, median(values) * 1000]));
  const direct = p50.get('direct')!;
  console.log(`\nunloaded, wrk, 1 connection, sequential requests, ${UNLOADED_SECONDS} s x ${ROUNDS} round(s), median p50`);
  console.log(`${'setup'.padEnd(NAME_WIDTH)} ${pad('p50 µs', 7)}  added µs`);
  for (const [name, us] of p50) console.log(`${name.padEnd(NAME_WIDTH)} ${pad(us.toFixed(0), 7)}  ${pad(name === 'direct' ? '-' : (us - direct).toFixed(0), 8)}`);
  const haproxy = p50.get(HAPROXY);
  if (haproxy !== undefined) console.log(`added latency of ${PORTCULLIS}: ${ratio(p50.get(PORTCULLIS)! - direct, haproxy - direct)} x haproxy's`);
}

function reportCrossCheck(results: Map<string, Measured[]>): void {
  const summary = summarise(results);
  printTable(`cross-check with autocannon (in this process), ${CONNECTIONS} connections, ${SECONDS} s x 1 round`, summary);
}

await mainRun();
