// The renderer's caches (per connection, identity, decision, millisecond, node): a record rendered with them
// warm is byte for byte the record rendered from fresh objects, and a policy reload shows in the next record.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderFlow } from '../../src/observe/flows.js';
import type { FlowEvent, FlowRecorder, Metrics } from '../../src/observe/types.js';
import { buildSnapshot, parsePolicyText } from '../../src/policy/index.js';
import type { ConnectionDecision, Decision, Peer, PolicySnapshot } from '../../src/policy/index.js';
import type { ListenerContext } from '../../src/protocols/context.js';
import type { FlowParties } from '../../src/protocols/connection-policy.js';
import { HttpExchange } from '../../src/protocols/http/request-policy.js';
import { peer, STARWARS_ENDPOINTS, STARWARS_POLICY, starwarsSnapshot } from '../helpers/observe-starwars-snapshot.js';

const SQUADRON = 'k8s:squadron=black';
const opts = { redactHeaders: new Set(['authorization']), nodeName: 'portcullis-1' };

/** The same event made of new objects: no cache keyed on an object can hold anything for it. */
function fresh(event: FlowEvent): FlowEvent {
  const copy = (p: Peer): Peer => ({ ...p, identity: { ...p.identity } });
  const decision: Decision | undefined = event.decision && { ...event.decision };
  return { ...event, source: copy(event.source), destination: copy(event.destination), ...(decision ? { decision } : {}) };
}

/** A connection as ConnectionPolicy keeps it: its peers are replaced when a reload re-decides it. */
class Connection implements FlowParties {
  readonly direction = 'ingress' as const;
  readonly sourceAddress = '127.0.0.2';
  readonly sourcePort = 43210;
  readonly destinationPort = 80;
  source!: Peer;
  destination!: Peer;
  decision!: ConnectionDecision;
  constructor(snapshot: PolicySnapshot) {
    this.decide(snapshot);
  }
  decide(snapshot: PolicySnapshot): void {
    this.source = peer(snapshot, 'tiefighter');
    this.destination = peer(snapshot, 'deathstar');
    this.decision = snapshot.decideConnection({ source: this.source, destination: this.destination, port: 80 });
  }
}

/** The records of each request, as the HTTP path builds them: request and response, or the denied request. */
function serve(conn: Connection, paths: readonly string[]): FlowEvent[] {
  const events: FlowEvent[] = [];
  const flows: FlowRecorder = { enabled: true, record: (e) => events.push(e) };
  const metrics = { policyL7() {}, httpRequest() {} } as unknown as Metrics;
  const ctx = { flows, metrics, config: { name: 'deathstar-http' } } as unknown as ListenerContext;
  for (const path of paths) {
    const headers: Array<[string, string]> = [['host', 'deathstar'], ['x-request-id', path]];
    const exchange = new HttpExchange(ctx, conn, conn.decision, { method: 'POST', path, host: 'deathstar', headers }, 'HTTP/1.1', 'http');
    if (exchange.allowed) exchange.responded(200, [['content-type', 'text/plain']]);
    else exchange.denied({ code: 403, headers: [['content-type', 'text/plain']] });
  }
  return events;
}

test('every record of a connection, rendered with warm caches, equals the record rendered from fresh objects', () => {
  const events = serve(new Connection(starwarsSnapshot(1)), ['/v1/request-landing', '/v1/exhaust-port', '/v1/request-landing']);
  assert.equal(events.length, 5);
  for (const nodeName of ['portcullis-1', 'other-node', 'portcullis-1']) {
    for (const event of events) {
      const warm = renderFlow(event, { ...opts, nodeName });
      assert.equal(warm, renderFlow(fresh(event), { ...opts, nodeName }));
      assert.equal(JSON.parse(warm).node_name, nodeName, 'the node name of this record, not of the last one rendered');
    }
  }
});

test('a record after a policy reload shows the new identity and decision, not the connection\'s cached ones', () => {
  const before = starwarsSnapshot(1);
  // The reloaded registry labels tiefighter anew: a new identity with new labels.
  const endpoints = STARWARS_ENDPOINTS.map((e) => (e.name === 'tiefighter' ? { ...e, labels: { ...e.labels, squadron: 'black' } } : e));
  const { documents } = parsePolicyText(readFileSync(STARWARS_POLICY, 'utf8'), STARWARS_POLICY);
  const after = buildSnapshot({ documents, endpoints, enforcement: 'default', audit: false, revision: 2 }).snapshot!;
  const conn = new Connection(before);
  const [request] = serve(conn, ['/v1/request-landing']);
  const labels = (line: string, side: 'source' | 'destination'): string[] => JSON.parse(line).flow[side].labels;
  assert.ok(!labels(renderFlow(request!, opts), 'source').includes(SQUADRON));

  conn.decide(after);
  const [reloaded, response] = serve(conn, ['/v1/request-landing']);
  const flow = JSON.parse(renderFlow(reloaded!, opts)).flow;
  assert.ok(flow.source.labels.includes(SQUADRON));
  assert.notEqual(conn.source.identity.id, peer(before, 'tiefighter').identity.id);
  assert.equal(flow.source.identity, conn.source.identity.id);
  assert.ok(labels(renderFlow(response!, opts), 'destination').includes(SQUADRON), 'the response record too');
  for (const event of [reloaded!, response!]) assert.equal(renderFlow(event, opts), renderFlow(fresh(event), opts));
});
