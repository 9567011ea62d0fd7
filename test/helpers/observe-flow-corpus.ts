// A corpus of varied flow events for the renderer's byte-for-byte golden test (test/fixtures/observe/
// flow-records.jsonl): every record kind, optional field and escaping case the protocols can produce.
import type { HttpDecision, Identity, Peer, RuleRef } from '../../src/policy/types.js';
import type { FlowEvent } from '../../src/observe/types.js';
import type { RenderOptions } from '../../src/observe/hubble-flow.js';
import {
  deathstar, decision, denyWorldRule, egressAllowRule, httpRequestEvent, l7AllowRule, tiefighter, world,
} from './observe-flow-fixtures.js';
import { peer, starwarsSnapshot } from './observe-starwars-snapshot.js';

const REDACT = new Set(['authorization', 'cookie', 'set-cookie', 'proxy-authorization', 'x-api-key']);

/** The option sets every event is rendered with. */
export const CORPUS_OPTIONS: readonly RenderOptions[] = [
  { redactHeaders: REDACT, nodeName: 'portcullis-1' },
  { redactHeaders: new Set(), nodeName: '' },
  { redactHeaders: new Set(['x-request-id']), nodeName: 'nœud "1"\\\u0007' },
];

/** Text that JSON.stringify escapes, or that needs care: quotes, backslash, controls, unicode, lone surrogates. */
const NASTY = 'q"b\\s/t\tn\nc\u0001\u001f\u007f é ☃ 😀 \u2028 lone:\ud800 low:\udc00 end';

const snapshot = starwarsSnapshot(1);
const swTiefighter = peer(snapshot, 'tiefighter');
const swDeathstar = peer(snapshot, 'deathstar');
const swXwing = peer(snapshot, 'xwing');
const swConnection = snapshot.decideConnection({ source: swTiefighter, destination: swDeathstar, port: 80 });
const swAllowed = swConnection.decideHttp({ method: 'POST', path: '/v1/request-landing', host: 'deathstar', headers: [] });
const swDenied = swConnection.decideHttp({ method: 'PUT', path: '/v1/exhaust-port', host: 'deathstar', headers: [] });
const swXwingDrop = snapshot.decideConnection({ source: swXwing, destination: swDeathstar, port: 80 });

const loggedRule: RuleRef = {
  policy: { name: 'logged "rule"', namespace: 'ns\u00e9', kind: 'CiliumNetworkPolicy', labels: ['k8s:a=b"c', 'k8s:x=\u2603'] },
  direction: 'ingress', file: 'policies/logged.yaml', line: 3, path: 'spec.ingress[0]', log: 'audit: "login"',
};
const sameDocOtherRule: RuleRef = { ...loggedRule, line: 9, path: 'spec.ingress[1]', log: 'audit: "login"' };
const egressDeny: RuleRef = {
  policy: { name: 'no-egress', kind: 'CiliumClusterwideNetworkPolicy', labels: [] },
  direction: 'egress', file: 'policies/egress-deny.yaml', line: 5, path: 'spec.egressDeny[0]', log: 'blocked',
};

const headerDecision: HttpDecision = {
  ...decision('FORWARDED', 'allowed by http rule with headerMatches', [loggedRule, sameDocOtherRule, egressAllowRule]),
  headerActions: [],
  missingHeaders: ['x-token', 'x-"odd"'],
  rejectedHeaders: ['x-version'],
};
const auditDecision = decision('AUDIT', `would have been dropped: ${NASTY}`, [l7AllowRule], [denyWorldRule, egressDeny]);
const deniedL7 = decision('DROPPED', 'L7: no http rule matched GET /secret', [l7AllowRule]);
const denyRules = decision('DROPPED', 'denied by no-world', [], [denyWorldRule]);
const defaultDeny = decision('DROPPED', 'no policy allows this connection', []);

const bareIdentity: Identity = { id: 0, name: 'unknown', labels: [], labelStrings: [] };
const oddIdentity: Identity = {
  id: 4242, name: 'pod "é"', namespace: 'ns\\x', labels: [], labelStrings: ['k8s:app=ünï"code"', 'k8s:z=\u0000'],
};
const emptyNamespace: Identity = { id: 7, name: 'x', namespace: '', labels: [], labelStrings: ['k8s:a=b'] };
const v6Client: Peer = { identity: tiefighter.identity, address: '2001:db8::1' };
const v6Server: Peer = { identity: deathstar.identity, address: 'fe80::2' };
const mappedClient: Peer = { identity: tiefighter.identity, address: '::ffff:10.0.0.7' };
const noAddress: Peer = { identity: bareIdentity };
const odd: Peer = { identity: oddIdentity, address: 'not-an-ip' };
const namedDestination: Peer = { identity: world.identity, address: '93.184.216.34', names: ['example.com', 'www.example.com'] };
const namedSource: Peer = { identity: emptyNamespace, address: '10.1.2.3', names: ['client.internal'] };

const t = (iso: string): Date => new Date(iso);

function response(overrides: Partial<FlowEvent>, http: Partial<NonNullable<NonNullable<FlowEvent['l7']>['http']>>, latencyNs?: bigint): FlowEvent {
  return httpRequestEvent({
    source: deathstar, destination: tiefighter, sourcePort: 80, destinationPort: 42690, isReply: true, decision: undefined,
    l7: {
      type: 'RESPONSE',
      ...(latencyNs === undefined ? {} : { latencyNs }),
      http: { code: 200, method: 'POST', url: 'http://deathstar/v1/request-landing', protocol: 'HTTP/1.1', headers: [], ...http },
    },
    ...overrides,
  });
}

function kafka(overrides: Partial<FlowEvent>, fields: Partial<NonNullable<NonNullable<FlowEvent['l7']>['kafka']>>, type: 'REQUEST' | 'RESPONSE' = 'REQUEST', latencyNs?: bigint): FlowEvent {
  return {
    time: t('2026-05-04T13:23:41.000Z'), verdict: 'FORWARDED', direction: 'ingress', source: tiefighter, destination: deathstar,
    sourcePort: 51000, destinationPort: 9092, type: 'L7', isReply: type === 'RESPONSE', listener: 'kafka',
    l7: { type, ...(latencyNs === undefined ? {} : { latencyNs }), kafka: { apiKey: 0, apiVersion: 9, correlationId: 17, topic: 'empire-announce', ...fields } },
    ...overrides,
  };
}

function l4(overrides: Partial<FlowEvent>): FlowEvent {
  return {
    time: t('2026-05-04T13:23:42.123Z'), verdict: 'DROPPED', direction: 'ingress', source: tiefighter, destination: deathstar,
    sourcePort: 40001, destinationPort: 80, type: 'L3_L4', isReply: false, listener: 'deathstar-http', ...overrides,
  };
}

const grpcHeaders: Array<[string, string]> = [['content-type', 'application/grpc'], ['te', 'trailers'], ['grpc-timeout', '5S'], [':authority', 'cloudcity']];

/** Named events; the same Peer and Decision objects recur with different ports and fields, as on a live proxy. */
export const CORPUS: ReadonlyArray<readonly [string, FlowEvent]> = [
  ['http allowed', httpRequestEvent()],
  ['http allowed, same parties again', httpRequestEvent({ time: t('2026-05-04T13:23:40.501Z') })],
  ['http allowed, other port', httpRequestEvent({ sourcePort: 42691, time: t('2026-05-04T13:23:40.502Z') })],
  ['http sorted headers, duplicates, redaction', httpRequestEvent({
    l7: { type: 'REQUEST', http: { method: 'GET', url: 'http://deathstar/v1/', protocol: 'HTTP/1.1', headers: [
      ['x-b', '2'], ['authorization', 'Bearer secret'], ['x-a', 'first'], ['cookie', 'a=b'], ['x-a', 'second'], ['X-Api-Key', 'k'],
      ['proxy-authorization', 'Basic x'], ['x-request-id', 'r-9'], ['accept', '*/*'], ['x-a', 'third'],
    ] } },
  })],
  ['http already sorted headers', httpRequestEvent({
    l7: { type: 'REQUEST', http: { method: 'GET', url: 'http://deathstar/', protocol: 'HTTP/1.1', headers: [['a', '1'], ['b', '2'], ['b', '1'], ['c', '']] } },
  })],
  ['http escapes in path and headers', httpRequestEvent({
    l7: { type: 'REQUEST', http: { method: 'PATCH', url: `http://deathstar/p/${NASTY}?q=${NASTY}`, protocol: 'HTTP/1.1', headers: [
      [`x-${NASTY}`, NASTY], ['user-agent', 'curl/8 "quoted"'], ['x-emoji', '😀'], ['x-lone', '\udfff'], ['x-pair-split', '\ud83d'],
    ] } },
  })],
  ['http url with password', httpRequestEvent({
    l7: { type: 'REQUEST', http: { method: 'GET', url: 'http://user:pa:ss@deathstar:8080/x?y=@z', protocol: 'HTTP/1.1', headers: [] } },
  })],
  ['http url user only', httpRequestEvent({
    l7: { type: 'REQUEST', http: { method: 'GET', url: 'https://user@deathstar/a:b@c', protocol: 'HTTP/1.1', headers: [] } },
  })],
  ['http denied L7', httpRequestEvent({ verdict: 'DROPPED', decision: deniedL7 })],
  ['http denied by deny rule', httpRequestEvent({ verdict: 'DROPPED', decision: denyRules })],
  ['http audit', httpRequestEvent({ verdict: 'AUDIT', decision: auditDecision })],
  ['http headerMatches decision with policy_log', httpRequestEvent({ decision: headerDecision })],
  ['http engine allowed', httpRequestEvent({ source: swTiefighter, destination: swDeathstar, decision: swAllowed })],
  ['http engine denied', httpRequestEvent({ verdict: 'DROPPED', source: swTiefighter, destination: swDeathstar, decision: swDenied })],
  ['http rejected request (ERROR, info)', httpRequestEvent({
    verdict: 'ERROR', decision: undefined, reason: `400: bad request target "${NASTY}"`,
    l7: { type: 'REQUEST', http: { method: 'GET', url: '/bad\u0000path', protocol: 'HTTP/1.0', headers: [] } },
  })],
  ['http empty method, url and protocol', httpRequestEvent({
    decision: undefined, l7: { type: 'REQUEST', http: { method: '', url: '', protocol: '', headers: [] } },
  })],
  ['http response', response({}, { headers: [['set-cookie', 's=1'], ['content-type', 'application/json'], ['content-length', '34']] }, 1_234_567n)],
  ['http response, latency under 1 ms', response({ time: t('2026-05-04T13:23:40.503Z') }, {}, 999_999n)],
  ['http response, zero latency', response({}, { code: 404 }, 0n)],
  ['http response, no latency', response({}, { code: 301 })],
  ['http response, huge latency', response({}, {}, 2n ** 64n + 123n)],
  ['http response, latency above 2^53', response({}, {}, 9_007_199_254_740_993n)],
  ['http response code 0', response({}, { code: 0 }, 5_000_000n)],
  ['http response ERROR with info', response({ verdict: 'ERROR', reason: `upstream failed: connect ECONNREFUSED "${NASTY}"` }, { code: 502 }, 3_000_000_000n)],
  ['http response with empty info', response({ reason: '' }, { code: 503 }, 1n)],
  ['http response, url escapes', response({}, { url: `http://deathstar/${NASTY}`, method: 'DELETE' }, 42_000_000n)],
  ['http/2 request', httpRequestEvent({
    l7: { type: 'REQUEST', http: { method: 'GET', url: 'https://deathstar/v2/x', protocol: 'HTTP/2', headers: [[':path', '/v2/x'], ['accept', '*/*']] } },
  })],
  ['grpc request', httpRequestEvent({
    destinationPort: 50051,
    l7: { type: 'REQUEST', http: { method: 'POST', url: 'http://cloudcity/cloudcity.DoorManager/OpenDoor', protocol: 'HTTP/2', headers: grpcHeaders } },
  })],
  ['grpc response with grpc-status', response({ sourcePort: 50051 }, {
    url: 'http://cloudcity/cloudcity.DoorManager/OpenDoor', protocol: 'HTTP/2',
    headers: [['grpc-status', '7'], ['grpc-message', 'permission denied: "door"'], ['content-type', 'application/grpc']],
  }, 2_500_000n)],
  ['kafka produce request', kafka({ decision: decision('FORWARDED', 'allowed by kafka rule', [l7AllowRule]) }, {})],
  ['kafka denied request with error code', kafka({ verdict: 'DROPPED', decision: decision('DROPPED', 'L7: no kafka rule matched produce', [l7AllowRule]) }, { errorCode: 29 })],
  ['kafka response with error code', kafka({ source: deathstar, destination: tiefighter, sourcePort: 9092, destinationPort: 51000 }, { errorCode: 3 }, 'RESPONSE', 1_500_000n)],
  ['kafka response without error code', kafka({ source: deathstar, destination: tiefighter, sourcePort: 9092, destinationPort: 51000 }, { apiKey: 1 }, 'RESPONSE', 800_000n)],
  ['kafka response error code 0', kafka({}, { errorCode: 0, apiKey: 3, apiVersion: 0, correlationId: 0, topic: '' }, 'RESPONSE', 0n)],
  ['kafka topic-less metadata request', kafka({}, { apiKey: 3, apiVersion: 12, topic: '' })],
  ['kafka refusal (ERROR, info)', kafka({ verdict: 'ERROR', reason: 'unsupported api version 99 of "produce"' }, { apiKey: 999, apiVersion: 99, topic: '', errorCode: 42 })],
  ['kafka topic escapes', kafka({}, { topic: `t'${NASTY}` })],
  ['L3/L4 default deny, no decision', l4({})],
  ['L3/L4 default deny decision', l4({ decision: defaultDeny })],
  ['L3/L4 deny rule', l4({ decision: denyRules, source: world, sourcePort: 5555 })],
  ['L3/L4 engine drop', l4({ source: swXwing, destination: swDeathstar, decision: swXwingDrop })],
  ['L3/L4 audit', l4({ verdict: 'AUDIT', decision: auditDecision })],
  ['L3/L4 TLS passthrough with SNI', l4({ verdict: 'FORWARDED', decision: swConnection, destinationPort: 443, reason: 'TLS SNI deathstar.empire.svc: passthrough to 127.0.0.10:8443' })],
  ['L3/L4 TLS without SNI', l4({ verdict: 'FORWARDED', decision: swConnection, destinationPort: 443, reason: 'TLS without SNI: passthrough to 127.0.0.10:8443' })],
  ['L3/L4 ERROR with reason', l4({ verdict: 'ERROR', reason: `TLS passthrough failed: ${NASTY}` })],
  ['L3/L4 FORWARDED empty info', l4({ verdict: 'FORWARDED', reason: '' })],
  ['forward CONNECT', httpRequestEvent({
    direction: 'egress', source: namedSource, destination: namedDestination, destinationPort: 443, decision: decision('FORWARDED', 'allowed by egress rule', [egressAllowRule]),
    l7: { type: 'REQUEST', http: { method: 'CONNECT', url: 'example.com:443', protocol: 'HTTP/1.1', headers: [] } },
  })],
  ['forward plain request', httpRequestEvent({
    direction: 'egress', source: namedSource, destination: namedDestination, destinationPort: 80, decision: decision('FORWARDED', 'allowed', [egressAllowRule]),
    l7: { type: 'REQUEST', http: { method: 'GET', url: 'http://example.com/x', protocol: 'HTTP/1.1', headers: [['host', 'example.com']] } },
  })],
  ['forward tunnel error', l4({ direction: 'egress', verdict: 'ERROR', source: namedSource, destination: namedDestination, destinationPort: 443, reason: 'tunnel to example.com:443 failed: ETIMEDOUT' })],
  ['forward drop egress deny', l4({ direction: 'egress', source: namedSource, destination: namedDestination, decision: decision('DROPPED', 'denied', [], [egressDeny]) })],
  ['IPv6 peers', httpRequestEvent({ source: v6Client, destination: v6Server })],
  ['IPv4-mapped client', httpRequestEvent({ source: mappedClient })],
  ['world peer mapped address', l4({ source: world })],
  ['no addresses, no ports', l4({ source: noAddress, destination: noAddress, sourcePort: 0, destinationPort: 0 })],
  ['only a destination port', l4({ source: noAddress, sourcePort: 0, destination: v6Server })],
  ['only a source port', l4({ destinationPort: 0 })],
  ['odd identity and address', l4({ source: odd, destination: { identity: emptyNamespace, address: '10.0.0.1' } })],
  ['L7 without l7 fields', { ...httpRequestEvent({ reason: 'no l7 body' }), l7: undefined }],
  ['listener name escapes', httpRequestEvent({ listener: `l-${NASTY}` })],
  ['epoch time', httpRequestEvent({ time: t('1970-01-01T00:00:00.000Z') })],
  ['before epoch', httpRequestEvent({ time: t('1969-12-31T23:59:59.999Z') })],
  ['far future', httpRequestEvent({ time: t('9999-12-31T23:59:59.999Z') })],
  ['back to a recent time', httpRequestEvent({ time: t('2026-05-04T13:23:40.501Z') })],
];

