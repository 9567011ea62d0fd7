// The Empire Kafka demo broker: a single-node, in-memory Kafka broker that needs nothing but Node. It
// speaks enough of the protocol (through the Portcullis codec) for kafkajs, librdkafka/kcat and the
// Java client to produce, consume and run consumer groups — the backend the Kafka policy demo sits in
// front of. Single node, no replication, no transactions, no retention: records live until close().
import { createServer, type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import pino, { type Logger } from 'pino';
import type { BrokerState } from './context.js';
import { BrokerConnection } from './connection.js';
import { DEFAULT_GROUP_OPTIONS, GroupCoordinator } from './group-coordinator.js';
import { BROKER_API_VERSIONS, withApiVersionsUpTo } from './supported-versions.js';
import { randomKafkaUuid, TopicRegistry } from './topics.js';

/** The topics of Cilium's Empire Kafka example (KAFKA_CREATE_TOPICS="empire-announce:1:1,deathstar-plans:1:1"). */
export const EMPIRE_TOPICS: Readonly<Record<string, number>> = { 'empire-announce': 1, 'deathstar-plans': 1 };

/** Requests larger than this close the connection (Kafka's socket.request.max.bytes is 100 MiB; a demo needs far less). */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

export interface DemoBrokerOptions {
  /** Listen address; default 127.0.0.1. */
  readonly host?: string;
  /** Listen port; default 0 (the OS picks one). */
  readonly port?: number;
  /** Topic name → partition count; default EMPIRE_TOPICS. There is no auto-creation. */
  readonly topics?: Readonly<Record<string, number>>;
  /** Address given to clients in Metadata and FindCoordinator (e.g. a proxy in front); default the listen address. */
  readonly advertisedHost?: string;
  readonly advertisedPort?: number;
  /** Wait after the first member joins an empty group so members starting together share a generation; default 300 ms. */
  readonly initialRebalanceDelayMs?: number;
  /** Serve TLS with this certificate and key (and client certificates verified against `ca` when `requestCert`). */
  readonly tls?: tls.TlsOptions;
  /** Serve ApiVersions up to this version only, as an older Kafka does (2.0-2.3: v2); default every version the broker speaks. */
  readonly maxApiVersionsVersion?: number;
  readonly log?: Logger;
}

export interface DemoBroker {
  readonly host: string;
  readonly port: number;
  readonly nodeId: number;
  close(): Promise<void>;
}

const NODE_ID = 1;

export async function startDemoBroker(opts: DemoBrokerOptions = {}): Promise<DemoBroker> {
  const log = (opts.log ?? pino({ level: 'silent' })).child({ component: 'kafka-demo-broker' });
  // Built before listening so bad options fail without a socket left open.
  const topics = new TopicRegistry(opts.topics ?? EMPIRE_TOPICS);
  const apiVersions = opts.maxApiVersionsVersion === undefined ? BROKER_API_VERSIONS : withApiVersionsUpTo(opts.maxApiVersionsVersion);
  const groups = new GroupCoordinator({ ...DEFAULT_GROUP_OPTIONS, initialRebalanceDelayMs: opts.initialRebalanceDelayMs ?? DEFAULT_GROUP_OPTIONS.initialRebalanceDelayMs }, log);

  const server = opts.tls === undefined ? createServer() : tls.createServer(opts.tls);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;

  let lastProducerId = 0n;
  const state: BrokerState = {
    nodeId: NODE_ID,
    clusterId: randomKafkaUuid(),
    advertisedHost: opts.advertisedHost ?? address.address,
    advertisedPort: opts.advertisedPort ?? address.port,
    apiVersions,
    topics,
    groups,
    allocateProducerId: () => ++lastProducerId,
    log,
  };

  const sockets = new Set<Socket>();
  server.on(opts.tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    new BrokerConnection(socket, state, MAX_REQUEST_BYTES);
  });
  server.on('error', (err) => log.error({ err }, 'demo broker listener error'));
  log.info({ host: address.address, port: address.port, advertised: `${state.advertisedHost}:${state.advertisedPort}`, topics: topics.all().map((t) => t.name) }, 'Kafka demo broker listening');

  let closing: Promise<void> | undefined;
  return {
    host: address.address,
    port: address.port,
    nodeId: NODE_ID,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        groups.close();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      })),
  };
}
