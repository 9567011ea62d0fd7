// Issue #19: every kind of record the protocols produce (verdict × type × protocol, optional fields absent
// or empty) renders as one JSON object with no null anywhere in it.
import { test } from 'node:test';
import { renderFlow, type RenderOptions } from '../../src/observe/hubble-flow.js';
import type { FlowEvent } from '../../src/observe/types.js';
import type { Decision, Identity, Peer, Verdict } from '../../src/policy/types.js';
import { CORPUS, CORPUS_OPTIONS } from '../helpers/observe-flow-corpus.js';
import { deathstar, decision, denyWorldRule, egressAllowRule, l7AllowRule, tiefighter, world } from '../helpers/observe-flow-fixtures.js';
import { assertNoNull } from '../helpers/observe-no-null.js';

const VERDICTS: readonly Verdict[] = ['FORWARDED', 'DROPPED', 'AUDIT', 'ERROR'];
const reserved: Identity = { id: 0, name: 'unknown', labels: [], labelStrings: [] };
const nameless: Identity = { id: 9, name: '', namespace: '', labels: [], labelStrings: [] };
const PEERS: ReadonlyArray<readonly [Peer, Peer]> = [
  [tiefighter, deathstar],
  [{ identity: reserved }, { identity: nameless, names: [] }],
  [world, { identity: world.identity, address: '93.184.216.34', names: ['example.com'] }],
  [{ identity: nameless, address: '2001:db8::1' }, { identity: reserved, address: '' }],
];
const DECISIONS: ReadonlyArray<Decision | undefined> = [
  undefined,
  decision('FORWARDED', 'allowed', [l7AllowRule, egressAllowRule]),
  decision('DROPPED', '', []),
  decision('DROPPED', 'denied', [], [denyWorldRule]),
  { ...decision('DROPPED', 'headers', [l7AllowRule]), missingHeaders: [], rejectedHeaders: [] } as Decision,
  decision('FORWARDED', 'unnamed policy', [{ ...l7AllowRule, policy: { name: '', kind: 'CiliumNetworkPolicy', labels: [] }, log: '' }]),
];
type L7 = FlowEvent['l7'];
const L7S: ReadonlyArray<L7> = [
  undefined,
  { type: 'REQUEST', http: { method: 'GET', url: 'http://deathstar/?a=1', protocol: 'HTTP/1.1', headers: [] } },
  { type: 'REQUEST', http: { method: '', url: '', protocol: '', headers: [['x', '']] } },
  { type: 'RESPONSE', latencyNs: 0n, http: { method: 'POST', url: 'http://d/x', protocol: 'HTTP/2', headers: [] } },
  { type: 'RESPONSE', latencyNs: 12n, http: { code: 0, method: 'GET', url: '/', protocol: 'HTTP/1.0', headers: [['grpc-status', '7']] } },
  { type: 'REQUEST', latencyNs: 5_000_000n, http: { method: 'GET', url: 'http://d/', protocol: 'HTTP/2', headers: [] } },
  { type: 'REQUEST', kafka: { apiKey: 0, apiVersion: 0, correlationId: 0, topic: '' } },
  { type: 'REQUEST', kafka: { apiKey: 999, apiVersion: 99, correlationId: 1, topic: '', errorCode: 42 } },
  { type: 'RESPONSE', kafka: { apiKey: 1, apiVersion: 12, correlationId: 2, topic: 'deathstar-plans' } },
  { type: 'RESPONSE', latencyNs: 1n, kafka: { apiKey: 3, apiVersion: 12, correlationId: 3, topic: '', errorCode: 0 } },
];
const EXTRAS: ReadonlyArray<Partial<FlowEvent>> = [
  {},
  { reason: '' },
  { reason: 'upstream ECONNREFUSED' },
  { reason: 'timeout', localReply: { code: 504 } },
  { localReply: { code: 200, grpcStatus: 7 } },
];
const OPTIONS: readonly RenderOptions[] = [...CORPUS_OPTIONS, { redactHeaders: new Set(['x']), nodeName: '' }];

function* events(): Generator<FlowEvent> {
  let n = 0;
  for (const verdict of VERDICTS) {
    for (const type of ['L3_L4', 'L7'] as const) {
      for (const l7 of L7S) {
        for (const extra of EXTRAS) {
          const [source, destination] = PEERS[n % PEERS.length]!;
          const isReply = l7?.type === 'RESPONSE';
          yield {
            time: new Date(1_780_000_000_000 + n),
            verdict,
            direction: n % 2 === 0 ? 'ingress' : 'egress',
            source,
            destination,
            sourcePort: n % 3 === 0 ? 0 : 40000 + n,
            destinationPort: n % 5 === 0 ? 0 : 80,
            type,
            ...(l7 === undefined ? {} : { l7 }),
            isReply,
            ...(DECISIONS[n % DECISIONS.length] === undefined ? {} : { decision: DECISIONS[n % DECISIONS.length]! }),
            listener: n % 7 === 0 ? '' : 'l',
            ...extra,
          };
          n++;
        }
      }
    }
  }
}

test('every verdict × type × protocol, with optional fields absent or empty, renders without null', () => {
  let count = 0;
  for (const opts of OPTIONS) {
    for (const event of events()) {
      assertNoNull(renderFlow(event, opts));
      count++;
    }
  }
  for (const opts of OPTIONS) for (const [, event] of CORPUS) assertNoNull(renderFlow(event, opts));
  if (count < 1000) throw new Error(`only ${count} events`);
});
