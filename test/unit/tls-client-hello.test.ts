import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ClientHelloReader, type ClientHelloFailure, type ClientHelloResult } from '../../src/protocols/tls/client-hello.js';
import { clientHelloBody, ext, handshake, records, unframe, vec16, type HelloFields } from '../helpers/tls-client-hello-builder.js';

const fixtureDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/tls');
const fixture = (name: string): Buffer => Buffer.from(readFileSync(path.join(fixtureDir, `${name}.hex`), 'utf8').trim(), 'hex');

const TLS13 = 0x0304;
const TLS12 = 0x0303;

// Real hellos captured by test/helpers/tls-capture-client-hello.ts, with what each client was asked to send.
const FIXTURES = [
  { name: 'openssl-sni-alpn', sni: 'api.example.com', alpn: ['h2', 'http/1.1'], tls13: true },
  { name: 'openssl-tls12-sni', sni: 'deathstar.empire.local', alpn: [], tls13: false },
  { name: 'node-sni-alpn', sni: 'deathstar.empire.local', alpn: ['h2', 'http/1.1'], tls13: true },
  { name: 'node-no-sni', sni: undefined, alpn: [], tls13: true },
  { name: 'curl-sni', sni: 'www.cilium.io', alpn: ['h2', 'http/1.1'], tls13: true },
] as const;

function feed(chunks: readonly Buffer[], options?: { maxBytes?: number }): ClientHelloResult {
  const reader = new ClientHelloReader(options);
  let result: ClientHelloResult = { state: 'incomplete' };
  for (const chunk of chunks) result = reader.push(chunk);
  return result;
}

function bytewise(buf: Buffer): Buffer[] {
  return Array.from({ length: buf.length }, (_, i) => buf.subarray(i, i + 1));
}

function expectError(result: ClientHelloResult, code: ClientHelloFailure, message?: RegExp): void {
  assert.equal(result.state, 'error', `expected ${code}, got ${JSON.stringify(result)}`);
  if (result.state !== 'error') return;
  assert.equal(result.error.reason, code, result.error.message);
  if (message) assert.match(result.error.message, message);
}

function helloRecords(fields: HelloFields): Buffer {
  return records(handshake(clientHelloBody(fields)));
}

describe('ClientHello reader: captured hellos', () => {
  for (const f of FIXTURES) {
    it(`${f.name}: SNI, ALPN and versions`, () => {
      const result = feed([fixture(f.name)]);
      assert.equal(result.state, 'complete', JSON.stringify(result));
      if (result.state !== 'complete') return;
      assert.equal(result.hello.sni, f.sni);
      assert.deepEqual(result.hello.alpn, f.alpn);
      assert.equal(result.hello.legacyVersion, TLS12);
      if (f.tls13) assert.ok(result.hello.tlsVersions?.includes(TLS13));
      else assert.equal(result.hello.tlsVersions, undefined);
    });

    it(`${f.name}: fed one byte per segment, complete only at the last byte`, () => {
      const bytes = fixture(f.name);
      const reader = new ClientHelloReader();
      for (let i = 0; i < bytes.length - 1; i++) assert.equal(reader.push(bytes.subarray(i, i + 1)).state, 'incomplete', `byte ${i}`);
      const result = reader.push(bytes.subarray(bytes.length - 1));
      assert.equal(result.state, 'complete');
      assert.deepEqual(result, feed([bytes]));
    });

    it(`${f.name}: re-framed into 3 records (whole and byte by byte)`, () => {
      const message = unframe(fixture(f.name));
      // Cut inside the handshake header and in the middle of the body.
      const reframed = records(message, [2, Math.floor(message.length / 2)]);
      assert.equal(reframed.length, message.length + 15);
      const expected = feed([fixture(f.name)]);
      assert.deepEqual(feed([reframed]), expected);
      assert.deepEqual(feed(bytewise(reframed)), expected);
    });
  }

  it('truncated by one byte, then the stream ends', () => {
    const bytes = fixture('node-sni-alpn');
    const reader = new ClientHelloReader();
    assert.equal(reader.push(bytes.subarray(0, -1)).state, 'incomplete');
    expectError(reader.end(), 'truncated', new RegExp(`after ${bytes.length - 1} bytes`));
  });

  it('stream ends inside a record header', () => {
    const reader = new ClientHelloReader();
    reader.push(Buffer.from([0x16, 0x03]));
    expectError(reader.end(), 'truncated');
  });

  it('bytes after the hello in the same push are ignored, not parsed', () => {
    const bytes = Buffer.concat([fixture('curl-sni'), Buffer.from('17030300051122334455', 'hex')]);
    assert.equal(feed([bytes]).state, 'complete');
  });

  it('a finished reader keeps returning its result', () => {
    const reader = new ClientHelloReader();
    const first = reader.push(fixture('curl-sni'));
    assert.equal(reader.push(Buffer.from('garbage')), first);
    assert.equal(reader.end(), first);
  });
});

describe('ClientHello reader: not TLS', () => {
  const cases: Array<[string, Buffer]> = [
    ['plain HTTP', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['HTTP/2 preface', Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')],
    ['SSLv2-style hello', Buffer.from('802e0100020015000000100100800300800700c0', 'hex')],
    ['Kafka request', Buffer.from('0000001f0012000300000001', 'hex')],
    ['handshake type but SSL 2 version', Buffer.from('1602000010', 'hex')],
  ];
  for (const [name, bytes] of cases) {
    it(name, () => expectError(feed([bytes]), 'not-tls'));
  }

  it('is decided from the first byte alone', () => {
    expectError(new ClientHelloReader().push(Buffer.from('G')), 'not-tls', /0x47/);
  });

  it('a TLS alert record is not a hello', () => {
    expectError(feed([Buffer.from('15030300020228', 'hex')]), 'not-tls');
  });
});

describe('ClientHello reader: malformed and hostile input', () => {
  it('ServerHello instead of ClientHello', () => {
    expectError(feed([records(handshake(clientHelloBody(), 2))]), 'not-client-hello', /type 2/);
  });

  it('hello without extensions (SSLv3/TLS 1.0 style) has no SNI', () => {
    const result = feed([helloRecords({})]);
    assert.equal(result.state, 'complete');
    if (result.state === 'complete') assert.deepEqual(result.hello, { legacyVersion: TLS12, alpn: [] });
  });

  it('a different record type between the records of one hello', () => {
    const message = handshake(clientHelloBody({ extensions: [ext.sni('a.example')] }));
    const bytes = Buffer.concat([records(message.subarray(0, 10)), records(message.subarray(10), [], 23)]);
    expectError(feed([bytes]), 'malformed', /record type 23/);
  });

  it('empty record', () => expectError(feed([Buffer.from('1603010000', 'hex')]), 'malformed', /empty/));
  it('record longer than 2^14', () => expectError(feed([Buffer.from('1603014001', 'hex')], { maxBytes: 1 << 20 }), 'malformed', /2\^14/));

  const malformedBodies: Array<[string, HelloFields | Buffer, RegExp]> = [
    ['session id longer than 32', { sessionId: Buffer.alloc(33) }, /session id/],
    ['no cipher suites', { cipherSuites: Buffer.alloc(0) }, /cipher suites/],
    ['odd cipher suites length', { cipherSuites: Buffer.alloc(3) }, /cipher suites/],
    ['no compression methods', { compression: Buffer.alloc(0) }, /compression/],
    ['duplicate SNI extension', { extensions: [ext.sni('a.example'), ext.sni('b.example')] }, /duplicate extension 0/],
    ['empty server_name list', { extensions: [[0, vec16(Buffer.alloc(0))]] }, /server_name/],
    ['server_name list length mismatch', { extensions: [[0, Buffer.from('0010000003616263', 'hex')]] }, /server_name/],
    ['server_name entry overruns', { extensions: [[0, Buffer.from('000400ffff61', 'hex')]] }, /server_name entry/],
    ['empty ALPN protocol', { extensions: [[16, Buffer.from('000100', 'hex')]] }, /ALPN protocol name is empty/],
    ['ALPN list overruns', { extensions: [[16, Buffer.from('00050268', 'hex')]] }, /ALPN/],
    ['odd supported_versions', { extensions: [[43, Buffer.from('0303', 'hex')]] }, /supported_versions/],
    ['body shorter than its fixed fields', Buffer.from('0303aabb', 'hex'), /run past/],
    ['extensions length larger than what is left', Buffer.concat([clientHelloBody({ extensions: [] }).subarray(0, -2), Buffer.from('0010', 'hex')]), /extensions length/],
    ['extension overruns the block', Buffer.concat([clientHelloBody({ extensions: [] }).subarray(0, -2), Buffer.from('00040000ffff', 'hex')]), /extension 0 runs past/],
  ];
  for (const [name, fields, message] of malformedBodies) {
    it(name, () => {
      const body = Buffer.isBuffer(fields) ? fields : clientHelloBody(fields);
      expectError(feed([records(handshake(body))]), 'malformed', message);
    });
  }

  const badNames: Array<[string, ReadonlyArray<readonly [number, string]>, RegExp]> = [
    ['non-host_name type', [[1, 'a.example']], /type 1/],
    ['two host_names', [[0, 'a.example'], [0, 'b.example']], /more than one/],
    ['empty name', [[0, '']], /length 0/],
    ['space in the name', [[0, 'bad name.example']], /not a valid DNS name/],
    ['NUL in the name', [[0, 'evil.example\0.good.example']], /not a valid DNS name/],
    ['empty label', [[0, 'a..example']], /not a valid DNS name/],
    ['trailing dot', [[0, 'a.example.']], /not a valid DNS name/],
    ['label starting with a hyphen', [[0, '-a.example']], /not a valid DNS name/],
    ['label longer than 63', [[0, `${'a'.repeat(64)}.example`]], /not a valid DNS name/],
    ['non-ASCII byte', [[0, 'caf\u00e9.example']], /not a valid DNS name/],
    ['name longer than 253', [[0, Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.')]], /length 304/],
  ];
  for (const [name, entries, message] of badNames) {
    it(`invalid SNI: ${name}`, () => expectError(feed([helloRecords({ extensions: [ext.serverNames(entries)] })]), 'invalid-sni', message));
  }

  it('valid SNI forms: upper case is lower-cased, underscores and digits pass', () => {
    for (const [sent, seen] of [['WWW.Cilium.IO', 'www.cilium.io'], ['_svc.a-1.example', '_svc.a-1.example'], ['localhost', 'localhost']]) {
      const result = feed([helloRecords({ extensions: [ext.sni(sent!)] })]);
      assert.equal(result.state === 'complete' && result.hello.sni, seen);
    }
  });

  it('unknown extensions are skipped; ALPN and supported_versions are read', () => {
    const result = feed([helloRecords({ extensions: [[0xfe0d, Buffer.alloc(40, 9)], ext.alpn(['grpc-exp', 'h2']), ext.supportedVersions([TLS13]), ext.sni('x.example'), [0xff01, Buffer.alloc(0)]] })]);
    assert.deepEqual(result, { state: 'complete', hello: { legacyVersion: TLS12, alpn: ['grpc-exp', 'h2'], sni: 'x.example', tlsVersions: [TLS13] } });
  });
});

describe('ClientHello reader: size cap', () => {
  it('a hello over maxBytes is refused', () => {
    const bytes = fixture('curl-sni');
    expectError(feed([bytes], { maxBytes: bytes.length - 1 }), 'too-large');
    assert.equal(feed([bytes], { maxBytes: bytes.length }).state, 'complete');
  });

  it('the default cap (16 KiB) accepts a large hello and refuses a larger one', () => {
    const padded = (n: number): Buffer => {
      const message = handshake(clientHelloBody({ extensions: [ext.sni('big.example'), [21, Buffer.alloc(n)]] }));
      return records(message, [16000]);
    };
    assert.equal(feed([padded(15_000)]).state, 'complete');
    expectError(feed([padded(17_000)]), 'too-large');
  });

  it('is refused from the announced handshake length, before the body arrives', () => {
    // A record announcing 2^14 bytes is refused from its header when the cap is lower.
    expectError(feed([Buffer.from('1603014000', 'hex')], { maxBytes: 4096 }), 'too-large');
    // A 16-byte record whose handshake header announces 16 MiB: refused at once, nothing allocated.
    expectError(new ClientHelloReader().push(Buffer.from('1603010010' + '01ffffff', 'hex')), 'too-large', /16777224 bytes/);
    // The same framing announcing 12 bytes just waits for them.
    assert.equal(new ClientHelloReader().push(Buffer.from('1603010010' + '0100000c', 'hex')).state, 'incomplete');
  });

  it('many tiny records count their headers against the cap', () => {
    const message = handshake(clientHelloBody({ extensions: [ext.sni('a.example')] }));
    const oneByteRecords = records(message, Array.from({ length: message.length - 1 }, (_, i) => i + 1));
    expectError(feed([oneByteRecords], { maxBytes: message.length * 3 }), 'too-large');
    assert.equal(feed([oneByteRecords], { maxBytes: message.length * 6 }).state, 'complete');
  });
});

describe('ClientHello reader: robustness', () => {
  it('never throws on mutated and truncated real hellos', () => {
    const sources = FIXTURES.map((f) => fixture(f.name));
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const outcomes = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const bytes = Buffer.from(sources[random(sources.length)]!);
      for (let m = random(4) + 1; m > 0; m--) bytes[random(bytes.length)] = random(256);
      const cut = random(3) === 0 ? random(bytes.length) : bytes.length;
      const reader = new ClientHelloReader();
      let result = reader.push(bytes.subarray(0, cut));
      if (result.state === 'incomplete') result = reader.end();
      outcomes.add(result.state === 'error' ? result.error.reason : result.state);
      if (result.state === 'complete' && result.hello.sni !== undefined) assert.match(result.hello.sni, /^[a-z0-9_.-]+$/);
    }
    // The mutations must have exercised both acceptance and several distinct rejections.
    for (const expected of ['complete', 'malformed', 'truncated', 'not-tls']) assert.ok(outcomes.has(expected), `${expected} in ${[...outcomes]}`);
  });
});
