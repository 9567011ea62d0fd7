// Golden tests for the Hubble flow renderer: exact JSON text (key order included) for each record kind.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatFlowTime, redactUrl, renderFlow } from '../../src/observe/flows.js';
import {
  decision, deathstar, denyWorldRule, httpRequestEvent, l7AllowRule, tiefighter, world,
} from '../helpers/observe-flow-fixtures.js';

const opts = {
  redactHeaders: new Set(['authorization', 'cookie', 'set-cookie', 'proxy-authorization', 'x-api-key']),
  nodeName: 'portcullis-1',
};
const TIME = '2026-05-04T13:23:40.501000000Z';
const URL = 'http://deathstar.default.svc.cluster.local/v1/request-landing';
const TIEFIGHTER = {
  identity: 256, namespace: 'default', labels: ['k8s:class=tiefighter', 'k8s:org=empire'], pod_name: 'tiefighter',
};
const DEATHSTAR = {
  identity: 257, namespace: 'default', labels: ['k8s:class=deathstar', 'k8s:org=empire'], pod_name: 'deathstar',
};
const RULE1 = { name: 'rule1', namespace: 'default', kind: 'CiliumNetworkPolicy' };

/** Compares serialised text, so key order and omitted zero values are part of the assertion. */
function assertJson(actual: string, expected: object): void {
  assert.equal(actual, JSON.stringify(expected));
}

test('allowed HTTP request', () => {
  assertJson(renderFlow(httpRequestEvent(), opts), {
    flow: {
      time: TIME,
      verdict: 'FORWARDED',
      IP: { source: '127.0.0.2', destination: '127.0.0.10', ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 42690, destination_port: 80 } },
      source: TIEFIGHTER,
      destination: DEATHSTAR,
      Type: 'L7',
      node_name: 'portcullis-1',
      l7: {
        type: 'REQUEST',
        http: {
          method: 'POST',
          url: URL,
          protocol: 'HTTP/1.1',
          headers: [
            { key: 'accept', value: '*/*' },
            { key: 'user-agent', value: 'curl/8.5.0' },
            { key: 'x-request-id', value: 'req-1' },
          ],
        },
      },
      event_type: { type: 129 },
      traffic_direction: 'INGRESS',
      is_reply: false,
      Summary: `HTTP/1.1 POST ${URL}`,
      egress_allowed_by: [{ name: 'fighters-out', labels: ['k8s:team=empire'], kind: 'CiliumClusterwideNetworkPolicy' }],
      ingress_allowed_by: [RULE1],
      portcullis: {
        listener: 'deathstar-http',
        reason: 'allowed by rule1',
        rules: [
          'policies/sw_l3_l4_l7_policy.yaml:14 specs[0].ingress[0].toPorts[0].rules.http[0]',
          'policies/egress.yaml:7 spec.egress[0]',
        ],
      },
    },
    node_name: 'portcullis-1',
    time: TIME,
  });
});

test('HTTP response: server as source, code, latency, Summary in ms, set-cookie redacted', () => {
  const event = httpRequestEvent({
    time: new Date('2026-05-04T13:23:40.502Z'),
    source: deathstar,
    destination: tiefighter,
    sourcePort: 80,
    destinationPort: 42690,
    l7: {
      type: 'RESPONSE',
      latencyNs: 1_734_567n,
      http: {
        code: 200,
        method: 'POST',
        url: URL,
        protocol: 'HTTP/1.1',
        headers: [['x-request-id', 'req-1'], ['set-cookie', 'session=secret'], ['content-type', 'text/plain']],
      },
    },
    isReply: true,
  });
  const { decision: _omit, ...withoutDecision } = event;
  assertJson(renderFlow(withoutDecision, opts), {
    flow: {
      time: '2026-05-04T13:23:40.502000000Z',
      verdict: 'FORWARDED',
      IP: { source: '127.0.0.10', destination: '127.0.0.2', ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 80, destination_port: 42690 } },
      source: DEATHSTAR,
      destination: TIEFIGHTER,
      Type: 'L7',
      node_name: 'portcullis-1',
      l7: {
        type: 'RESPONSE',
        latency_ns: '1734567',
        http: {
          code: 200,
          method: 'POST',
          url: URL,
          protocol: 'HTTP/1.1',
          headers: [
            { key: 'content-type', value: 'text/plain' },
            { key: 'set-cookie', value: 'HUBBLE_REDACTED' },
            { key: 'x-request-id', value: 'req-1' },
          ],
        },
      },
      event_type: { type: 129 },
      traffic_direction: 'INGRESS',
      is_reply: true,
      Summary: `HTTP/1.1 200 1ms (POST ${URL})`,
      portcullis: { listener: 'deathstar-http' },
    },
    node_name: 'portcullis-1',
    time: '2026-05-04T13:23:40.502000000Z',
  });
});

test('L7 denial: DROPPED request, no drop reason, credentials redacted, headerMatches results kept', () => {
  const denied = {
    ...decision('DROPPED', 'no HTTP rule of rule1 matches PUT /v1/exhaust-port'),
    headerActions: [],
    missingHeaders: ['x-token'],
    rejectedHeaders: [],
  };
  const url = 'http://vader:dark-side@deathstar.default.svc.cluster.local/v1/exhaust-port';
  const event = httpRequestEvent({
    verdict: 'DROPPED',
    sourcePort: 42742,
    l7: {
      type: 'REQUEST',
      http: { method: 'PUT', url, protocol: 'HTTP/1.1', headers: [['Authorization', 'Bearer abc'], ['x-api-key', 'k']] },
    },
    decision: denied,
  });
  const redactedUrl = 'http://vader:HUBBLE_REDACTED@deathstar.default.svc.cluster.local/v1/exhaust-port';
  assertJson(renderFlow(event, opts), {
    flow: {
      time: TIME,
      verdict: 'DROPPED',
      IP: { source: '127.0.0.2', destination: '127.0.0.10', ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 42742, destination_port: 80 } },
      source: TIEFIGHTER,
      destination: DEATHSTAR,
      Type: 'L7',
      node_name: 'portcullis-1',
      l7: {
        type: 'REQUEST',
        http: {
          method: 'PUT',
          url: redactedUrl,
          protocol: 'HTTP/1.1',
          headers: [{ key: 'Authorization', value: 'HUBBLE_REDACTED' }, { key: 'x-api-key', value: 'HUBBLE_REDACTED' }],
        },
      },
      event_type: { type: 129 },
      traffic_direction: 'INGRESS',
      is_reply: false,
      Summary: `HTTP/1.1 PUT ${redactedUrl}`,
      portcullis: {
        listener: 'deathstar-http',
        reason: 'no HTTP rule of rule1 matches PUT /v1/exhaust-port',
        missing_headers: ['x-token'],
      },
    },
    node_name: 'portcullis-1',
    time: TIME,
  });
});

test('L3/L4 drop by default deny: drop event 133 POLICY_DENIED, reserved identity without pod', () => {
  const event = httpRequestEvent({
    verdict: 'DROPPED',
    type: 'L3_L4',
    source: world,
    sourcePort: 51000,
    decision: decision('DROPPED', 'no ingress rule of deathstar allows reserved:world on port 80'),
    reason: 'connection reset',
  });
  const { l7: _omit, ...l3l4 } = event;
  assertJson(renderFlow(l3l4, opts), {
    flow: {
      time: TIME,
      verdict: 'DROPPED',
      drop_reason: 133,
      IP: { source: '127.0.0.99', destination: '127.0.0.10', ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 51000, destination_port: 80 } },
      source: { identity: 2, labels: ['reserved:world'] },
      destination: DEATHSTAR,
      Type: 'L3_L4',
      node_name: 'portcullis-1',
      event_type: { type: 1, sub_type: 133 },
      traffic_direction: 'INGRESS',
      drop_reason_desc: 'POLICY_DENIED',
      is_reply: false,
      Summary: 'connection reset',
      // The event's own reason is the one reason field (issue #19).
      portcullis: { listener: 'deathstar-http', reason: 'connection reset' },
    },
    node_name: 'portcullis-1',
    time: TIME,
  });
});

test('L3/L4 drop by a deny rule: 181 POLICY_DENY and ingress_denied_by', () => {
  const { l7: _omit, ...event } = httpRequestEvent({
    verdict: 'DROPPED',
    type: 'L3_L4',
    source: world,
    decision: decision('DROPPED', 'denied by no-world', [], [denyWorldRule]),
  });
  const flow = JSON.parse(renderFlow(event, opts)).flow;
  assert.equal(flow.drop_reason, 181);
  assert.equal(flow.drop_reason_desc, 'POLICY_DENY');
  assert.deepEqual(flow.event_type, { type: 1, sub_type: 181 });
  assert.deepEqual(flow.ingress_denied_by, [{ name: 'no-world', namespace: 'default', kind: 'CiliumNetworkPolicy' }]);
  assert.deepEqual(flow.portcullis, {
    listener: 'deathstar-http',
    reason: 'denied by no-world',
    rules: ['policies/deny.yaml:9 spec.ingressDeny[0]'],
  });
});

test('policy_log lists the log values of the matching rules, once each', () => {
  const logged = { ...l7AllowRule, log: 'landing-requests' };
  const event = httpRequestEvent({ decision: decision('FORWARDED', 'allowed', [logged, { ...logged, line: 30 }, l7AllowRule]) });
  const flow = JSON.parse(renderFlow(event, opts)).flow;
  assert.deepEqual(flow.policy_log, ['landing-requests']);
  const keys = Object.keys(flow);
  assert.equal(keys.indexOf('policy_log'), keys.indexOf('ingress_allowed_by') + 1);
});

test('allowed L3/L4 connection is a policy-verdict event without drop fields', () => {
  const { l7: _omit, ...event } = httpRequestEvent({ type: 'L3_L4', decision: decision('FORWARDED', 'allowed', [l7AllowRule]) });
  const flow = JSON.parse(renderFlow(event, opts)).flow;
  assert.deepEqual(flow.event_type, { type: 5 });
  assert.equal('drop_reason' in flow, false);
  assert.equal('drop_reason_desc' in flow, false);
  assert.equal('Summary' in flow, false);
});

test('AUDIT: would-be denial forwarded, verdict AUDIT, deny rules named', () => {
  const event = httpRequestEvent({
    verdict: 'AUDIT',
    l7: { type: 'REQUEST', http: { method: 'GET', url: 'http://deathstar/v1/', protocol: 'HTTP/2', headers: [] } },
    decision: decision('AUDIT', 'audit mode: would be denied by no-world', [], [denyWorldRule]),
  });
  assertJson(renderFlow(event, opts), {
    flow: {
      time: TIME,
      verdict: 'AUDIT',
      IP: { source: '127.0.0.2', destination: '127.0.0.10', ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 42690, destination_port: 80 } },
      source: TIEFIGHTER,
      destination: DEATHSTAR,
      Type: 'L7',
      node_name: 'portcullis-1',
      l7: { type: 'REQUEST', http: { method: 'GET', url: 'http://deathstar/v1/', protocol: 'HTTP/2' } },
      event_type: { type: 129 },
      traffic_direction: 'INGRESS',
      is_reply: false,
      Summary: 'HTTP/2 GET http://deathstar/v1/',
      ingress_denied_by: [{ name: 'no-world', namespace: 'default', kind: 'CiliumNetworkPolicy' }],
      portcullis: {
        listener: 'deathstar-http',
        reason: 'audit mode: would be denied by no-world',
        rules: ['policies/deny.yaml:9 spec.ingressDeny[0]'],
      },
    },
    node_name: 'portcullis-1',
    time: TIME,
  });
});

test('Kafka denial: produce by name, no error_code on the request record, one record per topic', () => {
  const event = httpRequestEvent({
    verdict: 'DROPPED',
    destination: { ...deathstar, address: '127.0.0.11' },
    sourcePort: 40000,
    destinationPort: 9092,
    l7: { type: 'REQUEST', kafka: { apiKey: 0, apiVersion: 3, correlationId: 5, topic: 'empire-announce', errorCode: 29 } },
    decision: decision('DROPPED', 'no kafka rule allows produce to empire-announce'),
    listener: 'empire-kafka',
  });
  assertJson(renderFlow(event, opts), {
    flow: {
      time: TIME,
      verdict: 'DROPPED',
      IP: { source: '127.0.0.2', destination: '127.0.0.11', ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 40000, destination_port: 9092 } },
      source: TIEFIGHTER,
      destination: DEATHSTAR,
      Type: 'L7',
      node_name: 'portcullis-1',
      l7: { type: 'REQUEST', kafka: { api_version: 3, api_key: 'produce', correlation_id: 5, topic: 'empire-announce' } },
      event_type: { type: 129 },
      traffic_direction: 'INGRESS',
      is_reply: false,
      Summary: "Kafka request produce correlation id 5 topic 'empire-announce'",
      portcullis: {
        listener: 'empire-kafka',
        reason: 'no kafka rule allows produce to empire-announce',
        kafka_error_code: 29,
      },
    },
    node_name: 'portcullis-1',
    time: TIME,
  });
});

test('Kafka response carries error_code; API keys Cilium never named use the Kafka name, else the number', () => {
  const response = (apiKey: number) => httpRequestEvent({
    isReply: true,
    l7: { type: 'RESPONSE', kafka: { apiKey, apiVersion: 0, correlationId: 9, topic: '', errorCode: 29 } },
  });
  const flow = JSON.parse(renderFlow(response(60), opts)).flow;
  assert.deepEqual(flow.l7, { type: 'RESPONSE', kafka: { error_code: 29, api_key: 'describecluster', correlation_id: 9 } });
  assert.equal(flow.Summary, "Kafka response describecluster correlation id 9 topic '' return code 29");
  const unknown = JSON.parse(renderFlow(response(9999), opts)).flow;
  assert.equal(unknown.l7.kafka.api_key, '9999');
});

test('egress flows, IPv6 addresses and destination names', () => {
  const event = httpRequestEvent({
    direction: 'egress',
    source: { ...tiefighter, address: '::1' },
    destination: { identity: { id: 2, name: 'world', labels: [], labelStrings: ['reserved:world'] }, address: '2001:db8::1', names: ['api.github.com'] },
  });
  const flow = JSON.parse(renderFlow(event, opts)).flow;
  assert.deepEqual(flow.IP, { source: '::1', destination: '2001:db8::1', ipVersion: 'IPv6' });
  assert.deepEqual(flow.destination_names, ['api.github.com']);
  assert.equal(flow.traffic_direction, 'EGRESS');
});

test('flow time is RFC 3339 UTC with nine fractional digits', () => {
  assert.equal(formatFlowTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6))), '2026-01-02T03:04:05.006000000Z');
  assert.match(formatFlowTime(new Date()), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
});

test('redactUrl replaces only a userinfo password', () => {
  assert.equal(redactUrl('http://u:p@h/x'), 'http://u:HUBBLE_REDACTED@h/x');
  assert.equal(redactUrl('https://u:p:q@h:8443/a@b?c=d@e'), 'https://u:HUBBLE_REDACTED@h:8443/a@b?c=d@e');
  assert.equal(redactUrl('http://user@h/x'), 'http://user@h/x');
  assert.equal(redactUrl('http://h:80/x?u=a:b@c'), 'http://h:80/x?u=a:b@c');
  assert.equal(redactUrl('http://h/p:w@x'), 'http://h/p:w@x');
  assert.equal(redactUrl('/relative/path'), '/relative/path');
});

test('renderFlow does not mutate the event', () => {
  const event = httpRequestEvent();
  const before = JSON.stringify(event, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  renderFlow(event, opts);
  assert.equal(JSON.stringify(event, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)), before);
  assert.deepEqual(event.l7?.http?.headers.map(([k]) => k), ['user-agent', 'accept', 'x-request-id']);
});

test('text that needs JSON escaping is escaped exactly as JSON.stringify does', () => {
  const awkward = ['say "hi"', 'back\\slash', 'tab\there', 'nul\u0000', 'del\u007f', 'é ünïcode', '😀', 'lone \ud800 surrogate', 'x'.repeat(300)];
  const event = httpRequestEvent({
    l7: {
      type: 'REQUEST',
      http: { method: 'GET', url: 'http://deathstar/"q"\\', protocol: 'HTTP/1.1', headers: awkward.map((v, i) => [`x-${String.fromCharCode(97 + i)}`, v] as const) },
    },
    listener: 'li"stener',
    reason: 'why\nnot',
  });
  const line = renderFlow(event, opts);
  for (const text of [...awkward, 'http://deathstar/"q"\\', 'li"stener', 'why\nnot']) assert.ok(line.includes(JSON.stringify(text)), text);
  const flow = JSON.parse(line).flow;
  assert.deepEqual(flow.l7.http.headers.map((h: { value: string }) => h.value), awkward.map((v) => JSON.parse(JSON.stringify(v))));
  assert.equal(flow.portcullis.listener, 'li"stener');
});

test('records sharing a source peer render their own destination, ports and names', () => {
  const first = JSON.parse(renderFlow(httpRequestEvent(), opts)).flow;
  const other = httpRequestEvent({ destination: { ...deathstar, address: '127.0.0.11', names: ['deathstar.example'] }, sourcePort: 1, destinationPort: 8080 });
  const second = JSON.parse(renderFlow(other, opts)).flow;
  const third = JSON.parse(renderFlow(httpRequestEvent({ type: 'L3_L4' }), opts)).flow;
  assert.deepEqual(first.IP, { source: '127.0.0.2', destination: '127.0.0.10', ipVersion: 'IPv4' });
  assert.deepEqual(second.IP, { source: '127.0.0.2', destination: '127.0.0.11', ipVersion: 'IPv4' });
  assert.deepEqual(second.l4, { TCP: { source_port: 1, destination_port: 8080 } });
  assert.deepEqual(second.destination_names, ['deathstar.example']);
  assert.equal('destination_names' in first, false);
  assert.equal(third.Type, 'L3_L4');
  assert.deepEqual(JSON.parse(renderFlow(httpRequestEvent(), { ...opts, nodeName: 'other-node' })).flow.node_name, 'other-node');
});
