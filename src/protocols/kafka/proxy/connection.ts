// One client connection through a Kafka listener, and its own connection to the broker it fronts.
//
// Requests: every frame is read whole, its policy facts extracted and decided under the current snapshot
// (a reload applies to the next request) — except a Produce spanning reads, decided on its first topic as soon
// as that has arrived: a denied one is read on without its records (produce-scanner.ts), never held whole.
// Allowed frames go to the broker byte for byte (except a Fetch that would open an incremental fetch session,
// see fetch-sessions.ts). Denied ones never reach it: the client gets the proxy's answer — same API,
// version and correlation id, with an authorization error — queued behind the broker responses still in flight,
// because clients match responses to requests by order. Produce with acks=0 gets no answer either way, as from a broker.
// Requests the proxy cannot read close the connection: nothing unread is ever forwarded.
//
// Responses: streamed back untouched (see response-relay.ts), except ApiVersions (clamped to what
// the proxy parses) and responses naming brokers (rewritten to the proxy's own listeners). Once enough of the
// start of a large response has been read to know its error codes, the rest goes from socket to socket in the
// kernel where it can (zero-copy.ts): reading from the broker stops until it has all been written to the client.
//
// Backpressure: a full broker socket stops reading from the client; a full client socket stops reading
// from the broker and from the client (whose denied requests would otherwise pile up answers).
//
// Bounds: a request may name so many topics or partitions (kafka.maxTopicsPerRequest, maxPartitionsPerRequest),
// checked before its entries are read; a frame must arrive within kafka.requestTimeoutMs of its first bytes
// (time the proxy itself stops reading does not count); a connection with nothing in flight is closed after
// kafka.idleTimeoutMs without a byte either way; frames spanning reads share the listener's kafka.maxBufferedBytes
// (request-budget.ts).
import type { Socket } from 'node:net';
import type { KafkaListenerOptions } from '../../../config/types.js';
import { recordConnection, type ConnectionPolicy } from '../../connection-policy.js';
import type { ListenerContext } from '../../context.js';
import type { ConnectionDecision, Decision, Verdict } from '../../../policy/types.js';
import { buildApiVersionsFallbackResponse } from '../codec/api-versions.js';
import { clampApiVersionsResponse } from './api-versions-clamp.js';
import { responseCarriesBrokerAddresses, rewriteBrokerAddresses, type KafkaBrokerEndpoint } from './broker-addresses.js';
import { decodeRequest, decodeRequestHeader, decodeResponse, encodeRequest, encodeResponse } from '../codec/codec.js';
import { buildDenyResponse, buildResponseBody } from './deny.js';
import { KafkaDecodeError } from '../codec/errors.js';
import { exceededLimit, extractPolicyFacts, type KafkaPolicyFacts } from './facts.js';
import type { KafkaRequestLimits } from '../../../config/kafka-request-limits.js';
import { KafkaFrameReader } from '../codec/frame-reader.js';
import { ProduceScanner } from './produce-scanner.js';
import { withoutFetchSession } from './fetch-sessions.js';
import { readRequestHeader, type KafkaRequestHeader } from '../codec/header.js';
import { KafkaReader } from '../codec/reader.js';
import type { KafkaBrokerDirectory } from './brokers.js';
import { connectBroker, type BrokerRoute } from './upstream.js';
import { LARGE_READ_BYTES } from '../codec/read-buffer.js';
import type { RequestBufferBudget } from './request-budget.js';
import { canSplice, mayZeroCopy, spliceBetween, type SpliceJob } from './zero-copy.js';
import { denialErrorCode, recordKafkaDecision, recordKafkaRefusal, recordKafkaResponse } from './policy.js';
import { KafkaResponseRelay, type ResponseRewrite } from './response-relay.js';
import { NO_ERRORS, scanResponseStart, type ResponseErrors } from './response-errors.js';
import { PROXY_API_VERSIONS, proxyAcceptsVersion } from './versions.js';
import { ApiKey } from '../codec/generated/api-keys.js';
import { ErrorCode } from '../codec/error-codes.js';

/**
 * Bytes a socket buffers before its writer is told to wait. Node's 16 KiB default is smaller than one
 * 16 KiB produce batch plus headers, so every request would pause the client; a few requests' worth keeps
 * pipelined requests and long responses flowing while still bounding memory per connection.
 */
export const SOCKET_BUFFER_BYTES = 256 * 1024;
const API_VERSIONS_MAX = PROXY_API_VERSIONS.get(ApiKey.ApiVersions)?.maxVersion ?? 0;
/** Below this, the rest of a response is cheaper to copy than to splice. */
const SPLICE_MIN_BYTES = 128 * 1024;
/**
 * Largest read from the broker when large responses are spliced: only their start needs reading here (up to
 * INSPECT_BYTES, often just a Fetch's head before its record batches), and every byte read beyond it is a byte
 * copied that splice would have moved.
 */
const SPLICING_READ_BYTES = 32 * 1024;
const FLUSHED = Buffer.alloc(0);
/** How much of a request frame spanning reads is looked at before the rest arrives, for limits it already exceeds. */
const PREFIX_CHECK_BYTES = 16 * 1024;
/** How much of a Produce spanning reads may arrive before its first topic name: beyond, it is read whole. */
const PRODUCE_SCAN_WINDOW = 64 * 1024;
/** What a denied Produce may keep of itself without its records (its topics and partitions), from the buffer budget. */
const DENIED_PRODUCE_KEPT_BYTES = 1024 * 1024;
/**
 * Entries (topics, partitions, ...) of the largest denied request answered in band: the answer mirrors every entry
 * and costs a few µs each on the event loop every connection shares, so a bigger denied request (a Produce of
 * 100,000 partitions would take a quarter of a second to answer) closes the connection instead.
 */
const MAX_DENIED_ENTRIES_ANSWERED = 1000;

/** What every connection of one listener shares. */
export interface KafkaProxyScope {
  readonly ctx: ListenerContext;
  readonly options: KafkaListenerOptions;
  readonly directory: KafkaBrokerDirectory;
  readonly limits: KafkaRequestLimits;
  /** Memory for request frames spanning reads, shared by all of the listener's connections. */
  readonly budget: RequestBufferBudget;
}

/** A denied Produce read on without its records, and what decided it. */
interface SkippedProduce {
  readonly scanner: ProduceScanner;
  readonly connection: ConnectionDecision;
  readonly decision: Decision;
}

/** A request waiting for its response, in request order. */
interface Pending {
  readonly correlationId: number;
  /** The proxy's own answer (a denial): written once every earlier response has been. */
  readonly local?: Buffer;
  /** The broker's response must be rewritten before the client sees it. */
  readonly rewrite?: ResponseRewrite;
  /** A forwarded request, whose response is recorded and counted; the verdict that let it through; when it was forwarded. */
  readonly request?: KafkaPolicyFacts;
  readonly verdict?: Verdict;
  readonly forwardedAt?: bigint;
  /** The error codes in the broker's response, once its start has been read. */
  errors?: ResponseErrors;
}

export class KafkaProxyConnection {
  private readonly upstream: Socket;
  private readonly requests: KafkaFrameReader;
  private readonly responses: KafkaResponseRelay;
  private readonly pending: Pending[] = [];
  private upstreamFull = false;
  private clientFull = false;
  private holding = false;
  private draining = false;
  /** Whether large responses may be spliced (plain TCP on both sides, the addon loaded, the listener allows it); known once the broker is connected. */
  private zeroCopy: boolean | undefined;
  /** The splice moving the rest of the current response, while one does: the broker socket is not read meanwhile. */
  private splice: SpliceJob | undefined;
  private splicing = false;
  /** The budget reserved (or awaited) for the incomplete request frame: its whole size. */
  private reserved = 0;
  /** Reading stopped until the listener's budget has room for the incomplete frame. */
  private awaitingRoom = false;
  private readonly roomGranted = () => {
    this.awaitingRoom = false;
    this.updateFlow();
  };
  /** The start of the incomplete request frame has been checked against the limits. */
  private prefixChecked = false;
  /** The incomplete frame read as a Produce until its first topic is known; `scanned` once that is over. */
  private scanning: ProduceScanner | undefined;
  private scanned = false;
  /** A denied Produce read on without its records until it ends, and what decided it. */
  private skipping: SkippedProduce | undefined;
  /** Running while a request frame is incomplete and the client is being read. */
  private requestTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly scope: KafkaProxyScope,
    private readonly client: Socket,
    private readonly policy: ConnectionPolicy,
    target: BrokerRoute,
    /** Host written into rewritten broker addresses: where this client reaches the proxy. */
    private readonly advertiseHost: string,
  ) {
    const { options } = scope;
    this.requests = new KafkaFrameReader({ maxFrameSize: options.maxFrameSize });
    this.responses = new KafkaResponseRelay(options.maxFrameSize, {
      begin: (correlationId) => this.responseBegins(correlationId),
      inspect: (bytes, window) => this.responseInspected(bytes, window),
      emit: (bytes) => this.toClient(bytes),
      end: () => this.responseEnded(),
      hold: (holding) => {
        this.holding = holding;
        this.updateFlow();
        this.drainIfIdle();
      },
      fail: (err) => this.fail(`cannot relay a broker response: ${(err as Error).message}`),
    });

    client.setNoDelay(true);
    this.upstream = connectBroker(target, {
      highWaterMark: SOCKET_BUFFER_BYTES,
      readBytes: options.zeroCopy && target.tls === undefined && mayZeroCopy(client) ? SPLICING_READ_BYTES : LARGE_READ_BYTES,
      connectTimeoutMs: options.upstreamConnectTimeoutMs,
      certs: scope.ctx.certs,
      onData: (chunk) => this.fromUpstream(chunk),
      clientBacklog: () => client.writableLength > 0,
    });
    const upstream = this.upstream;
    upstream.on('error', (err) => {
      // The connection ends because of the broker, not the client: an ERROR flow says so, beside the log.
      const reason = `broker ${target.host}:${target.port}: ${err.message}`;
      if (!client.destroyed) recordConnection(scope.ctx, policy, 'ERROR', reason);
      this.fail(reason);
    });
    upstream.on('drain', () => {
      this.upstreamFull = false;
      this.updateFlow();
    });
    upstream.on('end', () => client.end());
    upstream.on('close', () => {
      if (!client.writableEnded) client.destroy();
      this.splice?.cancel();
    });

    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    client.on('drain', () => {
      this.clientFull = false;
      this.updateFlow();
    });
    client.on('end', () => upstream.end());
    client.on('close', () => {
      upstream.destroy();
      this.splice?.cancel();
      this.stopRequestTimer();
      this.releaseFrame();
    });
    // Activity either way re-arms it; it fires after idleTimeoutMs without any.
    client.setTimeout(options.idleTimeoutMs);
    client.on('timeout', () => this.idle());
  }

  /** Graceful close: read no more requests, deliver the responses still owed, then end both sides. */
  drain(): void {
    this.draining = true;
    this.updateFlow();
    this.drainIfIdle();
  }

  // ------------------------------------------------------------------------------------------ requests

  private fromClient(chunk: Buffer): void {
    if (this.skipping) {
      const rest = this.skipDenied(this.skipping, chunk);
      if (rest === undefined) return;
      chunk = rest;
    }
    let frames: Buffer[];
    try {
      frames = this.requests.push(chunk);
    } catch (err) {
      // Oversized or negative sizes, TLS or HTTP on a plaintext Kafka port: not Kafka, nothing to answer.
      this.scope.ctx.metrics.policyL7('parse_errors', 'kafka');
      this.fail((err as Error).message);
      return;
    }
    // The frame that was incomplete is whole: the next one gets a scan, a reservation, a check and a timer of its own.
    if (frames.length > 0) this.frameEnded();
    const size = this.requests.incompleteFrameSize;
    if (size !== undefined && !this.scanned && !this.scanProduce(chunk, size)) return;
    if (size !== undefined && this.scanned && this.reserved === 0) this.reserve(this.skipping ? Math.min(size, DENIED_PRODUCE_KEPT_BYTES) : size);
    if (size !== undefined && !this.prefixChecked && !this.checkPrefix()) return;
    // Pauses a frame waiting for room; starts the clock of a frame that is now incomplete, stops that of one that is not.
    const incomplete = this.partialBytes > 0;
    if (this.awaitingRoom || incomplete !== (this.requestTimer !== undefined)) this.updateFlow();
    // The frames of one chunk leave in one write (writev) instead of one system call each.
    this.upstream.cork();
    try {
      for (const frame of frames) if (!this.request(frame)) return;
    } catch (err) {
      // A bug, not bad input (that is refused above): this connection ends, the process does not.
      this.fail(`internal error: ${(err as Error).stack ?? String(err)}`, 'error');
    } finally {
      this.upstream.uncork();
    }
  }

  private reserve(bytes: number): void {
    this.reserved = bytes;
    this.awaitingRoom = !this.scope.budget.reserve(bytes, this.roomGranted);
  }

  private frameEnded(): void {
    this.releaseFrame();
    this.prefixChecked = false;
    this.scanning = undefined;
    this.scanned = false;
    this.stopRequestTimer();
  }

  /** Bytes of the incomplete request frame read so far (held, or read and dropped). */
  private get partialBytes(): number {
    return this.requests.bufferedBytes + (this.skipping?.scanner.bytesRead ?? 0);
  }

  /**
   * Reads the incomplete frame's new bytes (the end of `chunk`) as a Produce until its first topic is known, and
   * decides it on that: every topic of a request must be allowed, so a denied first topic denies it whole. A
   * denied one is taken from the frame reader and read on without its records; anything else is read whole, as
   * is a frame that cannot be decided this way (not a Produce, a version the proxy does not accept, unreadable,
   * no topic within PRODUCE_SCAN_WINDOW bytes). False when the connection is gone.
   */
  private scanProduce(chunk: Buffer, size: number): boolean {
    const buffered = this.requests.bufferedBytes;
    const scanner = (this.scanning ??= new ProduceScanner(size, this.scope.limits, DENIED_PRODUCE_KEPT_BYTES));
    const unread = buffered - scanner.bytesRead;
    try {
      scanner.push(unread <= chunk.length ? chunk.subarray(chunk.length - unread) : this.requests.incompletePrefix(buffered)!.subarray(scanner.bytesRead));
    } catch (err) {
      if (!(err instanceof KafkaDecodeError)) throw err;
      return this.settleScan(); // refused once whole, with today's reasons
    }
    const { header, firstTopic } = scanner;
    if (firstTopic === undefined) return scanner.notProduce || buffered >= PRODUCE_SCAN_WINDOW ? this.settleScan() : true;
    if (!proxyAcceptsVersion(header!.apiKey, header!.apiVersion)) return this.settleScan();
    const connection = this.policy.current();
    if (connection === undefined) return false; // a reload denies this connection now: it has been reset
    const decision = connection.decideKafka({ ...header!, topics: [firstTopic] });
    if (!decision.allowed) {
      try {
        scanner.capEntries(MAX_DENIED_ENTRIES_ANSWERED);
      } catch (err) {
        return this.refuse(header, (err as Error).message, false);
      }
      this.requests.dropIncomplete();
      this.skipping = { scanner, connection, decision };
    }
    return this.settleScan();
  }

  private settleScan(): true {
    this.scanning = undefined;
    this.scanned = true;
    return true;
  }

  /** Reads `chunk` into the denied Produce being skipped; the bytes after its end, or undefined (more to come, or the connection is gone). */
  private skipDenied(skipping: SkippedProduce, chunk: Buffer): Buffer | undefined {
    const { scanner, connection, decision } = skipping;
    try {
      const used = scanner.push(chunk);
      if (!scanner.done) return undefined;
      this.skipping = undefined;
      this.frameEnded();
      const kept = scanner.keptFrame();
      const facts = extractPolicyFacts(kept, this.scope.limits);
      // Decided again on every topic, for the reason and the flows: denied still (its first topic is), never forwarded.
      const full = connection.decideKafka(facts);
      return this.decide(full.allowed ? decision : full, facts, kept) ? chunk.subarray(used) : undefined;
    } catch (err) {
      if (err instanceof KafkaDecodeError) this.refuse(scanner.header, err.message, false);
      else this.fail(`internal error: ${(err as Error).stack ?? String(err)}`, 'error');
      return undefined;
    }
  }

  /**
   * Refuses the incomplete frame now if its first bytes exceed a limit, or name an API or version the proxy does
   * not read (refused once whole anyway: not worth buffering first); false when the connection is gone.
   */
  private checkPrefix(): boolean {
    const prefix = this.requests.incompletePrefix(PREFIX_CHECK_BYTES);
    if (prefix === undefined) return true;
    this.prefixChecked = true;
    const exceeded = exceededLimit(prefix, this.scope.limits);
    if (exceeded !== undefined) return this.refuse(exceeded.header, exceeded.error.message, false);
    const header = prefixHeader(prefix);
    if (header === undefined || proxyAcceptsVersion(header.apiKey, header.apiVersion) || header.apiKey === ApiKey.ApiVersions) return true;
    return this.refuse(header, `API ${header.apiKey} version ${header.apiVersion} is not accepted by this proxy`, true);
  }

  /** Handles one request frame; false when the connection is gone. */
  private request(frame: Buffer): boolean {
    const connection = this.policy.current();
    if (connection === undefined) return false; // a reload denies this connection now: it has been reset
    let facts: KafkaPolicyFacts;
    try {
      facts = extractPolicyFacts(frame, this.scope.limits);
    } catch (err) {
      if (!(err instanceof KafkaDecodeError)) throw err;
      const header = headerOf(frame);
      if (header === undefined) return this.refuse(undefined, `unreadable request header: ${err.message}`, false);
      if (header.apiKey === ApiKey.ApiVersions && header.apiVersion > API_VERSIONS_MAX) {
        // KIP-511: a newer client's ApiVersions is answered in v0 with the versions spoken here.
        const newer = headerFacts(header);
        return this.decide(connection.decideKafka(newer), newer, frame);
      }
      return this.refuse(header, err.message, !proxyAcceptsVersion(header.apiKey, header.apiVersion));
    }
    if (!proxyAcceptsVersion(facts.apiKey, facts.apiVersion)) {
      return this.refuse(facts, `API ${facts.apiKey} version ${facts.apiVersion} is not accepted by this proxy`, true);
    }
    return this.decide(connection.decideKafka(facts), facts, frame);
  }

  private decide(decision: Decision, facts: KafkaPolicyFacts, frame: Buffer): boolean {
    const { ctx } = this.scope;
    if (decision.allowed) {
      const awaitsBroker = this.forward(frame, facts, decision.verdict);
      recordKafkaDecision(ctx, this.policy, facts, decision, undefined, awaitsBroker);
      return true;
    }
    const errorCode = denialErrorCode(facts);
    recordKafkaDecision(ctx, this.policy, facts, decision, errorCode, false);
    if (facts.apiKey === ApiKey.ApiVersions) {
      // A client cannot go on without ApiVersions, and has no way to show an error for it: end here.
      return this.fail(`ApiVersions denied by policy (${decision.reason})`, 'info');
    }
    if (!facts.expectsResponse) return true;
    if (facts.entries > MAX_DENIED_ENTRIES_ANSWERED) {
      return this.fail(`denied request with more than ${MAX_DENIED_ENTRIES_ANSWERED} entries (${facts.entries}) is closed, not answered`, 'info');
    }
    try {
      if (facts.apiKey === ApiKey.Metadata && facts.apiVersion >= 1) this.forwardBrokersOnly(frame, facts);
      else this.answer(facts.correlationId, buildDenyResponse(frame, errorCode, { brokers: this.scope.directory.known(this.advertiseHost) })!);
    } catch (err) {
      return this.fail(`cannot answer a denied ${facts.apiKey} v${facts.apiVersion} request: ${(err as Error).message}`);
    }
    return true;
  }

  /** Sends an allowed request on (or answers it here); true when the broker's response is awaited. */
  private forward(frame: Buffer, facts: KafkaPolicyFacts, verdict: Verdict): boolean {
    const { apiKey, apiVersion, correlationId } = facts;
    if (apiKey === ApiKey.ApiVersions && apiVersion > API_VERSIONS_MAX) {
      this.answer(correlationId, buildApiVersionsFallbackResponse(correlationId, PROXY_API_VERSIONS));
      return false;
    }
    // acks=0: the broker will not answer, so nothing waits for it.
    if (facts.expectsResponse) {
      this.pending.push({ correlationId, rewrite: this.rewriteFor(apiKey, apiVersion), request: facts, verdict, forwardedAt: process.hrtime.bigint() });
    }
    this.toUpstream(withoutFetchSession(frame, facts));
    return facts.expectsResponse;
  }

  private rewriteFor(apiKey: number, apiVersion: number): ResponseRewrite | undefined {
    if (apiKey === ApiKey.ApiVersions) return (frame) => clampApiVersionsResponse(frame, apiVersion, PROXY_API_VERSIONS);
    if (responseCarriesBrokerAddresses(apiKey, apiVersion)) return (frame) => this.rewriteBrokers(frame, apiKey, apiVersion);
    return undefined;
  }

  /**
   * A denied Metadata request still needs an answer with the cluster's brokers (without them a client
   * cannot even bootstrap): the broker is asked for brokers only, and the client gets that answer with
   * every topic it asked for denied (error 29, no partitions) — what Kafka's own authorizer answers.
   */
  private forwardBrokersOnly(frame: Buffer, facts: KafkaPolicyFacts): void {
    const request = decodeRequest(frame);
    const deniedTopics = buildResponseBody(request, ErrorCode.TOPIC_AUTHORIZATION_FAILED).topics;
    const brokersOnly = encodeRequest(request.header, { ...request.body, topics: [], allowAutoTopicCreation: false });
    const version = facts.apiVersion;
    const withDeniedTopics = (response: Buffer) => {
      const { correlationId, body } = decodeResponse(response, ApiKey.Metadata, version);
      return encodeResponse(ApiKey.Metadata, version, correlationId, { ...body, topics: deniedTopics });
    };
    this.pending.push({
      correlationId: facts.correlationId,
      rewrite: (response) => {
        const rewritten = this.rewriteBrokers(response, ApiKey.Metadata, version);
        return rewritten instanceof Promise ? rewritten.then(withDeniedTopics) : withDeniedTopics(rewritten);
      },
    });
    this.toUpstream(brokersOnly);
  }

  /** The proxy's own response: now if nothing is in flight, else behind what is. */
  private answer(correlationId: number, response: Buffer): void {
    if (this.pending.length === 0) this.toClient(response);
    else this.pending.push({ correlationId, local: response });
  }

  /** Refuses a request the proxy cannot read or does not offer: counted, recorded, connection closed. */
  private refuse(header: KafkaRequestHeader | undefined, reason: string, unsupported: boolean): false {
    if (header) recordKafkaRefusal(this.scope.ctx, this.policy, header, reason, unsupported);
    else this.scope.ctx.metrics.policyL7('parse_errors', 'kafka');
    return this.fail(`refused Kafka request: ${reason}`);
  }

  // ----------------------------------------------------------------------------------------- responses

  private fromUpstream(chunk: Buffer): void {
    try {
      this.responses.push(chunk);
    } catch (err) {
      this.fail(`broker response: ${(err as Error).message}`);
      return;
    }
    const rest = this.responses.streamingLeft();
    if (rest >= SPLICE_MIN_BYTES && (this.zeroCopy ??= this.scope.options.zeroCopy && canSplice(this.upstream, this.client))) this.spliceRest(rest);
    else this.drainIfIdle();
  }

  /** The rest of the current response, `bytes` long, goes from the broker's socket to the client's in the kernel. */
  private spliceRest(bytes: number): void {
    this.splicing = true;
    this.upstream.pause(); // a socket with `onread` stops reading at once: what follows is left to the kernel
    const spliced = () => {
      this.splice = undefined;
      this.splicing = false;
      this.scope.ctx.metrics.kafkaSpliced?.(this.scope.ctx.config.name, bytes);
      this.responses.passed(bytes);
      this.updateFlow();
      this.drainIfIdle();
    };
    const failed = (err: Error) => this.fail(`zero-copy relay of a broker response: ${err.message}`);
    const start = () => {
      if (this.client.destroyed || this.upstream.destroyed) return; // closing: fail() has run or will
      try {
        this.splice = spliceBetween(this.upstream, this.client, bytes, (err) => (err ? failed(err) : spliced()));
      } catch (err) {
        return failed(err as Error);
      }
      if (this.splice === undefined) spliced();
    };
    // What was emitted before must be in the kernel before the spliced bytes follow it.
    if (this.client.writableLength === 0) start();
    else this.client.write(FLUSHED, (err) => (err ? undefined : start()));
  }

  private responseBegins(correlationId: number): ResponseRewrite | undefined {
    const head = this.pending[0];
    if (head === undefined) throw new KafkaDecodeError(`broker sent a response (correlation id ${correlationId}) no request is waiting for`);
    if (head.correlationId !== correlationId) throw new KafkaDecodeError(`broker answered correlation id ${correlationId}, expected ${head.correlationId}`);
    return head.rewrite;
  }

  /** Reads the error codes at the start of the head response; true once more of it could not change them. */
  private responseInspected(bytes: Buffer, window: number): boolean {
    const head = this.pending[0]!;
    if (head.request === undefined) return true;
    const scan = scanResponseStart(bytes, head.request.apiKey, head.request.apiVersion);
    head.errors = scan.errors;
    return scan.settledBelow > window;
  }

  /** The head response is out; the proxy's answers queued right behind it follow. */
  private responseEnded(): Buffer[] {
    const answered = this.pending.shift();
    if (answered?.request) {
      recordKafkaResponse(this.scope.ctx, this.policy, answered.request, answered.verdict!, answered.errors ?? NO_ERRORS, process.hrtime.bigint() - answered.forwardedAt!);
    }
    const local: Buffer[] = [];
    while (this.pending[0]?.local) local.push(this.pending.shift()!.local!);
    return local;
  }

  private rewriteBrokers(frame: Buffer, apiKey: number, apiVersion: number): Buffer | Promise<Buffer> {
    const { directory } = this.scope;
    const host = this.advertiseHost;
    const unknown: KafkaBrokerEndpoint[] = [];
    const rewritten = rewriteBrokerAddresses(frame, apiKey, apiVersion, (broker) => {
      const at = directory.proxyAddress(broker, host);
      if (at === undefined) unknown.push(broker);
      return at;
    });
    if (unknown.length === 0) return rewritten;
    // New brokers: open their listeners first. A broker address must never reach the client unrewritten
    // (it would bypass policy), so a listener that cannot open fails the connection.
    return directory.open(unknown).then(() =>
      rewriteBrokerAddresses(frame, apiKey, apiVersion, (broker) => {
        const at = directory.proxyAddress(broker, host);
        if (at === undefined) throw new Error(`no proxy listener for broker ${broker.nodeId}`);
        return at;
      }),
    );
  }

  // ------------------------------------------------------------------------------------ flow control

  private toClient(bytes: Buffer): void {
    if (!this.client.write(bytes)) {
      this.clientFull = true;
      this.updateFlow();
    }
  }

  private toUpstream(frame: Buffer): void {
    if (!this.upstream.write(frame)) {
      this.upstreamFull = true;
      this.updateFlow();
    }
  }

  private updateFlow(): void {
    const readClient = !(this.upstreamFull || this.clientFull || this.draining || this.awaitingRoom);
    if (readClient) this.client.resume();
    else this.client.pause();
    if (this.clientFull || this.holding || this.splicing) this.upstream.pause();
    else this.upstream.resume();
    // Only while the client is read: a frame the proxy is not reading is not the client's delay.
    if (readClient && this.partialBytes > 0) this.requestTimer ??= setTimeout(() => this.requestTimedOut(), this.scope.options.requestTimeoutMs);
    else this.stopRequestTimer();
  }

  /** Gives back the budget of the frame that was incomplete (or stops waiting for it). */
  private releaseFrame(): void {
    if (this.awaitingRoom) this.scope.budget.cancel(this.roomGranted);
    else if (this.reserved > 0) this.scope.budget.release(this.reserved);
    this.awaitingRoom = false;
    this.reserved = 0;
  }

  private stopRequestTimer(): void {
    clearTimeout(this.requestTimer);
    this.requestTimer = undefined;
  }

  private requestTimedOut(): void {
    this.scope.ctx.metrics.policyL7('parse_errors', 'kafka');
    this.fail(`request frame incomplete ${this.scope.options.requestTimeoutMs} ms after its first bytes (${this.partialBytes} bytes received, kafka.requestTimeoutMs)`);
  }

  /** No byte either way for idleTimeoutMs: closed unless a response is still owed (a long poll, a slow broker). */
  private idle(): void {
    if (this.pending.length > 0 || this.partialBytes > 0 || this.holding || this.splicing) return;
    this.fail(`idle for ${this.scope.options.idleTimeoutMs} ms (kafka.idleTimeoutMs)`, 'info');
  }

  private drainIfIdle(): void {
    if (this.draining && this.pending.length === 0 && !this.holding && !this.splicing) {
      this.client.end();
      this.upstream.end();
    }
  }

  private fail(reason: string, level: 'info' | 'warn' | 'error' = 'warn'): false {
    if (!this.client.destroyed) {
      this.scope.ctx.log[level]({ source: this.policy.sourceAddress, reason }, 'closing Kafka connection');
    }
    this.client.destroy();
    this.upstream.destroy();
    this.splice?.cancel();
    return false;
  }
}

/** The header of a frame's first bytes, when they hold a readable one. */
function prefixHeader(prefix: Buffer): KafkaRequestHeader | undefined {
  try {
    return readRequestHeader(new KafkaReader(prefix, 4));
  } catch {
    return undefined;
  }
}

function headerOf(frame: Buffer): KafkaRequestHeader | undefined {
  try {
    return decodeRequestHeader(frame);
  } catch {
    return undefined;
  }
}

/** Facts of a request whose body is not read (an ApiVersions of a newer version than the codec's). */
function headerFacts(header: KafkaRequestHeader): KafkaPolicyFacts {
  return { ...header, topics: [], topicIds: [], groupIds: [], transactionalIds: [], acks: undefined, expectsResponse: true, opensFetchSession: false, entries: 0 };
}
