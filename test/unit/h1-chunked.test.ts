// Portcullis' own chunked-body decoder: data handed on without copies, the body's end found exactly (pipelining),
// any split of the input decoding the same, and the strict rules on sizes, extensions, CRLFs and trailers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkedDecoder } from '../../src/protocols/http/h1/chunked.js';
import { HeadError } from '../../src/protocols/http/h1/head-parser.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

interface Decoded {
  readonly data: string;
  readonly end: number | HeadError;
  readonly done: boolean;
  readonly trailers: string[];
}

/** Feeds `input` in pieces cut at `cuts` (offsets), stopping where the decoder stops. */
function decode(input: string, cuts: number[] = [], maxTrailerBytes = 1024, maxTrailerCount = 10): Decoded {
  const buf = bytes(input);
  const decoder = new ChunkedDecoder(maxTrailerBytes, maxTrailerCount);
  let data = '';
  const bounds = [0, ...cuts, buf.length];
  let end: number | HeadError = 0;
  for (let i = 0; i + 1 < bounds.length; i++) {
    end = decoder.push(buf, bounds[i]!, bounds[i + 1]!, (chunk) => {
      assert.equal(chunk.buffer, buf.buffer, 'chunk data is a view of the input, not a copy');
      data += chunk.toString('latin1');
    });
    if (end instanceof HeadError || decoder.done) break;
    assert.equal(end, bounds[i + 1]);
  }
  return { data, end, done: decoder.done, trailers: decoder.trailers };
}

function refused(input: string, reason: RegExp, maxTrailerBytes = 1024, maxTrailerCount = 10): void {
  const out = decode(input, [], maxTrailerBytes, maxTrailerCount);
  assert.ok(out.end instanceof HeadError, `expected ${JSON.stringify(input)} to be refused`);
  assert.equal(out.end.status, 400);
  assert.match(out.end.reason, reason, JSON.stringify(input));
  assert.equal(out.done, false);
}

test('a chunked body: data, the offset just past its end, no trailers', () => {
  const body = '5\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n';
  const out = decode(`${body}GET / HTTP/1.1\r\n`);
  assert.equal(out.data, 'helloabcdefghijklmnopqrstuvwxyz');
  assert.equal(out.end, body.length);
  assert.equal(out.done, true);
  assert.deepEqual(out.trailers, []);
});

test('every split of the input into two or three pushes decodes the same data, trailers and end', () => {
  const body = '3;a=b\r\nabc\r\n00a ; x ; y="q\\"z"\r\n0123456789\r\n000\r\nX-Sum: 12\r\nX-Other:  v \r\n\r\n';
  const input = `${body}next`;
  const whole = decode(input);
  assert.deepEqual([whole.data, whole.end, whole.trailers], ['abc0123456789', body.length, ['X-Sum', '12', 'X-Other', 'v']]);
  for (let a = 1; a < body.length; a++) {
    assert.deepEqual(decode(input, [a]), whole, `cut at ${a}`);
    for (let b = a + 1; b < body.length; b += 7) assert.deepEqual(decode(input, [a, b]), whole, `cuts at ${a}, ${b}`);
  }
});

test('the body ending exactly at the end of a push: done, offset == end', () => {
  const out = decode('0\r\n\r\n');
  assert.deepEqual([out.end, out.done], [5, true]);
});

test('chunk sizes: hex digits only, at most 16 of them, at most 2^53-1', () => {
  assert.equal(decode('0000000000000005\r\nhello\r\n0\r\n\r\n').data, 'hello');
  assert.equal(decode('1fffffffffffff\r\n').end, 16); // 2^53-1: waits for the data
  refused('20000000000000\r\n', /too large/); // 2^53
  refused('00000000000000005\r\n', /too large/);
  refused('ffffffffffffffffff\r\n', /too large/);
  for (const size of ['', 'x', '-5', '+5', '0x5', ' 5', 'g']) refused(`${size}\r\nhello\r\n0\r\n\r\n`, /invalid chunk size|bare/);
});

test('chunk extensions: BWS, tokens and quoted strings are accepted and dropped; anything else is 400', () => {
  for (const ext of [';a', ';a=b', ' ;a', '\t; a = b', ';a="b c;d"', ';a=""', ';a;b=c;d', ';a="\\""']) {
    assert.equal(decode(`2${ext}\r\nhi\r\n0${ext}\r\n\r\n`).data, 'hi', JSON.stringify(ext));
  }
  for (const ext of [' ', ';', ';=b', ';a=', ';a=b c', ';a="b', ';a=b"', ';a=\x01', ';a="\x00"', '; a b']) {
    refused(`2${ext}\r\nhi\r\n0\r\n\r\n`, /invalid chunk extension/);
  }
  refused(`2;a=${'b'.repeat(5000)}\r\nhi\r\n0\r\n\r\n`, /extensions too large/);
});

test('bare LF or CR in a size line or trailers, and data not followed by exactly CRLF, are 400', () => {
  refused('5\nhello\r\n0\r\n\r\n', /bare/);
  refused('5;a=b\nhello\r\n0\r\n\r\n', /bare/);
  refused('5\rhello\r\n0\r\n\r\n', /bare/);
  refused('5\r\nhello\n0\r\n\r\n', /not followed by CRLF/);
  refused('5\r\nhelloX\r\n0\r\n\r\n', /not followed by CRLF/);
  refused('5\r\nhello\r\r\n0\r\n\r\n', /not followed by CRLF/);
  refused('5\r\nhello\r\n0\r\n\n', /bare/);
  refused('5\r\nhello\r\n0\r\nX: y\n\r\n', /bare/);
  refused('5\r\nhello\r\n0\r\nX: y\rZ: w\r\n\r\n', /bare/);
});

test('trailer fields follow the header rules; their bytes and count are bounded (400)', () => {
  refused('0\r\nX: y\r\n folded\r\n\r\n', /obs-fold/);
  refused('0\r\nX : y\r\n\r\n', /whitespace before the colon/);
  refused('0\r\nX: a\x00b\r\n\r\n', /invalid character in trailer value/);
  const three = '0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n';
  assert.deepEqual(decode(three, [], 1024, 3).trailers, ['A', '1', 'B', '2', 'C', '3']);
  refused(three, /too many trailer fields/, 1024, 2);
  assert.equal(decode(three, [], 18, 10).done, true); // 3 lines of 6 bytes
  refused(three, /trailer section too large/, 17, 10);
});

test('a failed decoder stays failed; a done one consumes nothing more', () => {
  const decoder = new ChunkedDecoder(1024, 10);
  const noData = (): void => assert.fail('no data expected');
  const error = decoder.push(bytes('z\r\n'), 0, 3, noData);
  assert.ok(error instanceof HeadError);
  assert.equal(decoder.push(bytes('0\r\n\r\n'), 0, 5, noData), error);
  const done = new ChunkedDecoder(1024, 10);
  assert.equal(done.push(bytes('0\r\n\r\n'), 0, 5, noData), 5);
  assert.equal(done.push(bytes('0\r\n\r\n'), 0, 5, noData), 0);
});
