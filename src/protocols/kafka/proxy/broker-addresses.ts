// A non-transparent proxy must keep clients talking through it: every broker address a response
// advertises (Metadata and DescribeCluster brokers, FindCoordinator coordinators, the NodeEndpoints
// leader hints of Produce/Fetch/ShareFetch, Raft endpoints) is replaced by the proxy's address for that
// node. Which structs are addresses comes from the schema (a node id with Host and Port), not a list.
import { decodeResponse, encodeResponse, type KafkaStruct } from '../codec/codec.js';
import { messagePlan, type FieldPlan, type StructPlan } from '../codec/schema.js';

export interface KafkaBrokerEndpoint {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/** Where clients should reach `broker` instead; undefined leaves the entry unchanged. */
export type KafkaBrokerAddressMap = (broker: KafkaBrokerEndpoint) => { readonly host: string; readonly port: number } | undefined;

interface AddressFields {
  readonly id: FieldPlan;
  readonly host: FieldPlan;
  readonly port: FieldPlan;
}

const ID_NAMES = new Set(['NodeId', 'BrokerId', 'LeaderId']);
const addressFields = new WeakMap<StructPlan, AddressFields | null>();
const carries = new WeakMap<StructPlan, boolean>();

function addressFieldsOf(plan: StructPlan): AddressFields | null {
  let found = addressFields.get(plan);
  if (found !== undefined) return found;
  const all = [...plan.fields, ...plan.tagged].filter((f) => !f.array);
  const id = all.find((f) => f.type === 'int32' && ID_NAMES.has(f.name));
  const host = all.find((f) => f.type === 'string' && f.name === 'Host');
  const port = all.find((f) => (f.type === 'int32' || f.type === 'uint16') && f.name === 'Port');
  found = id && host && port ? { id, host, port } : null;
  addressFields.set(plan, found);
  return found;
}

function structCarriesAddresses(plan: StructPlan): boolean {
  let result = carries.get(plan);
  if (result === undefined) {
    result = addressFieldsOf(plan) !== null || [...plan.fields, ...plan.tagged].some((f) => f.struct !== undefined && structCarriesAddresses(f.struct));
    carries.set(plan, result);
  }
  return result;
}

/** Can responses of this API version contain broker addresses? (Cheap; lets the proxy skip the rest.) */
export function responseCarriesBrokerAddresses(apiKey: number, apiVersion: number): boolean {
  const plan = messagePlan(apiKey, apiVersion, 'response');
  return plan !== undefined && structCarriesAddresses(plan);
}

function rewrite(plan: StructPlan, value: KafkaStruct, map: KafkaBrokerAddressMap): boolean {
  let changed = false;
  const a = addressFieldsOf(plan);
  if (a) {
    const nodeId = value[a.id.key];
    const host = value[a.host.key];
    const port = value[a.port.key];
    // Node id -1 marks "no coordinator/leader" entries (errors): nothing to redirect.
    if (typeof nodeId === 'number' && nodeId >= 0 && typeof host === 'string' && typeof port === 'number') {
      const to = map({ nodeId, host, port });
      if (to && (to.host !== host || to.port !== port)) {
        value[a.host.key] = to.host;
        value[a.port.key] = to.port;
        changed = true;
      }
    }
  }
  for (const f of [...plan.fields, ...plan.tagged]) {
    const v = value[f.key];
    if (!f.struct || !structCarriesAddresses(f.struct) || v === null || v === undefined) continue;
    if (f.array) for (const e of v as readonly KafkaStruct[]) changed = rewrite(f.struct, e, map) || changed;
    else changed = rewrite(f.struct, v as KafkaStruct, map) || changed;
  }
  return changed;
}

/**
 * Replace the broker addresses in a response frame (answering a request of apiKey/apiVersion).
 * Returns the input frame itself when nothing changed. Throws KafkaDecodeError on malformed frames.
 */
export function rewriteBrokerAddresses(frame: Buffer, apiKey: number, apiVersion: number, map: KafkaBrokerAddressMap): Buffer {
  if (!responseCarriesBrokerAddresses(apiKey, apiVersion)) return frame;
  const { correlationId, body } = decodeResponse(frame, apiKey, apiVersion);
  const plan = messagePlan(apiKey, apiVersion, 'response')!;
  return rewrite(plan, body, map) ? encodeResponse(apiKey, apiVersion, correlationId, body) : frame;
}
