// The API versions the proxy lets clients use: what the codec parses (CODEC_API_VERSIONS), minus the
// versions whose requests name topics only by id.
//
// SaslHandshake v0 stays offered but is refused when sent: after it the SASL tokens follow as bare bytes, not
// Kafka requests, which a proxy that reads every frame cannot pass. From v1 they travel in SaslAuthenticate
// requests like any other. Clients send v1 (the highest offered); librdkafka enables SASL only when v0 is listed.
//
// Topic ids: policy names topics, and a request that carries only ids (Fetch v13+, Produce v13+,
// OffsetCommit/OffsetFetch v10+, ...) gives the policy nothing to match a `topic` rule against. Of the
// two ways out (clamp the versions, or learn id→name from Metadata) the proxy clamps: ApiVersions answers never offer those versions,
// so clients use the name-based versions every broker still serves, and there is no id→name map that
// could go stale between a Metadata response and the next Fetch. Versions that carry a name next to the
// id (Metadata v10+, DeleteTopics v6+) stay: their topics are checked by name, and a request that leaves
// the name null is matched with no topic names at all — so any `topic` rule denies it (fail closed).
// Which versions are id-only is read from the schema, not listed by hand.
import { CODEC_API_VERSIONS, type KafkaVersionRange, type KafkaVersionTable } from '../codec/api-versions.js';
import { messagePlan, type StructPlan } from '../codec/schema.js';
import { ApiKey } from '../codec/generated/api-keys.js';

/** Some struct identifies a topic by a TopicId UUID without a topic-name field beside it. */
function namesTopicsOnlyById(plan: StructPlan): boolean {
  const fields = [...plan.fields, ...plan.tagged];
  const byId = fields.some((f) => f.type === 'uuid' && f.name === 'TopicId' && !f.array);
  const byName = fields.some((f) => f.type === 'string' && f.definition.entityType === 'topicName');
  if (byId && !byName) return true;
  return fields.some((f) => f.struct !== undefined && namesTopicsOnlyById(f.struct));
}

function withoutTopicIdVersions(apiKey: number, range: KafkaVersionRange): KafkaVersionRange | undefined {
  let max = range.maxVersion;
  while (max >= range.minVersion && namesTopicsOnlyById(messagePlan(apiKey, max, 'request')!)) max--;
  return max < range.minVersion ? undefined : { minVersion: range.minVersion, maxVersion: max };
}

export const PROXY_API_VERSIONS: KafkaVersionTable = new Map(
  [...CODEC_API_VERSIONS].flatMap(([apiKey, range]): [number, KafkaVersionRange][] => {
    const kept = withoutTopicIdVersions(apiKey, range);
    return kept ? [[apiKey, kept]] : [];
  }),
);

/** May a client send this API version through the proxy? What ApiVersions answers offer, except SaslHandshake v0. */
export function proxyAcceptsVersion(apiKey: number, apiVersion: number): boolean {
  if (apiKey === ApiKey.SaslHandshake && apiVersion === 0) return false;
  const range = PROXY_API_VERSIONS.get(apiKey);
  return range !== undefined && apiVersion >= range.minVersion && apiVersion <= range.maxVersion;
}
