// The real `http` listener serves HTTP/1.1 and h2c (prior knowledge) on one port, both under the same
// policy: the Star Wars L7 policy, with curl as tiefighter and xwing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { curl, startProxy, STAR_WARS_L7, TIEFIGHTER, XWING, type ProxyFixture } from '../helpers/http-proxy-fixture.js';

let proxy: ProxyFixture;
before(async () => {
  proxy = await startProxy({ policy: STAR_WARS_L7 });
});
after(async () => {
  await proxy.close();
});

const status = (out: string) => Number(/^HTTP\/[\d.]+ (\d+)/.exec(out)?.[1]);
const body = (out: string) => out.slice(out.indexOf('\r\n\r\n') + 4);

test('HTTP/1.1 and h2c on the same port, same verdicts', async () => {
  const landing = ['--interface', TIEFIGHTER, '-D', '-', '-X', 'POST', `${proxy.url}/v1/request-landing`];
  const h1 = await curl(['--http1.1', ...landing]);
  assert.equal(h1.code, 0, h1.stderr);
  assert.match(h1.stdout, /^HTTP\/1\.1 200/);
  const h2 = await curl(['--http2-prior-knowledge', ...landing]);
  assert.equal(h2.code, 0, h2.stderr);
  assert.match(h2.stdout, /^HTTP\/2 200/);
  assert.equal(body(h2.stdout), 'Ship landed\n');
  // The listener's upstream speaks HTTP/1.1 (upstreamProtocol http1): both requests reached it.
  assert.deepEqual(proxy.upstream.seen.map((r) => `${r.method} ${r.url}`), ['POST /v1/request-landing', 'POST /v1/request-landing']);

  const exhaust = ['--interface', TIEFIGHTER, '-D', '-', '-X', 'PUT', `${proxy.url}/v1/exhaust-port`];
  const denied1 = await curl(['--http1.1', ...exhaust]);
  const denied2 = await curl(['--http2-prior-knowledge', ...exhaust]);
  assert.equal(status(denied1.stdout), 403);
  assert.equal(status(denied2.stdout), 403);
  assert.equal(body(denied2.stdout), 'Access denied\r\n');
  const protocols = proxy.flows.l7('REQUEST').map((e) => `${e.l7?.http?.protocol} ${e.verdict}`);
  assert.deepEqual(protocols, ['HTTP/1.1 FORWARDED', 'HTTP/2 FORWARDED', 'HTTP/1.1 DROPPED', 'HTTP/2 DROPPED']);
});

test('h2c from an endpoint the policy does not allow is reset before any stream is served', async () => {
  const r = await curl(['--http2-prior-knowledge', '--interface', XWING, '-X', 'POST', `${proxy.url}/v1/request-landing`]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /reset|Recv failure|Empty reply/i);
  assert.ok(proxy.flows.l3l4().some((e) => e.verdict === 'DROPPED' && e.source.address === XWING));
});
