// The APIs and versions the demo broker serves (and advertises in ApiVersions). Minimums leave out
// versions whose semantics the broker does not implement; maximums are the newest versions the codec's
// definitions hold whose meaning the handlers cover. Anything else is refused: ApiVersions with error 35,
// every other request by closing the connection, as Kafka does.
import { KAFKA_APIS, type KafkaVersionTable } from '../../../protocols/kafka/codec/index.js';

export const PRODUCE = 0;
export const FETCH = 1;
export const LIST_OFFSETS = 2;
export const METADATA = 3;
export const OFFSET_COMMIT = 8;
export const OFFSET_FETCH = 9;
export const FIND_COORDINATOR = 10;
export const JOIN_GROUP = 11;
export const HEARTBEAT = 12;
export const LEAVE_GROUP = 13;
export const SYNC_GROUP = 14;
export const API_VERSIONS = 18;
export const INIT_PRODUCER_ID = 22;

const RANGES: ReadonlyArray<readonly [apiKey: number, minVersion: number, maxVersion: number]> = [
  [PRODUCE, 3, 11], // v3+: record batches (message format v2) only
  [FETCH, 4, 17], // v4+: always answers with whole v2 batches; v13+ by topic id
  [LIST_OFFSETS, 1, 10], // v0's "old style offsets" list is not implemented
  [METADATA, 0, 12],
  [OFFSET_COMMIT, 0, 9],
  [OFFSET_FETCH, 1, 9], // v0 read ZooKeeper-stored offsets
  [FIND_COORDINATOR, 0, 6],
  [JOIN_GROUP, 0, 9],
  [HEARTBEAT, 0, 4],
  [LEAVE_GROUP, 0, 5],
  [SYNC_GROUP, 0, 5],
  [API_VERSIONS, 0, 4],
  [INIT_PRODUCER_ID, 0, 5],
];

export const BROKER_API_VERSIONS: KafkaVersionTable = new Map(
  RANGES.map(([apiKey, minVersion, maxVersion]) => {
    const codec = KAFKA_APIS.get(apiKey);
    // A codec regenerated from older definitions must not leave the broker advertising what it cannot encode.
    if (!codec || codec.maxVersion < maxVersion || codec.minVersion > minVersion) {
      throw new Error(`demo broker: the Kafka codec does not cover API ${apiKey} v${minVersion}-${maxVersion}`);
    }
    return [apiKey, { minVersion, maxVersion }];
  }),
);

/**
 * The broker's table with ApiVersions served up to `maxVersion` only, like an older Kafka (2.x serves v0-2):
 * newer ApiVersions requests get the v0 error-35 answer clients must handle (KIP-511).
 */
export function withApiVersionsUpTo(maxVersion: number): KafkaVersionTable {
  const own = BROKER_API_VERSIONS.get(API_VERSIONS)!;
  if (!(maxVersion >= own.minVersion && maxVersion <= own.maxVersion)) throw new Error(`demo broker: ApiVersions v${maxVersion} is outside v${own.minVersion}-${own.maxVersion}`);
  return new Map([...BROKER_API_VERSIONS, [API_VERSIONS, { minVersion: own.minVersion, maxVersion }]]);
}
