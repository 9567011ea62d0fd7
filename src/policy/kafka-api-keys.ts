// Kafka API keys as policy names them: Cilium's APIKeyMap names (keys 0-33) plus the lower-cased official
// name of every API, role expansion, and which APIs carry topic names (Cilium's list + today's APIs).
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
