// One consumer group under Kafka's classic rebalance protocol, reduced to what a single in-memory
// coordinator needs: Empty → PreparingRebalance (wait until every member has re-sent JoinGroup, or the
// rebalance timeout drops the ones that did not) → CompletingRebalance (the leader got every member's
// metadata and computes the assignment) → Stable (SyncGroup handed it out). A member that stops
// heartbeating for its session timeout is removed, which starts the next rebalance.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ErrorCode } from '../../../protocols/kafka/codec/index.js';

type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

export interface GroupProtocol {
  readonly name: string;
  readonly metadata: Buffer;
}

export interface JoinRequest {
  /** '' for a new member. */
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly protocolType: string;
  readonly protocols: readonly GroupProtocol[];
}

export interface JoinResult {
  readonly errorCode: number;
  readonly generationId: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly leader: string;
  readonly memberId: string;
  /** Every member's metadata for the chosen protocol: the leader's copy only. */
  readonly members: ReadonlyArray<{ readonly memberId: string; readonly groupInstanceId: string | null; readonly metadata: Buffer }>;
}

export interface SyncResult {
  readonly errorCode: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly assignment: Buffer;
}

export interface GroupTimings {
  /** Wait this long after the first member joins an empty group, so members starting together share one generation. */
  readonly initialRebalanceDelayMs: number;
}

const EMPTY = Buffer.alloc(0);

class Member {
  sessionTimeoutMs = 0;
  rebalanceTimeoutMs = 0;
  protocols: readonly GroupProtocol[] = [];
  assignment: Buffer = EMPTY;
  awaitingJoin: ((r: JoinResult) => void) | undefined;
  awaitingSync: ((r: SyncResult) => void) | undefined;
  private sessionTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    readonly groupInstanceId: string | null,
  ) {}

  /** Restart the session clock (every heartbeat, sync and commit proves the member alive). */
  touch(onExpiry: (m: Member) => void): void {
    clearTimeout(this.sessionTimer);
    this.sessionTimer = setTimeout(() => onExpiry(this), this.sessionTimeoutMs);
  }

  /** A member waiting in JoinGroup cannot heartbeat; the rebalance timeout bounds it instead. */
  stopSessionClock(): void {
    clearTimeout(this.sessionTimer);
    this.sessionTimer = undefined;
  }
}

export class ConsumerGroup {
  private state: GroupState = 'Empty';
  private generation = 0;
  private protocolType: string | null = null;
  private protocolName: string | null = null;
  private leaderId: string | null = null;
  private readonly members = new Map<string, Member>();
  private rebalanceTimer: NodeJS.Timeout | undefined;
  private initialDelayTimer: NodeJS.Timeout | undefined;
  private readonly expire = (m: Member): void => this.removeMember(m, `session timeout (${m.sessionTimeoutMs} ms) expired`);

  constructor(
    readonly id: string,
    private readonly timings: GroupTimings,
    private readonly log: Logger,
    /** Called when the group has no members left. */
    private readonly onEmpty: (group: ConsumerGroup) => void,
  ) {}

  join(req: JoinRequest): Promise<JoinResult> {
    const existing = req.memberId === '' ? undefined : this.members.get(req.memberId);
    if (req.memberId !== '' && !existing) return Promise.resolve(this.joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
    if (!this.acceptsProtocols(req, existing)) return Promise.resolve(this.joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId));

    let member = existing;
    if (!member) {
      // Kafka's member id shape: the client id and a UUID.
      member = new Member(`${req.clientId}-${randomUUID()}`, req.groupInstanceId);
      if (this.members.size === 0) this.protocolType = req.protocolType;
      this.members.set(member.id, member);
    }
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.protocols = req.protocols;
    member.stopSessionClock();
    // The same member joining again before the last join finished (a client retry): answer the old one.
    member.awaitingJoin?.(this.joinError(ErrorCode.REBALANCE_IN_PROGRESS, member.id));
    const result = new Promise<JoinResult>((resolve) => (member.awaitingJoin = resolve));
    if (this.state === 'PreparingRebalance') this.maybeCompleteJoin();
    else this.prepareRebalance(`member ${member.id} joined`);
    return result;
  }

  sync(memberId: string, generationId: number, protocolType: string | null, protocolName: string | null, assignments: ReadonlyMap<string, Buffer>): Promise<SyncResult> {
    const member = this.members.get(memberId);
    if (!member) return Promise.resolve(this.syncResult(ErrorCode.UNKNOWN_MEMBER_ID));
    if (generationId !== this.generation) return Promise.resolve(this.syncResult(ErrorCode.ILLEGAL_GENERATION));
    if ((protocolType !== null && protocolType !== this.protocolType) || (protocolName !== null && protocolName !== this.protocolName)) {
      return Promise.resolve(this.syncResult(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }
    if (this.state === 'PreparingRebalance') return Promise.resolve(this.syncResult(ErrorCode.REBALANCE_IN_PROGRESS));
    member.touch(this.expire);
    if (this.state === 'Stable') return Promise.resolve(this.syncResult(ErrorCode.NONE, member.assignment));

    // CompletingRebalance: followers wait for the leader's assignment.
    member.awaitingSync?.(this.syncResult(ErrorCode.REBALANCE_IN_PROGRESS));
    const result = new Promise<SyncResult>((resolve) => (member.awaitingSync = resolve));
    if (member.id === this.leaderId) {
      for (const m of this.members.values()) m.assignment = assignments.get(m.id) ?? EMPTY;
      this.state = 'Stable';
      this.log.info({ group: this.id, generation: this.generation }, 'consumer group stable');
      for (const m of this.members.values()) this.answerSync(m, this.syncResult(ErrorCode.NONE, m.assignment));
    }
    return result;
  }

  heartbeat(memberId: string, generationId: number): number {
    const member = this.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== this.generation) return ErrorCode.ILLEGAL_GENERATION;
    member.touch(this.expire);
    return this.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  leave(memberId: string): number {
    const member = this.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.removeMember(member, 'left the group');
    return ErrorCode.NONE;
  }

  /** OffsetCommit's membership check (Kafka's GroupCoordinator.handleCommitOffsets). */
  checkCommit(memberId: string, generationId: number): number {
    // Consumers outside group management commit with generation -1 to a group nobody is in.
    if (generationId < 0 && this.state === 'Empty') return ErrorCode.NONE;
    const member = this.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== this.generation) return ErrorCode.ILLEGAL_GENERATION;
    if (this.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    member.touch(this.expire);
    return ErrorCode.NONE;
  }

  /** Broker shutdown: stop every timer and release every waiting request. */
  shutdown(): void {
    clearTimeout(this.rebalanceTimer);
    clearTimeout(this.initialDelayTimer);
    for (const m of this.members.values()) {
      m.stopSessionClock();
      this.answerJoin(m, this.joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, m.id));
      this.answerSync(m, this.syncResult(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    }
    this.members.clear();
  }

  // ------------------------------------------------------------------------------------------ rebalance

  private prepareRebalance(reason: string): void {
    for (const m of this.members.values()) this.answerSync(m, this.syncResult(ErrorCode.REBALANCE_IN_PROGRESS));
    const fromEmpty = this.state === 'Empty';
    this.state = 'PreparingRebalance';
    this.log.info({ group: this.id, generation: this.generation, reason }, 'consumer group rebalancing');
    const rebalanceTimeoutMs = Math.max(0, ...[...this.members.values()].map((m) => m.rebalanceTimeoutMs));
    clearTimeout(this.rebalanceTimer);
    this.rebalanceTimer = setTimeout(() => this.completeJoin(), rebalanceTimeoutMs);
    if (fromEmpty && this.timings.initialRebalanceDelayMs > 0) {
      this.initialDelayTimer = setTimeout(() => {
        this.initialDelayTimer = undefined;
        this.maybeCompleteJoin();
      }, Math.min(this.timings.initialRebalanceDelayMs, rebalanceTimeoutMs));
      return;
    }
    this.maybeCompleteJoin();
  }

  private maybeCompleteJoin(): void {
    if (this.state !== 'PreparingRebalance' || this.initialDelayTimer) return;
    for (const m of this.members.values()) if (!m.awaitingJoin) return;
    this.completeJoin();
  }

  /** End the join phase: drop members that did not rejoin, start a generation, answer every JoinGroup. */
  private completeJoin(): void {
    clearTimeout(this.rebalanceTimer);
    clearTimeout(this.initialDelayTimer);
    this.rebalanceTimer = this.initialDelayTimer = undefined;
    for (const m of [...this.members.values()]) {
      if (!m.awaitingJoin) {
        this.members.delete(m.id);
        m.stopSessionClock();
        this.log.info({ group: this.id, member: m.id }, 'member removed: did not rejoin within the rebalance timeout');
      }
    }
    this.generation++;
    if (this.members.size === 0) {
      this.state = 'Empty';
      this.protocolType = this.protocolName = this.leaderId = null;
      this.log.info({ group: this.id, generation: this.generation }, 'consumer group empty');
      this.onEmpty(this);
      return;
    }
    this.protocolName = this.chooseProtocol();
    if (this.leaderId === null || !this.members.has(this.leaderId)) this.leaderId = this.members.keys().next().value!;
    this.state = 'CompletingRebalance';
    this.log.info({ group: this.id, generation: this.generation, protocol: this.protocolName, leader: this.leaderId, members: [...this.members.keys()] }, 'consumer group generation started');
    const everyone = [...this.members.values()].map((m) => ({
      memberId: m.id,
      groupInstanceId: m.groupInstanceId,
      metadata: m.protocols.find((p) => p.name === this.protocolName)!.metadata,
    }));
    for (const m of this.members.values()) {
      const result: JoinResult = {
        errorCode: ErrorCode.NONE,
        generationId: this.generation,
        protocolType: this.protocolType,
        protocolName: this.protocolName,
        leader: this.leaderId,
        memberId: m.id,
        members: m.id === this.leaderId ? everyone : [],
      };
      this.answerJoin(m, result);
      m.touch(this.expire);
    }
  }

  private removeMember(member: Member, reason: string): void {
    this.members.delete(member.id);
    member.stopSessionClock();
    this.answerJoin(member, this.joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.id));
    this.answerSync(member, this.syncResult(ErrorCode.UNKNOWN_MEMBER_ID));
    this.log.info({ group: this.id, member: member.id, reason }, 'member removed from consumer group');
    if (this.state === 'PreparingRebalance') this.maybeCompleteJoin();
    else if (this.state !== 'Empty') this.prepareRebalance(`member ${member.id} ${reason}`);
  }

  // ------------------------------------------------------------------------------------------ protocols

  /** Same protocol type as the group, and at least one protocol every other member also supports. */
  private acceptsProtocols(req: JoinRequest, self: Member | undefined): boolean {
    if (req.protocolType === '' || req.protocols.length === 0) return false;
    const others = [...this.members.values()].filter((m) => m !== self);
    if (others.length === 0) return true;
    if (req.protocolType !== this.protocolType) return false;
    return req.protocols.some((p) => others.every((m) => m.protocols.some((q) => q.name === p.name)));
  }

  /** Kafka's vote: among protocols every member supports, each member votes for its first preference. */
  private chooseProtocol(): string {
    const members = [...this.members.values()];
    const candidates = members[0]!.protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
    const votes = new Map<string, number>();
    for (const m of members) {
      const choice = m.protocols.find((p) => candidates.includes(p.name))!.name;
      votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    return [...votes].reduce((best, entry) => (entry[1] > best[1] ? entry : best))[0];
  }

  // ------------------------------------------------------------------------------------------- answers

  private answerJoin(m: Member, result: JoinResult): void {
    const resolve = m.awaitingJoin;
    m.awaitingJoin = undefined;
    resolve?.(result);
  }

  private answerSync(m: Member, result: SyncResult): void {
    const resolve = m.awaitingSync;
    m.awaitingSync = undefined;
    resolve?.(result);
  }

  private joinError(errorCode: number, memberId: string): JoinResult {
    return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] };
  }

  private syncResult(errorCode: number, assignment: Buffer = EMPTY): SyncResult {
    return errorCode === ErrorCode.NONE
      ? { errorCode, protocolType: this.protocolType, protocolName: this.protocolName, assignment }
      : { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
  }
}
