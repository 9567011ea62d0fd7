// Kafka L7 rules (`rules.kafka`, Cilium 1.17-1.19 semantics, cilium/proxy proxylib kafkalib/policy.go):
// role XOR apiKey, apiVersion, clientID, topic. Matching consumes topics: a request naming several
// topics is allowed only when applicable rules together cover every one of them.
import type { KafkaRequestFacts, RuleRef } from './types.js';
import { KAFKA_APIS } from './generated/kafka-api-keys.js';

/** Cilium's APIKeyMap names (keys 0-33). */
const CILIUM_API_NAMES: readonly string[] = [
  'produce', 'fetch', 'offsets', 'metadata', 'leaderandisr', 'stopreplica', 'updatemetadata', 'controlledshutdown',
  'offsetcommit', 'offsetfetch', 'findcoordinator', 'joingroup', 'heartbeat', 'leavegroup', 'syncgroup',
  'describegroups', 'listgroups', 'saslhandshake', 'apiversions', 'createtopics', 'deletetopics', 'deleterecords',
  'initproducerid', 'offsetforleaderepoch', 'addpartitionstotxn', 'addoffsetstotxn', 'endtxn', 'writetxnmarkers',
  'txnoffsetcommit', 'describeacls', 'createacls', 'deleteacls', 'describeconfigs', 'alterconfigs',
];

/** Cilium's names plus the lower-cased official name of every Kafka API. */
const API_KEY_BY_NAME: ReadonlyMap<string, number> = new Map([
  ...KAFKA_APIS.map((a) => [a.name.toLowerCase(), a.key] as const),
  ...CILIUM_API_NAMES.map((n, key) => [n, key] as const),
]);

export function kafkaApiKeyByName(name: string): number | undefined {
  return API_KEY_BY_NAME.get(name.toLowerCase());
}

/** How logs and reasons name an API key: Cilium's name, else the lower-cased official name, else the number. */
export function kafkaApiName(key: number): string {
  return CILIUM_API_NAMES[key] ?? KAFKA_APIS.find((a) => a.key === key)?.name.toLowerCase() ?? String(key);
}

/** Role expansion (Cilium kafka.go GetAPIKeys). */
export const KAFKA_ROLES: Readonly<Record<'produce' | 'consume', ReadonlySet<number>>> = {
  produce: new Set([0, 3, 18]),
  consume: new Set([1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18]),
};

/** Cilium's isTopicAPIKey list, extended with every API whose request carries topic names today. */
const TOPIC_API_KEYS: ReadonlySet<number> = new Set([
  0, 1, 2, 3, 4, 5, 6, 8, 9, 19, 20, 21, 23, 24, 27, 28, 34, 35, 37,
  ...KAFKA_APIS.filter((a) => a.topics).map((a) => a.key),
]);

export function isTopicApiKey(key: number): boolean {
  return TOPIC_API_KEYS.has(key);
}

export interface KafkaRule {
  readonly ref: RuleRef;
  /** null = any API key. */
  readonly apiKeys: ReadonlySet<number> | null;
  /** -1 = any version. */
  readonly apiVersion: number;
  /** '' = any client id. */
  readonly clientId: string;
  /** '' = any topic. */
  readonly topic: string;
  /** e.g. `role=produce topic=deathstar-plans`, for reasons. */
  readonly text: string;
}

export interface KafkaMatch {
  /** The rule that completed the match; undefined when the request is not allowed. */
  readonly rule: KafkaRule | undefined;
  /** Topics no applicable rule covered (for reasons). */
  readonly uncovered: readonly string[];
}

/** Rules are tried in order; each topic-constrained rule that fits removes its topic from the request's set. */
export function matchKafka(rules: readonly KafkaRule[], req: KafkaRequestFacts): KafkaMatch {
  const topicKey = isTopicApiKey(req.apiKey);
  const clientId = req.clientId ?? '';
  let remaining: Set<string> | undefined;
  for (const r of rules) {
    if (r.apiKeys && !r.apiKeys.has(req.apiKey)) continue;
    if (r.apiVersion >= 0 && r.apiVersion !== req.apiVersion) continue;
    if (r.clientId !== '' && r.clientId !== clientId) continue;
    if (r.topic !== '' && topicKey) {
      remaining ??= new Set(req.topics);
      if (!remaining.delete(r.topic)) continue;
      if (remaining.size === 0) return { rule: r, uncovered: [] };
      continue;
    }
    return { rule: r, uncovered: [] };
  }
  return { rule: undefined, uncovered: remaining ? [...remaining] : topicKey ? req.topics : [] };
}
