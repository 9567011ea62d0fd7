// The Hubble ring (numbered flows, overwritten oldest first, gRPC form made on read and kept per slot), the flow
// message built from hubble-flow.ts' JSON line, and which flows a GetFlows request selects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFlowRecorder } from '../../src/observe/flows.js';
import { flowMessage, STRUCT_TYPE_URL } from '../../src/observe/hubble/flow-message.js';
import { types } from '../../src/observe/hubble/protos.js';
import { FlowRing, recordingInto } from '../../src/observe/hubble/ring.js';
import { select } from '../../src/observe/hubble/server.js';
import { renderFlow } from '../../src/observe/hubble-flow.js';
import { httpRequestEvent } from '../helpers/observe-flow-fixtures.js';

const render = { redactHeaders: new Set(['x-request-id']), nodeName: 'node-1' };
const event = (port: number) => httpRequestEvent({ sourcePort: port });

test('the ring keeps the last `capacity` flows, numbered by arrival', () => {
  const ring = new FlowRing(4, render);
  assert.equal(ring.seen, 0);
  assert.equal(ring.event(0), undefined);
  for (let i = 0; i < 6; i++) ring.push(event(1000 + i));
  assert.equal(ring.seen, 6);
  assert.equal(ring.oldest, 2);
  assert.equal(ring.event(1), undefined, 'overwritten');
  assert.equal(ring.event(2)?.sourcePort, 1002);
  assert.equal(ring.event(5)?.sourcePort, 1005);
  assert.equal(ring.event(6), undefined, 'not recorded yet');
});

test('a flow\'s gRPC form is made once per slot, and again for the flow that replaces it', () => {
  const ring = new FlowRing(2, render);
  ring.push(event(1));
  const first = ring.message(0)!;
  assert.equal(ring.message(0), first, 'cached');
  ring.push(event(2));
  ring.push(event(3)); // replaces flow 0's slot
  assert.equal(ring.message(0), undefined);
  assert.equal((ring.message(2)!.json.flow.l4 as any).TCP.source_port, 3);
});

test('changed() wakes a reader once after pushes, and at once when it is aborted', async () => {
  const ring = new FlowRing(2, render);
  let woke = 0;
  const waiting = ring.changed(new AbortController().signal).then(() => woke++);
  ring.push(event(1));
  ring.push(event(2));
  assert.equal(woke, 0, 'not on the request path: a turn later');
  await waiting;
  assert.equal(woke, 1);
  const abort = new AbortController();
  const aborted = ring.changed(abort.signal);
  abort.abort();
  await aborted; // resolves without a push
});

test('recordingInto keeps every flow in the ring even when flow records are off', () => {
  const ring = new FlowRing(4, render);
  const off = createFlowRecorder({ target: 'off', redactHeaders: [] });
  assert.equal(off.enabled, false);
  const flows = recordingInto(ring, off);
  assert.equal(flows.enabled, true, 'protocols build events for Hubble');
  flows.record(event(1));
  assert.equal(ring.seen, 1);
});

test('the GetFlowsResponse holds every field of the JSON record, the extension as a Struct', () => {
  const e = httpRequestEvent({ isReply: true, l7: { type: 'RESPONSE', latencyNs: 12_345_678n, http: { code: 200, method: 'POST', url: 'http://d/x', protocol: 'HTTP/1.1', headers: [['x-request-id', 'secret']] } } });
  const message = flowMessage(e, render);
  assert.deepEqual(message.json, JSON.parse(renderFlow(e, render)));
  const decoded = types.GetFlowsResponse.toObject(types.GetFlowsResponse.decode(message.bytes), { enums: String, longs: String }) as any;
  assert.equal(decoded.node_name, 'node-1');
  assert.deepEqual(decoded.time, { seconds: String(Date.parse('2026-05-04T13:23:40Z') / 1000), nanos: 501_000_000 });
  const flow = decoded.flow;
  assert.deepEqual(flow.is_reply, { value: true });
  assert.equal(flow.verdict, 'FORWARDED');
  assert.equal(flow.Type, 'L7');
  assert.equal(flow.traffic_direction, 'INGRESS');
  assert.equal(flow.l7.latency_ns, '12345678');
  assert.deepEqual(flow.l7.http.headers, [{ key: 'x-request-id', value: 'HUBBLE_REDACTED' }]);
  assert.equal(flow.Summary, (message.json.flow as any).Summary);
  assert.equal(flow.extensions.type_url, STRUCT_TYPE_URL);
  const struct = types.Struct.toObject(types.Struct.decode(flow.extensions.value)) as any;
  assert.deepEqual(struct.fields.listener, { stringValue: 'deathstar-http' });
  assert.deepEqual(struct.fields.rules.listValue.values.length, 2);
});

test('select: the last N, the first N, everything, or (following without since) nothing old', () => {
  const all = (_n: number) => true;
  const even = (n: number) => n % 2 === 0;
  assert.deepEqual(select({ number: 3 }, 2, 10, all), [7, 8, 9]);
  assert.deepEqual(select({ number: 3, first: true }, 2, 10, all), [2, 3, 4]);
  assert.deepEqual(select({ number: 2 }, 2, 10, even), [6, 8]);
  assert.deepEqual(select({}, 2, 6, all), [2, 3, 4, 5]);
  assert.deepEqual(select({ follow: true }, 2, 6, all), []);
  assert.deepEqual(select({ follow: true, since: { seconds: 1 } }, 2, 6, even), [2, 4]);
  assert.deepEqual(select({ number: 5, follow: true }, 0, 3, all), [0, 1, 2]);
});
