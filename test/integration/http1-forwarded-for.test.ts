// X-Forwarded-For / Forwarded per `http.xForwardedFor`, X-Forwarded-Proto always set by the proxy, and
// identity always taken from the socket, never from these headers.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Echo } from '../helpers/http-echo-upstream.js';
import { curl, startProxy, STAR_WARS_L7, TIEFIGHTER, XWING, type ProxyFixture } from '../helpers/http-proxy-fixture.js';
import { rawExchange } from '../helpers/http-raw-client.js';

let proxy: ProxyFixture | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

const SPOOFED = 'X-Forwarded-For: 10.1.1.1\r\nx-forwarded-for: 10.2.2.2, 10.3.3.3\r\nForwarded: for=10.1.1.1;proto=https\r\nX-Forwarded-Proto: https\r\n';

/** The forwarding headers the upstream received for one request from tiefighter. */
async function forwardingHeaders(xForwardedFor: string): Promise<string[]> {
  proxy = await startProxy({ policy: STAR_WARS_L7.replace('path: "/v1/request-landing"', 'path: "/.*"'), http: `xForwardedFor: ${xForwardedFor}` });
  const res = await rawExchange(proxy.port, `POST /echo HTTP/1.1\r\nHost: d\r\n${SPOOFED}Connection: close\r\n\r\n`, { localAddress: TIEFIGHTER });
  const echo = JSON.parse(res.text.slice(res.text.indexOf('\r\n\r\n') + 4)) as Echo;
  const out: string[] = [];
  for (let i = 0; i < echo.rawHeaders.length; i += 2) {
    if (/^(x-forwarded-|forwarded$)/.test(echo.rawHeaders[i]!)) out.push(`${echo.rawHeaders[i]}: ${echo.rawHeaders[i + 1]}`);
  }
  return out;
}

test('append (default): earlier hops kept in order, the peer address appended', async () => {
  assert.deepEqual(await forwardingHeaders('append'), [
    `x-forwarded-for: 10.1.1.1, 10.2.2.2, 10.3.3.3, ${TIEFIGHTER}`,
    `forwarded: for=10.1.1.1;proto=https, for=${TIEFIGHTER};proto=http`,
    'x-forwarded-proto: http',
  ]);
});

test('strip: client-supplied forwarding headers are removed and none are added', async () => {
  assert.deepEqual(await forwardingHeaders('strip'), ['x-forwarded-proto: http']);
});

test('pass: client-supplied forwarding headers go through unchanged', async () => {
  assert.deepEqual(await forwardingHeaders('pass'), [
    'x-forwarded-for: 10.1.1.1',
    'x-forwarded-for: 10.2.2.2, 10.3.3.3',
    'forwarded: for=10.1.1.1;proto=https',
    'x-forwarded-proto: http',
  ]);
});

test('identity comes from the socket: a forged X-Forwarded-For changes no decision', async () => {
  proxy = await startProxy({ policy: STAR_WARS_L7, http: 'xForwardedFor: pass' });
  const xwing = await curl(['--interface', XWING, '-H', `X-Forwarded-For: ${TIEFIGHTER}`, '-H', `Forwarded: for=${TIEFIGHTER}`, '-X', 'POST', `${proxy.url}/v1/request-landing`]);
  assert.equal(xwing.code, 56, 'xwing is still reset');
  const tiefighter = await curl(['--interface', TIEFIGHTER, '-H', `X-Forwarded-For: ${XWING}`, '-X', 'POST', `${proxy.url}/v1/request-landing`]);
  assert.equal(tiefighter.stdout, 'Ship landed\n');
  assert.deepEqual(
    proxy.flows.events.map((e) => [e.type, e.verdict, e.source.identity.name]),
    [
      ['L3_L4', 'DROPPED', 'xwing'],
      ['L7', 'FORWARDED', 'tiefighter'],
      ['L7', 'FORWARDED', 'deathstar'],
    ],
  );
});
