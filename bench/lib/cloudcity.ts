// The Cloud City setups bench/grpc and bench/h2 compare, each server in its own process: the door manager
// (`portcullis backend cloudcity-door`), reached directly, and Portcullis (`portcullis run`) in front of it
// with the guide's policy, cc-door-ingress-security.yaml — once with flow records off and once writing them
// to a file, since on a small machine writing two Hubble records per call costs about half as much CPU as
// proxying the call. haproxy (when installed) runs beside them with the same rule as ACLs: the native peer.
// Each Portcullis setup runs once per worker count asked for (bench/lib/workers.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import { loadCloudCity } from '../../src/demo/cloudcity/proto.js';
import { median } from './autocannon-run.js';
import { treeCpuSeconds } from './cpu.js';
import { haproxyInstalled, startHaproxyH2 } from './haproxy.js';
import { freePort, startChild, waitForPort, type Child } from './processes.js';
import { workerVariants, type WorkerVariant } from './workers.js';

const here = fileURLToPath(new URL('.', import.meta.url));
/** The repository (from dist/bench/lib). */
export const REPO_ROOT = join(here, '..', '..', '..');
const root = REPO_ROOT;
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
export const CLOUDCITY_PROTO_DIR = join(root, 'src', 'demo', 'cloudcity');
const POLICY = join(root, 'policies', 'cloudcity', 'cc-door-ingress-security.yaml');
const DOOR = '127.0.0.31';
/** Under load V8 keeps optimising for a few seconds: rounds measured before that favour whoever ran last. */
const WARM_UP_SECONDS = 5;

export interface Target {
  /** `direct`, `haproxy h2`, or a Portcullis variant's name. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** The proxy's process, whose tree's CPU per request is reported (none for direct). */
  readonly pid?: number;
  /** Portcullis only: its variant and worker count. */
  readonly variant?: WorkerVariant;
}

export interface CloudCityBench {
  readonly targets: readonly Target[];
  stop(): Promise<void>;
}

/** `workerCounts`: each Portcullis setup once per count (`--workers N`). */
export async function startCloudCityBench(workerCounts: readonly number[] = [1]): Promise<CloudCityBench> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-cloudcity-'));
  const children: Child[] = [];
  try {
    const doorPort = await freePort(DOOR);
    children.push(startChild('cc-door-mgr', [cli, 'backend', 'cloudcity-door', '--listen', `${DOOR}:${doorPort}`]));
    await waitForPort(DOOR, doorPort);
    const targets: Target[] = [{ name: 'direct', host: DOOR, port: doorPort }];
    const variants = (['portcullis', '+ flow file'] as const).flatMap((base) => workerVariants(base, workerCounts));
    for (const variant of variants) {
      const flows = variant.base === '+ flow file';
      const proxyPort = await freePort();
      const config = join(dir, `portcullis-${proxyPort}.yaml`);
      writeFileSync(
        config,
        `policies: ${JSON.stringify(POLICY)}
admin: off
flows: ${flows ? JSON.stringify(join(dir, `flows-${proxyPort}.jsonl`)) : 'off'}
endpoints:
  - {name: cc-door-mgr, labels: {app: cc-door-mgr, zgroup: grpcExample}, addresses: [${DOOR}]}
  # ghz and h2load cannot choose their source address: the load generator's 127.0.0.1 is the public terminal.
  - {name: terminal-87, labels: {app: public-terminal, zgroup: grpcExample}, addresses: [127.0.0.1/32]}
listeners:
  - {name: cc-door-grpc, listen: "127.0.0.1:${proxyPort}", protocol: http, to: cc-door-mgr, upstream: "${DOOR}:${doorPort}", port: 50051, upstreamProtocol: h2c}
`,
      );
      const child = startChild(variant.name, [cli, 'run', '--no-watch', ...variant.args, '-c', config]);
      children.push(child);
      await waitForPort('127.0.0.1', proxyPort);
      targets.push({ name: variant.name, host: '127.0.0.1', port: proxyPort, pid: child.process.pid!, variant });
    }
    if (haproxyInstalled()) {
      const port = await freePort();
      const allowedPaths = ['GetName', 'GetLocation', 'RequestMaintenance'].map((m) => `/cloudcity.DoorManager/${m}`);
      const haproxy = startHaproxyH2(dir, { host: '127.0.0.1', port }, { host: DOOR, port: doorPort }, { allowedSources: ['127.0.0.1'], allowedPaths });
      children.push(haproxy);
      await waitForPort('127.0.0.1', port);
      targets.push({ name: 'haproxy h2', host: '127.0.0.1', port, pid: haproxy.process.pid! });
    }
    return {
      targets,
      async stop() {
        for (const c of children.reverse()) await c.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    for (const c of children.reverse()) await c.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

export interface BenchFigures {
  readonly rps: number;
  readonly p50ms: number;
  readonly p99ms: number;
  readonly errors: number;
}

/** A target's figures with the CPU its proxy's process tree used per request (NaN for direct). */
export type Measured = BenchFigures & { readonly cpuUsPerRequest: number };

/**
 * Checks and warms up every target, then runs `rounds` rounds of `seconds` each, alternating the targets so
 * drift on a shared machine hits them alike; returns each target's median figures (errors summed) and the median
 * CPU per request of its proxy (primary and workers).
 */
export async function measureAlternating(
  targets: readonly Target[],
  run: (t: Target, seconds: number) => Promise<BenchFigures>,
  seconds: number,
  rounds: number,
): Promise<Array<[Target, Measured]>> {
  for (const t of targets) {
    await verifyDoor(t);
    await run(t, WARM_UP_SECONDS); // JIT (the first seconds under load still compile), upstream session
  }
  const runs = targets.map((): Measured[] => []);
  for (let round = 1; round <= rounds; round++) {
    for (const [i, t] of targets.entries()) {
      const cpuBefore = treeCpuSeconds(t.pid);
      const r = await run(t, seconds);
      const cpuUsPerRequest = t.pid === undefined ? NaN : ((treeCpuSeconds(t.pid) - cpuBefore) * 1e6) / (r.rps * seconds);
      process.stderr.write(`round ${round} ${t.name}: ${Math.round(r.rps)} req/s\n`);
      runs[i]!.push({ ...r, cpuUsPerRequest });
    }
  }
  for (const t of targets) await verifyDoor(t); // still answering correctly after the load
  return targets.map((t, i) => {
    const rs = runs[i]!;
    const figures = {
      rps: median(rs.map((r) => r.rps)),
      p50ms: median(rs.map((r) => r.p50ms)),
      p99ms: median(rs.map((r) => r.p99ms)),
      errors: rs.reduce((n, r) => n + r.errors, 0),
      cpuUsPerRequest: median(rs.map((r) => r.cpuUsPerRequest)),
    };
    return [t, figures];
  });
}

/** Prints one table row per target and returns each proxied setup's ratio to direct. */
export function printComparison(title: string, results: ReadonlyArray<readonly [Target, Measured]>): Array<[Target['name'], number]> {
  console.log(`\n${title}`);
  const width = Math.max(12, ...results.map(([t]) => t.name.length));
  console.log(`${'setup'.padEnd(width)}   req/s    x direct   p50 ms   p99 ms   proxy CPU µs/req   errors`);
  const direct = results.find(([t]) => t.name === 'direct')![1].rps;
  for (const [t, r] of results) {
    const cpu = Number.isNaN(r.cpuUsPerRequest) ? '-' : r.cpuUsPerRequest.toFixed(0);
    console.log(
      `${t.name.padEnd(width)} ${String(Math.round(r.rps)).padStart(7)}   ${(r.rps / direct).toFixed(2).padStart(7)}   ${r.p50ms.toFixed(2).padStart(6)}   ${r.p99ms.toFixed(2).padStart(6)}   ${cpu.padStart(16)}   ${r.errors}`,
    );
  }
  return results.filter(([t]) => t.name !== 'direct').map(([t, r]) => [t.name, r.rps / direct]);
}

/**
 * One real GetName call through `t`, checked for the door manager's answer. Load generators that only see
 * HTTP statuses (h2load) would count a gRPC error, which is HTTP 200, as a success: this proves the path works.
 */
export async function verifyDoor(t: Target): Promise<void> {
  const { DoorManager } = loadCloudCity();
  const client = new DoorManager(`${t.host}:${t.port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as grpc.Client & Record<string, Function>;
  try {
    const reply = await new Promise<{ name?: string }>((resolve, reject) =>
      client.GetName!.call(client, { door_id: 1 }, { deadline: Date.now() + 5000 }, (err: Error | null, r: { name?: string }) => (err ? reject(err) : resolve(r))),
    );
    if (reply.name !== 'Spaceport Door #1') throw new Error(`${t.name}: unexpected GetName reply ${JSON.stringify(reply)}`);
  } finally {
    client.close();
  }
}
