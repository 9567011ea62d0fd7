// kafkajs clients for the demo broker tests: quiet clients with fast group timings, and a consumer
// that records what it receives and which partitions it was last assigned.
import { Kafka, logLevel, type Consumer } from 'kafkajs';

export function quietKafka(port: number, clientId: string): Kafka {
  return new Kafka({ brokers: [`127.0.0.1:${port}`], clientId, logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 100 } });
}

export interface ReceivedMessage {
  readonly consumer: string;
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
}

export interface RecordingConsumer {
  readonly name: string;
  readonly consumer: Consumer;
  /** Partitions of the latest assignment (GROUP_JOIN event), by topic. */
  assignment: Record<string, number[]>;
  /** How many times this consumer has joined a generation. */
  joins: number;
  stop(): Promise<void>;
}

/** Starts a group consumer that appends every message it receives to `received`. */
export async function startRecordingConsumer(
  kafka: Kafka,
  o: { name: string; groupId: string; topic: string; received: ReceivedMessage[] },
): Promise<RecordingConsumer> {
  const consumer = kafka.consumer({ groupId: o.groupId, sessionTimeout: 6000, rebalanceTimeout: 6000, heartbeatInterval: 300, maxWaitTimeInMs: 300 });
  const rc: RecordingConsumer = { name: o.name, consumer, assignment: {}, joins: 0, stop: () => consumer.disconnect() };
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    rc.assignment = e.payload.memberAssignment as Record<string, number[]>;
    rc.joins++;
  });
  await consumer.connect();
  await consumer.subscribe({ topic: o.topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      o.received.push({ consumer: o.name, partition, offset: Number(message.offset), value: message.value?.toString() ?? '' });
    },
  });
  return rc;
}
