// A `kafka` listener: a policy-enforcing proxy in front of a Kafka cluster. The main socket fronts the
// bootstrap broker (`upstream`); every other broker a response names gets a socket of its own on the same
// host (see brokers.ts), with the same destination endpoint, policy port and policy. Connections
// are decided at L3/L4 before a byte is read (a denied one is reset), then request by request
// (connection.ts). With `tls:` every client connection is TLS, decided with its SNI and client certificate
// and terminated before Kafka is read (../tls/listener-front.ts); the hop to the brokers is TLS when policy
// says `originatingTLS` (upstream.ts).
import { createServer, isIP, type AddressInfo, type Server, type Socket } from 'node:net';
import { DEFAULT_KAFKA_OPTIONS } from '../../../config/load.js';
import { ConnectionPolicy } from '../../connection-policy.js';
import { ConnectionTracker } from '../../connections.js';
import type { ListenerContext, RunningListener } from '../../context.js';
import type { ConnectionDecision } from '../../../policy/types.js';
import { TlsConnections } from '../../tls/listener-front.js';
import { KafkaBrokerDirectory, type HostPort, type NodeListener } from './brokers.js';
import { KafkaProxyConnection, SOCKET_BUFFER_BYTES, type KafkaProxyScope } from './connection.js';
import type { BrokerRoute } from './upstream.js';
import { RequestBufferBudget } from './request-budget.js';
import { zeroCopySupport } from './zero-copy.js';

export async function startKafkaListener(ctx: ListenerContext): Promise<RunningListener> {
  const { config } = ctx;
  if (config.upstream === undefined) throw new Error(`kafka listener "${config.name}" has no upstream broker`);
  const bootstrap = config.upstream;
  const options = config.kafka ?? DEFAULT_KAFKA_OPTIONS;
  const tracker = new ConnectionTracker(ctx);
  // With `tls:`, clients speak TLS on the main and every per-broker listener.
  const tls = config.tls === undefined ? undefined : new TlsConnections(ctx);
  const connections = new Set<KafkaProxyConnection>();
  const host = config.listen.host;

  const serve = async (port: number, upstream: () => HostPort): Promise<Server> => {
    const server = createServer({ noDelay: true, highWaterMark: SOCKET_BUFFER_BYTES });
    const proxy = (client: Socket, raw: Socket, policy: ConnectionPolicy, decision: ConnectionDecision | undefined) => {
      tracker.markManaged(raw);
      const connection = new KafkaProxyConnection(scope, client, policy, brokerRoute(upstream(), decision), options.advertisedHost ?? advertiseHost(raw, host));
      connections.add(connection);
      client.once('close', () => connections.delete(connection));
    };
    const failed = (raw: Socket, err: unknown) => {
      ctx.log.error({ err }, 'cannot serve a Kafka connection');
      raw.destroy();
    };
    server.on('connection', (socket: Socket) => {
      if (!tracker.accept(socket)) return;
      socket.on('error', (err) => ctx.log.debug({ err }, 'Kafka client socket error'));
      try {
        if (tls !== undefined) {
          tracker.add(socket);
          tracker.markPending(socket); // until its handshake is done
          void tls.handle(socket, { upstream: upstream() }, (t) => {
            try {
              proxy(t.tlsSocket, t.raw, t.conn, t.decision);
            } catch (err) {
              failed(t.raw, err);
            }
          });
          return;
        }
        const policy = ConnectionPolicy.admit(ctx, socket);
        if (policy === undefined) return;
        tracker.add(socket);
        proxy(socket, socket, policy, policy.current());
      } catch (err) {
        failed(socket, err);
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => ctx.log.error({ err }, 'listener error'));
    return server;
  };

  const openNode = async (nodeId: number, upstream: HostPort): Promise<NodeListener> => {
    const port = options.brokerPorts.get(nodeId) ?? (await ctx.brokerPort?.(config.name, nodeId)) ?? 0;
    const server = await serve(port, () => node.upstream);
    const node: NodeListener = {
      port: (server.address() as AddressInfo).port,
      upstream,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
    ctx.log.info({ nodeId, port: node.port, broker: `${upstream.host}:${upstream.port}` }, 'Kafka broker listener started');
    return node;
  };

  let mainPort = 0;
  const directory = new KafkaBrokerDirectory(bootstrap, () => mainPort, openNode);
  const limits = { maxTopics: options.maxTopicsPerRequest, maxPartitions: options.maxPartitionsPerRequest };
  const scope: KafkaProxyScope = { ctx, options, directory, limits, budget: new RequestBufferBudget(options.maxBufferedBytes) };
  const main = await serve(config.listen.port, () => bootstrap);
  const bound = main.address() as AddressInfo;
  mainPort = bound.port;
  const zeroCopy = zeroCopySupport();
  if (options.zeroCopy && !zeroCopy.available) ctx.log.info({ reason: zeroCopy.reason }, 'Kafka responses are copied, not spliced');

  let closed: Promise<void> | undefined;
  return {
    name: config.name,
    address: { host: bound.address, port: bound.port },
    close: () =>
      (closed ??= (async () => {
        // Stop accepting everywhere first; the node listeners' close completes once their connections are gone.
        const mainClosed = new Promise<void>((resolve) => main.close(() => resolve()));
        const nodesClosed = directory.close();
        for (const c of connections) c.drain();
        await tracker.shutdown();
        await Promise.all([mainClosed, nodesClosed]);
      })()),
  };
}

/** The broker a connection goes to, over TLS when the decision says `originatingTLS` (verified against the broker's advertised name). */
function brokerRoute(broker: HostPort, decision: ConnectionDecision | undefined): BrokerRoute {
  const secret = decision?.originatingTLS;
  return secret === undefined ? broker : { ...broker, tls: secret };
}

/** Where a client reached the proxy: the listen host, or the connection's own local address on a wildcard listener. */
function advertiseHost(socket: Socket, listenHost: string): string {
  const wildcard = listenHost === '0.0.0.0' || listenHost === '::' || isIP(listenHost) === 0;
  const local = socket.localAddress ?? listenHost;
  return wildcard ? (local.startsWith('::ffff:') && local.includes('.') ? local.slice(7) : local) : listenHost;
}
