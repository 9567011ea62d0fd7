// The terminal renderer and the filters of `portcullis observe`, on records the recorder's own renderer wrote
// (renderFlow) for each kind of flow: exact compact lines as hubble observe prints them, the table, and how each
// filter and protocol is recognised.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderFlow } from '../../src/observe/flows.js';
import { flowFilter } from '../../src/observe/flow-filter.js';
import { FlowTable, parseFlowLine, renderCompact, stampMilli, type FlowJson } from '../../src/observe/flow-line.js';
import type { FlowEvent } from '../../src/observe/types.js';
import { deathstar, decision, denyWorldRule, httpRequestEvent, l7AllowRule, tiefighter, world } from '../helpers/observe-flow-fixtures.js';

const opts = { redactHeaders: new Set<string>(), nodeName: 'node-1' };
const URL = 'http://deathstar.default.svc.cluster.local/v1/request-landing';

/** The record as the recorder writes it, read back as observe reads it. */
function record(event: FlowEvent): FlowJson {
  const line = parseFlowLine(renderFlow(event, opts));
  assert.equal(line.kind, 'flow');
  return (line as { flow: FlowJson }).flow;
}

const allowed = record(httpRequestEvent());
const denied = record(
  httpRequestEvent({
    verdict: 'DROPPED',
    l7: { type: 'REQUEST', http: { method: 'PUT', url: 'http://deathstar.default.svc.cluster.local/v1/exhaust-port', protocol: 'HTTP/1.1', headers: [] } },
    decision: decision('DROPPED', 'L7: no http rule matched PUT /v1/exhaust-port', [l7AllowRule]),
    localReply: { code: 403 },
  }),
);
const response = record(
  httpRequestEvent({
    source: deathstar,
    destination: tiefighter,
    sourcePort: 80,
    destinationPort: 42690,
    isReply: true,
    l7: { type: 'RESPONSE', latencyNs: 5_000_000n, http: { code: 503, method: 'POST', url: URL, protocol: 'HTTP/1.1', headers: [] } },
    decision: undefined,
  }),
);
const l3Drop = record(
  httpRequestEvent({ type: 'L3_L4', l7: undefined, verdict: 'DROPPED', source: world, decision: decision('DROPPED', 'denied by no-world', [], [denyWorldRule]) }),
);
const l3Allowed = record(httpRequestEvent({ type: 'L3_L4', l7: undefined, decision: decision('FORWARDED', '', [l7AllowRule]) }));
const grpc = record(
  httpRequestEvent({
    l7: { type: 'REQUEST', http: { method: 'POST', url: 'http://door/cloudcity.DoorManager/GetName', protocol: 'HTTP/2', headers: [['content-type', 'application/grpc']] } },
  }),
);
const kafka = record(
  httpRequestEvent({ verdict: 'DROPPED', l7: { type: 'REQUEST', kafka: { apiKey: 0, apiVersion: 7, correlationId: 2, topic: 'deathstar-plans', errorCode: 29 } } }),
);
const connect = record(
  httpRequestEvent({
    direction: 'egress',
    destination: { ...world, names: ['httpbin.local'] },
    destinationPort: 443,
    l7: { type: 'REQUEST', http: { method: 'CONNECT', url: 'httpbin.local:443', protocol: 'HTTP/1.1', headers: [] } },
  }),
);
const sniPassthrough = record(httpRequestEvent({ type: 'L3_L4', l7: undefined, destination: { ...world, names: ['api.example.com'] }, destinationPort: 443 }));
const ipv6 = record(httpRequestEvent({ source: { ...world, address: '2001:db8::1' }, destination: { ...world, address: '2001:db8::2' } }));
const ALL = [allowed, denied, response, l3Drop, l3Allowed, grpc, kafka, connect, sniPassthrough, ipv6];
/** A gRPC call the proxy answered itself after the upstream failed: no response record, a local reply. */
const failed = record(
  httpRequestEvent({
    verdict: 'ERROR',
    l7: { type: 'REQUEST', http: { method: 'POST', url: 'http://door/cloudcity.DoorManager/GetName', protocol: 'HTTP/2', headers: [] } },
    reason: 'upstream connect failed: ECONNREFUSED',
    localReply: { code: 200, grpcStatus: 14 },
  }),
);

describe('compact lines, as hubble observe prints them', () => {
  test('an allowed request: time, endpoints with identities, type, verdict, summary, then the allowing rule (its reason only restates it)', () => {
    assert.equal(
      renderCompact(allowed),
      `May  4 13:23:40.501: default/tiefighter:42690 (ID:256) -> default/deathstar:80 (ID:257) http-request FORWARDED (HTTP/1.1 POST ${URL})` +
        ' rule: policies/sw_l3_l4_l7_policy.yaml:14, policies/egress.yaml:7',
    );
  });

  test('a denied request', () => {
    assert.equal(
      renderCompact(denied),
      'May  4 13:23:40.501: default/tiefighter:42690 (ID:256) -> default/deathstar:80 (ID:257) http-request DROPPED ' +
        '(HTTP/1.1 PUT http://deathstar.default.svc.cluster.local/v1/exhaust-port) rule: policies/sw_l3_l4_l7_policy.yaml:14 ' +
        'reason: L7: no http rule matched PUT /v1/exhaust-port local reply: 403',
    );
  });

  test("a failure the proxy answered itself: its reason and the local reply's status", () => {
    assert.match(renderCompact(failed), / http-request ERROR \(HTTP\/2 POST http:\/\/door\/cloudcity\.DoorManager\/GetName\) rule: .+ reason: upstream connect failed: ECONNREFUSED local reply: 200 grpc-status 14$/);
  });

  test('a reply is shown from the client side with <-, as Hubble flips it', () => {
    assert.equal(
      renderCompact(response),
      `May  4 13:23:40.501: default/tiefighter:42690 (ID:256) <- default/deathstar:80 (ID:257) http-response FORWARDED (HTTP/1.1 503 5ms (POST ${URL}))`,
    );
  });

  test('an L3/L4 drop: the datapath drop reason as its type, world by IP with its reserved identity', () => {
    assert.equal(
      renderCompact(l3Drop),
      'May  4 13:23:40.501: 127.0.0.99:42690 (world) -> default/deathstar:80 (ID:257) Policy denied by denylist DROPPED ' +
        'rule: policies/deny.yaml:9 reason: denied by no-world',
    );
  });

  test('an allowed connection is a policy verdict: ALLOWED', () => {
    assert.match(renderCompact(l3Allowed), / -> default\/deathstar:80 \(ID:257\) policy-verdict:none INGRESS ALLOWED rule: /);
  });

  test('world peers show their DNS names; IPv6 addresses are bracketed', () => {
    assert.match(renderCompact(connect), / -> httpbin\.local:443 \(world\) http-request FORWARDED \(HTTP\/1\.1 CONNECT httpbin\.local:443\)/);
    assert.match(renderCompact(ipv6), /: \[2001:db8::1\]:42690 \(world\) -> \[2001:db8::2\]:80 \(world\) /);
  });

  test('a Kafka request', () => {
    assert.match(renderCompact(kafka), / kafka-request DROPPED \(Kafka request produce correlation id 2 topic 'deathstar-plans'\)/);
  });

  test('the time is Go StampMilli in UTC; an unreadable time is N/A', () => {
    assert.equal(stampMilli('2026-12-07T09:03:04.050000000Z'), 'Dec  7 09:03:04.050');
    assert.equal(stampMilli('2026-12-17T23:43:52.810000000Z'), 'Dec 17 23:43:52.810');
    assert.equal(stampMilli('yesterday'), 'N/A');
  });
});

describe('table', () => {
  test('a header, then the columns aligned over the batch; later batches keep the widths', () => {
    const table = new FlowTable();
    const first = table.render([allowed, l3Drop]).split('\n').slice(0, -1);
    assert.equal(first.length, 3);
    assert.match(first[0]!, /^TIME {3,}SOURCE {3,}DESTINATION {3,}TYPE {3,}VERDICT {3,}SUMMARY$/);
    const at = (line: string, word: string): number => line.indexOf(word);
    for (const column of ['DESTINATION', 'TYPE', 'VERDICT', 'SUMMARY']) {
      const start = at(first[0]!, column);
      // Every row's value starts where the header's column does (after at least three spaces).
      for (const row of first.slice(1)) assert.match(row.slice(start - 3, start + 1), /^ {3}\S$/, `${column} in ${row}`);
    }
    const later = table.render([denied]);
    assert.doesNotMatch(later, /TIME/);
    assert.equal(at(later, 'DROPPED'), at(first[0]!, 'VERDICT'));
    assert.equal(table.render([]), '');
  });
});

describe('reading lines', () => {
  test('a flow, a lost-events notice, and what is neither', () => {
    assert.equal(parseFlowLine('{"lost_events":{"num_events_lost":7}}').kind, 'lost');
    assert.deepEqual(parseFlowLine('{"lost_events":{"num_events_lost":7}}'), { kind: 'lost', count: 7 });
    assert.deepEqual(parseFlowLine('not json'), { kind: 'bad', why: 'not JSON' });
    for (const text of ['[1]', 'null', '{"flow":1}', '{"flow":{}}', '{"a":1}']) {
      assert.deepEqual(parseFlowLine(text), { kind: 'bad', why: 'not a flow record' }, text);
    }
    const line = renderFlow(httpRequestEvent(), opts);
    const parsed = parseFlowLine(line);
    assert.equal(parsed.kind === 'flow' && parsed.text, line);
  });
});

describe('filters: AND across flags, OR within one', () => {
  const pick = (o: Parameters<typeof flowFilter>[0]): FlowJson[] => ALL.filter(flowFilter(o));

  test('no flag passes everything', () => {
    assert.equal(pick({}).length, ALL.length);
  });

  test('--verdict', () => {
    assert.deepEqual(pick({ verdict: ['DROPPED'] }), [denied, l3Drop, kafka]);
    assert.equal(pick({ verdict: ['DROPPED', 'FORWARDED'] }).length, ALL.length);
  });

  test('--from / --to: name, namespace/name, label (k8s: prefix optional), IP, DNS name', () => {
    assert.deepEqual(pick({ from: ['deathstar'] }), [response]);
    assert.deepEqual(pick({ from: ['default/deathstar'] }), [response]);
    assert.deepEqual(pick({ from: ['other/deathstar'] }), []);
    assert.deepEqual(pick({ from: ['class=deathstar'] }), [response]);
    assert.deepEqual(pick({ from: ['k8s:class=deathstar'] }), [response]);
    assert.deepEqual(pick({ from: ['127.0.0.99'] }), [l3Drop]);
    assert.deepEqual(pick({ from: ['reserved:world'] }), [l3Drop, ipv6]);
    assert.deepEqual(pick({ from: ['world'] }), [l3Drop, ipv6]);
    assert.deepEqual(pick({ to: ['httpbin.local'] }), [connect]);
    assert.deepEqual(pick({ to: ['2001:db8::2'] }), [ipv6]);
    assert.deepEqual(pick({ from: ['deathstar', '127.0.0.99'] }), [response, l3Drop]);
  });

  test('--listener', () => {
    assert.equal(pick({ listener: ['deathstar-http'] }).length, ALL.length);
    assert.deepEqual(pick({ listener: ['other'] }), []);
  });

  test('--protocol: http (gRPC too), grpc, kafka, tls, tcp', () => {
    assert.deepEqual(pick({ protocol: ['http'] }), [allowed, denied, response, grpc, connect, ipv6]);
    assert.deepEqual(pick({ protocol: ['grpc'] }), [grpc]);
    assert.deepEqual(pick({ protocol: ['kafka'] }), [kafka]);
    assert.deepEqual(pick({ protocol: ['tls'] }), [connect, sniPassthrough]);
    assert.deepEqual(pick({ protocol: ['tcp'] }), [l3Drop, l3Allowed, sniPassthrough]);
    assert.deepEqual(pick({ protocol: ['grpc', 'kafka'] }), [grpc, kafka]);
  });

  test("--http-status: a code or a class, of a response or of the proxy's own answer", () => {
    assert.deepEqual(pick({ httpStatus: ['503'] }), [response]);
    assert.deepEqual(pick({ httpStatus: ['5xx'] }), [response]);
    assert.deepEqual(pick({ httpStatus: ['403'] }), [denied]);
    assert.deepEqual(pick({ httpStatus: ['2xx', '404'] }), []);
    assert.equal(flowFilter({ httpStatus: ['2xx'] })(failed), true);
  });

  test('--type', () => {
    assert.deepEqual(pick({ type: ['l3-l4'] }), [l3Drop, l3Allowed, sniPassthrough]);
    assert.equal(pick({ type: ['l7'] }).length, ALL.length - 3);
  });

  test('flags combine with AND', () => {
    assert.deepEqual(pick({ verdict: ['DROPPED'], type: ['l7'] }), [denied, kafka]);
    assert.deepEqual(pick({ verdict: ['DROPPED'], protocol: ['http'] }), [denied]);
  });
});
