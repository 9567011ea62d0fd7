// Kafka message schemas: the generated definitions (their shape is in message-definition.ts) and their per-version
// "plans" — the field list of one (message, version) with nullability, compact encoding and tags already resolved,
// so the codec's inner loops never look at version ranges.
import { KAFKA_MESSAGE_DEFINITIONS } from './generated/messages.js';
import type { KafkaFieldDefinition, KafkaMessageDefinition, KafkaPrimitiveType, VersionRange } from './message-definition.js';

/** One field as it exists in one version. */
export interface FieldPlan {
  /** Name in the definitions (`TopicData`). */
  readonly name: string;
  /** Property name in decoded objects (`topicData`). */
  readonly key: string;
  readonly type: KafkaPrimitiveType | 'struct';
  readonly array: boolean;
  readonly nullable: boolean;
  /** Compact (flexible) length encoding for strings, bytes, records and arrays. */
  readonly compact: boolean;
  /** Set when the field travels in the tagged-field section in this version. */
  readonly tag: number | undefined;
  readonly struct: StructPlan | undefined;
  readonly definition: KafkaFieldDefinition;
}

export interface StructPlan {
  /** Fields written in order (tagged ones excluded). */
  readonly fields: readonly FieldPlan[];
  /** Tagged fields, ascending by tag. */
  readonly tagged: readonly FieldPlan[];
  readonly byTag: ReadonlyMap<number, FieldPlan>;
  /** Flexible versions end every struct with a tagged-field section. */
  readonly flexible: boolean;
}

export interface MessagePlan extends StructPlan {
  readonly apiKey: number;
  readonly version: number;
  readonly definition: KafkaMessageDefinition;
}

function inRange(range: VersionRange | null | undefined, version: number): boolean {
  return range != null && version >= range[0] && version <= range[1];
}

/** Property names: the definition name with a lower-case first letter (`TopicData` → `topicData`). */
function propertyName(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function planStruct(fields: readonly KafkaFieldDefinition[], version: number, flexible: boolean): StructPlan {
  const ordered: FieldPlan[] = [];
  const tagged: FieldPlan[] = [];
  for (const f of fields) {
    if (!inRange(f.versions, version)) continue;
    const tag = f.tag !== undefined && inRange(f.taggedVersions, version) ? f.tag : undefined;
    const plan: FieldPlan = {
      name: f.name,
      key: propertyName(f.name),
      type: f.type,
      array: f.array === true,
      nullable: inRange(f.nullableVersions, version),
      compact: flexible && (f.flexibleVersions === undefined || inRange(f.flexibleVersions, version)),
      tag,
      struct: f.fields ? planStruct(f.fields, version, flexible) : undefined,
      definition: f,
    };
    (tag === undefined ? ordered : tagged).push(plan);
  }
  tagged.sort((a, b) => (a.tag ?? 0) - (b.tag ?? 0));
  return { fields: ordered, tagged, byTag: new Map(tagged.map((p) => [p.tag ?? 0, p])), flexible };
}

interface ApiEntry {
  readonly request: KafkaMessageDefinition;
  readonly response: KafkaMessageDefinition;
  /** Plans built so far, by version. */
  readonly plans: { readonly request: MessagePlan[]; readonly response: MessagePlan[] };
}

const APIS = new Map<number, ApiEntry>();
for (const request of KAFKA_MESSAGE_DEFINITIONS) {
  if (request.type !== 'request') continue;
  const response = KAFKA_MESSAGE_DEFINITIONS.find((d) => d.type === 'response' && d.apiKey === request.apiKey);
  // The generator refuses definitions without a matching response; this guards hand edits.
  if (!response) throw new Error(`Kafka definitions: ${request.name} has no response`);
  APIS.set(request.apiKey, { request, response, plans: { request: [], response: [] } });
}

export interface KafkaApiInfo {
  readonly apiKey: number;
  /** `Produce`, `Fetch`, `Metadata`, ... (the definition name without Request/Response). */
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** The newest version is still under development upstream (brokers only offer it when configured to). */
  readonly latestVersionUnstable: boolean;
  /** First flexible version, or undefined when no version is flexible. */
  readonly firstFlexibleVersion: number | undefined;
}

/** Every API the codec speaks, by key, with the versions it parses. */
export const KAFKA_APIS: ReadonlyMap<number, KafkaApiInfo> = new Map(
  [...APIS.values()].map(({ request: r }) => [
    r.apiKey,
    {
      apiKey: r.apiKey,
      name: r.name.replace(/Request$/, ''),
      minVersion: r.validVersions[0],
      maxVersion: r.validVersions[1],
      latestVersionUnstable: r.latestVersionUnstable,
      firstFlexibleVersion: r.flexibleVersions?.[0],
    },
  ]),
);

export function isSupportedVersion(apiKey: number, version: number): boolean {
  const api = KAFKA_APIS.get(apiKey);
  return api !== undefined && version >= api.minVersion && version <= api.maxVersion;
}

/** Is this (api, version) encoded with compact types and tagged fields? Known keys only. */
export function isFlexibleVersion(apiKey: number, version: number): boolean {
  return inRange(APIS.get(apiKey)?.request.flexibleVersions, version);
}

/** The plan of one message version, built once and cached; undefined for unknown keys or versions. */
export function messagePlan(apiKey: number, version: number, type: 'request' | 'response'): MessagePlan | undefined {
  const entry = APIS.get(apiKey);
  if (!entry || !inRange(entry[type].validVersions, version)) return undefined;
  let plan = entry.plans[type][version];
  if (!plan) {
    const d = entry[type];
    plan = { ...planStruct(d.fields, version, inRange(d.flexibleVersions, version)), apiKey, version, definition: d };
    entry.plans[type][version] = plan;
  }
  return plan;
}
