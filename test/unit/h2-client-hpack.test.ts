// HPACK for the lean HTTP/2 client: every example of RFC 7541 Appendix C through one decoder per sequence
// (so dynamic-table state and eviction carry over), table size updates, malformed input, and the encoder's
// output decoded back by our decoder and by a real node:http2 server.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { describe, test } from 'node:test';
import { HpackDecoder, HpackError, encodeHeaderBlock } from '../../src/protocols/http/h2/wire/hpack.js';
import { FrameType, Flag, PREFACE, frame, settingsFrame } from '../../src/protocols/http/h2/wire/frames.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const pairs = (flat: string[] | null) => {
  assert.ok(flat);
  const out: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
};

interface Step {
  readonly block: string;
  readonly fields: Array<[string, string]>;
  /** Dynamic table newest first, and its size. */
  readonly table: Array<[string, string]>;
  readonly size: number;
}

function runSequence(decoder: HpackDecoder, steps: Step[]): void {
  steps.forEach((step, i) => {
    assert.deepEqual(pairs(decoder.decode(hex(step.block))), step.fields, `block ${i + 1}`);
    assert.deepEqual(decoder.entries(), step.table, `table after block ${i + 1}`);
    assert.equal(decoder.tableSize, step.size, `table size after block ${i + 1}`);
  });
}

const AUTH: [string, string] = [':authority', 'www.example.com'];
const GET: Array<[string, string]> = [[':method', 'GET'], [':scheme', 'http'], [':path', '/']];
const REQ1 = [...GET, AUTH];
const REQ2 = [...GET, AUTH, ['cache-control', 'no-cache'] as [string, string]];
const REQ3: Array<[string, string]> = [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], AUTH, ['custom-key', 'custom-value']];
const REQ_TABLES = [
  [AUTH],
  [['cache-control', 'no-cache'], AUTH],
  [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], AUTH],
] as Array<Array<[string, string]>>;

const DATE1: [string, string] = ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'];
const DATE2: [string, string] = ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'];
const LOC: [string, string] = ['location', 'https://www.example.com'];
const PRIVATE: [string, string] = ['cache-control', 'private'];
const COOKIE: [string, string] = ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'];
const RES1: Array<[string, string]> = [[':status', '302'], PRIVATE, DATE1, LOC];
const RES2: Array<[string, string]> = [[':status', '307'], PRIVATE, DATE1, LOC];
const RES3: Array<[string, string]> = [[':status', '200'], PRIVATE, DATE2, LOC, ['content-encoding', 'gzip'], COOKIE];
const RES_TABLES = [
  [LOC, DATE1, PRIVATE, [':status', '302']],
  [[':status', '307'], LOC, DATE1, PRIVATE],
  [COOKIE, ['content-encoding', 'gzip'], DATE2],
] as Array<Array<[string, string]>>;

describe('RFC 7541 Appendix C', () => {
  test('C.1 integers: 10 and 1337 with a 5-bit prefix (as dynamic table size updates)', () => {
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(hex('2a')), []);
    assert.deepEqual(d.decode(hex('3f9a0a 82')), [':method', 'GET']);
    // 1337 took effect: an entry of exactly 1 + 1304 + 32 = 1337 octets fits, and the next one evicts it.
    d.decode(Buffer.concat([hex('400161'), Buffer.from([0x7f, 0x99, 0x09]), Buffer.alloc(1304, 'x')]));
    assert.equal(d.tableSize, 1337);
    d.decode(hex('4001 61 01 62'));
    assert.deepEqual(d.entries(), [['a', 'b']]);
  });

  test('C.2.1 literal with indexing', () => {
    const d = new HpackDecoder();
    assert.deepEqual(pairs(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')))[0], ['custom-key', 'custom-header']);
    assert.deepEqual(d.entries(), [['custom-key', 'custom-header']]);
    assert.equal(d.tableSize, 55);
  });

  test('C.2.2 literal without indexing, C.2.3 never indexed, C.2.4 indexed: the table stays empty', () => {
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(hex('040c 2f73 616d 706c 652f 7061 7468')), [':path', '/sample/path']);
    assert.deepEqual(d.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74')), ['password', 'secret']);
    assert.deepEqual(d.decode(hex('82')), [':method', 'GET']);
    assert.equal(d.tableSize, 0);
    assert.deepEqual(d.entries(), []);
  });

  test('C.3 requests without Huffman coding, one decoder', () => {
    runSequence(new HpackDecoder(), [
      { block: '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', fields: REQ1, table: REQ_TABLES[0]!, size: 57 },
      { block: '8286 84be 5808 6e6f 2d63 6163 6865', fields: REQ2, table: REQ_TABLES[1]!, size: 110 },
      { block: '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65', fields: REQ3, table: REQ_TABLES[2]!, size: 164 },
    ]);
  });

  test('C.4 requests with Huffman coding, one decoder', () => {
    runSequence(new HpackDecoder(), [
      { block: '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', fields: REQ1, table: REQ_TABLES[0]!, size: 57 },
      { block: '8286 84be 5886 a8eb 1064 9cbf', fields: REQ2, table: REQ_TABLES[1]!, size: 110 },
      { block: '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf', fields: REQ3, table: REQ_TABLES[2]!, size: 164 },
    ]);
  });

  test('C.5 responses without Huffman coding, 256-octet table: eviction', () => {
    runSequence(new HpackDecoder(256), [
      {
        block: `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
                2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
        fields: RES1, table: RES_TABLES[0]!, size: 222,
      },
      { block: '4803 3330 37c1 c0bf', fields: RES2, table: RES_TABLES[1]!, size: 222 },
      {
        block: `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
                54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
                5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
        fields: RES3, table: RES_TABLES[2]!, size: 215,
      },
    ]);
  });

  test('C.6 responses with Huffman coding, 256-octet table: eviction', () => {
    runSequence(new HpackDecoder(256), [
      {
        block: `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
                2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
        fields: RES1, table: RES_TABLES[0]!, size: 222,
      },
      { block: '4883 640e ffc1 c0bf', fields: RES2, table: RES_TABLES[1]!, size: 222 },
      {
        block: `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
                77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
                9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
        fields: RES3, table: RES_TABLES[2]!, size: 215,
      },
    ]);
  });
});

describe('HpackDecoder limits and errors', () => {
  test('a dynamic table size update evicts; 0 empties the table; above our setting is an error', () => {
    const d = new HpackDecoder(4096);
    d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')); // 55 octets
    d.decode(hex('4001 61 01 62')); // a: b, 34 octets
    assert.equal(d.tableSize, 89);
    assert.deepEqual(d.decode(hex('3f 15 be')), ['a', 'b']); // size 52: the older custom-key entry goes
    assert.deepEqual(d.entries(), [['a', 'b']]);
    assert.equal(d.tableSize, 34);
    assert.deepEqual(d.decode(hex('20')), []);
    assert.equal(d.tableSize, 0);
    assert.throws(() => d.decode(hex('be')), HpackError); // index 62 no longer exists
    assert.throws(() => d.decode(hex('3fe21f')), /above 4096/); // 4097
    assert.throws(() => d.decode(hex('82 20')), /after a header field/);
  });

  test('an entry larger than the table empties it and is not added', () => {
    const d = new HpackDecoder(64);
    d.decode(hex('4001 61 01 62'));
    assert.equal(d.tableSize, 34);
    assert.deepEqual(pairs(d.decode(Buffer.concat([hex('4001 61 20'), Buffer.alloc(32, 'v')]))), [['a', 'v'.repeat(32)]]);
    assert.equal(d.tableSize, 0);
  });

  test('bad integers, indexes and strings are rejected', () => {
    const d = new HpackDecoder();
    assert.throws(() => d.decode(hex('80')), /index 0/);
    assert.throws(() => d.decode(hex('c0')), /beyond the dynamic table/); // index 64, empty table
    assert.throws(() => d.decode(hex('ff')), /truncated integer/);
    assert.throws(() => d.decode(hex('ff ffffffff 0f')), /integer too large/);
    assert.throws(() => d.decode(hex('00 05 616263')), /runs past the header block/);
    assert.throws(() => d.decode(hex('00 7f ffffff7f')), /runs past/); // a 268 MB string in 6 bytes
    assert.throws(() => d.decode(hex('0001 61')), /truncated header block/); // name without a value
  });

  test('Huffman: EOS in the string, padding over 7 bits, or padding not all ones', () => {
    const d = new HpackDecoder();
    // 'a' is 00011 (5 bits) + 111 padding = 0x1f: valid.
    assert.deepEqual(d.decode(hex('00 81 1f 00')), ['a', '']);
    assert.throws(() => d.decode(hex('00 81 18 00')), /padding/); // 00011 000: padding of zeros
    assert.throws(() => d.decode(hex('00 82 1f ff 00')), /padding/); // 15 bits of padding
    assert.throws(() => d.decode(hex('00 84 ffffffff 00')), /EOS/); // the 30-bit EOS code
  });

  test('a header list over maxHeaderListSize decodes to null but still updates the table', () => {
    const d = new HpackDecoder(4096, 100);
    const big = Buffer.concat([hex('4001 61 40'), Buffer.alloc(64, 'v')]); // a: v*64, 97 octets, indexed
    assert.equal(d.decode(Buffer.concat([big, hex('82')])), null); // 97 + 42 > 100
    assert.equal(d.tableSize, 97);
    assert.deepEqual(d.decode(hex('be')), ['a', 'v'.repeat(64)]);
  });
});

describe('encodeHeaderBlock', () => {
  const fields: Array<[string, string]> = [
    [':method', 'POST'], [':scheme', 'http'], [':authority', 'upstream:8080'], [':path', '/pkg.Service/Method'],
    ['content-type', 'application/grpc'], ['te', 'trailers'], ['x-custom', 'v'.repeat(300)], ['x-bin-bin', 'AAEC'],
    ['user-agent', 'grpc-node/1.0 portcullis\u00e9'], ['x-empty', ''],
  ];

  test('literals without indexing: decode back, no dynamic table entries', () => {
    const d = new HpackDecoder();
    const block = encodeHeaderBlock(fields);
    assert.equal(block[0], 0x02); // :method by static name index 2, without indexing
    assert.deepEqual(pairs(d.decode(block)), fields);
    assert.equal(d.tableSize, 0);
    // With a table size update first (what a server that changed SETTINGS_HEADER_TABLE_SIZE expects).
    const updated = encodeHeaderBlock(fields, true);
    assert.equal(updated[0], 0x20);
    assert.deepEqual(pairs(d.decode(updated)), fields);
  });

  test('a real node:http2 server decodes the block in a hand-written HEADERS frame', async () => {
    const server = http2.createServer();
    const seen = new Promise<string[]>((resolve) =>
      server.on('stream', (stream: http2.ServerHttp2Stream, _headers: http2.IncomingHttpHeaders, _flags: number, raw: string[]) => {
        resolve(raw);
        stream.respond({ ':status': 204 }, { endStream: true });
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    socket.on('data', () => {});
    try {
      const block = encodeHeaderBlock(fields, true);
      const headers = frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, block.length);
      block.copy(headers, 9);
      socket.write(Buffer.concat([PREFACE, settingsFrame([]), headers]));
      const raw = await seen;
      assert.deepEqual(pairs(raw), fields);
    } finally {
      socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
