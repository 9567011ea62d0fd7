// Portcullis as a child process (`portcullis run`) with one `kafka` listener in front of a broker, for the
// denial-of-service tests: its memory is its own (RSS from /proc), and its event loop is not the test's. The
// endpoints are the Empire's (kafka-proxy-fixture.ts), the policy Cilium's Empire policy.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageFile } from '../../src/demo/package-root.js';
import { EMPIRE, EMPIRE_POLICY } from './kafka-proxy-fixture.js';

export interface KafkaProxyProcess {
  readonly port: number;
  /** Resident set size of the proxy process now, bytes. */
  rssBytes(): number;
  /** What it logged (JSON lines on stderr). */
  log(): string;
  close(): Promise<void>;
}

/** `kafka`: YAML flow-map body of the listener's `kafka:` options. */
export async function startKafkaProxyProcess(o: { upstream: { host: string; port: number }; kafka?: string }): Promise<KafkaProxyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-kafka-dos-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'empire.yaml'), EMPIRE_POLICY);
  writeFileSync(
    join(dir, 'portcullis.yaml'),
    `policies: ${JSON.stringify(join(dir, 'policies'))}
admin: "off"
flows: "off"
endpoints:
  - {name: kafka-broker, labels: {app: kafka}, addresses: [${EMPIRE.broker}]}
  - {name: empire-hq, labels: {app: empire-hq}, addresses: [${EMPIRE.hq}]}
  - {name: empire-outpost-8888, labels: {app: empire-outpost, outpostid: "8888"}, addresses: [${EMPIRE.outpost}]}
listeners:
  - name: kafka-service
    listen: "127.0.0.1:0"
    protocol: kafka
    to: kafka-broker
    upstream: "${o.upstream.host}:${o.upstream.port}"
    port: 9092
    kafka: {${o.kafka ?? ''}}
`,
  );
  const child: ChildProcess = spawn(process.execPath, [packageFile('dist', 'src', 'cli', 'main.js'), 'run', '--no-watch', '-c', join(dir, 'portcullis.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 200 && !stderr.includes('"listening"') && child.exitCode === null; i++) await sleep(50);
  const port = Number(/"address":"[\d.]+:(\d+)","msg":"listening"/.exec(stderr)?.[1]);
  if (!(port > 0)) {
    await close();
    throw new Error(`portcullis did not start:\n${stderr}`);
  }
  return {
    port,
    rssBytes: () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024,
    log: () => stderr,
    close,
  };
}

/** Latencies (ms) of `request` run back to back until `until` settles, and at least `min` times. */
export async function latenciesDuring(until: Promise<unknown>, request: () => Promise<unknown>, min: number): Promise<number[]> {
  let done = false;
  void until.finally(() => (done = true)).catch(() => undefined);
  const latencies: number[] = [];
  while (!done || latencies.length < min) {
    const start = process.hrtime.bigint();
    await request();
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return latencies;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
