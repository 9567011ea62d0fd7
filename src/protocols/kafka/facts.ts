// What policy needs of a request, read without materialising it: the walk follows the request's schema
// to the end of the frame (so framing is fully validated and trailing bytes are refused, like the
// full decoder) but only allocates the strings policy looks at. Record batches are skipped, not copied.
import type { KafkaRequestFacts } from '../../policy/types.js';
import { expectEnd, readTaggedSection, requirePlan, ZERO_UUID } from './codec.js';
import { KafkaDecodeError } from './errors.js';
import { checkFrame, readRequestHeader } from './header.js';
import { KafkaReader } from './reader.js';
import type { FieldPlan, StructPlan } from './schema.js';

const PRODUCE = 0;
const FIND_COORDINATOR = 10;
/** FindCoordinator key types: the key is a group id (0, also v0's only kind) or a transactional id (1). */
const COORDINATOR_GROUP = 0;
const COORDINATOR_TRANSACTION = 1;
/** DescribeConfigs, AlterConfigs, IncrementalAlterConfigs: resources name topics when ResourceType is 2. */
const CONFIG_APIS = new Set([32, 33, 44]);
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
}

type FactRole = 'topic' | 'topicId' | 'group' | 'transactionalId' | 'acks' | 'resourceType' | 'resourceName' | 'coordinatorKey' | 'coordinatorKeyType';

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
  else if (apiKey === PRODUCE && d.name === 'Acks') role = 'acks';
  else if (CONFIG_APIS.has(apiKey) && d.name === 'ResourceType') role = 'resourceType';
  else if (CONFIG_APIS.has(apiKey) && d.name === 'ResourceName') role = 'resourceName';
  else if (apiKey === FIND_COORDINATOR && (d.name === 'Key' || d.name === 'CoordinatorKeys')) role = 'coordinatorKey';
  else if (apiKey === FIND_COORDINATOR && d.name === 'KeyType') role = 'coordinatorKeyType';
  roles.set(f, role);
  return role;
}

class FactSink {
  readonly topics = new Set<string>();
  readonly topicIds = new Set<string>();
  readonly groupIds = new Set<string>();
  readonly transactionalIds = new Set<string>();
  acks: number | undefined;
  /** ResourceType precedes ResourceName in every config resource. */
  resourceType = -1;
  /** FindCoordinator's KeyType follows Key in v1-3, so keys are classified at the end. */
  readonly coordinatorKeys: string[] = [];
  coordinatorKeyType = COORDINATOR_GROUP;

  constructor(readonly apiKey: number) {}

  string(role: FactRole, value: string): void {
    if (role === 'topic') this.topics.add(value);
    else if (role === 'group') this.groupIds.add(value);
    else if (role === 'transactionalId') this.transactionalIds.add(value);
    else if (role === 'resourceName' && this.resourceType === CONFIG_RESOURCE_TOPIC) this.topics.add(value);
    else if (role === 'coordinatorKey') this.coordinatorKeys.push(value);
  }

  finish(): void {
    const into = this.coordinatorKeyType === COORDINATOR_GROUP ? this.groupIds : this.coordinatorKeyType === COORDINATOR_TRANSACTION ? this.transactionalIds : undefined;
    for (const key of this.coordinatorKeys) into?.add(key);
  }
}

function nullCheck(f: FieldPlan, nullable: boolean, r: KafkaReader): void {
  if (!nullable) throw new KafkaDecodeError(`${f.name}: null in a non-nullable field`, r.offset);
}

function scanSingle(r: KafkaReader, f: FieldPlan, nullable: boolean, sink: FactSink): void {
  switch (f.type) {
    case 'bool':
      return r.skip(1);
    case 'int8': {
      const v = r.int8();
      const role = roleOf(f, sink.apiKey);
      if (role === 'resourceType') sink.resourceType = v;
      else if (role === 'coordinatorKeyType') sink.coordinatorKeyType = v;
      return;
    }
    case 'int16': {
      const v = r.int16();
      if (roleOf(f, sink.apiKey) === 'acks') sink.acks = v;
      return;
    }
    case 'uint16':
      return r.skip(2);
    case 'int32':
    case 'uint32':
      return r.skip(4);
    case 'int64':
    case 'float64':
      return r.skip(8);
    case 'uuid': {
      if (roleOf(f, sink.apiKey) !== 'topicId') return r.skip(16);
      const id = r.uuid();
      if (id !== ZERO_UUID) sink.topicIds.add(id);
      return;
    }
    case 'string': {
      const n = r.stringLength(f.compact);
      if (n < 0) return nullCheck(f, nullable, r);
      const role = roleOf(f, sink.apiKey);
      if (role) sink.string(role, r.utf8(n));
      else r.skip(n);
      return;
    }
    case 'bytes':
    case 'records': {
      const n = r.length(f.compact);
      if (n < 0) return nullCheck(f, nullable, r);
      return r.skip(n);
    }
    case 'struct':
      if (nullable && r.int8() < 0) return;
      return scanStruct(r, f.struct!, sink);
  }
}

function scanField(r: KafkaReader, f: FieldPlan, sink: FactSink): void {
  if (!f.array) return scanSingle(r, f, f.nullable, sink);
  const n = r.length(f.compact);
  if (n < 0) return nullCheck(f, f.nullable, r);
  if (n > r.remaining) throw new KafkaDecodeError(`${f.name}: ${n} elements declared, ${r.remaining} bytes left`, r.offset);
  for (let i = 0; i < n; i++) scanSingle(r, f, false, sink);
}

function scanStruct(r: KafkaReader, plan: StructPlan, sink: FactSink): void {
  for (const f of plan.fields) scanField(r, f, sink);
  if (plan.flexible) readTaggedSection(r, plan, (sub, f) => scanField(sub, f, sink), () => undefined);
}

/**
 * The facts policy decides on, from one request frame (4-byte size prefix included). Throws
 * KafkaDecodeError for unknown API keys, unsupported versions and malformed or trailing bytes:
 * the proxy must not forward what it cannot read.
 */
export function extractPolicyFacts(frame: Buffer): KafkaPolicyFacts {
  const r = new KafkaReader(frame, checkFrame(frame));
  const header = readRequestHeader(r);
  const plan = requirePlan(header.apiKey, header.apiVersion, 'request');
  const sink = new FactSink(header.apiKey);
  scanStruct(r, plan, sink);
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
    expectsResponse: !(header.apiKey === PRODUCE && sink.acks === 0),
  };
}
