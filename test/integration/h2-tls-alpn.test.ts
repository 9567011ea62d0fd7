// HTTP/2 over TLS: a TLSSocket that negotiated ALPN `h2` is handed to the same handler `accept` as h2c
// sockets, and policy, relaying and flow records work the same (scheme https).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { startH2EchoUpstream, type H2Echo } from '../helpers/h2-echo-upstream.js';
import { BACKEND, CLIENT, clientPolicy, startH2Proxy } from '../helpers/h2-proxy-fixture.js';

function selfSigned(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'h2-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('h2 negotiated by ALPN: allowed and denied requests, https in the flow URL', async () => {
  const creds = selfSigned();
  const upstream = await startH2EchoUpstream(BACKEND);
  const proxy = await startH2Proxy({ upstreamPort: upstream.port, tls: creds, policy: clientPolicy(['{method: GET, path: /public}']) });
  const session = http2.connect(`https://127.0.0.1:${proxy.port}`, {
    createConnection: () =>
      tls.connect({ socket: net.connect({ host: '127.0.0.1', port: proxy.port, localAddress: CLIENT }), host: '127.0.0.1', ca: creds.cert, ALPNProtocols: ['h2'] }),
  });
  session.on('error', () => {});
  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = session.request({ ':path': path });
      let body = '';
      let status = 0;
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => resolve({ status, body }));
      req.on('error', reject);
    });
  try {
    const ok = await get('/public');
    assert.equal(ok.status, 200);
    assert.equal((JSON.parse(ok.body) as H2Echo).path, '/public');
    const denied = await get('/private');
    assert.equal(denied.status, 403);
    assert.equal(denied.body, 'Access denied\r\n');
    const urls = proxy.flows.l7('REQUEST').map((e) => `${e.verdict} ${e.l7?.http?.url}`);
    assert.deepEqual(urls, [`FORWARDED https://127.0.0.1:${proxy.port}/public`, `DROPPED https://127.0.0.1:${proxy.port}/private`]);
  } finally {
    session.close();
    await proxy.close();
    await upstream.close();
  }
});
