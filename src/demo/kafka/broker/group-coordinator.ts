// The broker's group coordinator: every consumer group (classic protocol) and its committed offsets.
// Requests are validated here the way Kafka's GroupCoordinator does before the group sees them.
import type { Logger } from 'pino';
import { ConsumerGroup, type GroupTimings, type JoinRequest, type JoinResult, type SyncResult } from './consumer-group.js';
import { OffsetStore } from './offset-store.js';
import { ErrorCode } from '../../../protocols/kafka/codec/index.js';

export interface GroupCoordinatorOptions extends GroupTimings {
  /** Kafka's group.min.session.timeout.ms is 6000; a demo allows shorter sessions so tests run fast. */
  readonly minSessionTimeoutMs: number;
  /** Kafka's group.max.session.timeout.ms. */
  readonly maxSessionTimeoutMs: number;
}

export const DEFAULT_GROUP_OPTIONS: GroupCoordinatorOptions = {
  initialRebalanceDelayMs: 300,
  minSessionTimeoutMs: 1000,
  maxSessionTimeoutMs: 1_800_000,
};

const EMPTY = Buffer.alloc(0);

export class GroupCoordinator {
  readonly offsets = new OffsetStore();
  private readonly groups = new Map<string, ConsumerGroup>();

  constructor(
    private readonly options: GroupCoordinatorOptions,
    private readonly log: Logger,
  ) {}

  join(groupId: string, req: JoinRequest): Promise<JoinResult> {
    const error = (errorCode: number): Promise<JoinResult> =>
      Promise.resolve({ errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId: req.memberId, members: [] });
    if (groupId === '') return error(ErrorCode.INVALID_GROUP_ID);
    if (req.sessionTimeoutMs < this.options.minSessionTimeoutMs || req.sessionTimeoutMs > this.options.maxSessionTimeoutMs) return error(ErrorCode.INVALID_SESSION_TIMEOUT);
    if (req.protocolType === '' || req.protocols.length === 0) return error(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const group = this.groups.get(groupId);
    if (!group && req.memberId !== '') return error(ErrorCode.UNKNOWN_MEMBER_ID);
    return (group ?? this.create(groupId)).join(req);
  }

  sync(groupId: string, memberId: string, generationId: number, protocolType: string | null, protocolName: string | null, assignments: ReadonlyMap<string, Buffer>): Promise<SyncResult> {
    const group = this.groups.get(groupId);
    if (!group) {
      return Promise.resolve({ errorCode: groupId === '' ? ErrorCode.INVALID_GROUP_ID : ErrorCode.UNKNOWN_MEMBER_ID, protocolType: null, protocolName: null, assignment: EMPTY });
    }
    return group.sync(memberId, generationId, protocolType, protocolName, assignments);
  }

  heartbeat(groupId: string, memberId: string, generationId: number): number {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    return this.groups.get(groupId)?.heartbeat(memberId, generationId) ?? ErrorCode.UNKNOWN_MEMBER_ID;
  }

  leave(groupId: string, memberId: string): number {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    return this.groups.get(groupId)?.leave(memberId) ?? ErrorCode.UNKNOWN_MEMBER_ID;
  }

  /** Whether this member may commit offsets for the group now (NONE, or the error to answer). */
  checkCommit(groupId: string, memberId: string, generationId: number): number {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const group = this.groups.get(groupId);
    if (group) return group.checkCommit(memberId, generationId);
    // No members: only commits from outside group management (generation -1) are accepted.
    return generationId < 0 ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  close(): void {
    for (const g of this.groups.values()) g.shutdown();
    this.groups.clear();
  }

  private create(groupId: string): ConsumerGroup {
    const group = new ConsumerGroup(groupId, this.options, this.log, (g) => {
      // Membership state of an empty group is worth nothing; its offsets live in the offset store.
      if (this.groups.get(g.id) === g) this.groups.delete(g.id);
    });
    this.groups.set(groupId, group);
    return group;
  }
}
