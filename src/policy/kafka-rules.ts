// Kafka L7 rules (`rules.kafka`, Cilium 1.17-1.19 semantics, cilium/proxy proxylib kafkalib/policy.go):
// role XOR apiKey, apiVersion, clientID, topic. Matching consumes topics: a request naming several
// topics is allowed only when applicable rules together cover every one of them.
import type { KafkaRequestFacts, RuleRef } from './types.js';
import { isTopicApiKey } from './kafka-api-keys.js';

// Kept here too: observers import the API names from this module.
export { kafkaApiKeyByName, kafkaApiName } from './kafka-api-keys.js';

export interface KafkaRule {
  readonly ref: RuleRef;
  /** null = any API key. */
  readonly apiKeys: ReadonlySet<number> | null;
  /** -1 = any version. */
  readonly apiVersion: number;
  /** '' = any client id. */
  readonly clientId: string;
  /** '' = any topic. */
  readonly topic: string;
  /** e.g. `role=produce topic=deathstar-plans`, for reasons. */
  readonly text: string;
}

export interface KafkaMatch {
  /** The rule that completed the match; undefined when the request is not allowed. */
  readonly rule: KafkaRule | undefined;
  /** Topics no applicable rule covered (for reasons). */
  readonly uncovered: readonly string[];
}

/** Rules are tried in order; each topic-constrained rule that fits removes its topic from the request's set. */
export function matchKafka(rules: readonly KafkaRule[], req: KafkaRequestFacts): KafkaMatch {
  const topicKey = isTopicApiKey(req.apiKey);
  const clientId = req.clientId ?? '';
  let remaining: Set<string> | undefined;
  for (const r of rules) {
    if (r.apiKeys && !r.apiKeys.has(req.apiKey)) continue;
    if (r.apiVersion >= 0 && r.apiVersion !== req.apiVersion) continue;
    if (r.clientId !== '' && r.clientId !== clientId) continue;
    if (r.topic !== '' && topicKey) {
      remaining ??= new Set(req.topics);
      if (!remaining.delete(r.topic)) continue;
      if (remaining.size === 0) return { rule: r, uncovered: [] };
      continue;
    }
    return { rule: r, uncovered: [] };
  }
  return { rule: undefined, uncovered: remaining ? [...remaining] : topicKey ? req.topics : [] };
}
