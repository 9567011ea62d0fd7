// Flow records built from the real policy engine's decisions: policy names and rule locations come through.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderFlow } from '../../src/observe/flows.js';
import type { FlowEvent } from '../../src/observe/types.js';
import { STARWARS_POLICY, peer, starwarsSnapshot } from '../helpers/observe-starwars-snapshot.js';

const snapshot = starwarsSnapshot(1);
const tiefighter = peer(snapshot, 'tiefighter');
const deathstar = peer(snapshot, 'deathstar');
const xwing = peer(snapshot, 'xwing');
const RULE1 = {
  name: 'rule1',
  namespace: 'default',
  labels: [
    'k8s:io.cilium.k8s.policy.derived-from=CiliumNetworkPolicy',
    'k8s:io.cilium.k8s.policy.name=rule1',
    'k8s:io.cilium.k8s.policy.namespace=default',
  ],
  kind: 'CiliumNetworkPolicy',
};

type Flow = Record<string, unknown> & { portcullis: Record<string, unknown> };

function decideHttp(source: typeof tiefighter, method: string, path: string) {
  const connection = snapshot.decideConnection({ source, destination: deathstar, port: 80 });
  assert.equal(connection.verdict, 'FORWARDED');
  return connection.decideHttp({ method, path, host: 'deathstar', headers: [] });
}

function render(event: FlowEvent): Flow {
  return (JSON.parse(renderFlow(event, { redactHeaders: new Set(), nodeName: 'n' })) as { flow: Flow }).flow;
}

function httpFlow(source: typeof tiefighter, method: string, path: string): Flow {
  const decision = decideHttp(source, method, path);
  return render({
    time: new Date(), verdict: decision.verdict, direction: 'ingress', source, destination: deathstar,
    sourcePort: 40000, destinationPort: 80, type: 'L7', isReply: false, decision, listener: 'deathstar-http',
    l7: { type: 'REQUEST', http: { method, url: `http://deathstar${path}`, protocol: 'HTTP/1.1', headers: [] } },
  });
}

test('allowed request names the policy and the matching http rule', () => {
  const flow = httpFlow(tiefighter, 'POST', '/v1/request-landing');
  assert.equal(flow.verdict, 'FORWARDED');
  assert.deepEqual(flow.ingress_allowed_by, [RULE1]);
  assert.deepEqual(flow.portcullis.rules, [`${STARWARS_POLICY}:21 spec.ingress[0].toPorts[0].rules.http[0]`]);
  assert.match(String(flow.portcullis.reason), /allowed by http rule/);
});

test('L7 denial names the port rule whose http rules did not match, and no allowed_by', () => {
  const flow = httpFlow(tiefighter, 'PUT', '/v1/exhaust-port');
  assert.equal(flow.verdict, 'DROPPED');
  assert.equal('ingress_allowed_by' in flow, false);
  assert.equal('drop_reason_desc' in flow, false);
  assert.deepEqual(flow.portcullis.rules, [`${STARWARS_POLICY}:16 spec.ingress[0].toPorts[0]`]);
  assert.match(String(flow.portcullis.reason), /no http rule matched PUT \/v1\/exhaust-port/);
});

test('the 403 response to a denial is FORWARDED but names no allowing policy', () => {
  const decision = decideHttp(tiefighter, 'PUT', '/v1/exhaust-port');
  const flow = render({
    time: new Date(), verdict: 'FORWARDED', direction: 'ingress', source: deathstar, destination: tiefighter,
    sourcePort: 80, destinationPort: 40000, type: 'L7', isReply: true, decision, listener: 'deathstar-http',
    l7: {
      type: 'RESPONSE',
      latencyNs: 250_000n,
      http: { code: 403, method: 'PUT', url: 'http://deathstar/v1/exhaust-port', protocol: 'HTTP/1.1', headers: [] },
    },
  });
  assert.equal(flow.is_reply, true);
  assert.deepEqual(flow.IP, { source: '127.0.0.10', destination: '127.0.0.2', ipVersion: 'IPv4' });
  assert.equal(flow.Summary, 'HTTP/1.1 403 0ms (PUT http://deathstar/v1/exhaust-port)');
  assert.equal('ingress_allowed_by' in flow, false);
  assert.match(String(flow.portcullis.reason), /no http rule matched/);
});

test('L3/L4 default-deny drop of an alliance ship', () => {
  const decision = snapshot.decideConnection({ source: xwing, destination: deathstar, port: 80 });
  assert.equal(decision.verdict, 'DROPPED');
  const event: FlowEvent = {
    time: new Date(), verdict: decision.verdict, direction: 'ingress', source: xwing, destination: deathstar,
    sourcePort: 40001, destinationPort: 80, type: 'L3_L4', isReply: false, decision, listener: 'deathstar-http',
  };
  const flow = render(event);
  assert.equal(flow.drop_reason_desc, 'POLICY_DENIED');
  assert.deepEqual(flow.event_type, { type: 1, sub_type: 133 });
  assert.deepEqual((flow.source as { labels: string[] }).labels.includes('k8s:class=xwing'), true);
  assert.equal(flow.portcullis.reason, decision.reason);
});
