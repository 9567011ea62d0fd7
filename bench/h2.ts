// bench/h2: HTTP/2 requests with h2load (nghttp2-client), direct to the Cloud City door manager vs through
// Portcullis with the guide's policy, in one run. Each request is a real unary gRPC call made by h2load:
// POST /cloudcity.DoorManager/GetName with content-type application/grpc and a length-prefixed message.
//   npm run build && node dist/bench/h2.js        (BENCH_SECONDS=10 BENCH_ROUNDS=3 by default, alternating, median)
// One connection, 50 concurrent streams. The machine is shared and noisy: compare the ratio of one run.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { measureAlternating, printComparison, startCloudCityBench, type BenchFigures, type Target } from './lib/cloudcity.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const STREAMS = 50;
const execFileP = promisify(execFile);
/** gRPC message framing: not compressed, length 2, then DoorRequest{door_id: 1} (field 1, varint 1). */
const GET_NAME_REQUEST = Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]);

async function h2load(t: Target, seconds: number, body: string): Promise<BenchFigures> {
  const { stdout } = await execFileP(
    'h2load',
    ['-D', String(seconds), '-c', '1', '-m', String(STREAMS), '-t', '1', '-d', body,
      '-H', 'content-type: application/grpc', '-H', 'te: trailers', `http://${t.host}:${t.port}/cloudcity.DoorManager/GetName`],
    { maxBuffer: 1 << 24 },
  );
  // "finished in 10.00s, 12345.60 req/s, ..." ; "requests: N total, N started, N done, N succeeded, N failed, N errored"
  const rps = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout)?.[1]);
  const failed = /requests: .*?(\d+) failed, (\d+) errored/.exec(stdout);
  const statuses = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
  // h2load prints mean/sd of request time, not percentiles: "time for request: min max mean sd +/- sd".
  const timing = /time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)/.exec(stdout);
  const ms = (v: string | undefined) => (v === undefined ? NaN : v.endsWith('us') ? Number(v.slice(0, -2)) / 1000 : v.endsWith('ms') ? Number(v.slice(0, -2)) : Number(v.slice(0, -1)) * 1000);
  const mean = ms(timing?.[3]);
  const sd = ms(timing?.[4]);
  return {
    rps,
    // Approximations from mean and standard deviation (h2load reports no percentiles): p50 ~ mean, p99 ~ mean + 2.33 sd.
    p50ms: mean,
    p99ms: mean + 2.33 * sd,
    errors: Number(failed?.[1] ?? 0) + Number(failed?.[2] ?? 0) + Number(statuses?.[3] ?? 0) + Number(statuses?.[4] ?? 0),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-h2-'));
  const body = join(dir, 'get-name.grpc');
  writeFileSync(body, GET_NAME_REQUEST);
  const bench = await startCloudCityBench();
  try {
    const results = await measureAlternating(bench.targets, (t, seconds) => h2load(t, seconds, body), SECONDS, ROUNDS);
    const ratios = printComparison(`h2load, POST /cloudcity.DoorManager/GetName (gRPC framing), 1 connection x ${STREAMS} streams, median of ${ROUNDS} alternating ${SECONDS} s rounds; p50/p99 approximated from mean/sd`, results);
    console.log('');
    for (const [name, ratio] of ratios) console.log(`${name} / direct: ${(ratio * 100).toFixed(0)}%`);
    if (results.some(([, r]) => r.errors > 0)) {
      console.log('WARNING: some requests failed; the figures are not comparable');
      process.exitCode = 1;
    }
  } finally {
    await bench.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
