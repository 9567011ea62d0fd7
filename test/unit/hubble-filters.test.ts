// Hubble FlowFilters as the hubble CLI sends them (`hubble observe --print-raw-filters`), on the protojson of
// Portcullis' flows: each field, whitelist/blacklist combination, and malformed values refused by name.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileFilters, FilterError, type FlowFilter } from '../../src/observe/hubble/filters.js';
import { flowMessage, type FlowJson } from '../../src/observe/hubble/flow-message.js';
import type { FlowEvent } from '../../src/observe/types.js';
import { flowLine } from '../helpers/hubble-ring-feed.js';
import { decision, deathstar, httpRequestEvent, tiefighter, world } from '../helpers/observe-flow-fixtures.js';

const render = { redactHeaders: new Set<string>(), nodeName: 'kind-worker' };
const json = (e: FlowEvent): FlowJson => flowMessage(flowLine(e, render)).json;

const request = json(httpRequestEvent());
const response = json(httpRequestEvent({
  source: deathstar, destination: tiefighter, sourcePort: 80, destinationPort: 42690, isReply: true,
  l7: { type: 'RESPONSE', http: { code: 403, method: 'PUT', url: 'http://deathstar/v1/exhaust-port?x=1', protocol: 'HTTP/1.1', headers: [] } },
}));
const drop = json(httpRequestEvent({ type: 'L3_L4', verdict: 'DROPPED', source: world, direction: 'egress', decision: decision('DROPPED', 'denied') }));
const flows = { request, response, drop };

/** Which of the three flows pass `whitelist` (and `blacklist`). */
function passing(whitelist: FlowFilter[], blacklist: FlowFilter[] = []): string[] {
  const match = compileFilters(whitelist, blacklist);
  return Object.entries(flows).filter(([, f]) => match(f)).map(([name]) => name);
}

test('no filter passes everything; whitelist filters are ORed, fields within one ANDed; blacklist removes', () => {
  assert.deepEqual(passing([]), ['request', 'response', 'drop']);
  assert.deepEqual(passing([{ verdict: ['DROPPED'] }, { reply: [true] }]), ['response', 'drop']);
  assert.deepEqual(passing([{ verdict: ['FORWARDED'], reply: [false] }]), ['request']);
  assert.deepEqual(passing([], [{ verdict: ['DROPPED'] }]), ['request', 'response']);
});

test('IP addresses and CIDRs (IPv4-mapped addresses are shown, and matched, as IPv4)', () => {
  assert.deepEqual(passing([{ source_ip: ['127.0.0.2'] }]), ['request']);
  assert.deepEqual(passing([{ source_ip: ['127.0.0.96/30'] }]), ['drop']);
  assert.deepEqual(passing([{ destination_ip: ['127.0.0.0/8'] }]), ['request', 'response', 'drop']);
  assert.throws(() => passing([{ source_ip: ['10.0.0.0/33'] }]), FilterError);
  assert.throws(() => passing([{ source_ip: ['nope'] }]), /invalid IP address in filter: "nope"/);
});

test('pods: namespace/prefix, namespace/ alone, prefix in any namespace; reserved identities have no pod', () => {
  assert.deepEqual(passing([{ source_pod: ['default/tie'] }]), ['request']);
  assert.deepEqual(passing([{ source_pod: ['default/'] }]), ['request', 'response']);
  assert.deepEqual(passing([{ destination_pod: ['death'] }]), ['request', 'drop']);
  assert.deepEqual(passing([{ source_pod: ['other/'] }]), []);
});

test('label selectors: =, !=, exists, !key, in, notin, a source prefix', () => {
  assert.deepEqual(passing([{ source_label: ['class=tiefighter'] }]), ['request']);
  assert.deepEqual(passing([{ source_label: ['k8s:org=empire,class!=tiefighter'] }]), ['response']);
  assert.deepEqual(passing([{ source_label: ['reserved:world'] }]), ['drop']);
  assert.deepEqual(passing([{ source_label: ['k8s:world'] }]), []);
  assert.deepEqual(passing([{ source_label: ['!org'] }]), ['drop']);
  assert.deepEqual(passing([{ destination_label: ['class in (deathstar, xwing)'] }]), ['request', 'drop']);
  assert.deepEqual(passing([{ destination_label: ['class notin (deathstar)'] }]), ['response']);
  assert.throws(() => passing([{ source_label: ['a=b=c d'] }]), /invalid label selector/);
});

test('verdict, traffic direction, event type (with sub type), identity, reply', () => {
  assert.deepEqual(passing([{ traffic_direction: ['EGRESS'] }]), ['drop']);
  assert.deepEqual(passing([{ event_type: [{ type: 129 }] }]), ['request', 'response']);
  assert.deepEqual(passing([{ event_type: [{ type: 1, match_sub_type: true, sub_type: 133 }] }]), ['drop']);
  assert.deepEqual(passing([{ event_type: [{ type: 1, match_sub_type: true, sub_type: 181 }] }]), []);
  assert.deepEqual(passing([{ source_identity: [2] }]), ['drop']);
  assert.deepEqual(passing([{ reply: [true] }]), ['response']);
  assert.deepEqual(passing([{ drop_reason_desc: ['POLICY_DENIED'] }]), ['drop']);
});

test('HTTP status (whole codes and prefixes), method (any case), path and URL (RE2), headers', () => {
  assert.deepEqual(passing([{ http_status_code: ['403'] }]), ['response']);
  assert.deepEqual(passing([{ http_status_code: ['4+'] }]), ['response']);
  assert.deepEqual(passing([{ http_status_code: ['2+'] }]), []);
  assert.throws(() => passing([{ http_status_code: ['4xx'] }]), /invalid status code prefix: "4xx"/);
  assert.deepEqual(passing([{ http_method: ['post'] }]), ['request']);
  assert.deepEqual(passing([{ http_path: ['^/v1/exhaust'] }]), ['response'], 'the path, not the query');
  assert.deepEqual(passing([{ http_path: ['port$'] }]), ['response']);
  assert.deepEqual(passing([{ http_url: ['x=1'] }]), ['response']);
  assert.throws(() => passing([{ http_path: ['(unclosed'] }]), /invalid regular expression in filter/);
  assert.deepEqual(passing([{ http_header: [{ key: 'x-request-id', value: 'req-1' }] }]), ['request']);
});

test('protocol, ports, node name patterns, IP version', () => {
  assert.deepEqual(passing([{ protocol: ['HTTP'] }]), ['request', 'response']);
  assert.deepEqual(passing([{ protocol: ['tcp'] }]), ['request', 'response', 'drop']);
  assert.deepEqual(passing([{ protocol: ['kafka'] }]), []);
  assert.deepEqual(passing([{ destination_port: ['80'] }]), ['request', 'drop']);
  assert.deepEqual(passing([{ node_name: ['kind-*'] }]), ['request', 'response', 'drop']);
  assert.deepEqual(passing([{ node_name: ['cluster/kind-worker'] }]), ['request', 'response', 'drop']);
  assert.deepEqual(passing([{ node_name: ['other'] }]), []);
  assert.deepEqual(passing([{ ip_version: ['IPv4'] }]), ['request', 'response', 'drop']);
});

test('fields Portcullis\' flows never carry match nothing; CEL expressions are refused', () => {
  assert.deepEqual(passing([{ destination_service: ['default/deathstar'] }]), []);
  assert.deepEqual(passing([{ dns_query: ['.*'] }]), []);
  assert.deepEqual(passing([], [{ uuid: ['x'] }]), ['request', 'response', 'drop']);
  assert.throws(() => passing([{ experimental: { cel_expression: ['true'] } }]), /cel_expression filters are not supported/);
});
