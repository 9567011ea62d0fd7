// The shape of Apache Kafka's message definitions as scripts/generate-kafka.mjs writes them into generated/.

/** Inclusive [min, max]; max 32767 stands for "and every later version". */
export type VersionRange = readonly [number, number];

export type KafkaPrimitiveType =
  | 'bool' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'float64'
  | 'string' | 'uuid' | 'bytes' | 'records';

export interface KafkaFieldDefinition {
  readonly name: string;
  readonly type: KafkaPrimitiveType | 'struct';
  readonly array?: boolean;
  readonly versions: VersionRange;
  readonly nullableVersions?: VersionRange;
  readonly tag?: number;
  readonly taggedVersions?: VersionRange;
  /** Field-level override of the message's flexible versions (null = never compact). */
  readonly flexibleVersions?: VersionRange | null;
  readonly default?: string | number | boolean | null;
  /** topicName, groupId, transactionalId, brokerId, producerId, ... */
  readonly entityType?: string;
  readonly fields?: readonly KafkaFieldDefinition[];
}

export interface KafkaMessageDefinition {
  readonly apiKey: number;
  readonly name: string;
  readonly type: 'request' | 'response';
  readonly validVersions: VersionRange;
  readonly flexibleVersions: VersionRange | null;
  readonly latestVersionUnstable: boolean;
  readonly fields: readonly KafkaFieldDefinition[];
}
