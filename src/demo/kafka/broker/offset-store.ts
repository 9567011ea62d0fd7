// Committed consumer-group offsets. Kept apart from group membership: offsets outlive members and
// generations (a restarted consumer resumes from them), and groups with no members are dropped.
export interface CommittedOffset {
  readonly offset: bigint;
  readonly leaderEpoch: number;
  readonly metadata: string | null;
}

export class OffsetStore {
  private readonly byGroup = new Map<string, Map<string, Map<number, CommittedOffset>>>();

  commit(groupId: string, topic: string, partition: number, committed: CommittedOffset): void {
    let topics = this.byGroup.get(groupId);
    if (!topics) this.byGroup.set(groupId, (topics = new Map()));
    let partitions = topics.get(topic);
    if (!partitions) topics.set(topic, (partitions = new Map()));
    partitions.set(partition, committed);
  }

  get(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.byGroup.get(groupId)?.get(topic)?.get(partition);
  }

  /** Every committed (topic, partitions) of a group, topics by name and partitions ascending. */
  all(groupId: string): Array<{ topic: string; partitions: number[] }> {
    const topics = this.byGroup.get(groupId);
    if (!topics) return [];
    return [...topics]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([topic, partitions]) => ({ topic, partitions: [...partitions.keys()].sort((a, b) => a - b) }));
  }
}
