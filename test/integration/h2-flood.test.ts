// Frame floods against the proxy running as its own process: a few connections each send one kind of cheap frame as
// fast as they can (reconnecting when cut off) for two seconds. The proxy's memory must stay bounded and a
// well-behaved client on another connection must keep getting answers about as fast as just before the flood
// (test/helpers/latency.ts) meanwhile.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startH2EchoUpstream, type H2EchoUpstream } from '../helpers/h2-echo-upstream.js';
import { runFlood } from '../helpers/h2-flood-process.js';
import { BACKEND, CLIENT, h2ProxyConfigText, STRANGER } from '../helpers/h2-proxy-fixture.js';
import { Flag, FrameType, PREFACE, frame, headerBlock, requestFields } from '../helpers/h2-raw-client.js';
import { assertBystanderUnhurt, baselineOf } from '../helpers/latency.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';

const FLOOD_MS = 2000;
/** RSS growth allowed during a flood: a few MiB of session state and socket buffers, not the flood itself. */
const MAX_RSS_GROWTH = 96 * 1024 * 1024;

const PRIORITY = 0x2;
const PADDED = 0x8;
const settings = frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(0));
const open = (path: string, flags: number) => frame(FrameType.HEADERS, flags, 1, headerBlock(requestFields('flood', path)));

/** Each flood: what opens the connection, then the frame sent over and over. */
const floods: ReadonlyArray<{ name: string; prelude: Buffer; unit: Buffer }> = [
  {
    name: 'empty CONTINUATION frames after HEADERS without END_HEADERS',
    prelude: Buffer.concat([PREFACE, settings, open('/flood', Flag.END_STREAM)]),
    unit: frame(FrameType.CONTINUATION, 0, 1, Buffer.alloc(0)),
  },
  {
    name: 'one-byte CONTINUATION frames',
    prelude: Buffer.concat([PREFACE, settings, open('/flood', Flag.END_STREAM)]),
    // A literal field's first octet each time: the block grows by a byte a frame.
    unit: frame(FrameType.CONTINUATION, 0, 1, Buffer.from([0x00])),
  },
  {
    name: 'empty DATA frames without END_STREAM',
    prelude: Buffer.concat([PREFACE, settings, open('/hang', Flag.END_HEADERS)]),
    unit: frame(FrameType.DATA, 0, 1, Buffer.alloc(0)),
  },
  {
    name: 'padding-only DATA frames',
    prelude: Buffer.concat([PREFACE, settings, open('/hang', Flag.END_HEADERS)]),
    unit: frame(FrameType.DATA, PADDED, 1, Buffer.from([0])),
  },
  {
    name: 'PRIORITY frames',
    prelude: Buffer.concat([PREFACE, settings]),
    unit: frame(PRIORITY, 0, 3, Buffer.from([0, 0, 0, 1, 16])),
  },
  {
    name: 'WINDOW_UPDATE frames',
    prelude: Buffer.concat([PREFACE, settings]),
    unit: frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 0, 1])),
  },
  {
    name: 'SETTINGS frames',
    prelude: Buffer.concat([PREFACE, settings]),
    unit: settings,
  },
  {
    name: 'PING frames',
    prelude: Buffer.concat([PREFACE, settings]),
    unit: frame(FrameType.PING, 0, 0, Buffer.alloc(8)),
  },
];

/** One GET on `session`, its latency in ms. */
async function timedGet(session: http2.ClientHttp2Session): Promise<number> {
  const start = performance.now();
  const req = session.request({ ':method': 'GET', ':path': '/ok' });
  req.resume();
  const status = await new Promise<number>((resolve, reject) => {
    let s = 0;
    req.on('response', (h) => (s = Number(h[':status'])));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
  assert.equal(status, 200);
  return performance.now() - start;
}

describe('HTTP/2 frame floods (proxy in its own process)', () => {
  let upstream: H2EchoUpstream;
  let proxy: ProxyProcess;
  before(async () => {
    upstream = await startH2EchoUpstream(BACKEND);
    proxy = await startProxyProcess(h2ProxyConfigText({ upstreamPort: upstream.port, http: 'idleTimeoutMs: 60000' }));
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  for (const f of floods) {
    test(`${f.name}: memory stays bounded, another client is not held up`, { timeout: 30_000 }, async (t) => {
      const session = http2.connect(`http://${proxy.host}:${proxy.port}`, {
        createConnection: () => net.connect({ host: proxy.host, port: proxy.port, localAddress: STRANGER }),
      });
      session.on('error', () => {});
      try {
        const baseline = await baselineOf(() => timedGet(session));
        const rssBefore = proxy.rss();
        const cpuBefore = proxy.cpuMs();
        const started = Date.now();
        let peak = rssBefore;
        const sampler = setInterval(() => proxy.alive() && (peak = Math.max(peak, proxy.rss())), 50);
        const flood = runFlood({
          host: proxy.host, port: proxy.port, localAddress: CLIENT, connections: 4, durationMs: FLOOD_MS, maxConnects: 4000, prelude: f.prelude, unit: f.unit,
        });
        const latencies: number[] = [];
        const end = Date.now() + FLOOD_MS - 200;
        await sleep(100);
        while (Date.now() < end && proxy.alive()) {
          latencies.push(await timedGet(session));
          await sleep(5);
        }
        const { connects, bytes } = await flood;
        clearInterval(sampler);
        const cpu = (proxy.cpuMs() - cpuBefore) / (Date.now() - started);
        assert.ok(proxy.alive(), `the proxy died:\n${proxy.log().slice(-2000)}`);
        const growth = peak - rssBefore;
        const worst = [...latencies].sort((a, b) => a - b).slice(-4).map((l) => l.toFixed(0)).join(",");
        const detail = `worst ${worst} ms; ${connects} connections, ${(bytes / 2 ** 20).toFixed(0)} MiB written; RSS +${(growth / 2 ** 20).toFixed(1)} MiB; ${latencies.length} requests; proxy CPU ${(cpu * 100).toFixed(0)}%`;
        // A p99 that is more than the worst sample: at least 100 of them.
        assert.ok(latencies.length >= 100, detail);
        assert.ok(growth < MAX_RSS_GROWTH, `memory grew: ${detail}`);
        t.diagnostic(assertBystanderUnhurt(latencies, baseline, `the flood (${detail})`));
      } finally {
        session.destroy();
      }
    });
  }
});
