// What HttpExchange records of a request the proxy answered itself (issue #19): a denial is its DROPPED request
// with the answer, a failure an ERROR record in the request's direction, never a RESPONSE from the destination.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FlowEvent, FlowRecorder, Metrics } from '../../src/observe/types.js';
import type { ListenerContext } from '../../src/protocols/context.js';
import type { FlowParties } from '../../src/protocols/connection-policy.js';
import { HttpExchange } from '../../src/protocols/http/request-policy.js';
import { grpcTrailersOnly } from '../../src/protocols/http/h2/grpc.js';
import { peer, starwarsSnapshot } from '../helpers/observe-starwars-snapshot.js';

const snapshot = starwarsSnapshot(1);
const conn: FlowParties = {
  source: peer(snapshot, 'tiefighter'), destination: peer(snapshot, 'deathstar'), sourceAddress: '127.0.0.2', sourcePort: 43210, destinationPort: 80, direction: 'ingress',
};
const connection = snapshot.decideConnection({ source: conn.source, destination: conn.destination, port: 80 });

function exchange(method: string, path: string): { exchange: HttpExchange; events: FlowEvent[]; counted: unknown[][] } {
  const events: FlowEvent[] = [];
  const counted: unknown[][] = [];
  const flows: FlowRecorder = { enabled: true, record: (e) => events.push(e) };
  const metrics = { policyL7() {}, httpRequest: (...args: unknown[]) => counted.push(args) } as unknown as Metrics;
  const ctx = { flows, metrics, config: { name: 'deathstar-http' } } as unknown as ListenerContext;
  return { exchange: new HttpExchange(ctx, conn, connection, { method, path, host: 'deathstar', headers: [] }, 'HTTP/2', 'http'), events, counted };
}

test('a denial is one DROPPED REQUEST record with the answer the client got, counted with its status', () => {
  const { exchange: denied, events, counted } = exchange('PUT', '/v1/exhaust-port');
  assert.equal(events.length, 0, 'recorded once answered');
  denied.denied({ code: 200, headers: grpcTrailersOnly(7, 'Access denied') });
  assert.deepEqual(events.map((e) => [e.verdict, e.l7?.type, e.isReply, e.source.identity.name, e.localReply]), [['DROPPED', 'REQUEST', false, 'tiefighter', { code: 200, grpcStatus: 7 }]]);
  assert.deepEqual(counted, [['PUT', 'HTTP/2', 200]]);
});

test('a denial the client left before: the DROPPED request without an answer, not counted', () => {
  const { exchange: denied, events, counted } = exchange('PUT', '/v1/exhaust-port');
  denied.denied(undefined);
  assert.deepEqual(events.map((e) => [e.verdict, e.localReply]), [['DROPPED', undefined]]);
  assert.deepEqual(counted, []);
});

test('a failure the proxy answered: an ERROR REQUEST record from the client with latency, reason and the answer', () => {
  const { exchange: allowed, events, counted } = exchange('POST', '/v1/request-landing');
  allowed.failed(503, 'upstream ECONNREFUSED: connect ECONNREFUSED', [['content-type', 'text/plain']]);
  const [request, failure] = events;
  assert.equal(request!.verdict, 'FORWARDED');
  assert.deepEqual([failure!.verdict, failure!.l7?.type, failure!.isReply, failure!.source.identity.name, failure!.reason, failure!.localReply],
    ['ERROR', 'REQUEST', false, 'tiefighter', 'upstream ECONNREFUSED: connect ECONNREFUSED', { code: 503 }]);
  assert.equal(typeof failure!.l7?.latencyNs, 'bigint');
  assert.equal(failure!.decision, request!.decision, 'the rule that allowed it stays on the record');
  assert.deepEqual(counted, [['POST', 'HTTP/2', 503]]);
});

test('a failure with no answer (the client reset its stream): no local reply is claimed', () => {
  const { exchange: allowed, events, counted } = exchange('POST', '/v1/request-landing');
  allowed.failed(499, 'client reset the stream (8)');
  assert.deepEqual(events.map((e) => [e.verdict, e.l7?.type, e.reason, e.localReply]), [['FORWARDED', 'REQUEST', undefined, undefined], ['ERROR', 'REQUEST', 'client reset the stream (8)', undefined]]);
  assert.deepEqual(counted, [['POST', 'HTTP/2', 499]]);
});
