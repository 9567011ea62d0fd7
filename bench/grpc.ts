// bench/grpc: unary gRPC calls (cloudcity.DoorManager/GetName, allowed by the guide's policy) with 50
// concurrent streams on one connection, direct to the door manager vs through Portcullis, in one run.
//   npm run build && node dist/bench/grpc.js      (BENCH_SECONDS=10 BENCH_ROUNDS=3 by default, alternating, median)
// Uses ghz (scripts/install-go-tools.sh) when installed, else a bounded @grpc/grpc-js load loop. Target:
// Portcullis >= 60% of direct. The machine is shared and noisy: compare the ratio of one run.
// BENCH_WORKERS=1,2 (the default) runs each Portcullis setup with each worker count side by side, reporting the
// CPU per call of its whole process tree and its ratio from 1 to N workers (target: at most +10% for 2). All
// calls share one connection, so one worker serves them whatever the count: the figure is the cost per call.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import grpc from '@grpc/grpc-js';
import { loadCloudCity } from '../src/demo/cloudcity/proto.js';
import { CLOUDCITY_PROTO_DIR, REPO_ROOT, measureAlternating, printComparison, startCloudCityBench, type BenchFigures, type Target } from './lib/cloudcity.js';
import { benchWorkerCounts, printWorkerCostRatios } from './lib/workers.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = 50;
const GHZ = join(REPO_ROOT, '.interop', 'bin', 'ghz');
const execFileP = promisify(execFile);

async function ghz(t: Target, seconds: number): Promise<BenchFigures> {
  const { stdout } = await execFileP(
    GHZ,
    ['--insecure', '--proto', join(CLOUDCITY_PROTO_DIR, 'cloudcity.proto'), '--call', 'cloudcity.DoorManager.GetName', '-d', '{"door_id":1}',
      '-c', String(CONCURRENCY), '--connections', '1', '-z', `${seconds}s`, '--cpus', '1', '--format', 'json', `${t.host}:${t.port}`],
    { maxBuffer: 1 << 26 },
  );
  const r = JSON.parse(stdout) as { rps: number; latencyDistribution: Array<{ percentage: number; latency: number }>; errorDistribution?: Record<string, number> };
  const pct = (p: number) => (r.latencyDistribution.find((d) => d.percentage === p)?.latency ?? NaN) / 1e6;
  // When the duration ends ghz closes its connection under the calls still in flight; those are not errors.
  const errors = Object.entries(r.errorDistribution ?? {}).reduce((n, [message, count]) => (message.includes('use of closed network connection') ? n : n + count), 0);
  return { rps: r.rps, p50ms: pct(50), p99ms: pct(99), errors };
}

/** 50 outstanding unary calls on one channel, for `seconds`. */
async function grpcJsLoop(t: Target, seconds: number): Promise<BenchFigures> {
  const { DoorManager } = loadCloudCity();
  const client = new DoorManager(`${t.host}:${t.port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as grpc.Client & Record<string, Function>;
  const latencies: number[] = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const worker = async () => {
    while (Date.now() < end) {
      const start = process.hrtime.bigint();
      await new Promise<void>((resolve) =>
        client.GetName!.call(client, { door_id: 1 }, (err: Error | null) => {
          if (err) errors++;
          else latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
          resolve();
        }),
      );
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = (Date.now() - started) / 1000;
  client.close();
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return { rps: latencies.length / elapsed, p50ms: at(50), p99ms: at(99), errors };
}

async function main(): Promise<void> {
  const useGhz = existsSync(GHZ);
  const run = useGhz ? ghz : grpcJsLoop;
  const bench = await startCloudCityBench(benchWorkerCounts());
  try {
    const results = await measureAlternating(bench.targets, run, SECONDS, ROUNDS);
    const ratios = printComparison(
      `unary gRPC GetName, ${CONCURRENCY} concurrent streams on 1 connection, ${useGhz ? 'ghz' : '@grpc/grpc-js loop'}, median of ${ROUNDS} alternating ${SECONDS} s rounds`,
      results,
    );
    console.log('');
    for (const [name, ratio] of ratios) console.log(`${name} / direct: ${(ratio * 100).toFixed(0)}% (target >= 60%)`);
    printWorkerCostRatios(results.flatMap(([t, r]) => (t.variant === undefined ? [] : [{ variant: t.variant, cost: r.cpuUsPerRequest }])), 'µs/call');
    if (results.some(([, r]) => r.errors > 0)) {
      console.log('WARNING: some calls failed; the figures are not comparable');
      process.exitCode = 1;
    }
  } finally {
    await bench.stop();
  }
}

await main();
