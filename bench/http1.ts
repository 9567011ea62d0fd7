// bench/http1: HTTP/1.1 requests/s and latency, direct vs through Portcullis vs @fastify/http-proxy, in one run.
//   npm run bench:http1            (BENCH_SECONDS=10 BENCH_ROUNDS=1 by default)
//   BENCH_BASELINE_CLI=<other build>/dist/src/cli/main.js adds that build's Portcullis (flows to a file, and off)
//   beside this one, so two versions are compared in the same run.
// Every server runs in its own process; autocannon (50 connections) runs in this one. The machine is shared and
// noisy, so compare the ratios of one run, not absolute numbers across runs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, median, type LoadResult } from './lib/autocannon-run.js';
import { processCpuSeconds } from './lib/cpu.js';
import { manyHttpPolicies } from './lib/policies.js';
import { freePort, startChild, waitForPort, type Child } from './lib/processes.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const CONNECTIONS = 50;
const BODY = '{"ship":"tie-ln"}'; // 17 bytes, as in perf-baselines.md
const here = fileURLToPath(new URL('.', import.meta.url));
const cli = join(here, '..', 'src', 'cli', 'main.js');
const baselineCli = process.env.BENCH_BASELINE_CLI;
const policiesDir = join(here, '..', '..', 'policies', 'starwars');

interface Setup {
  readonly name: string;
  readonly url: string;
  readonly children: Child[];
}

function portcullisConfig(dir: string, proxyPort: number, upstreamPort: number, policies: string[], flows: boolean): string {
  const file = join(dir, `portcullis-${proxyPort}.yaml`);
  writeFileSync(
    file,
    `policies: [${policies.map((p) => JSON.stringify(p)).join(', ')}]
admin: off
flows: ${flows ? JSON.stringify(join(dir, `flows-${proxyPort}.jsonl`)) : 'off'}
endpoints:
  - {name: deathstar, labels: {org: empire, class: deathstar}, addresses: [127.0.0.10]}
  # autocannon cannot choose its source address: the load generator's 127.0.0.1 is the tiefighter here.
  - {name: tiefighter, labels: {org: empire, class: tiefighter}, addresses: [127.0.0.1/32, 127.0.0.2]}
listeners:
  - {name: deathstar-http, listen: "127.0.0.1:${proxyPort}", protocol: http, to: deathstar, upstream: "127.0.0.10:${upstreamPort}", port: 80}
`,
  );
  return file;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
  const upstreamPort = await freePort('127.0.0.10');
  const backend = startChild('deathstar', [join(here, 'peers', 'deathstar.js'), '127.0.0.10', String(upstreamPort)]);
  const setups: Setup[] = [{ name: 'direct', url: `http://127.0.0.10:${upstreamPort}`, children: [] }];
  try {
    await waitForPort('127.0.0.10', upstreamPort);
    const l7 = join(policiesDir, 'sw_l3_l4_l7_policy.yaml');
    const many = join(dir, 'many.yaml');
    writeFileSync(many, manyHttpPolicies(1000, 10));

    // Flow records go to a file, as in production; the no-flows variant compares like with like against
    // @fastify/http-proxy, which writes no access log here.
    const variants: Array<[string, string, string[], boolean]> = [
      ['portcullis L7 policy', cli, [l7], true],
      ['portcullis +10,000 rules', cli, [l7, many], true],
      ['portcullis L7, flows off', cli, [l7], false],
    ];
    if (baselineCli !== undefined) variants.push(['baseline L7 policy', baselineCli, [l7], true], ['baseline L7, flows off', baselineCli, [l7], false]);
    for (const [name, main, policies, flows] of variants) {
      const port = await freePort();
      const child = startChild(name, [main, 'run', '--no-watch', '-c', portcullisConfig(dir, port, upstreamPort, policies, flows)]);
      setups.push({ name, url: `http://127.0.0.1:${port}`, children: [child] });
      await waitForPort('127.0.0.1', port);
    }
    const fastifyPort = await freePort();
    const fastify = startChild('fastify', [join(here, 'peers', 'fastify-proxy.js'), '127.0.0.1', String(fastifyPort), `http://127.0.0.10:${upstreamPort}`]);
    setups.push({ name: '@fastify/http-proxy', url: `http://127.0.0.1:${fastifyPort}`, children: [fastify] });
    await waitForPort('127.0.0.1', fastifyPort);

    const results = new Map<string, Measured[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of setups) {
        const opts = { url: `${s.url}/v1/request-landing`, connections: CONNECTIONS, method: 'POST', body: BODY, headers: { 'content-type': 'application/json' } };
        await load({ ...opts, seconds: 2 }); // warm-up (JIT, pools)
        const cpuBefore = proxyCpuSeconds(s);
        const r = await load({ ...opts, seconds: SECONDS });
        const cpuUsPerRequest = ((proxyCpuSeconds(s) - cpuBefore) * 1e6) / (r.rps * SECONDS);
        results.set(s.name, [...(results.get(s.name) ?? []), { ...r, cpuUsPerRequest }]);
        process.stderr.write(`round ${round + 1} ${s.name}: ${Math.round(r.rps)} req/s, ${cpuUsPerRequest.toFixed(0)} µs CPU/request\n`);
      }
    }
    report(results);
  } finally {
    for (const s of setups) for (const c of s.children) await c.stop();
    await backend.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU seconds of the setup's proxy process so far (0 for the direct connection). */
function proxyCpuSeconds(s: Setup): number {
  return s.children.reduce((sum, c) => sum + processCpuSeconds(c.process.pid), 0);
}

type Measured = LoadResult & { readonly cpuUsPerRequest: number };

function report(results: Map<string, Measured[]>): void {
  const summary = [...results].map(([name, rs]) => ({
    name,
    rps: median(rs.map((r) => r.rps)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
    bad: rs.reduce((n, r) => n + r.errors + r.non2xx, 0),
    cpu: median(rs.map((r) => r.cpuUsPerRequest)),
  }));
  const get = (name: string) => summary.find((s) => s.name === name)!.rps;
  const direct = get('direct');
  console.log(`\nHTTP/1.1, POST /v1/request-landing, ${CONNECTIONS} connections, ${SECONDS} s x ${ROUNDS} round(s), median`);
  console.log('setup                        req/s    x direct   p50 ms  p99 ms  proxy CPU µs/req  errors+non-2xx');
  for (const s of summary) {
    const cpu = s.name === 'direct' ? '-' : s.cpu.toFixed(0);
    console.log(`${s.name.padEnd(27)} ${String(Math.round(s.rps)).padStart(7)}   ${(s.rps / direct).toFixed(2).padStart(7)}   ${String(s.p50).padStart(6)}  ${String(s.p99).padStart(6)}  ${cpu.padStart(16)}  ${s.bad}`);
  }
  const l7 = get('portcullis L7 policy');
  const fastify = get('@fastify/http-proxy');
  console.log(`\nportcullis L7 / @fastify/http-proxy: ${(l7 / fastify).toFixed(2)}x with flow records, ${(get('portcullis L7, flows off') / fastify).toFixed(2)}x without (target >= 1.5x)`);
  console.log(`cost of 10,000 rules vs the one-rule policy: ${((1 - get('portcullis +10,000 rules') / l7) * 100).toFixed(1)}% (target < 10%)`);
  if (summary.some((s) => s.bad > 0)) {
    console.log('WARNING: some setups had errors or non-2xx answers; their figures are not comparable');
    process.exitCode = 1;
  }
}

await main();
