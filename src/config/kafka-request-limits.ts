// The Kafka per-request work limits and their defaults. They live with the config, which needs the defaults for
// every config file, so that loading one imports no protocol code (and no Kafka message schemas and their tables).

/**
 * Bounds on the work one request may ask for, checked as each array's length is read, before any element is:
 * a request naming millions of topics is refused in microseconds instead of costing seconds of CPU (and the
 * policy decisions, flow records and deny answer it would otherwise get) while every other connection waits.
 */
export interface KafkaRequestLimits {
  /** Entries naming a topic (by name or id), over every topic array of the request. */
  readonly maxTopics: number;
  /** Every other array element (partitions, mostly) and tagged field. */
  readonly maxPartitions: number;
}

/**
 * Generous for real clients: a Metadata request lists the topics a client uses (all of them is an empty or null
 * list, not a long one), and a Produce, Fetch or OffsetCommit carries the partitions one broker leads for it.
 */
export const DEFAULT_KAFKA_REQUEST_LIMITS: KafkaRequestLimits = { maxTopics: 10_000, maxPartitions: 100_000 };
