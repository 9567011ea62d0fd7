// The Hubble ring (numbered flows kept as their JSON lines and times, overwritten oldest first, gRPC form made on
// read and kept per slot), the recorder feeding it, the flow message built from the line, and which flows a
// GetFlows request selects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFlowRecorder } from '../../src/observe/flows.js';
import { flowMessage, STRUCT_TYPE_URL } from '../../src/observe/hubble/flow-message.js';
import { types } from '../../src/observe/hubble/protos.js';
import { FlowRing } from '../../src/observe/hubble/ring.js';
import { select } from '../../src/observe/hubble/server.js';
import { renderFlow } from '../../src/observe/hubble-flow.js';
import { flowLine, pushFlow } from '../helpers/hubble-ring-feed.js';
import { httpRequestEvent } from '../helpers/observe-flow-fixtures.js';

const render = { redactHeaders: new Set(['x-request-id']), nodeName: 'node-1' };
const event = (port: number) => httpRequestEvent({ sourcePort: port, time: new Date(1_700_000_000_000 + port) });
const sourcePort = (line: Buffer | undefined) => (line === undefined ? undefined : JSON.parse(line.toString()).flow.l4.TCP.source_port);

test('the ring keeps the last `capacity` flows, numbered by arrival, as their lines and times', () => {
  const ring = new FlowRing(4);
  assert.equal(ring.seen, 0);
  assert.equal(ring.line(0), undefined);
  for (let i = 0; i < 6; i++) pushFlow(ring, event(1000 + i), render);
  assert.equal(ring.seen, 6);
  assert.equal(ring.oldest, 2);
  assert.equal(ring.line(1), undefined, 'overwritten');
  assert.equal(ring.time(1), undefined, 'overwritten');
  assert.equal(sourcePort(ring.line(2)), 1002);
  assert.equal(ring.time(2), 1_700_000_001_002);
  assert.deepEqual(ring.line(5), flowLine(event(1005), render));
  assert.equal(ring.line(6), undefined, 'not recorded yet');
  assert.equal(ring.time(6), undefined, 'not recorded yet');
});

test('push copies the line: the memory it was given may be reused at once', () => {
  const ring = new FlowRing(2);
  const slab = flowLine(event(1), render);
  const copy = Buffer.from(slab);
  ring.push(slab, 1);
  slab.fill(0x20);
  assert.deepEqual(ring.line(0), copy);
});

test('lines of any size wrap around the arena and grow it, and every line kept reads back as pushed', () => {
  const ring = new FlowRing(8); // 8 KiB of arena to start with: lines up to 5,000 bytes wrap it and outgrow it
  const pushed: Buffer[] = [];
  let seed = 7;
  for (let n = 0; n < 2000; n++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const length = 1 + (n < 1000 ? seed % 1500 : seed % 5000); // small ones first, then ones that need more room
    const line = Buffer.alloc(length, `${n};`);
    pushed.push(line);
    ring.push(line, n);
    for (let k = ring.oldest; k < ring.seen; k++) assert.ok(ring.line(k)!.equals(pushed[k]!), `flow ${k} after push ${n}`);
    assert.equal(ring.time(ring.oldest), ring.oldest);
  }
});

test('a flow\'s gRPC form is made once per slot, and again for the flow that replaces it', () => {
  const ring = new FlowRing(2);
  pushFlow(ring, event(1), render);
  const first = ring.message(0)!;
  assert.equal(ring.message(0), first, 'cached');
  pushFlow(ring, event(2), render);
  pushFlow(ring, event(3), render); // replaces flow 0's slot
  assert.equal(ring.message(0), undefined);
  assert.equal((ring.message(2)!.json.flow.l4 as any).TCP.source_port, 3);
});

test('changed() wakes a reader once after pushes, and at once when it is aborted', async () => {
  const ring = new FlowRing(2);
  let woke = 0;
  const waiting = ring.changed(new AbortController().signal).then(() => woke++);
  pushFlow(ring, event(1), render);
  pushFlow(ring, event(2), render);
  assert.equal(woke, 0, 'not on the request path: a turn later');
  await waiting;
  assert.equal(woke, 1);
  const abort = new AbortController();
  const aborted = ring.changed(abort.signal);
  abort.abort();
  await aborted; // resolves without a push
});

test('with flows off, a recorder with an onLine sink renders every flow for it (and is enabled: protocols build events)', async () => {
  const ring = new FlowRing(4);
  const off = createFlowRecorder({ target: 'off', redactHeaders: [] });
  assert.equal(off.enabled, false, 'no sink: nothing to render for');
  const flows = createFlowRecorder({ target: 'off', redactHeaders: ['x-request-id'], nodeName: 'node-1', onLine: (line, timeMs) => ring.push(line, timeMs) });
  assert.equal(flows.enabled, true);
  for (let i = 0; i < 3; i++) flows.record(event(i));
  assert.equal(ring.seen, 0, 'rendered after the batch delay, off the request path');
  await flows.flush();
  assert.equal(ring.seen, 3);
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(ring.line(i), flowLine(event(i), render), 'the redacted line, as the file would get it');
    assert.equal(ring.time(i), event(i).time.getTime());
  }
  await flows.close();
});

test('the GetFlowsResponse holds every field of the JSON record, the extension as a Struct', () => {
  const e = httpRequestEvent({ isReply: true, l7: { type: 'RESPONSE', latencyNs: 12_345_678n, http: { code: 200, method: 'POST', url: 'http://d/x', protocol: 'HTTP/1.1', headers: [['x-request-id', 'secret']] } } });
  const message = flowMessage(flowLine(e, render));
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
