// A tiny single-node Kafka broker on 127.0.0.1:0 built on the codec: it records every request frame
// and answers enough for kafkajs and kcat to produce, consume, and run a consumer group (one member,
// one partition per topic, records kept in memory). Used to capture client fixtures and to check the
// codec's responses against real clients; a `deny` hook answers chosen requests with deny responses.
// `startFakeCluster` runs several as one cluster: each lists them all in Metadata and names a topic's leader.
import { createServer, type Server, type Socket } from 'node:net';
import {
  ApiKey,
  buildApiVersionsFallbackResponse,
  CODEC_API_VERSIONS,
  decodeRequest,
  decodeRequestHeader,
  encodeResponse,
  isSupportedVersion,
  KafkaFrameReader,
  type DecodedRequest,
  type KafkaStruct,
} from '../../src/protocols/kafka/codec/index.js';
import { buildDenyResponse, buildResponseBody, type KafkaBrokerAddress } from '../../src/protocols/kafka/proxy/deny.js';
import { extractPolicyFacts, type KafkaPolicyFacts } from '../../src/protocols/kafka/proxy/facts.js';

export interface RecordedKafkaRequest {
  readonly frame: Buffer;
  readonly facts: KafkaPolicyFacts;
}

export interface KafkaFakeBrokerOptions {
  /** Return an error code to answer this request with buildDenyResponse instead of serving it. */
  readonly deny?: (facts: KafkaPolicyFacts) => number | undefined;
  /** Topics that exist from the start (others are created when first asked for). */
  readonly topics?: readonly string[];
  /** This broker's node id (default 0). */
  readonly nodeId?: number;
  /** In a cluster: every broker of it (this one included), for Metadata. Default: this broker alone. */
  readonly cluster?: () => readonly KafkaBrokerAddress[];
  /** In a cluster: the leader's node id of a topic's partition 0 (default this broker). */
  readonly leaders?: Readonly<Record<string, number>>;
  /** In a cluster: the coordinator's node id for a FindCoordinator key (default this broker). */
  readonly coordinators?: Readonly<Record<string, number>>;
}

const CLUSTER_ID = 'portcullis-fake-cluster';
const FETCH_WAIT_CAP_MS = 200;

interface StoredBatch {
  readonly baseOffset: bigint;
  readonly bytes: Buffer;
}

type Struct = KafkaStruct;
const list = (v: unknown): Struct[] => (Array.isArray(v) ? (v as Struct[]) : []);

/** Sequential ids make stable, valid topic UUIDs (Kafka text form) for Metadata v10+. */
function topicUuid(index: number): string {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(index + 1, 12);
  return b.toString('base64url');
}

export class KafkaFakeBroker {
  readonly requests: RecordedKafkaRequest[] = [];
  private readonly logs = new Map<string, StoredBatch[]>();
  private readonly sockets = new Set<Socket>();
  /** The port it listens on (127.0.0.1). */
  port = 0;

  private constructor(
    private readonly server: Server,
    private readonly options: KafkaFakeBrokerOptions,
  ) {
    for (const t of options.topics ?? []) this.logs.set(t, []);
  }

  static async start(options: KafkaFakeBrokerOptions = {}): Promise<KafkaFakeBroker> {
    const server = createServer();
    const broker = new KafkaFakeBroker(server, options);
    server.on('connection', (s) => broker.serve(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    broker.port = (server.address() as { port: number }).port;
    return broker;
  }

  get nodeId(): number {
    return this.options.nodeId ?? 0;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Messages stored for a topic (record batches, offsets assigned). */
  batches(topic: string): readonly Buffer[] {
    return (this.logs.get(topic) ?? []).map((b) => b.bytes);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const frames = new KafkaFrameReader();
    // Kafka answers in request order on a connection; a promise chain keeps long-polled Fetches in line.
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      let complete: Buffer[];
      try {
        complete = frames.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const frame of complete) {
        queue = queue
          .then(() => this.answer(frame))
          .then((response) => {
            if (response && !socket.destroyed) socket.write(response);
          })
          .catch(() => {
            socket.destroy();
          });
      }
    });
  }

  private async answer(frame: Buffer): Promise<Buffer | null> {
    const header = decodeRequestHeader(frame);
    if (header.apiKey === ApiKey.ApiVersions && !isSupportedVersion(ApiKey.ApiVersions, header.apiVersion)) return buildApiVersionsFallbackResponse(header.correlationId);
    const facts = extractPolicyFacts(frame);
    this.requests.push({ frame: Buffer.from(frame), facts });
    const denyCode = this.options.deny?.(facts);
    if (denyCode !== undefined) return buildDenyResponse(frame, denyCode, this.responseOptions());
    const request = decodeRequest(frame);
    const { apiKey, apiVersion, correlationId } = request.header;
    if (!facts.expectsResponse) {
      this.storeUnacknowledged(request);
      return null;
    }
    const body = await this.body(request);
    return encodeResponse(apiKey, apiVersion, correlationId, body);
  }

  private responseOptions() {
    const brokers = this.brokers();
    return { brokers, controllerId: brokers[0]!.nodeId, clusterId: CLUSTER_ID };
  }

  private brokers(): readonly KafkaBrokerAddress[] {
    return this.options.cluster?.() ?? [{ nodeId: this.nodeId, host: '127.0.0.1', port: this.port }];
  }

  private coordinator(key: unknown): KafkaBrokerAddress {
    const nodeId = this.options.coordinators?.[key as string] ?? this.nodeId;
    return this.brokers().find((b) => b.nodeId === nodeId)!;
  }

  private log(topic: string): StoredBatch[] {
    let log = this.logs.get(topic);
    if (!log) this.logs.set(topic, (log = []));
    return log;
  }

  private endOffset(topic: string): bigint {
    const last = this.log(topic).at(-1);
    // lastOffsetDelta (int32 at byte 23 of a v2 record batch) + 1 records in the batch.
    return last ? last.baseOffset + BigInt(last.bytes.readInt32BE(23) + 1) : 0n;
  }

  /** Store every record batch in `records` with offsets assigned (baseOffset is not covered by the CRC). */
  private append(topic: string, records: Buffer | null): bigint {
    const base = this.endOffset(topic);
    for (let at = 0; records && at + 61 <= records.length; ) {
      const size = 12 + records.readInt32BE(at + 8);
      const bytes = Buffer.from(records.subarray(at, at + size));
      bytes.writeBigInt64BE(this.endOffset(topic), 0);
      this.log(topic).push({ baseOffset: bytes.readBigInt64BE(0), bytes });
      at += size;
    }
    return base;
  }

  private storeUnacknowledged(request: DecodedRequest): void {
    for (const t of list(request.body.topicData)) for (const p of list(t.partitionData)) this.append(t.name as string, p.records as Buffer | null);
  }

  private async body(request: DecodedRequest): Promise<Struct> {
    const { apiKey, apiVersion } = request.header;
    const req = request.body;
    const ok = buildResponseBody(request, 0, this.responseOptions());
    switch (apiKey) {
      case 18: // ApiVersions
        return { ...ok, apiKeys: [...CODEC_API_VERSIONS].map(([k, r]) => ({ apiKey: k, minVersion: r.minVersion, maxVersion: r.maxVersion })) };
      case 3: {
        // Metadata: null (or v0 []) asks for every topic.
        const asked = req.topics === null || (apiVersion === 0 && list(req.topics).length === 0) ? [...this.logs.keys()] : list(req.topics).map((t) => t.name as string);
        return {
          ...ok,
          topics: asked.map((name) => {
            this.log(name);
            const leader = this.options.leaders?.[name] ?? this.nodeId;
            return {
              errorCode: 0,
              name,
              topicId: topicUuid([...this.logs.keys()].indexOf(name)),
              isInternal: false,
              partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: leader, leaderEpoch: 0, replicaNodes: [leader], isrNodes: [leader], offlineReplicas: [] }],
            };
          }),
        };
      }
      case 0: // Produce
        return {
          ...ok,
          responses: list(req.topicData).map((t) => ({
            name: t.name,
            partitionResponses: list(t.partitionData).map((p) => ({ index: p.index, errorCode: 0, baseOffset: this.append(t.name as string, p.records as Buffer | null) })),
          })),
        };
      case 2: // ListOffsets: -2 earliest, anything else the end of the log
        return {
          ...ok,
          topics: list(req.topics).map((t) => ({
            name: t.name,
            partitions: list(t.partitions).map((p) => {
              const offset = p.timestamp === -2n ? 0n : this.endOffset(t.name as string);
              return { partitionIndex: p.partitionIndex, errorCode: 0, oldStyleOffsets: [offset], timestamp: -1n, offset, leaderEpoch: 0 };
            }),
          })),
        };
      case 1:
        return this.fetch(req, ok);
      case 10: // FindCoordinator: v0-3 ask for one key, v4+ for several
        return { ...ok, errorCode: 0, ...this.coordinator(req.key), coordinators: list(ok.coordinators).map((c) => ({ ...c, ...this.coordinator(c.key) })) };
      case 11: {
        // JoinGroup: every joiner is the only member and the leader.
        const memberId = (req.memberId as string) || `member-${this.requests.length}`;
        const protocol = list(req.protocols)[0];
        return {
          ...ok,
          generationId: 1,
          protocolType: req.protocolType,
          protocolName: protocol?.name ?? '',
          leader: memberId,
          memberId,
          members: [{ memberId, groupInstanceId: req.groupInstanceId ?? null, metadata: protocol?.metadata ?? Buffer.alloc(0) }],
        };
      }
      case 14: // SyncGroup: hand the leader's assignment back
        return {
          ...ok,
          protocolType: req.protocolType ?? 'consumer',
          protocolName: req.protocolName ?? '',
          assignment: list(req.assignments).find((a) => a.memberId === req.memberId)?.assignment ?? Buffer.alloc(0),
        };
      case 19: // CreateTopics
        for (const t of list(req.topics)) this.log(t.name as string);
        return ok;
      default:
        return ok;
    }
  }

  private async fetch(req: Struct, ok: Struct): Promise<Struct> {
    const wanted = list(req.topics).flatMap((t) => list(t.partitions).map((p) => ({ topic: t.topic as string, partition: p.partition as number, offset: p.fetchOffset as bigint })));
    const hasData = () => wanted.some((w) => this.endOffset(w.topic) > w.offset);
    const deadline = Date.now() + Math.min(Number(req.maxWaitMs), FETCH_WAIT_CAP_MS);
    while (!hasData() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return {
      ...ok,
      errorCode: 0,
      responses: list(req.topics).map((t) => ({
        topic: t.topic,
        partitions: list(t.partitions).map((p) => {
          const end = this.endOffset(t.topic as string);
          const batches = this.log(t.topic as string).filter((b) => b.baseOffset + BigInt(b.bytes.readInt32BE(23)) >= (p.fetchOffset as bigint));
          return {
            partitionIndex: p.partition,
            errorCode: 0,
            highWatermark: end,
            lastStableOffset: end,
            logStartOffset: 0n,
            abortedTransactions: null,
            preferredReadReplica: -1,
            records: Buffer.concat(batches.map((b) => b.bytes)),
          };
        }),
      })),
    };
  }
}

/** `count` fake brokers (node ids 1..count) that list one another in Metadata; `leaders` names each topic's leader. */
export async function startFakeCluster(count: number, options: Omit<KafkaFakeBrokerOptions, 'nodeId' | 'cluster'> = {}): Promise<KafkaFakeBroker[]> {
  const brokers: KafkaFakeBroker[] = [];
  const cluster = () => brokers.map((b) => ({ nodeId: b.nodeId, host: '127.0.0.1', port: b.port }));
  for (let nodeId = 1; nodeId <= count; nodeId++) brokers.push(await KafkaFakeBroker.start({ ...options, nodeId, cluster }));
  return brokers;
}
