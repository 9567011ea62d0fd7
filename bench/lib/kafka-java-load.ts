// Kafka load from the Java client (the reference client, as applications use it): one long-lived JVM per target,
// so its JIT stays warm across rounds, driven over stdin with one JSON answer per command (LoadCommand.java in
// scripts/kafka). The producer keeps its defaults (16 KB batches, acks=all, idempotent); the consumer reads one
// partition with default fetch sizes and decodes every record, as an application's consumer does.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { javaClientArgs } from '../../test/helpers/kafka-broker-real.js';
import type { ConsumeResult, ProduceResult, Target } from './kafka-load.js';

interface Waiter {
  resolve(answer: Record<string, unknown>): void;
  reject(err: Error): void;
}

export class JavaKafkaLoad {
  private readonly waiting: Waiter[] = [];
  private stderr = '';
  private exited: Promise<void>;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => this.answer(line));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-4000)));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.failAll(new Error(`the Java load generator exited (${signal ?? code}): ${this.stderr}`));
        resolve();
      }),
    );
  }

  /** A producer and a consumer of `topic` at `target`, connecting from `localAddress` (the identity policy sees). */
  static start(o: { target: Target; localAddress: string; topic: string; clientId: string }): JavaKafkaLoad {
    const args = ['load', '--bootstrap', `${o.target.host}:${o.target.port}`, '--topic', o.topic, '--local-address', o.localAddress, '--client-id', o.clientId, '--idempotence', 'true', '--timeout-ms', '30000'];
    return new JavaKafkaLoad(spawn('java', javaClientArgs('long-lived', args), { stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  async produce(seconds: number, recordBytes: number): Promise<ProduceResult> {
    const a = await this.command(`produce ${seconds} ${recordBytes}`);
    return { records: Number(a.records), bytes: Number(a.bytes), seconds: Number(a.seconds), p99Ms: Number(a.p99Ms), errors: Number(a.errors) };
  }

  async consume(records: number): Promise<ConsumeResult> {
    const a = await this.command(`consume ${records}`);
    return { records: Number(a.records), bytes: Number(a.bytes), seconds: Number(a.seconds) };
  }

  async close(): Promise<void> {
    this.child.stdin.end();
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(killer);
  }

  private command(line: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child.stdin.write(`${line}\n`);
    });
  }

  private answer(line: string): void {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return this.failAll(new Error(`the Java load generator printed: ${line}`));
    }
    if (parsed.type === 'load') this.waiting.shift()?.resolve(parsed);
    else if (parsed.type === 'error') this.failAll(new Error(`the Java load generator failed: ${line}\n${this.stderr}`));
  }

  private failAll(err: Error): void {
    for (const w of this.waiting.splice(0)) w.reject(err);
  }
}
