// Issue #19: `portcullis.reason` is the one reason field (an event's own reason replaces its decision's, whose
// other fields stay), and an answer the proxy made itself is `portcullis.local_reply`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderFlow } from '../../src/observe/flows.js';
import { decision, egressAllowRule, httpRequestEvent, l7AllowRule } from '../helpers/observe-flow-fixtures.js';

const opts = { redactHeaders: new Set<string>(), nodeName: 'n' };
const RULES = [
  'policies/sw_l3_l4_l7_policy.yaml:14 specs[0].ingress[0].toPorts[0].rules.http[0]',
  'policies/egress.yaml:7 spec.egress[0]',
];
const render = (event: Parameters<typeof renderFlow>[0]) => JSON.parse(renderFlow(event, opts)).flow;

test("an ERROR record's own reason is portcullis.reason, in place of its decision's; the decision's rules stay", () => {
  const allowed = decision('FORWARDED', 'allowed by rule1', [l7AllowRule, egressAllowRule]);
  for (const listener of ['deathstar-http', 'other']) {
    const failed = render(httpRequestEvent({ verdict: 'ERROR', decision: allowed, listener, reason: 'upstream ECONNREFUSED: connect ECONNREFUSED' }));
    assert.deepEqual(failed.portcullis, { listener, reason: 'upstream ECONNREFUSED: connect ECONNREFUSED', rules: RULES });
    assert.deepEqual(failed.ingress_allowed_by, [{ name: 'rule1', namespace: 'default', kind: 'CiliumNetworkPolicy' }]);
    // The decision's cached text is not changed by an event's reason: the next record of it says the decision's.
    const ok = render(httpRequestEvent({ decision: allowed, listener }));
    assert.deepEqual(ok.portcullis, { listener, reason: 'allowed by rule1', rules: RULES });
  }
});

test('an own reason without a decision; an empty one is left out; no `info` field is written', () => {
  const rejected = renderFlow(httpRequestEvent({ verdict: 'ERROR', decision: undefined, reason: 'bad "path"' }), opts);
  assert.deepEqual(JSON.parse(rejected).flow.portcullis, { listener: 'deathstar-http', reason: 'bad "path"' });
  assert.deepEqual(render(httpRequestEvent({ decision: undefined, reason: '' })).portcullis, { listener: 'deathstar-http' });
  assert.doesNotMatch(rejected, /"info"/);
});

test("an L3/L4 record's reason is its Summary and portcullis.reason", () => {
  const { l7: _omit, ...event } = httpRequestEvent({ type: 'L3_L4', verdict: 'ERROR', reason: 'TLS passthrough failed: ECONNRESET' });
  const flow = render(event);
  assert.equal(flow.Summary, 'TLS passthrough failed: ECONNRESET');
  assert.equal(flow.portcullis.reason, 'TLS passthrough failed: ECONNRESET');
  assert.deepEqual(flow.portcullis.rules, RULES);
});

test('local_reply: the status the proxy answered with, a gRPC answer with its grpc-status, last in the extension', () => {
  const denied = decision('DROPPED', 'no HTTP rule matches', [l7AllowRule]);
  assert.deepEqual(render(httpRequestEvent({ verdict: 'DROPPED', decision: denied, localReply: { code: 403 } })).portcullis, {
    listener: 'deathstar-http', reason: 'no HTTP rule matches', rules: [RULES[0]], local_reply: { code: 403 },
  });
  const line = renderFlow(httpRequestEvent({ verdict: 'ERROR', reason: 'upstream timeout', localReply: { code: 200, grpcStatus: 14 } }), opts);
  assert.match(line, /,"local_reply":\{"code":200,"grpc_status":14\}\}\},"node_name"/);
});
