// Real Kafka clients driven against a broker address: kafkajs (in process) and kcat (a child process,
// bounded in time). Shared by the fixture capture script and the live client tests.
import { spawn } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
type KafkaClient = InstanceType<typeof Kafka>;
/** A broker address, or a client already configured (for TLS). */
type Target = string | KafkaClient;

export interface KcatResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run kcat against `broker` with a client id, feeding `input`; killed after `timeoutMs`. */
export function runKcat(broker: string, args: readonly string[], options: { input?: string; timeoutMs?: number; clientId?: string } = {}): Promise<KcatResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', ['-b', broker, '-X', `client.id=${options.clientId ?? 'empire-hq'}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

export function kafkajsClient(broker: string, clientId: string, o: KafkajsOptions = {}): KafkaClient {
  // Retries off and short timeouts: a wrong answer should fail the test quickly, not be retried away.
  const base = { clientId, brokers: [broker], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 3000, requestTimeout: 5000 };
  const { ssl, sasl, localAddress } = o;
  return new Kafka({
    ...base,
    ...(ssl && { ssl }),
    ...(sasl && { sasl: { mechanism: 'plain', ...sasl } }),
    // kafkajs has no source-address option: its socket factory is where one goes (tls.connect passes it on to net).
    ...(localAddress !== undefined && {
      socketFactory: ({ host, port, onConnect }) =>
        ssl ? tls.connect({ host, port, ...ssl, localAddress } as tls.ConnectionOptions, onConnect) : net.connect({ host, port, localAddress }, onConnect),
    }),
  });
}

export interface KafkajsOptions {
  /** TLS: PEM trust anchors and an optional client certificate. */
  readonly ssl?: KafkajsTls;
  /** SASL PLAIN credentials. */
  readonly sasl?: { readonly username: string; readonly password: string };
  /** The address to connect from. */
  readonly localAddress?: string;
}

export interface KafkajsTls {
  readonly ca: string[];
  readonly cert?: string;
  readonly key?: string;
}

const clientOf = (target: Target, clientId: string): KafkaClient => (typeof target === 'string' ? kafkajsClient(target, clientId) : target);

/** Produce `values` to `topic` (ApiVersions, Metadata, Produce). */
export async function kafkajsProduce(broker: Target, topic: string, values: readonly string[], clientId = 'empire-hq'): Promise<void> {
  const producer = clientOf(broker, clientId).producer({ allowAutoTopicCreation: true });
  await producer.connect();
  try {
    await producer.send({ topic, messages: values.map((value) => ({ value })) });
  } finally {
    await producer.disconnect();
  }
}

/** Join `groupId`, consume `count` messages of `topic` from the beginning, commit and leave. */
export async function kafkajsConsume(broker: Target, topic: string, groupId: string, count: number, clientId = 'empire-outpost'): Promise<string[]> {
  const consumer = clientOf(broker, clientId).consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const values: string[] = [];
    await new Promise<void>((resolve, reject) => {
      consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
      consumer
        .run({
          eachMessage: async ({ message }) => {
            values.push(message.value?.toString() ?? '');
            if (values.length === count) resolve();
          },
        })
        .catch(reject);
    });
    return values;
  } finally {
    await consumer.disconnect();
  }
}

/** Admin: create `topic` (CreateTopics, sent to the controller) and list all topics (Metadata null). */
export async function kafkajsAdmin(broker: string, topic: string, clientId = 'empire-admin'): Promise<string[]> {
  const admin = kafkajsClient(broker, clientId).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic }] });
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}
