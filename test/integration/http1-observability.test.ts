// What the listener reports about each request: Hubble-shaped flow events (request and response, with
// peers swapped on replies) and metric calls, captured by observers that record what they are given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, STAR_WARS_L7, TIEFIGHTER, XWING } from '../helpers/http-proxy-fixture.js';
import { rawExchange } from '../helpers/http-raw-client.js';

test('allowed, L7-denied and L3/L4-denied requests: flow events and metric calls', async () => {
  const proxy = await startProxy({ policy: STAR_WARS_L7 });
  try {
    const res = await rawExchange(
      proxy.port,
      [
        'POST /v1/request-landing HTTP/1.1\r\nHost: deathstar.default.svc.cluster.local\r\nUser-Agent: test/1\r\nContent-Length: 0\r\n\r\n',
        'PUT /v1/exhaust-port HTTP/1.1\r\nHost: deathstar.default.svc.cluster.local\r\nX-Demo: a\r\nx-demo: b\r\nConnection: close\r\n\r\n',
      ],
      { localAddress: TIEFIGHTER },
    );
    assert.match(res.text, /Ship landed\n[\s\S]*Access denied\r\n$/);
    const dropped = await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nHost: d\r\n\r\n', { localAddress: XWING });
    assert.equal(dropped.ending, 'reset');

    const [allowedReq, allowedRes, deniedReq, ...rest] = proxy.flows.events;
    const common = { direction: 'ingress', type: 'L7', listener: 'deathstar-http' };
    const url = 'http://deathstar.default.svc.cluster.local';

    assert.deepEqual(pick(allowedReq!), { ...common, verdict: 'FORWARDED', isReply: false, source: 'tiefighter', destination: 'deathstar', sourcePort: res.localPort, destinationPort: 80 });
    assert.deepEqual(allowedReq!.l7?.http, {
      method: 'POST',
      url: `${url}/v1/request-landing`,
      protocol: 'HTTP/1.1',
      headers: [['host', 'deathstar.default.svc.cluster.local'], ['user-agent', 'test/1'], ['content-length', '0']],
    });
    assert.equal(allowedReq!.l7?.type, 'REQUEST');
    assert.equal(allowedReq!.source.address, TIEFIGHTER);
    assert.deepEqual(allowedReq!.source.identity.labelStrings.filter((l) => l.startsWith('k8s:org') || l.startsWith('k8s:class')), ['k8s:class=tiefighter', 'k8s:org=empire']);
    assert.equal(allowedReq!.decision?.allowed, true);
    assert.equal(allowedReq!.decision?.allowedBy[0]?.policy.name, 'rule1');

    assert.deepEqual(pick(allowedRes!), { ...common, verdict: 'FORWARDED', isReply: true, source: 'deathstar', destination: 'tiefighter', sourcePort: 80, destinationPort: res.localPort });
    assert.equal(allowedRes!.l7?.type, 'RESPONSE');
    assert.equal(allowedRes!.l7?.http?.code, 200);
    assert.deepEqual(allowedRes!.l7?.http?.headers.map(([name]) => name), ['content-type', 'content-length', 'date']);
    assert.ok((allowedRes!.l7?.latencyNs ?? 0n) > 0n);

    assert.deepEqual(pick(deniedReq!), { ...common, verdict: 'DROPPED', isReply: false, source: 'tiefighter', destination: 'deathstar', sourcePort: res.localPort, destinationPort: 80 });
    assert.deepEqual(deniedReq!.l7?.http?.headers, [
      ['host', 'deathstar.default.svc.cluster.local'],
      ['x-demo', 'a'],
      ['x-demo', 'b'],
      ['connection', 'close'],
    ]);
    assert.equal(deniedReq!.decision?.allowed, false);
    // The 403 is the proxy's answer, on the denied request's record: no response record from the deathstar.
    assert.deepEqual(deniedReq!.localReply, { code: 403 });
    assert.equal(deniedReq!.l7?.latencyNs, undefined);

    assert.equal(rest.length, 1);
    assert.deepEqual(
      { type: rest[0]!.type, verdict: rest[0]!.verdict, source: rest[0]!.source.identity.name, destination: rest[0]!.destination.identity.name, port: rest[0]!.destinationPort },
      { type: 'L3_L4', verdict: 'DROPPED', source: 'xwing', destination: 'deathstar', port: 80 },
    );

    assert.deepEqual(proxy.metrics.calls, [
      ['connectionOpened', 'deathstar-http'],
      ['policyL7', 'received', 'http'],
      ['policyL7', 'forwarded', 'http'],
      ['httpRequest', 'POST', 'HTTP/1.1', 200],
      ['policyL7', 'received', 'http'],
      ['policyL7', 'denied', 'http'],
      ['httpRequest', 'PUT', 'HTTP/1.1', 403],
      ['connectionClosed', 'deathstar-http'],
      ['drop', 'POLICY_DENIED', 'TCP'],
    ]);
  } finally {
    await proxy.close();
  }
});

test('a request refused before policy is an ERROR flow with the reason, counted as a parse error', async () => {
  const proxy = await startProxy({ policy: STAR_WARS_L7 });
  try {
    await rawExchange(proxy.port, 'GET /a%2Fb HTTP/1.1\r\nHost: d\r\n\r\n', { localAddress: TIEFIGHTER });
    const [event, ...none] = proxy.flows.events;
    assert.equal(none.length, 0);
    assert.equal(event?.verdict, 'ERROR');
    assert.equal(event?.l7?.type, 'REQUEST');
    assert.equal(event?.reason, 'escaped slash (%2F or %5C) in path');
    assert.deepEqual(event?.localReply, { code: 400 });
    assert.deepEqual(proxy.metrics.of('policyL7'), [['parse_errors', 'http']]);
    assert.deepEqual(proxy.metrics.of('httpRequest'), [['GET', 'HTTP/1.1', 400]]);
  } finally {
    await proxy.close();
  }
});

function pick(e: import('../../src/observe/types.js').FlowEvent) {
  return {
    direction: e.direction,
    type: e.type,
    listener: e.listener,
    verdict: e.verdict,
    isReply: e.isReply,
    source: e.source.identity.name,
    destination: e.destination.identity.name,
    sourcePort: e.sourcePort,
    destinationPort: e.destinationPort,
  };
}
