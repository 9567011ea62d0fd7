// What policy needs of a request, read without materialising it: the walk (schema-walk.ts) follows the
// request's schema to the end of the frame (so framing is fully validated and trailing bytes are refused,
// like the full decoder) but only allocates the strings policy looks at.
import type { KafkaRequestFacts } from '../../../policy/types.js';
import { expectEnd, requirePlan } from '../codec/codec.js';
import { KafkaLimitError } from '../codec/errors.js';
import { checkFrame, readRequestHeader, type KafkaRequestHeader } from '../codec/header.js';
import { KafkaReader } from '../codec/reader.js';
import { messagePlan, type FieldPlan } from '../codec/schema.js';
import { walkStruct, type SchemaVisitor } from '../codec/schema-walk.js';
import { DEFAULT_KAFKA_REQUEST_LIMITS, type KafkaRequestLimits } from '../../../config/kafka-request-limits.js';
import { ApiKey } from '../codec/generated/api-keys.js';

/** FindCoordinator key types: the key is a group id (0, also v0's only kind) or a transactional id (1). */
const COORDINATOR_GROUP = 0;
const COORDINATOR_TRANSACTION = 1;
/** APIs whose resources name topics when ResourceType is 2. */
const CONFIG_APIS = new Set<number>([ApiKey.DescribeConfigs, ApiKey.AlterConfigs, ApiKey.IncrementalAlterConfigs]);
const CONFIG_RESOURCE_TOPIC = 2;

export interface KafkaPolicyFacts extends KafkaRequestFacts {
  readonly correlationId: number;
  readonly headerVersion: 0 | 1 | 2;
  /** Every topic name (entityType topicName, plus topic config resources), de-duplicated, in request order. */
  readonly topics: readonly string[];
  /** Non-zero topic UUIDs (Kafka text form) where the version identifies topics by id (Fetch v13+, Metadata v10+, ...). */
  readonly topicIds: readonly string[];
  /** Group ids, including FindCoordinator keys of key type group. */
  readonly groupIds: readonly string[];
  /** Transactional ids, including FindCoordinator keys of key type transaction. */
  readonly transactionalIds: readonly string[];
  /** Produce only. */
  readonly acks: number | undefined;
  /** False for Produce with acks=0: the broker sends nothing back, so neither may a deny. */
  readonly expectsResponse: boolean;
  /** A Fetch (v7+) asking the broker to open an incremental fetch session: session id 0, epoch 0 (fetch-sessions.ts). */
  readonly opensFetchSession: boolean;
  /** Array entries and tagged fields the request carries (what kafka.maxTopicsPerRequest/maxPartitionsPerRequest count). */
  readonly entries: number;
}

type FactRole =
  | 'topic'
  | 'topicId'
  | 'group'
  | 'transactionalId'
  | 'acks'
  | 'resourceType'
  | 'resourceName'
  | 'coordinatorKey'
  | 'coordinatorKeyType'
  | 'sessionId'
  | 'sessionEpoch';

const roles = new WeakMap<FieldPlan, FactRole | null>();

function roleOf(f: FieldPlan, apiKey: number): FactRole | null {
  let role = roles.get(f);
  if (role !== undefined) return role;
  const d = f.definition;
  role = null;
  if (f.type === 'string' && d.entityType === 'topicName') role = 'topic';
  else if (f.type === 'string' && d.entityType === 'groupId') role = 'group';
  else if (f.type === 'string' && d.entityType === 'transactionalId') role = 'transactionalId';
  else if (f.type === 'uuid' && d.name === 'TopicId') role = 'topicId';
  else if (apiKey === ApiKey.Produce && d.name === 'Acks') role = 'acks';
  else if (CONFIG_APIS.has(apiKey) && d.name === 'ResourceType') role = 'resourceType';
  else if (CONFIG_APIS.has(apiKey) && d.name === 'ResourceName') role = 'resourceName';
  else if (apiKey === ApiKey.FindCoordinator && (d.name === 'Key' || d.name === 'CoordinatorKeys')) role = 'coordinatorKey';
  else if (apiKey === ApiKey.FindCoordinator && d.name === 'KeyType') role = 'coordinatorKeyType';
  else if (apiKey === ApiKey.Fetch && d.name === 'SessionId') role = 'sessionId';
  else if (apiKey === ApiKey.Fetch && d.name === 'SessionEpoch') role = 'sessionEpoch';
  roles.set(f, role);
  return role;
}

const topicArrays = new WeakMap<FieldPlan, boolean>();

/** An array of topic names, or of structs that each name one topic (by name or id). */
function isTopicArray(f: FieldPlan, apiKey: number): boolean {
  let topics = topicArrays.get(f);
  if (topics === undefined) {
    const names = (e: FieldPlan) => ['topic', 'topicId'].includes(roleOf(e, apiKey) ?? '');
    topics = f.struct === undefined ? names(f) : f.struct.fields.some(names);
    topicArrays.set(f, topics);
  }
  return topics;
}

/** Counts a request's entries as their counts are read, and throws KafkaLimitError past the limits. */
export class EntryCounter {
  private topics = 0;
  private others = 0;

  constructor(
    private readonly apiKey: number,
    private readonly limits: KafkaRequestLimits,
  ) {}

  /** Called with each array's (or tagged section's) entry count before its entries are read. */
  readonly count = (f: FieldPlan | undefined, n: number): void =>
    f !== undefined && isTopicArray(f, this.apiKey) ? this.topicEntries(n) : this.otherEntries(n);

  get total(): number {
    return this.topics + this.others;
  }

  private topicEntries(n: number): void {
    this.topics += n;
    if (this.topics > this.limits.maxTopics) throw new KafkaLimitError(`request names more than ${this.limits.maxTopics} topics (kafka.maxTopicsPerRequest)`);
  }

  private otherEntries(n: number): void {
    this.others += n;
    if (this.others > this.limits.maxPartitions) throw new KafkaLimitError(`request has more than ${this.limits.maxPartitions} partitions or other entries (kafka.maxPartitionsPerRequest)`);
  }
}

/** The check of `limits` for one request of `apiKey`, called with each array's (or tagged section's) entry count before its entries are read. */
export function entryLimiter(apiKey: number, limits: KafkaRequestLimits): (f: FieldPlan | undefined, n: number) => void {
  return new EntryCounter(apiKey, limits).count;
}

class FactSink implements SchemaVisitor {
  readonly topics = new Set<string>();
  readonly topicIds = new Set<string>();
  readonly groupIds = new Set<string>();
  readonly transactionalIds = new Set<string>();
  acks: number | undefined;
  /** ResourceType precedes ResourceName in every config resource. */
  private resourceType = -1;
  /** FindCoordinator's KeyType follows Key in v1-3, so keys are classified at the end. */
  private readonly coordinatorKeys: string[] = [];
  private coordinatorKeyType = COORDINATOR_GROUP;
  /** Fetch v7+; -1 (no session) where the version has none. */
  sessionId = -1;
  sessionEpoch = -1;

  constructor(
    readonly apiKey: number,
    readonly entries: (f: FieldPlan | undefined, n: number) => void,
  ) {}

  wants(f: FieldPlan): boolean {
    return roleOf(f, this.apiKey) !== null;
  }

  value(f: FieldPlan, v: number | string): void {
    const role = roleOf(f, this.apiKey);
    if (typeof v === 'number') {
      if (role === 'acks') this.acks = v;
      else if (role === 'resourceType') this.resourceType = v;
      else if (role === 'coordinatorKeyType') this.coordinatorKeyType = v;
      else if (role === 'sessionId') this.sessionId = v;
      else if (role === 'sessionEpoch') this.sessionEpoch = v;
    } else if (role === 'topic') this.topics.add(v);
    else if (role === 'topicId') this.topicIds.add(v);
    else if (role === 'group') this.groupIds.add(v);
    else if (role === 'transactionalId') this.transactionalIds.add(v);
    else if (role === 'resourceName' && this.resourceType === CONFIG_RESOURCE_TOPIC) this.topics.add(v);
    else if (role === 'coordinatorKey') this.coordinatorKeys.push(v);
  }

  enter(): void {}
  leave(): void {}

  finish(): void {
    const into = this.coordinatorKeyType === COORDINATOR_GROUP ? this.groupIds : this.coordinatorKeyType === COORDINATOR_TRANSACTION ? this.transactionalIds : undefined;
    for (const key of this.coordinatorKeys) into?.add(key);
  }
}

/**
 * The facts policy decides on, from one request frame (4-byte size prefix included). Throws
 * KafkaDecodeError for unknown API keys, unsupported versions and malformed or trailing bytes:
 * the proxy must not forward what it cannot read; KafkaLimitError beyond `limits`.
 */
export function extractPolicyFacts(frame: Buffer, limits: KafkaRequestLimits = DEFAULT_KAFKA_REQUEST_LIMITS): KafkaPolicyFacts {
  const r = new KafkaReader(frame, checkFrame(frame));
  const header = readRequestHeader(r);
  const plan = requirePlan(header.apiKey, header.apiVersion, 'request');
  const entries = new EntryCounter(header.apiKey, limits);
  const sink = new FactSink(header.apiKey, entries.count);
  walkStruct(r, plan, sink);
  expectEnd(r, plan);
  sink.finish();
  return {
    apiKey: header.apiKey,
    apiVersion: header.apiVersion,
    correlationId: header.correlationId,
    clientId: header.clientId,
    headerVersion: header.headerVersion,
    topics: [...sink.topics],
    topicIds: [...sink.topicIds],
    groupIds: [...sink.groupIds],
    transactionalIds: [...sink.transactionalIds],
    acks: sink.acks,
    expectsResponse: !(header.apiKey === ApiKey.Produce && sink.acks === 0),
    opensFetchSession: sink.sessionId === 0 && sink.sessionEpoch === 0,
    entries: entries.total,
  };
}

/**
 * The first bytes of a request frame still arriving: the limit it exceeds, when they already show it (the topic
 * count of a Metadata or Produce comes within its first bytes), so it is refused before the rest is buffered.
 * Anything else these bytes may be wrong about waits for the whole frame.
 */
export function exceededLimit(prefix: Buffer, limits: KafkaRequestLimits): { header: KafkaRequestHeader; error: KafkaLimitError } | undefined {
  let header: KafkaRequestHeader | undefined;
  try {
    const r = new KafkaReader(prefix, 4);
    header = readRequestHeader(r);
    const plan = messagePlan(header.apiKey, header.apiVersion, 'request');
    if (plan !== undefined) walkStruct(r, plan, new FactSink(header.apiKey, entryLimiter(header.apiKey, limits)));
  } catch (error) {
    if (error instanceof KafkaLimitError) return { header: header!, error };
  }
  return undefined;
}
