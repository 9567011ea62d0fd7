// What a client of the proxy gets for an offline decision: the decision is the engine's, the answer is the
// protocol's (a reset, a 403, gRPC status 7, a Kafka authorization error). `portcullis test` compares this with
// what an expectation file says, so a test reads like what an operator observes.
import type { ListenerConfig } from '../config/types.js';
import { grpcStatusForHttp } from '../protocols/http/h2/grpc.js';
import { ACCESS_DENIED_REPLY } from '../protocols/http/local-reply.js';
import { denialErrorCode } from '../protocols/kafka/proxy/policy.js';
import type { OfflineDecision } from './offline-decision.js';

export type ListenerKind = ListenerConfig['protocol'];

export type ProxyAnswer =
  | { readonly kind: 'allowed' }
  /** The connection is reset before a byte is written. */
  | { readonly kind: 'reset' }
  /** Answered by the proxy: an HTTP status, a gRPC status or a Kafka error code. */
  | { readonly kind: 'denied'; readonly code: number; readonly what: 'HTTP status' | 'gRPC status' | 'Kafka error' };

export interface AnsweredRequest {
  readonly type: 'none' | 'http' | 'grpc' | 'kafka';
  /** Kafka: the request's topics and groups pick the error code. */
  readonly topics?: readonly string[];
  readonly groupIds?: readonly string[];
}

export function proxyAnswer(listener: ListenerKind | undefined, request: AnsweredRequest, d: OfflineDecision): ProxyAnswer {
  if (d.final.allowed) return { kind: 'allowed' };
  const httpDenial = (): ProxyAnswer =>
    request.type === 'grpc'
      ? { kind: 'denied', code: grpcStatusForHttp(ACCESS_DENIED_REPLY.status), what: 'gRPC status' }
      : { kind: 'denied', code: ACCESS_DENIED_REPLY.status, what: 'HTTP status' };
  // A forward proxy answers its client even when the connection to the destination is refused.
  if (!d.connection.allowed) return listener === 'forward' ? httpDenial() : { kind: 'reset' };
  if (request.type === 'kafka') return { kind: 'denied', code: denialErrorCode({ topics: request.topics ?? [], groupIds: request.groupIds ?? [] }), what: 'Kafka error' };
  return httpDenial();
}

export function describeAnswer(a: ProxyAnswer): string {
  return a.kind === 'denied' ? `denied (${a.what} ${a.code})` : a.kind;
}
