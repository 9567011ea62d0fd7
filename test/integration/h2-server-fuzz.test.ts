// Random frames at the downstream HTTP/2 server, from a seeded generator so a failure can be replayed: whatever
// a client sends, the proxy answers or closes the connection, never crashes, never relays a request the policy
// denies, and goes on serving well-behaved clients.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startH2EchoUpstream } from '../helpers/h2-echo-upstream.js';
import { BACKEND, CLIENT, clientPolicy, connectFrom, startH2Proxy } from '../helpers/h2-proxy-fixture.js';
import { RawH2Client, headerBlock, requestFields } from '../helpers/h2-raw-client.js';

const CONNECTIONS = 60;
const FRAMES_PER_CONNECTION = 40;

/** mulberry32: small, seedable, good enough to pick frames. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('random frames: the proxy survives, denies what policy denies, and serves the next client', { timeout: 60_000 }, async () => {
  const upstream = await startH2EchoUpstream(BACKEND);
  const proxy = await startH2Proxy({ upstreamPort: upstream.port, policy: clientPolicy(['{method: GET, path: /public}']) });
  const authority = `${proxy.host}:${proxy.port}`;
  const blocks = [
    headerBlock(requestFields(authority, '/public')),
    headerBlock(requestFields(authority, '/private')),
    headerBlock(requestFields(authority, '/private', 'POST', [['content-length', '5']])),
    headerBlock([['x-trailer', '1']]),
  ];
  const seed = Number(process.env.H2_FUZZ_SEED ?? Date.now() % 100_000);
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)));
  /** Mostly well-formed requests, bodies and control frames, with a share of arbitrary frames among them. */
  const frameFor = (raw: RawH2Client): [number, number, number, Buffer] => {
    const r = next();
    const recent = Math.max(1, raw.lastStreamId - 2 * Math.floor(next() * 3));
    if (r < 0.45 || raw.lastStreamId === 0) return [1, pick([0x5, 0x5, 0x4]), raw.newStreamId(), pick(blocks)];
    if (r < 0.7) return [0, pick([0, 0, 0, 0x1]), recent, bytes(pick([0, 5, 20]))];
    if (r < 0.93) {
      // PRIORITY, RST_STREAM, SETTINGS, PING, WINDOW_UPDATE with their proper lengths (but any content).
      const [type, length] = pick([[2, 5], [3, 4], [4, 6], [6, 8], [8, 4]] as const);
      return [type, pick([0, 0x1]), type === 4 || type === 6 ? 0 : recent, bytes(length)];
    }
    const type = Math.floor(next() * 11); // DATA .. CONTINUATION, and one unknown type
    return [type, Math.floor(next() * 256), Math.floor(next() * 16), type === 1 || type === 9 ? pick(blocks) : bytes(Math.floor(next() * 40))];
  };
  try {
    for (let c = 0; c < CONNECTIONS; c++) {
      const raw = await RawH2Client.connect(proxy.host, proxy.port, CLIENT);
      for (let f = 0; f < FRAMES_PER_CONNECTION && !raw.closed; f++) {
        const [type, flags, stream, payload] = frameFor(raw);
        raw.write(type, flags, stream, payload);
      }
      await raw.waitClosed(100).catch(() => undefined); // most connections end in a connection error; the rest stay open
      raw.close();
    }
    assert.ok(!upstream.seen.includes('/private'), `a denied request was relayed (seed ${seed})`);
    const client = connectFrom(proxy, CLIENT);
    try {
      const status = (path: string) =>
        new Promise<number>((resolve, reject) => {
          const req = client.request({ ':method': 'GET', ':path': path });
          req.on('response', (h) => resolve(Number(h[':status'])));
          req.on('error', reject);
          req.resume();
        });
      assert.equal(await status('/public'), 200, `seed ${seed}: still served`);
      assert.equal(await status('/private'), 403, `seed ${seed}: still denied`);
    } finally {
      client.close();
    }
  } finally {
    await proxy.close();
    await upstream.close();
  }
});
