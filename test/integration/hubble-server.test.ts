// The Hubble server through a grpc-js client, on a ring the test fills itself: a follower that stops reading is
// held by back-pressure and then told, with a LostEvent, how many flows the ring overwrote meanwhile; the unary
// calls (ServerStatus, GetNodes, GetNamespaces), peer Notify, and a malformed filter's INVALID_ARGUMENT.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/observe/logger.js';
import { decode, encode, types } from '../../src/observe/hubble/protos.js';
import { FlowRing } from '../../src/observe/hubble/ring.js';
import { HUBBLE_SERVER_VERSION, MAX_HUBBLE_STREAMS, startHubbleServer, type RunningHubbleServer } from '../../src/observe/hubble/server.js';
import type protobuf from 'protobufjs';
import { pushFlow } from '../helpers/hubble-ring-feed.js';
import { deathstar, httpRequestEvent, world } from '../helpers/observe-flow-fixtures.js';
import { waitUntil } from '../helpers/wait.js';

const CAPACITY = 64;
const render = { redactHeaders: new Set<string>(), nodeName: 'node-a' };
let ring: FlowRing;
let server: RunningHubbleServer;
let client: grpc.Client;
const raw = (b: Buffer): Buffer => b;

before(async () => {
  ring = new FlowRing(CAPACITY);
  server = await startHubbleServer({ listen: { host: '127.0.0.1', port: 0 }, ring, nodeName: 'node-a', log: createLogger({ level: 'silent' }) });
  client = new grpc.Client(`127.0.0.1:${server.address.port}`, grpc.credentials.createInsecure());
});
after(async () => {
  client?.close();
  await server?.close();
});

function stream(path: string, type: protobuf.Type, request: Record<string, unknown>): grpc.ClientReadableStream<Buffer> {
  return client.makeServerStreamRequest(path, raw, raw, encode(type, request));
}

function unary<T>(method: string, request: protobuf.Type, response: protobuf.Type): Promise<T> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(`/observer.Observer/${method}`, raw, raw, encode(request, {}), (err, value) => (err ? reject(err) : resolve(decode<T>(response, value!))));
  });
}

/** One flow per call, its source port numbering it (ports 1..65535 wrap; the tests stay below). */
let nextPort = 1;
const record = (): void => pushFlow(ring, httpRequestEvent({ sourcePort: nextPort++, time: new Date() }), render);

test('a follower that stops reading holds back the server, then gets a LostEvent and the newest flows', async () => {
  const call = stream('/observer.Observer/GetFlows', types.GetFlowsRequest, { follow: true });
  const received: any[] = [];
  call.on('data', (b: Buffer) => received.push(decode(types.GetFlowsResponse, b)));
  call.on('error', () => {}); // cancelled at the end
  await waitUntil('the follower to see a new flow', async () => {
    record();
    await turn();
    return received.length > 0;
  });
  call.pause();
  const before = received.length;
  // Far more than the HTTP/2 windows and grpc-js' buffers hold, in bursts the server gets to write between.
  const first = nextPort;
  for (let burst = 0; burst < 100; burst++) {
    for (let i = 0; i < 50; i++) record();
    await turn();
  }
  const last = nextPort - 1;
  call.resume();
  await waitUntil('the newest flow', () => received.some((r) => r.flow?.l4?.TCP?.source_port === last), 10_000);
  const after = received.slice(before);
  const lost = after.filter((r) => r.lost_events).map((r) => r.lost_events);
  // A flow the probe recorded may still arrive after the pause: only the bursts' flows are counted.
  const flows = after.filter((r) => r.flow?.l4.TCP.source_port >= first);
  assert.ok(lost.length >= 1, 'told of lost flows');
  assert.ok(lost.every((l) => l.source === 'HUBBLE_RING_BUFFER' && l.num_events_lost > 0));
  assert.ok(flows.length < (last - first + 1) / 2, `back-pressure: ${flows.length} of ${last - first + 1} flows were sent`);
  // Flows the follower missed were counted, none twice: what arrived and what was lost add up to what was recorded.
  const lostCount = lost.reduce((n, l) => n + l.num_events_lost, 0);
  const ports = flows.map((r) => r.flow.l4.TCP.source_port as number);
  assert.deepEqual(ports, [...ports].sort((a, b) => a - b), 'in order');
  assert.equal(flows.length + lostCount, last - first + 1);
  call.cancel();
});

test('GetFlows without follow ends after the last N; a malformed filter is INVALID_ARGUMENT, named', async () => {
  const call = stream('/observer.Observer/GetFlows', types.GetFlowsRequest, { number: 3 });
  const got: number[] = [];
  call.on('data', (b: Buffer) => got.push((decode(types.GetFlowsResponse, b) as any).flow.l4.TCP.source_port));
  await once(call, 'end');
  assert.deepEqual(got, [nextPort - 3, nextPort - 2, nextPort - 1]);

  const bad = stream('/observer.Observer/GetFlows', types.GetFlowsRequest, { whitelist: [{ http_status_code: ['4xx'] }] });
  bad.on('data', () => {});
  const [err] = (await once(bad, 'error')) as [grpc.ServiceError];
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  assert.match(err.details, /invalid status code prefix: "4xx"/);
});

test('ServerStatus counts the ring; GetNodes names this node; GetNamespaces lists the flows\' namespaces', async () => {
  const status = await unary<any>('ServerStatus', types.ServerStatusRequest, types.ServerStatusResponse);
  assert.equal(status.num_flows, CAPACITY);
  assert.equal(status.max_flows, CAPACITY);
  assert.equal(status.seen_flows, ring.seen);
  assert.ok(status.uptime_ns > 0);
  assert.ok(status.flows_rate > 0, 'flows in the last minute');
  assert.equal(status.version, HUBBLE_SERVER_VERSION);
  const { nodes } = await unary<any>('GetNodes', types.GetNodesRequest, types.GetNodesResponse);
  assert.equal(nodes.length, 1);
  assert.equal(nodes[0].name, 'node-a');
  assert.equal(nodes[0].state, 'NODE_CONNECTED');
  assert.equal(nodes[0].address, `127.0.0.1:${server.address.port}`);
  assert.equal(nodes[0].seen_flows, ring.seen);
  pushFlow(ring, httpRequestEvent({ source: world, destination: { ...deathstar, identity: { ...deathstar.identity, namespace: 'empire' } } }), render);
  const { namespaces } = await unary<any>('GetNamespaces', types.GetNamespacesRequest, types.GetNamespacesResponse);
  assert.deepEqual(namespaces.map((n: any) => n.namespace), ['default', 'empire']);
});

test('peer Notify announces this node and stays open', async () => {
  const call = stream('/peer.Peer/Notify', types.NotifyRequest, {});
  call.on('error', () => {});
  const [first] = (await once(call, 'data')) as [Buffer];
  assert.deepEqual(decode(types.ChangeNotification, first), { name: 'node-a', address: `127.0.0.1:${server.address.port}`, type: 'PEER_ADDED' });
  call.cancel();
});

test('close() ends open followers and Notify streams (they never end by themselves)', { timeout: 10_000 }, async () => {
  const own = await startHubbleServer({ listen: { host: '127.0.0.1', port: 0 }, ring, nodeName: 'node-c', log: createLogger({ level: 'silent' }) });
  const c = new grpc.Client(`127.0.0.1:${own.address.port}`, grpc.credentials.createInsecure());
  try {
    const follower = c.makeServerStreamRequest('/observer.Observer/GetFlows', raw, raw, encode(types.GetFlowsRequest, { follow: true }));
    const notify = c.makeServerStreamRequest('/peer.Peer/Notify', raw, raw, encode(types.NotifyRequest, {}));
    const ended = [follower, notify].map((s) => new Promise<void>((resolve) => {
      s.on('data', () => {});
      s.on('error', () => resolve());
      s.on('end', () => resolve());
    }));
    await once(notify, 'data'); // both calls are open on the server
    await own.close();
    await Promise.all(ended);
  } finally {
    c.close();
  }
});

test(`at most ${MAX_HUBBLE_STREAMS} streams at once: the next is RESOURCE_EXHAUSTED, and a freed slot is usable again`, { timeout: 20_000 }, async () => {
  const calls = Array.from({ length: MAX_HUBBLE_STREAMS }, (_, i) =>
    stream(i % 2 === 0 ? '/observer.Observer/GetFlows' : '/peer.Peer/Notify', i % 2 === 0 ? types.GetFlowsRequest : types.NotifyRequest, i % 2 === 0 ? { follow: true } : {}),
  );
  for (const call of calls) call.on('error', () => {});
  // Every Notify has answered, and the followers have had as long: all of them hold a slot.
  await Promise.all(calls.filter((_, i) => i % 2 === 1).map((call) => once(call, 'data')));
  await waitUntil('every stream open on the server', async () => {
    // A probe let in (a slot was still free) is cancelled after a moment, giving its slot back.
    const probe = stream('/observer.Observer/GetFlows', types.GetFlowsRequest, { follow: true });
    const err = await Promise.race([
      once(probe, 'error').then(([e]) => e as grpc.ServiceError, (e: unknown) => e as grpc.ServiceError),
      sleep(200).then(() => undefined),
    ]);
    probe.on('error', () => {});
    probe.cancel();
    return err?.code === grpc.status.RESOURCE_EXHAUSTED && /too many open streams/.test(err.details);
  });
  calls[0]!.cancel();
  calls[1]!.cancel();
  await waitUntil('a slot to be free again', async () => {
    const status = await unary<any>('ServerStatus', types.ServerStatusRequest, types.ServerStatusResponse);
    const notify = stream('/peer.Peer/Notify', types.NotifyRequest, {});
    notify.on('error', () => {});
    const got = await Promise.race([once(notify, 'data').then(() => true), once(notify, 'error').then(() => false)]);
    notify.cancel();
    return status !== undefined && got;
  });
  for (const call of calls) call.cancel();
});

test('a filtered scan of a full ring converts its flows a slice per event-loop turn, not all in one', { timeout: 20_000 }, async () => {
  const big = new FlowRing(4096);
  for (let i = 0; i < big.capacity; i++) pushFlow(big, httpRequestEvent({ sourcePort: 1 + i, time: new Date() }), { ...render, nodeName: 'node-b' });
  // Conversions per turn of the event loop: a turn ends when this process's own setImmediate chain advances.
  let turn = 0;
  let inTurn = 0;
  let most = 0;
  const message = big.message.bind(big);
  const converted = new Set<number>();
  big.message = (n: number) => {
    if (!converted.has(n)) {
      converted.add(n);
      most = Math.max(most, ++inTurn);
    }
    return message(n);
  };
  let ticking = true;
  const tick = (): void => {
    turn++;
    inTurn = 0;
    if (ticking) setImmediate(tick);
  };
  tick();
  const own = await startHubbleServer({ listen: { host: '127.0.0.1', port: 0 }, ring: big, nodeName: 'node-b', log: createLogger({ level: 'silent' }) });
  const c = new grpc.Client(`127.0.0.1:${own.address.port}`, grpc.credentials.createInsecure());
  try {
    // No flow has this port: every flow is converted and tested, and none is sent.
    const call = c.makeServerStreamRequest('/observer.Observer/GetFlows', raw, raw, encode(types.GetFlowsRequest, { number: 20, whitelist: [{ source_port: ['65000'] }] }));
    call.on('data', () => assert.fail('no flow matches'));
    await once(call, 'end');
    assert.equal(converted.size, big.capacity);
    assert.ok(most <= 128, `${most} flows converted in one turn`);
    assert.ok(turn > big.capacity / 128, `${turn} turns`);
  } finally {
    ticking = false;
    c.close();
    await own.close();
  }
});
