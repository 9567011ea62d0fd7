// With two workers, a `forward` listener decides every request whichever worker holds the connection: absolute-form
// requests (undici, one keep-alive connection per client) and CONNECT tunnels (raw sockets), several held open at once
// on both workers, each asked something allowed and something denied (403).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Client } from 'undici';
import { startEchoUpstream, type Echo, type EchoUpstream } from '../helpers/http-echo-upstream.js';
import { assertBothWorkersHold, openInTurn, startWorkersProxy, waitUntilIdle, workersConfig, type WorkersProxy } from '../helpers/workers-proxy.js';

const MEDIABOT = '127.0.0.101';
const CONNECTIONS = 6;

/** Absolute-form GET /get* on the plain port; CONNECT (no L7 rules, so the tunnel is spliced) to the tunnel port. */
const policy = (plainPort: number, tunnelPort: number) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: mediabot-egress, namespace: default}
spec:
  endpointSelector: {matchLabels: {class: mediabot}}
  egress:
  - toFQDNs: [{matchName: api.example.local}]
    toPorts:
    - ports: [{port: "${plainPort}", protocol: TCP}]
      rules:
        http: [{method: GET, path: "/get.*"}]
  - toFQDNs: [{matchName: api.example.local}]
    toPorts:
    - ports: [{port: "${tunnelPort}", protocol: TCP}]
`;

describe('workers: forward listener', { timeout: 60_000 }, () => {
  let plain: EchoUpstream;
  let tunnelled: EchoUpstream;
  let proxy: WorkersProxy;
  let port: number;

  before(async () => {
    plain = await startEchoUpstream();
    tunnelled = await startEchoUpstream();
    const config = workersConfig({
      policies: ['mediabot.yaml'],
      endpoints: `- {name: mediabot, labels: {class: mediabot}, addresses: [${MEDIABOT}]}`,
      listeners: `
- name: egress
  listen: "127.0.0.1:0"
  protocol: forward
  forward: {systemResolver: false, hosts: {api.example.local: [127.0.0.1], other.example.local: [127.0.0.1]}}`,
    });
    proxy = await startWorkersProxy(config, { 'mediabot.yaml': policy(plain.port, tunnelled.port) });
    port = await proxy.listenerPort('egress');
  });
  after(async () => {
    await proxy?.close();
    await plain?.close();
    await tunnelled?.close();
  });

  test('absolute-form: connections on both workers; each forwards GET /get (200) and refuses /admin (403)', async () => {
    await waitUntilIdle(proxy);
    const target = `http://api.example.local:${plain.port}`;
    const clients = await openInTurn(CONNECTIONS, async (i) => {
      const client = new Client(`http://127.0.0.1:${port}`, { localAddress: MEDIABOT, pipelining: 1, bodyTimeout: 5000, headersTimeout: 5000 });
      const r = await client.request({ method: 'GET', path: `${target}/get/${i}` });
      assert.equal(r.statusCode, 200);
      assert.equal(((await r.body.json()) as Echo).url, `/get/${i}`);
      return client;
    });
    try {
      await assertBothWorkersHold(proxy, 'the forward-proxy connections');
      for (const client of clients) {
        const r = await client.request({ method: 'GET', path: `${target}/admin` });
        assert.deepEqual({ status: r.statusCode, body: await r.body.text() }, { status: 403, body: 'Access denied\r\n' });
      }
      assert.equal(plain.seen.filter((s) => s.url === '/admin').length, 0);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  test('CONNECT: tunnels held on both workers carry bytes both ways; a name outside toFQDNs is refused (403) on each', async () => {
    await waitUntilIdle(proxy);
    const tunnels = await openInTurn(CONNECTIONS, async () => {
      const tunnel = await connectThrough(`api.example.local:${tunnelled.port}`);
      assert.match(tunnel.head, /^HTTP\/1\.1 200/);
      return tunnel.socket;
    });
    try {
      await assertBothWorkersHold(proxy, 'the CONNECT tunnels');
      for (const [i, socket] of tunnels.entries()) assert.equal((await getThrough(socket, `/tunnel/${i}`)).url, `/tunnel/${i}`);
    } finally {
      for (const s of tunnels) s.destroy();
    }
    for (let i = 0; i < 4; i++) {
      const refused = await connectThrough(`other.example.local:${tunnelled.port}`);
      refused.socket.destroy();
      assert.match(refused.head, /^HTTP\/1\.1 403/);
    }
  });

  /** Sends CONNECT `authority` from the mediabot; the proxy's answer head and the socket (the tunnel when 200). */
  async function connectThrough(authority: string): Promise<{ head: string; socket: net.Socket }> {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: MEDIABOT });
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer to CONNECT')));
    await once(socket, 'connect');
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
    let head = '';
    while (!head.includes('\r\n\r\n')) head += ((await once(socket, 'data')) as [Buffer])[0].toString('latin1');
    socket.setTimeout(0);
    return { head, socket };
  }
});

/** One HTTP/1.1 request through an open tunnel to the echo upstream; its echo. */
async function getThrough(socket: net.Socket, path: string): Promise<Echo> {
  let text = '';
  const done = new Promise<void>((resolve) =>
    socket.on('data', (d: Buffer) => {
      text += d.toString('utf8');
      const at = text.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1]);
      if (at >= 0 && text.length >= at + 4 + length) resolve();
    }),
  );
  socket.write(`GET ${path} HTTP/1.1\r\nHost: api.example.local\r\n\r\n`);
  await done;
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Echo;
}
