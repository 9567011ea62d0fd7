// The policy engine's public API: load and validate CNP/CCNP documents, build a snapshot, decide flows.
export * from './types.js';
export { parsePolicyText, loadPolicyPaths } from './load.js';
export type { PolicyDocument } from './load.js';
export { buildSnapshot, MAX_CACHED_CONNECTIONS } from './snapshot.js';
export type { SnapshotInput } from './snapshot.js';
export { buildEndpointRegistry, defaultLocalAddresses } from './endpoints.js';
export { kafkaApiName, kafkaApiKeyByName } from './kafka-api-keys.js';
export { describeIdentity } from './identity.js';
