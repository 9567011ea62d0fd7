// The APIs and versions the demo broker serves (and advertises in ApiVersions). Minimums leave out
// versions whose semantics the broker does not implement; maximums are the newest versions the codec's
// definitions hold whose meaning the handlers cover. Anything else is refused: ApiVersions with error 35,
// every other request by closing the connection, as Kafka does.
import { ApiKey, KAFKA_APIS, type KafkaVersionTable } from '../../../protocols/kafka/codec/index.js';

const RANGES: ReadonlyArray<readonly [apiKey: number, minVersion: number, maxVersion: number]> = [
  [ApiKey.Produce, 3, 11], // v3+: record batches (message format v2) only
  [ApiKey.Fetch, 4, 17], // v4+: always answers with whole v2 batches; v13+ by topic id
  [ApiKey.ListOffsets, 1, 10], // v0's "old style offsets" list is not implemented
  [ApiKey.Metadata, 0, 12],
  [ApiKey.OffsetCommit, 0, 9],
  [ApiKey.OffsetFetch, 1, 9], // v0 read ZooKeeper-stored offsets
  [ApiKey.FindCoordinator, 0, 6],
  [ApiKey.JoinGroup, 0, 9],
  [ApiKey.Heartbeat, 0, 4],
  [ApiKey.LeaveGroup, 0, 5],
  [ApiKey.SyncGroup, 0, 5],
  [ApiKey.ApiVersions, 0, 4],
  [ApiKey.InitProducerId, 0, 5],
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
  const own = BROKER_API_VERSIONS.get(ApiKey.ApiVersions)!;
  if (!(maxVersion >= own.minVersion && maxVersion <= own.maxVersion)) throw new Error(`demo broker: ApiVersions v${maxVersion} is outside v${own.minVersion}-${own.maxVersion}`);
  return new Map([...BROKER_API_VERSIONS, [ApiKey.ApiVersions, { minVersion: own.minVersion, maxVersion }]]);
}
