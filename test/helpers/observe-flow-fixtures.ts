// Identities, rules and flow events of the Star Wars demo, shaped like the policy engine's output, for the
// observe tests (renderer goldens, recorder, benchmark).
import type { Decision, Identity, Peer, RuleRef } from '../../src/policy/types.js';
import type { FlowEvent } from '../../src/observe/types.js';

function endpointIdentity(id: number, name: string, labels: Record<string, string>): Identity {
  const list = Object.entries(labels)
    .map(([key, value]) => ({ source: 'k8s', key, value }))
    .sort((a, b) => (a.key < b.key ? -1 : 1));
  return { id, name, namespace: 'default', labels: list, labelStrings: list.map((l) => `k8s:${l.key}=${l.value}`) };
}

export const tiefighter: Peer = {
  identity: endpointIdentity(256, 'tiefighter', { org: 'empire', class: 'tiefighter' }),
  address: '127.0.0.2',
};
export const deathstar: Peer = {
  identity: endpointIdentity(257, 'deathstar', { org: 'empire', class: 'deathstar' }),
  address: '127.0.0.10',
};
export const world: Peer = {
  identity: { id: 2, name: 'world', labels: [{ source: 'reserved', key: 'world', value: '' }], labelStrings: ['reserved:world'] },
  address: '::ffff:127.0.0.99',
};

export const l7AllowRule: RuleRef = {
  policy: { name: 'rule1', namespace: 'default', kind: 'CiliumNetworkPolicy', labels: [] },
  direction: 'ingress',
  file: 'policies/sw_l3_l4_l7_policy.yaml',
  line: 14,
  path: 'specs[0].ingress[0].toPorts[0].rules.http[0]',
};
export const egressAllowRule: RuleRef = {
  policy: { name: 'fighters-out', kind: 'CiliumClusterwideNetworkPolicy', labels: ['k8s:team=empire'] },
  direction: 'egress',
  file: 'policies/egress.yaml',
  line: 7,
  path: 'spec.egress[0]',
};
export const denyWorldRule: RuleRef = {
  policy: { name: 'no-world', namespace: 'default', kind: 'CiliumNetworkPolicy', labels: [] },
  direction: 'ingress',
  file: 'policies/deny.yaml',
  line: 9,
  path: 'spec.ingressDeny[0]',
};

export function decision(verdict: Decision['verdict'], reason: string, allowedBy: RuleRef[] = [], deniedBy: RuleRef[] = []): Decision {
  return { allowed: verdict === 'FORWARDED' || verdict === 'AUDIT', verdict, reason, allowedBy, deniedBy };
}

/** An allowed HTTP/1.1 request from tiefighter to deathstar; `overrides` adjusts any field. */
export function httpRequestEvent(overrides: Partial<FlowEvent> = {}): FlowEvent {
  return {
    time: new Date('2026-05-04T13:23:40.501Z'),
    verdict: 'FORWARDED',
    direction: 'ingress',
    source: tiefighter,
    destination: deathstar,
    sourcePort: 42690,
    destinationPort: 80,
    type: 'L7',
    l7: {
      type: 'REQUEST',
      http: {
        method: 'POST',
        url: 'http://deathstar.default.svc.cluster.local/v1/request-landing',
        protocol: 'HTTP/1.1',
        headers: [['user-agent', 'curl/8.5.0'], ['accept', '*/*'], ['x-request-id', 'req-1']],
      },
    },
    isReply: false,
    decision: decision('FORWARDED', 'allowed by rule1', [l7AllowRule, egressAllowRule]),
    listener: 'deathstar-http',
    ...overrides,
  };
}
