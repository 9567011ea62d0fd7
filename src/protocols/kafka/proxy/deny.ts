// Protocol-native answers to requests the proxy does not forward: a full response of the request's own
// API and version, same correlation id, with the error code in every error_code field. The response
// mirrors the request's entries (topics, partitions, groups, members, resources, coordinator keys) so
// clients can attribute the error, and uses Kafka's "unknown" sentinels (-1 offsets, node ids, ...)
// elsewhere. It is built from the schema for every API; a few per-API touches give the shape particular clients
// need (kafkajs, librdkafka and the Java client, checked by the interop tests).
import { decodeRequest, defaultStruct, defaultValue, encodeResponse, requirePlan, type DecodedRequest, type KafkaStruct, type KafkaValue } from '../codec/codec.js';
import type { FieldPlan, StructPlan } from '../codec/schema.js';
import { ApiKey } from '../codec/generated/api-keys.js';

export interface KafkaBrokerAddress {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly rack?: string | null;
}

export interface KafkaResponseOptions {
  /** Put this text in ErrorMessage fields (clients such as librdkafka show it); default null/empty. */
  readonly errorMessage?: string;
  /**
   * Metadata and DescribeCluster: the brokers to report (normally the proxy's own address). Without
   * them the list is empty, which is what Cilium sends and what breaks clients.
   */
  readonly brokers?: readonly KafkaBrokerAddress[];
  readonly controllerId?: number;
  readonly clusterId?: string | null;
}

const EMPTY_RECORDS = Buffer.alloc(0);

// Fields that identify an entry, so a response entry can be matched to the request entry it answers.
const IDENTITY_ENTITIES = new Set(['topicName', 'groupId', 'transactionalId']);
const PARTITION_FIELDS = new Set(['Index', 'Partition', 'PartitionIndex', 'PartitionId', 'PartitionIndexes', 'Partitions']);
const IDENTITY_NAMES = new Set(['MemberId', 'GroupInstanceId', 'ResourceType', 'ResourceName', 'Key']);
/** FindCoordinator v4+ asks with CoordinatorKeys[] and answers with Coordinators[Key]. */
const IDENTITY_ALIASES: ReadonlyMap<string, string> = new Map([['CoordinatorKeys', 'Key']]);
/** Ids and epochs whose "unknown" value is -1 but whose definitions give no default. */
const MINUS_ONE = new Set(['NodeId', 'Port', 'LeaderId', 'LeaderEpoch', 'ProducerEpoch', 'GenerationId', 'ControllerId']);

function identityOf(f: FieldPlan): string | undefined {
  const entity = f.definition.entityType;
  if (entity !== undefined && IDENTITY_ENTITIES.has(entity)) return entity;
  if (f.type === 'uuid' && f.name === 'TopicId') return 'topicId';
  if (f.type === 'int32' && PARTITION_FIELDS.has(f.name)) return 'partition';
  if (IDENTITY_NAMES.has(f.name)) return f.name;
  return IDENTITY_ALIASES.get(f.name);
}

/** One request entry a response entry is built from: a struct element, or one value of a primitive array. */
interface Source {
  readonly plan?: StructPlan;
  readonly value?: KafkaStruct;
  readonly scalar?: { readonly identity: string; readonly type: string; readonly value: KafkaValue };
}
const NO_SOURCE: Source = {};

function identitiesOfStruct(plan: StructPlan): Set<string> {
  const ids = new Set<string>();
  for (const f of plan.fields) {
    const id = f.array ? undefined : identityOf(f);
    if (id) ids.add(id);
  }
  return ids;
}

function sourceValue(src: Source, identity: string, f: FieldPlan): KafkaValue | undefined {
  if (src.scalar) return src.scalar.identity === identity && src.scalar.type === f.type ? src.scalar.value : undefined;
  if (!src.plan || !src.value) return undefined;
  for (const g of src.plan.fields) {
    if (!g.array && g.type === f.type && identityOf(g) === identity) return src.value[g.key];
  }
  return undefined;
}

/** The request array a response array answers: one sharing an identity, preferably of the same name. */
function sourceEntries(f: FieldPlan, src: Source): Source[] | undefined {
  if (!src.plan || !src.value) return undefined;
  const wanted = identitiesOfStruct(f.struct!);
  let match: FieldPlan | undefined;
  for (const g of src.plan.fields) {
    if (!g.array) continue;
    const ids = g.struct ? identitiesOfStruct(g.struct) : new Set([identityOf(g)]);
    if (![...ids].some((id) => id !== undefined && wanted.has(id))) continue;
    if (!match || g.name === f.name) match = g;
    if (g.name === f.name) break;
  }
  if (!match) return undefined;
  const entries = src.value[match.key];
  if (!Array.isArray(entries)) return []; // a null request list (e.g. "all topics") has no entries to answer
  const g = match;
  return (entries as readonly KafkaValue[]).map((e) =>
    g.struct ? { plan: g.struct, value: e as KafkaStruct } : { scalar: { identity: identityOf(g)!, type: g.type, value: e } },
  );
}

interface Fill {
  readonly errorCode: number;
  readonly errorMessage: string | undefined;
}

function fillField(f: FieldPlan, src: Source, fill: Fill): KafkaValue {
  if (!f.array && f.type === 'int16' && f.name.endsWith('ErrorCode')) return fill.errorCode;
  // No message by default: librdkafka prints a non-null error_message instead of the error code's text.
  if (!f.array && f.type === 'string' && f.name === 'ErrorMessage') return fill.errorMessage ?? (f.nullable ? null : '');
  if (f.array) {
    const entries = f.struct ? sourceEntries(f, src) : undefined;
    return entries ? entries.map((e) => fillStruct(f.struct!, e, fill)) : defaultValue(f);
  }
  // Kafka answers failed partitions with an empty record set; librdkafka rejects a null one outright.
  if (f.type === 'records') return EMPTY_RECORDS;
  const identity = identityOf(f);
  const mirrored = identity === undefined ? undefined : sourceValue(src, identity, f);
  // A request may allow null where its response does not (Metadata v10-11 topics asked by id).
  if (mirrored !== undefined && (mirrored !== null || f.nullable)) return mirrored;
  if (f.type === 'struct') return f.nullable ? null : fillStruct(f.struct!, NO_SOURCE, fill);
  if (f.definition.default === undefined) {
    if (f.type === 'int64') return -1n; // offsets, timestamps, producer ids: -1 is Kafka's "unknown"
    if ((f.type === 'int32' || f.type === 'int16') && MINUS_ONE.has(f.name)) return -1;
  }
  return defaultValue(f);
}

function fillStruct(plan: StructPlan, src: Source, fill: Fill): KafkaStruct {
  const out: KafkaStruct = {};
  for (const f of plan.fields) out[f.key] = fillField(f, src, fill);
  return out;
}

function brokerEntries(plan: StructPlan, brokers: readonly KafkaBrokerAddress[]): KafkaStruct[] {
  return brokers.map((b) => {
    const entry = defaultStruct(plan);
    for (const f of plan.fields) {
      if (f.name === 'NodeId' || f.name === 'BrokerId') entry[f.key] = b.nodeId;
      else if (f.name === 'Host') entry[f.key] = b.host;
      else if (f.name === 'Port') entry[f.key] = b.port;
      else if (f.name === 'Rack' && b.rack !== undefined) entry[f.key] = b.rack;
    }
    return entry;
  });
}

/**
 * The response body answering `request` with `errorCode` everywhere an error code goes (0 builds a
 * well-formed empty success, which tests use to play broker).
 */
export function buildResponseBody(request: DecodedRequest, errorCode: number, options: KafkaResponseOptions = {}): KafkaStruct {
  const { apiKey, apiVersion } = request.header;
  const plan = requirePlan(apiKey, apiVersion, 'response');
  const reqPlan = requirePlan(apiKey, apiVersion, 'request');
  const body = fillStruct(plan, { plan: reqPlan, value: request.body }, { errorCode, errorMessage: options.errorMessage });
  for (const f of plan.fields) {
    if (f.name === 'Brokers' && f.struct && options.brokers) body[f.key] = brokerEntries(f.struct, options.brokers);
    else if (f.name === 'ControllerId' && options.controllerId !== undefined) body[f.key] = options.controllerId;
    else if (f.name === 'ClusterId' && options.clusterId !== undefined && (options.clusterId !== null || f.nullable)) body[f.key] = options.clusterId;
  }
  if (apiKey === ApiKey.Fetch) shapeFetch(body, errorCode);
  return body;
}

/**
 * Fetch: errors belong to partitions (top-level error_code stays 0 unless there is no partition to
 * carry it), and aborted_transactions is null (wire notes §4d).
 */
function shapeFetch(body: KafkaStruct, errorCode: number): void {
  const topics = (body.responses ?? []) as readonly KafkaStruct[];
  if ('errorCode' in body) body.errorCode = topics.length > 0 ? 0 : errorCode;
  for (const t of topics) for (const p of (t.partitions ?? []) as readonly KafkaStruct[]) if ('abortedTransactions' in p) p.abortedTransactions = null;
}

/**
 * A complete response frame (size prefix included) denying `requestFrame` with `errorCode`
 * (29 topic, 30 group, 31 cluster), or null when the request expects no response (Produce acks=0):
 * answering it would desynchronise the client's correlation ids. ApiVersions should never be denied
 * this way (clients cannot negotiate); close the connection instead.
 * Throws KafkaDecodeError when the request cannot be decoded.
 */
export function buildDenyResponse(requestFrame: Buffer, errorCode: number, options: KafkaResponseOptions = {}): Buffer | null {
  const request = decodeRequest(requestFrame);
  const { apiKey, apiVersion, correlationId } = request.header;
  if (apiKey === ApiKey.Produce && request.body.acks === 0) return null;
  return encodeResponse(apiKey, apiVersion, correlationId, buildResponseBody(request, errorCode, options));
}
