// Typed views of the decoded request bodies this broker reads. The codec decodes by schema, so every
// non-tagged field of the request's version is present; fields that only some versions have are optional.
export interface MetadataRequest {
  readonly topics: ReadonlyArray<{ readonly topicId?: string; readonly name: string | null }> | null;
  readonly allowAutoTopicCreation?: boolean;
}

export interface ProduceRequest {
  readonly transactionalId?: string | null;
  readonly acks: number;
  readonly topicData: ReadonlyArray<{
    readonly name: string;
    readonly partitionData: ReadonlyArray<{ readonly index: number; readonly records: Buffer | null }>;
  }>;
}

export interface FetchRequest {
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes?: number;
  readonly sessionId?: number;
  readonly sessionEpoch?: number;
  readonly topics: ReadonlyArray<{
    readonly topic?: string;
    readonly topicId?: string;
    readonly partitions: ReadonlyArray<{ readonly partition: number; readonly fetchOffset: bigint; readonly partitionMaxBytes: number }>;
  }>;
}

export interface ListOffsetsRequest {
  readonly topics: ReadonlyArray<{
    readonly name: string;
    readonly partitions: ReadonlyArray<{ readonly partitionIndex: number; readonly timestamp: bigint }>;
  }>;
}

export interface FindCoordinatorRequest {
  readonly key?: string;
  readonly keyType?: number;
  readonly coordinatorKeys?: readonly string[];
}

export interface JoinGroupRequest {
  readonly groupId: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs?: number;
  readonly memberId: string;
  readonly groupInstanceId?: string | null;
  readonly protocolType: string;
  readonly protocols: ReadonlyArray<{ readonly name: string; readonly metadata: Buffer }>;
}

export interface SyncGroupRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly protocolType?: string | null;
  readonly protocolName?: string | null;
  readonly assignments: ReadonlyArray<{ readonly memberId: string; readonly assignment: Buffer }>;
}

export interface HeartbeatRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
}

export interface LeaveGroupRequest {
  readonly groupId: string;
  readonly memberId?: string;
  readonly members?: ReadonlyArray<{ readonly memberId: string; readonly groupInstanceId: string | null }>;
}

export interface OffsetCommitRequest {
  readonly groupId: string;
  readonly generationIdOrMemberEpoch?: number;
  readonly memberId?: string;
  readonly topics: ReadonlyArray<{
    readonly name: string;
    readonly partitions: ReadonlyArray<{
      readonly partitionIndex: number;
      readonly committedOffset: bigint;
      readonly committedLeaderEpoch?: number;
      readonly committedMetadata: string | null;
    }>;
  }>;
}

export type OffsetFetchTopics = ReadonlyArray<{ readonly name: string; readonly partitionIndexes: readonly number[] }> | null;

export interface OffsetFetchRequest {
  /** v0-7. */
  readonly groupId?: string;
  readonly topics?: OffsetFetchTopics;
  /** v8+. */
  readonly groups?: ReadonlyArray<{ readonly groupId: string; readonly topics: OffsetFetchTopics }>;
}

export interface InitProducerIdRequest {
  readonly transactionalId: string | null;
}
