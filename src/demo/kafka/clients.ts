// kafkajs clients of the Empire Kafka demo, each on its own loopback source address (its identity to
// the proxy), with every call bounded in time so a denial can never hang the demo. Outcomes are plain
// values — delivered, received, or the error the client reported — for the demo to print and judge.
import { connect } from 'node:net';
import kafkajs from 'kafkajs';
import type { Consumer, Kafka as KafkaClient } from 'kafkajs';

const { Kafka, logLevel } = kafkajs;

export interface KafkaOutcome {
  readonly ok: boolean;
  /** Values produced or consumed. */
  readonly values: readonly string[];
  /** kafkajs' error type (e.g. TOPIC_AUTHORIZATION_FAILED) or error name, when it failed. */
  readonly errorType?: string;
  readonly error?: string;
}

export interface KafkaClientOptions {
  /** Source address the client's sockets bind to. */
  readonly localAddress: string;
  readonly broker: { readonly host: string; readonly port: number };
  readonly clientId: string;
  /** Bound on every call (connect, send, receiving all messages); default 10 s. */
  readonly timeoutMs?: number;
  /** Retries of retriable errors (a broker still electing a group coordinator); default 2. */
  readonly retries?: number;
}

/** A kafkajs client whose every broker connection leaves from `localAddress`. */
export function kafkaFrom(o: KafkaClientOptions): KafkaClient {
  return new Kafka({
    clientId: o.clientId,
    brokers: [`${o.broker.host}:${o.broker.port}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: o.timeoutMs ?? 10_000,
    // Few quick retries: the demo shows what a denial looks like, not how long a client insists.
    retry: { retries: o.retries ?? 2, initialRetryTime: 100, maxRetryTime: 1000 },
    socketFactory: ({ host, port, onConnect }) => connect({ host, port, localAddress: o.localAddress }, onConnect),
  });
}

/** Produces `values` to `topic` with a default producer (acks=-1, not idempotent, as kafkajs defaults). */
export async function produce(o: KafkaClientOptions, topic: string, values: readonly string[]): Promise<KafkaOutcome> {
  const producer = kafkaFrom(o).producer();
  const run = async (): Promise<KafkaOutcome> => {
    await producer.connect();
    await producer.send({ topic, messages: values.map((value) => ({ value })) });
    return { ok: true, values };
  };
  return bounded(o, run, () => producer.disconnect());
}

/** Joins `groupId`, reads `topic` from the beginning until `count` messages arrived, then leaves. */
export async function consume(o: KafkaClientOptions, topic: string, groupId: string, count: number): Promise<KafkaOutcome> {
  const consumer = kafkaFrom(o).consumer({ groupId, maxWaitTimeInMs: 200, sessionTimeout: 6000, heartbeatInterval: 500, retry: { retries: o.retries ?? 1 } });
  const values: string[] = [];
  const run = async (): Promise<KafkaOutcome> => {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await receive(consumer, values, count);
    return { ok: true, values: [...values] };
  };
  return bounded(o, run, () => consumer.disconnect(), values);
}

function receive(consumer: Consumer, values: string[], count: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
    consumer
      .run({
        eachMessage: async ({ message }) => {
          values.push(message.value?.toString() ?? '');
          if (values.length >= count) resolve();
        },
      })
      .catch(reject);
  });
}

/** How long stopping a client may take before it is abandoned. */
const STOP_TIMEOUT_MS = 5000;

/** Runs `call` for at most the client's timeout, then stops the client however it went; failures become outcomes. */
async function bounded(o: KafkaClientOptions, call: () => Promise<KafkaOutcome>, stop: () => Promise<void>, partial: readonly string[] = []): Promise<KafkaOutcome> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const timedOut: KafkaOutcome = { ok: false, values: partial, errorType: 'TIMEOUT', error: `no outcome within ${timeoutMs} ms` };
  try {
    return await within(timeoutMs, call().catch((err: unknown) => failure(err, partial)), timedOut);
  } finally {
    await within(STOP_TIMEOUT_MS, stop().catch(() => undefined), undefined);
  }
}

function within<T>(ms: number, promise: Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => (timer = setTimeout(resolve, ms, fallback)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function failure(err: unknown, values: readonly string[]): KafkaOutcome {
  const e = err as { type?: string; name?: string; message?: string; cause?: unknown };
  // kafkajs wraps the broker's error (KafkaJSNonRetriableError → KafkaJSProtocolError with the type).
  const inner = (e.cause as { type?: string; message?: string } | undefined) ?? undefined;
  const errorType = e.type ?? inner?.type ?? e.name ?? 'Error';
  return { ok: false, values, errorType, error: e.message ?? String(err) };
}
