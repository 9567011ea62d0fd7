// The same request gets the same answer whatever protocol it arrives in. Each case is sent once over HTTP/1.1
// (raw bytes) and once over HTTP/2 (raw frames) to the same listener, and the outcomes are compared by class:
// refused as malformed (400, or an HTTP/2 stream error), denied (403), forwarded (2xx). Request-target bytes
// (RFC 9112 §3.2 / RFC 3986: no CTL, space or raw non-ASCII, in the query too), methods, authorities (no
// userinfo, no space) and header values (no CTL) follow the rules of the HTTP/1.1 parser on both.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HpackDecoder } from '../../src/protocols/http/h2/wire/hpack.js';
import { startH2EchoUpstream, type H2EchoUpstream } from '../helpers/h2-echo-upstream.js';
import { FrameType, RawH2Client, requestFields } from '../helpers/h2-raw-client.js';
import { deathstarHttpPolicy, startProxy, TIEFIGHTER, type ProxyFixture } from '../helpers/http-proxy-fixture.js';
import { rawExchange } from '../helpers/http-raw-client.js';

const POLICY = deathstarHttpPolicy('public', `
        - {path: "/public.*"}`);

type Outcome = 'refused' | 'denied' | 'forwarded' | `other ${string}`;

interface Case {
  readonly name: string;
  /** HTTP/2 only (default http). */
  readonly scheme?: string;
  readonly method?: string;
  /** latin1: each char is one byte on the wire. */
  readonly target: string;
  readonly authority?: string;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly expected: Outcome;
}

const CASES: readonly Case[] = [
  { name: 'a plain request', target: '/public/a', expected: 'forwarded' },
  { name: 'a denied path', target: '/private', expected: 'denied' },
  { name: 'a percent-encoded query', target: '/public/a?x=%7f%ff', expected: 'forwarded' },
  { name: 'printable ASCII the HTTP/1.1 parser takes in a query', target: '/public/a?q="<>{}|^`', expected: 'forwarded' },
  { name: 'DEL and a raw non-ASCII byte in the query', target: '/public/a?x=\x7f\xff', expected: 'refused' },
  { name: 'a raw non-ASCII byte in the query', target: '/public/a?x=\xe9', expected: 'refused' },
  { name: 'a space in the query', target: '/public/a?x=a b', expected: 'refused' },
  { name: 'a control character in the query', target: '/public/a?x=\x01', expected: 'refused' },
  { name: 'a tab in the query', target: '/public/a?x=\t', expected: 'refused' },
  { name: 'a raw non-ASCII byte in the path', target: '/public/\xe9', expected: 'refused' },
  { name: 'a fragment', target: '/public/a?x=1#top', expected: 'refused' },
  { name: 'a registered extension method', method: 'PURGE', target: '/public/a', expected: 'forwarded' },
  { name: 'an unknown method', method: 'FOO', target: '/public/a', expected: 'refused' },
  { name: 'a lower-case method', method: 'get', target: '/public/a', expected: 'refused' },
  { name: 'a method that is not a token', method: 'GE(T', target: '/public/a', expected: 'refused' },
  { name: 'userinfo in the authority', authority: 'user@deathstar', target: '/public/a', expected: 'refused' },
  { name: 'a space in the authority', authority: 'death star', target: '/public/a', expected: 'refused' },
  { name: 'a control character in the authority', authority: 'deathstar\x01', target: '/public/a', expected: 'refused' },
  { name: 'a slash in the authority', authority: 'deathstar/x', target: '/public/a', expected: 'refused' },
  { name: 'a bad port in the authority', authority: 'deathstar:8o', target: '/public/a', expected: 'refused' },
  { name: 'an IPv6 authority with a port', authority: '[::1]:80', target: '/public/a', expected: 'forwarded' },
  { name: 'a control character in a header value', headers: [['x-a', 'a\x01b']], target: '/public/a', expected: 'refused' },
  { name: 'DEL in a header value', headers: [['x-a', 'a\x7fb']], target: '/public/a', expected: 'refused' },
  { name: 'obs-text in a header value', headers: [['x-a', 'caf\xe9']], target: '/public/a', expected: 'forwarded' },
];

function classify(status: number): Outcome {
  if (status === 400) return 'refused';
  if (status === 403) return 'denied';
  if (status >= 200 && status < 300) return 'forwarded';
  return `other ${status}`;
}

async function overHttp1(port: number, c: Case): Promise<Outcome> {
  const headers = (c.headers ?? []).map(([n, v]) => `${n}: ${v}\r\n`).join('');
  const head = `${c.method ?? 'GET'} ${c.target} HTTP/1.1\r\nHost: ${c.authority ?? 'deathstar'}\r\n${headers}Connection: close\r\n\r\n`;
  const res = await rawExchange(port, Buffer.from(head, 'latin1'), { localAddress: TIEFIGHTER });
  const status = /^HTTP\/1\.1 (\d{3})/.exec(res.text)?.[1];
  return status === undefined ? 'refused' : classify(Number(status));
}

async function overHttp2(port: number, c: Case): Promise<Outcome> {
  const raw = await RawH2Client.connect('127.0.0.1', port, TIEFIGHTER);
  try {
    const id = raw.newStreamId();
    const fields = requestFields(c.authority ?? 'deathstar', c.target, c.method ?? 'GET', c.headers ?? []);
    raw.headers(id, fields.map(([n, v]) => (n === ':scheme' && c.scheme !== undefined ? [n, c.scheme] : [n, v])));
    const answer = await raw.waitFor((f) => f.streamId === id && (f.type === FrameType.HEADERS || f.type === FrameType.RST_STREAM));
    // A stream error (a request HTTP/2 itself calls malformed) is this protocol's 400.
    if (answer.type === FrameType.RST_STREAM) return 'refused';
    const response = new HpackDecoder().decode(answer.payload) ?? [];
    return classify(Number(response[response.indexOf(':status') + 1]));
  } finally {
    raw.close();
  }
}

function differential(name: string, start: () => Promise<{ port: number; close(): Promise<void> }>): void {
  describe(name, () => {
    let proxy: { port: number; close(): Promise<void> };
    before(async () => {
      proxy = await start();
    });
    after(() => proxy.close());

    for (const c of CASES) {
      test(`${c.name}: ${c.expected} over HTTP/1.1 and HTTP/2`, async () => {
        const h1 = await overHttp1(proxy.port, c);
        const h2 = await overHttp2(proxy.port, c);
        assert.deepEqual({ h1, h2 }, { h1: c.expected, h2: c.expected });
      });
    }
  });
}

differential('HTTP/1.1 upstream', () => startProxy({ policy: POLICY }));

differential('h2c upstream', async () => {
  const upstream: H2EchoUpstream = await startH2EchoUpstream('127.0.0.1');
  const proxy: ProxyFixture = await startProxy({ policy: POLICY, upstreamPort: upstream.port, upstreamProtocol: 'h2c' });
  return {
    port: proxy.port,
    close: async () => {
      await proxy.close();
      await upstream.close();
    },
  };
});

describe('HTTP/2 fields with no HTTP/1.1 counterpart', () => {
  let proxy: ProxyFixture;
  before(async () => {
    proxy = await startProxy({ policy: POLICY });
  });
  after(() => proxy.close());

  const h2 = (c: Partial<Case>) => overHttp2(proxy.port, { name: '', target: '/public/a', expected: 'refused', ...c });

  test('a host field that disagrees with :authority, or comes twice, is refused: policy would see one, the upstream the other', async () => {
    assert.equal(await h2({ headers: [['host', 'evil']] }), 'refused');
    assert.equal(await h2({ headers: [['host', 'deathstar'], ['host', 'evil']] }), 'refused');
    assert.equal(await h2({ headers: [['host', 'DeathStar']] }), 'forwarded');
    const seen = proxy.upstream.seen.length;
    assert.equal(await h2({ headers: [['host', 'deathstar']] }), 'forwarded');
    const hosts = proxy.upstream.seen[seen]!.rawHeaders.filter((_, i, raw) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === 'host');
    assert.deepEqual(hosts, ['deathstar']);
  });

  test(':scheme other than http or https is refused', async () => {
    assert.equal(await h2({ scheme: 'ftp' }), 'refused');
    assert.equal(await h2({ scheme: 'https' }), 'forwarded');
  });
});
