// Kafka API key names as Cilium prints them in Hubble flows (`ApiKeyToString` in cilium/kafka, the same names
// the policy language accepts for `apiKey`). Keys Cilium never named are printed as decimal numbers, exactly
// as Hubble does, so `hubble observe`-style tooling sees identical values.
const CILIUM_API_KEY_NAMES: readonly string[] = [
  'produce', 'fetch', 'offsets', 'metadata', 'leaderandisr', 'stopreplica', 'updatemetadata',
  'controlledshutdown', 'offsetcommit', 'offsetfetch', 'findcoordinator', 'joingroup', 'heartbeat',
  'leavegroup', 'syncgroup', 'describegroups', 'listgroups', 'saslhandshake', 'apiversions', 'createtopics',
  'deletetopics', 'deleterecords', 'initproducerid', 'offsetforleaderepoch', 'addpartitionstotxn',
  'addoffsetstotxn', 'endtxn', 'writetxnmarkers', 'txnoffsetcommit', 'describeacls', 'createacls',
  'deleteacls', 'describeconfigs', 'alterconfigs',
];

/** Hubble's `l7.kafka.api_key` string for a numeric API key: Cilium's name, else the decimal number. */
export function kafkaApiKeyName(apiKey: number): string {
  return CILIUM_API_KEY_NAMES[apiKey] ?? String(apiKey);
}

const NAMES = new Set(CILIUM_API_KEY_NAMES);

/** True for the names `kafkaApiKeyName` can return other than decimals (case-insensitive). */
export function isKafkaApiKeyName(name: string): boolean {
  return NAMES.has(name.toLowerCase());
}
