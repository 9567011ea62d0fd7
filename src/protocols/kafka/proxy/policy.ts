// The observable side of one Kafka request on an admitted connection: which authorization error a denial
// carries, and the flow records and counters of every decision or refusal. The proxy connection decides
// and moves bytes; what operators see about it is here.
import type { ConnectionPolicy } from '../../connection-policy.js';
import type { ListenerContext } from '../../context.js';
import type { FlowEvent, KafkaFlowFields } from '../../../observe/types.js';
import { kafkaApiName } from '../../../policy/kafka-api-keys.js';
import type { Decision, Verdict } from '../../../policy/types.js';
import type { KafkaPolicyFacts } from './facts.js';
import type { KafkaRequestHeader } from '../codec/header.js';
import { topicErrorCode, type ResponseErrors } from './response-errors.js';
import { ErrorCode } from '../codec/error-codes.js';

/** Kafka's INVALID_REQUEST: what a refused (unparseable or unsupported) request is recorded with. */

/**
 * The error a denied request is answered with. A request naming topics is a topic denial (29) even when it
 * also names a group (OffsetCommit, OffsetFetch): the topic is what the rules are written about. Group-only
 * requests (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetFetch for all topics) get 30;
 * everything else — InitProducerId, ListGroups, brokers-only Metadata, admin APIs — is cluster-level (31).
 */
export function denialErrorCode(facts: Pick<KafkaPolicyFacts, 'topics' | 'groupIds'>): number {
  if (facts.topics.length > 0) return ErrorCode.TOPIC_AUTHORIZATION_FAILED;
  if (facts.groupIds.length > 0) return ErrorCode.GROUP_AUTHORIZATION_FAILED;
  return ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
}

/**
 * Counts the decision and records one REQUEST flow per topic (one with topic '' when there is none), as
 * Cilium does. A request the broker will answer (`awaitsBroker`) is counted in hubble_kafka_requests_total
 * when it does, with the broker's error code (recordKafkaResponse); any other is counted here.
 */
export function recordKafkaDecision(ctx: ListenerContext, conn: ConnectionPolicy, facts: KafkaPolicyFacts, decision: Decision, errorCode: number | undefined, awaitsBroker: boolean): void {
  const { metrics } = ctx;
  metrics.policyL7('received', 'kafka');
  metrics.policyL7(decision.allowed ? 'forwarded' : 'denied', 'kafka');
  if (!awaitsBroker) metrics.kafkaRequest(kafkaApiName(facts.apiKey), errorCode ?? 0, decision.verdict);
  if (!ctx.flows.enabled) return;
  const topics = facts.topics.length > 0 ? facts.topics : [''];
  for (const topic of topics) {
    const kafka: KafkaFlowFields = {
      apiKey: facts.apiKey,
      apiVersion: facts.apiVersion,
      correlationId: facts.correlationId,
      topic,
      ...(errorCode === undefined ? {} : { errorCode }),
    };
    ctx.flows.record(requestEvent(ctx, conn, decision.verdict, kafka, decision, undefined));
  }
}

/**
 * The broker answered a forwarded request: counted with the response's first error code, and one RESPONSE
 * flow per topic (pairing the REQUEST flows), from the broker to the client, with the latency and the
 * error code for that topic. Answers the proxy made itself are not logged as responses, as in Cilium.
 */
export function recordKafkaResponse(ctx: ListenerContext, conn: ConnectionPolicy, facts: KafkaPolicyFacts, verdict: Verdict, errors: ResponseErrors, latencyNs: bigint): void {
  ctx.metrics.kafkaRequest(kafkaApiName(facts.apiKey), errors.first, verdict);
  if (!ctx.flows.enabled) return;
  const topics = facts.topics.length > 0 ? facts.topics : [''];
  for (const topic of topics) {
    ctx.flows.record({
      time: new Date(),
      verdict: 'FORWARDED',
      direction: 'ingress',
      source: conn.destination,
      destination: conn.source,
      sourcePort: ctx.config.port,
      destinationPort: conn.sourcePort,
      type: 'L7',
      l7: { type: 'RESPONSE', latencyNs, kafka: { apiKey: facts.apiKey, apiVersion: facts.apiVersion, correlationId: facts.correlationId, topic, errorCode: topicErrorCode(errors, topic) } },
      isReply: true,
      listener: ctx.config.name,
    });
  }
}

/**
 * A request the proxy cannot or will not read (unknown API key, a version it does not offer, malformed
 * body): counted as a parse error — and as unsupported when the header named an API or version the proxy
 * does not speak — and recorded as an ERROR flow saying why.
 */
export function recordKafkaRefusal(ctx: ListenerContext, conn: ConnectionPolicy, header: KafkaRequestHeader, reason: string, unsupported: boolean): void {
  ctx.metrics.policyL7('parse_errors', 'kafka');
  if (unsupported) ctx.metrics.kafkaUnsupported?.(header.apiKey, header.apiVersion);
  ctx.metrics.kafkaRequest(kafkaApiName(header.apiKey), ErrorCode.INVALID_REQUEST, 'ERROR');
  const kafka: KafkaFlowFields = { apiKey: header.apiKey, apiVersion: header.apiVersion, correlationId: header.correlationId, topic: '', errorCode: ErrorCode.INVALID_REQUEST };
  ctx.flows.record(requestEvent(ctx, conn, 'ERROR', kafka, undefined, reason));
}

function requestEvent(ctx: ListenerContext, conn: ConnectionPolicy, verdict: Verdict, kafka: KafkaFlowFields, decision: Decision | undefined, reason: string | undefined): FlowEvent {
  return {
    time: new Date(),
    verdict,
    direction: 'ingress',
    source: conn.source,
    destination: conn.destination,
    sourcePort: conn.sourcePort,
    destinationPort: ctx.config.port,
    type: 'L7',
    l7: { type: 'REQUEST', kafka },
    isReply: false,
    ...(decision === undefined ? {} : { decision }),
    ...(reason === undefined ? {} : { reason }),
    listener: ctx.config.name,
  };
}
