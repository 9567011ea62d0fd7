// The Hubble API on a gRPC listener, for the real `hubble` CLI and Hubble Relay: observer.Observer (GetFlows,
// ServerStatus, GetNodes, GetNamespaces), peer.Peer/Notify (this node, for Relay) and grpc.health.v1.Health/Check
// (which `hubble status` calls first). Plaintext, as `hubble observe --server host:port` speaks by default, or TLS
// (and mTLS) from the secret store, as Relay speaks it (tls.ts).
//
// Each GetFlows client reads the ring through its own cursor; a write that grpc-js reports as over its buffer
// waits for 'drain' before the next one, so a slow client holds at most its transport's buffers, never a copy of
// the flows. A follower that the ring overtakes meanwhile gets a LostEvent saying how many flows it missed.
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { HubbleTlsOptions } from '../../config/types.js';
import { packageFile } from '../../package-root.js';
import type { CertStore } from '../../secrets/store.js';
import { FilterError, compileFilters, type FlowFilter, type FlowPredicate } from './filters.js';
import { CILIUM_VERSION } from './generated/hubble-protos.js';
import { decode, encode, types } from './protos.js';
import type { FlowRing } from './ring.js';
import { hubbleCredentials, hubbleServerName } from './tls.js';

export interface HubbleServerOptions {
  readonly listen: { readonly host: string; readonly port: number };
  readonly ring: FlowRing;
  /** The flows' `node_name`, announced to Relay as this peer's name. */
  readonly nodeName: string;
  /** Other Hubble servers announced to Relay besides this one. */
  readonly peers?: ReadonlyArray<{ readonly name: string; readonly address: { readonly host: string; readonly port: number } }>;
  /** TLS with these secrets of `certs`; every peer is announced as speaking TLS too, each with its server name. */
  readonly tls?: HubbleTlsOptions & { readonly certs: CertStore };
  readonly log: Logger;
}

export interface RunningHubbleServer {
  readonly address: { readonly host: string; readonly port: number };
  close(): Promise<void>;
}

const PACKAGE_VERSION = (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;
/** ServerStatus' and GetNodes' `version`: what answers, and which Hubble API it speaks. */
export const HUBBLE_SERVER_VERSION = `portcullis-${PACKAGE_VERSION} (hubble api ${CILIUM_VERSION})`;

interface Timestamp {
  readonly seconds?: number;
  readonly nanos?: number;
}

interface GetFlowsRequest {
  readonly number?: number;
  readonly first?: boolean;
  readonly follow?: boolean;
  readonly since?: Timestamp;
  readonly until?: Timestamp;
  readonly whitelist?: FlowFilter[];
  readonly blacklist?: FlowFilter[];
}

/** Messages pass as bytes: responses are encoded here (flows once per ring slot), requests decoded here. */
const bytes = { serialize: (b: Buffer): Buffer => b, deserialize: (b: Buffer): Buffer => b };
function rpc(path: string, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path, requestStream: false, responseStream,
    requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize,
    responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize,
  };
}
const OBSERVER = {
  GetFlows: rpc('/observer.Observer/GetFlows', true),
  ServerStatus: rpc('/observer.Observer/ServerStatus', false),
  GetNodes: rpc('/observer.Observer/GetNodes', false),
  GetNamespaces: rpc('/observer.Observer/GetNamespaces', false),
};
const PEER = { Notify: rpc('/peer.Peer/Notify', true) };
const HEALTH = { Check: rpc('/grpc.health.v1.Health/Check', false) };
/** grpc.health.v1.HealthCheckResponse{status: SERVING}: field 1, varint 1. */
const SERVING = Buffer.from([0x08, 0x01]);
const FLOWS_RATE_WINDOW_MS = 60_000;
/** Concurrent GetFlows and Notify streams: a handful of CLIs and one Relay need few; more are refused. */
export const MAX_HUBBLE_STREAMS = 64;
/**
 * Flows converted to gRPC form per event-loop turn. Converting one costs 10–20 µs, so a filtered scan of a full
 * ring in one go would hold the proxy's loop for tens of milliseconds; in slices, requests go on meanwhile.
 */
const CONVERSIONS_PER_TURN = 64;

export async function startHubbleServer(opts: HubbleServerOptions): Promise<RunningHubbleServer> {
  const { ring, log } = opts;
  const started = process.hrtime.bigint();
  const server = new grpc.Server();
  const open = new Set<AbortController>();
  let address = opts.listen;
  const uptimeNs = (): string => String(process.hrtime.bigint() - started);
  const counts = () => ({ num_flows: ring.seen - ring.oldest, max_flows: ring.capacity, seen_flows: ring.seen });

  server.addService(OBSERVER, {
    GetFlows: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      if (open.size >= MAX_HUBBLE_STREAMS) return refuse(call);
      const abort = new AbortController();
      open.add(abort);
      call.on('cancelled', () => abort.abort());
      getFlows(call, abort.signal)
        .catch((err: unknown) => {
          if (err instanceof FilterError) call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: err.message });
          else {
            log.error({ err }, 'hubble GetFlows failed');
            call.emit('error', { code: grpc.status.INTERNAL, details: 'internal error' });
          }
        })
        .finally(() => open.delete(abort));
    },
    ServerStatus: unary(() => encode(types.ServerStatusResponse, { ...counts(), uptime_ns: uptimeNs(), version: HUBBLE_SERVER_VERSION, flows_rate: flowsRate() })),
    GetNodes: unary(() =>
      encode(types.GetNodesResponse, {
        nodes: [{ name: opts.nodeName, version: HUBBLE_SERVER_VERSION, address: hostPort(address), state: 'NODE_CONNECTED', uptime_ns: uptimeNs(), ...counts() }],
      }),
    ),
    GetNamespaces: unary(() => encode(types.GetNamespacesResponse, { namespaces: namespaces().map((namespace) => ({ namespace })) })),
  });
  server.addService(PEER, {
    Notify: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      if (open.size >= MAX_HUBBLE_STREAMS) return refuse(call);
      const abort = new AbortController();
      open.add(abort);
      call.on('cancelled', () => open.delete(abort));
      abort.signal.addEventListener('abort', () => call.end(), { once: true });
      // This node and the configured peers; the stream stays open, as Relay expects, until the client goes.
      for (const peer of [{ name: opts.nodeName, address }, ...(opts.peers ?? [])]) {
        // Relay dials a peer with TLS exactly when the notification carries a server name, and verifies that name.
        const tls = opts.tls && { server_name: hubbleServerName(peer.name, opts.tls.clusterName) };
        call.write(encode(types.ChangeNotification, { name: peer.name, address: hostPort(peer.address), type: 'PEER_ADDED', ...(tls && { tls }) }));
      }
    },
  });
  server.addService(HEALTH, { Check: unary(() => SERVING) });

  const tls = opts.tls && hubbleCredentials(opts.tls.certs, opts.tls, hubbleServerName(opts.nodeName, opts.tls.clusterName), log);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(hostPort(opts.listen), tls?.credentials ?? grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  }).catch((err: unknown) => {
    tls?.close();
    throw err;
  });
  address = { host: opts.listen.host, port };

  async function getFlows(call: grpc.ServerWritableStream<Buffer, Buffer>, abort: AbortSignal): Promise<void> {
    const req = decode<GetFlowsRequest>(types.GetFlowsRequest, call.request);
    const match = compileFilters(req.whitelist ?? [], req.blacklist ?? []);
    const since = millis(req.since) ?? -Infinity;
    const until = millis(req.until) ?? Infinity;
    const inTime = (n: number): boolean => {
      const t = ring.time(n);
      return t !== undefined && t >= since && t <= until;
    };
    // Waits only when grpc-js' buffer is full: a promise per flow written would cost a microtask each.
    const send = (message: Buffer): Promise<void> | undefined => (call.write(message) ? undefined : drained(call, abort));
    const lost = (count: number): Buffer =>
      encode(types.GetFlowsResponse, {
        lost_events: { source: 'HUBBLE_RING_BUFFER', num_events_lost: count },
        node_name: opts.nodeName,
        time: nowTimestamp(),
      });

    const end = ring.seen;
    // A scan that may test every flow in the ring converts them first, a slice per turn; select then reads the cache.
    const newOnly = (req.number ?? 0) === 0 && req.follow && req.since === undefined;
    const filtered = (req.whitelist?.length ?? 0) + (req.blacklist?.length ?? 0) > 0;
    if (!newOnly && (filtered || (req.number ?? 0) === 0)) {
      for (let n = ring.oldest; n < end; n++) {
        if ((n + 1) % CONVERSIONS_PER_TURN === 0) {
          await nextTurn();
          if (abort.aborted) return;
        }
        if (inTime(n)) matches(n, match);
      }
    }
    for (const n of select(req, ring.oldest, end, (n) => inTime(n) && matches(n, match))) {
      if (abort.aborted) return;
      const message = ring.message(n);
      // A LostEvent for a flow overwritten while earlier ones were written.
      const full = send(message === undefined ? lost(1) : message.bytes);
      if (full) await full;
    }
    if (!req.follow) {
      call.end();
      return;
    }
    let cursor = end;
    let converted = 0;
    while (!abort.aborted) {
      if (++converted % CONVERSIONS_PER_TURN === 0) await nextTurn();
      if (cursor >= ring.seen) {
        await ring.changed(abort);
        continue;
      }
      if (cursor < ring.oldest) {
        await send(lost(ring.oldest - cursor));
        cursor = ring.oldest;
        continue;
      }
      const n = cursor++;
      const time = ring.time(n)!;
      if (time > until) break;
      if (time >= since && matches(n, match)) {
        const full = send(ring.message(n)!.bytes);
        if (full) await full;
      }
    }
    if (!abort.aborted) call.end();
  }

  /** Whether flow `n` passes the filters; a flow that cannot be rendered passes none (and is logged). */
  function matches(n: number, match: FlowPredicate): boolean {
    try {
      const message = ring.message(n);
      return message !== undefined && match(message.json);
    } catch (err) {
      log.error({ err, flow: n }, 'flow could not be converted for hubble');
      return false;
    }
  }

  /** Flows per second over the last minute, as Hubble's ServerStatus reports them. */
  function flowsRate(): number {
    const from = Date.now() - FLOWS_RATE_WINDOW_MS;
    let count = 0;
    for (let n = ring.seen - 1; n >= ring.oldest && ring.time(n)! >= from; n--) count++;
    return count / (FLOWS_RATE_WINDOW_MS / 1000);
  }

  /** The namespaces of the endpoints in the ring's flows (a rare call: parsing each line here costs nobody else). */
  function namespaces(): string[] {
    const seen = new Set<string>();
    for (let n = ring.oldest; n < ring.seen; n++) {
      const { flow } = JSON.parse(ring.line(n)!.toString()) as { flow: Partial<Record<'source' | 'destination', { namespace?: string }>> };
      for (const ns of [flow.source?.namespace, flow.destination?.namespace]) if (ns) seen.add(ns);
    }
    return [...seen].sort();
  }

  return {
    get address() {
      return address;
    },
    async close() {
      // Followers and Relay's Notify stream never end by themselves: stop the loops, then cut the calls.
      for (const a of open) a.abort();
      tls?.close();
      server.forceShutdown();
    },
  };
}

/**
 * The flow numbers a GetFlows request asks for among flows `oldest` to `end` (exclusive), in order: the last
 * `number` wanted (or the first, with `first`); without `number` all of them, unless the client follows without
 * `since` (it starts with new flows only).
 */
export function select(req: GetFlowsRequest, oldest: number, end: number, wanted: (n: number) => boolean): number[] {
  const number = req.number ?? 0;
  if (number === 0 && req.follow && req.since === undefined) return [];
  const out: number[] = [];
  const limit = number === 0 ? Infinity : number;
  if (req.first || number === 0) {
    for (let n = oldest; n < end && out.length < limit; n++) if (wanted(n)) out.push(n);
    return out;
  }
  for (let n = end - 1; n >= oldest && out.length < limit; n--) if (wanted(n)) out.push(n);
  return out.reverse();
}

/** RESOURCE_EXHAUSTED for a stream past MAX_HUBBLE_STREAMS. */
function refuse(call: grpc.ServerWritableStream<Buffer, Buffer>): void {
  call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: `too many open streams (at most ${MAX_HUBBLE_STREAMS})` });
}

function unary(answer: () => Buffer): grpc.handleUnaryCall<Buffer, Buffer> {
  return (_call, callback) => callback(null, answer());
}

function drained(call: grpc.ServerWritableStream<Buffer, Buffer>, abort: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      abort.removeEventListener('abort', done);
      resolve();
    };
    call.on('drain', done);
    abort.addEventListener('abort', done, { once: true });
  });
}

function millis(t: Timestamp | undefined): number | undefined {
  return t === undefined ? undefined : (t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
}

function nowTimestamp(): Timestamp {
  const ms = Date.now();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

function hostPort(address: { readonly host: string; readonly port: number }): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
