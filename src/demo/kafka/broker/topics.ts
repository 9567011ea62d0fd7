// The topics a demo broker serves: fixed at start, each with a Kafka topic id (Metadata v10+, Fetch v13+).
import { randomBytes } from 'node:crypto';
import { PartitionLog } from './partition-log.js';

/** Kafka's legal topic names (Topic.validate). */
export const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
/** A demo broker keeps every partition in memory; this bounds a typo in the options. */
export const MAX_PARTITIONS = 1024;

export interface Topic {
  readonly name: string;
  readonly id: string;
  readonly partitions: readonly PartitionLog[];
}

/** A random Kafka UUID in its 22-character text form, avoiding a leading '-' as Kafka's Uuid.randomUuid does. */
export function randomKafkaUuid(): string {
  for (;;) {
    const text = randomBytes(16).toString('base64url');
    if (!text.startsWith('-') && text !== 'AAAAAAAAAAAAAAAAAAAAAA' && text !== 'AAAAAAAAAAAAAAAAAAAAAQ') return text;
  }
}

export class TopicRegistry {
  private readonly byName = new Map<string, Topic>();
  private readonly byId = new Map<string, Topic>();

  constructor(partitionsByTopic: Readonly<Record<string, number>>) {
    for (const [name, count] of Object.entries(partitionsByTopic)) {
      if (!TOPIC_NAME.test(name) || name === '.' || name === '..') throw new Error(`invalid Kafka topic name ${JSON.stringify(name)}`);
      if (!Number.isInteger(count) || count < 1 || count > MAX_PARTITIONS) {
        throw new Error(`topic ${name}: partition count must be an integer from 1 to ${MAX_PARTITIONS}, got ${count}`);
      }
      const topic: Topic = { name, id: randomKafkaUuid(), partitions: Array.from({ length: count }, (_, i) => new PartitionLog(name, i)) };
      this.byName.set(name, topic);
      this.byId.set(topic.id, topic);
    }
  }

  named(name: string): Topic | undefined {
    return this.byName.get(name);
  }

  withId(id: string): Topic | undefined {
    return this.byId.get(id);
  }

  partition(name: string, index: number): PartitionLog | undefined {
    return this.byName.get(name)?.partitions[index];
  }

  /** Every topic, by name. */
  all(): Topic[] {
    return [...this.byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
