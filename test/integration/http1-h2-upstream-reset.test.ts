// An HTTP/1.1 client whose h2c upstream answers a status and then resets the stream before any body: the client
// must see that status's message cut short (the connection closed), never a second, different status; and the
// exchange has one response record, with the status the upstream gave.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameType } from '../../src/protocols/http/h2/wire/frames.js';
import { RawH2Server } from '../helpers/h2-client-raw-server.js';
import { startProxy, STAR_WARS_L4, TIEFIGHTER, type ProxyFixture } from '../helpers/http-proxy-fixture.js';
import { rawExchange } from '../helpers/http-raw-client.js';

const INTERNAL_ERROR = 2;
let upstream: RawH2Server;
let proxy: ProxyFixture;

before(async () => {
  upstream = await RawH2Server.start();
  proxy = await startProxy({ policy: STAR_WARS_L4, upstreamPort: upstream.port, upstreamProtocol: 'h2c' });
});
after(async () => {
  await proxy.close();
  await upstream.close();
});

test('h2c upstream resets after its response head: the client gets no other status, one response record', async () => {
  const exchange = rawExchange(proxy.port, 'GET /reset-after-head HTTP/1.1\r\nHost: deathstar\r\n\r\n', { localAddress: TIEFIGHTER, waitMs: 3000 });
  const request = await upstream.waitFor((f) => f.type === FrameType.HEADERS);
  upstream.headers(request.streamId, [[':status', '200'], ['content-type', 'text/plain']]);
  const code = Buffer.alloc(4);
  code.writeUInt32BE(INTERNAL_ERROR);
  setTimeout(() => upstream.send(FrameType.RST_STREAM, 0, request.streamId, code), 50);
  const res = await exchange;
  assert.doesNotMatch(res.text, /502/, 'no local 502 after the upstream status was committed');
  assert.notEqual(res.ending, 'open', 'the cut-short message ends with the connection');
  const responses = proxy.flows.l7('RESPONSE');
  assert.equal(responses.length, 1, JSON.stringify(responses.map((r) => [r.verdict, r.l7?.http?.code])));
  assert.equal(responses[0]!.l7?.http?.code, 200);
});
