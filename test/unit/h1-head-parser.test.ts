// Portcullis' own HTTP/1.1 head parser: finding the end of a head (incrementally, within a byte limit) and the
// strict syntax of request lines, status lines and field lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HeadError,
  findHeadEnd,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
} from '../../src/protocols/http/h1/head-parser.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

function request(s: string, maxCount = 100): RequestHead {
  const buf = bytes(s);
  const end = findHeadEnd(buf, 0, 16384);
  assert.equal(end, buf.length, `head end of ${JSON.stringify(s)}`);
  const head = parseRequestHead(buf, 0, buf.length, maxCount);
  assert.ok(!(head instanceof HeadError), head instanceof HeadError ? head.reason : '');
  return head as RequestHead;
}

/** A request head refused by findHeadEnd or parseRequestHead. */
function refused(s: string, maxCount = 100): HeadError {
  const buf = bytes(s);
  const end = findHeadEnd(buf, 0, 16384);
  if (end instanceof HeadError) return end;
  assert.notEqual(end, -1, `no head end in ${JSON.stringify(s)}`);
  const head = parseRequestHead(buf, 0, end, maxCount);
  assert.ok(head instanceof HeadError, `expected ${JSON.stringify(s)} to be refused`);
  return head;
}

function response(s: string): ResponseHead | HeadError {
  const buf = bytes(s);
  const end = findHeadEnd(buf, 0, 16384);
  if (end instanceof HeadError) return end;
  assert.equal(end, buf.length);
  return parseResponseHead(buf, 0, end, 100);
}

test('a request head: method, target and names as sent, values trimmed of SP/HTAB only', () => {
  const head = request(
    'PATCH /v1/ships?name=x%20y HTTP/1.1\r\nHost: deathstar\r\nX-Empty:\r\nX-Spaces: \t a  b \t\r\nx-Obs: \xa0caf\xe9\xa0\r\n\r\n',
  );
  assert.equal(head.method, 'PATCH');
  assert.equal(head.target, '/v1/ships?name=x%20y');
  assert.equal(head.versionMinor, 1);
  assert.deepEqual(head.rawHeaders, ['Host', 'deathstar', 'X-Empty', '', 'X-Spaces', 'a  b', 'x-Obs', '\xa0caf\xe9\xa0']);
  assert.equal(request('GET * HTTP/1.0\r\n\r\n').versionMinor, 0);
  assert.deepEqual(request('GET * HTTP/1.0\r\n\r\n').rawHeaders, []);
  assert.equal(request('get http://a:80/x HTTP/1.1\r\nHost: a\r\n\r\n').method, 'get');
});

test('findHeadEnd: the offset past the empty line, -1 while incomplete, also from an offset and with pipelining', () => {
  const head = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
  const two = bytes(`xx${head}${head}`);
  assert.equal(findHeadEnd(two, 2, 16384), 2 + head.length);
  assert.equal(findHeadEnd(two, 2 + head.length, 16384), two.length);
  for (let cut = 0; cut < head.length; cut++) {
    assert.equal(findHeadEnd(bytes(head.slice(0, cut)), 0, 16384), -1, `cut at ${cut}`);
  }
});

test('findHeadEnd resumes from scanFrom: every split of the head into two reads finds the same end', () => {
  const head = 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi';
  const full = bytes(head);
  const end = head.indexOf('hi');
  for (let cut = 1; cut < full.length; cut++) {
    const first = findHeadEnd(full.subarray(0, cut), 0, 16384);
    if (cut < end) {
      assert.equal(first, -1, `cut at ${cut}`);
      assert.equal(findHeadEnd(full, 0, 16384, cut), end, `resumed at ${cut}`);
    } else {
      assert.equal(first, end);
    }
  }
});

test('findHeadEnd: 431 when no end within maxBytes of start; an end exactly at the limit is fine', () => {
  const head = bytes('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(findHeadEnd(head, 0, head.length), head.length);
  assert.equal((findHeadEnd(head, 0, head.length - 1) as HeadError).status, 431);
  const endless = bytes(`GET / HTTP/1.1\r\nX: ${'a'.repeat(200)}`);
  assert.equal(findHeadEnd(endless, 0, 300), -1);
  assert.equal((findHeadEnd(endless, 0, 100) as HeadError).status, 431);
});

test('empty lines before the request line are skipped (as llhttp does); bare CR or LF there is 400', () => {
  const head = request('\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(head.target, '/');
  assert.equal(findHeadEnd(bytes('\r\n\r\n'), 0, 16384), -1);
  assert.equal(refused('\nGET / HTTP/1.1\r\nHost: a\r\n\r\n').status, 400);
  assert.equal(refused('\rGET / HTTP/1.1\r\nHost: a\r\n\r\n').status, 400);
});

test('a bare LF or CR is 400, in an incomplete head already and in a complete one', () => {
  for (const s of ['GET / HTTP/1.1\nHost: a', 'GET / HTTP/1.1\r\nHost: a\n', 'GET / HTTP/1.1\r\nHost: a\rb', 'GET / HTTP/1.1\r\nHost: a\r\n\n']) {
    const out = findHeadEnd(bytes(s), 0, 16384);
    assert.ok(out instanceof HeadError && out.status === 400, JSON.stringify(s));
  }
  // A CR last in the buffer may be the first half of a CRLF.
  assert.equal(findHeadEnd(bytes('GET / HTTP/1.1\r'), 0, 16384), -1);
  for (const s of [
    'GET / HTTP/1.1\nHost: a\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n',
    'GET /\r HTTP/1.1\r\nHost: a\r\n\r\n',
  ]) {
    const error = refused(s);
    assert.equal(error.status, 400, JSON.stringify(s));
    assert.match(error.reason, /bare CR or LF/, JSON.stringify(s));
  }
});

test('request line: one SP between token method, visible-ASCII target and version, else 400', () => {
  for (const line of [
    'GET  / HTTP/1.1',
    'GET /  HTTP/1.1',
    'GET\t/ HTTP/1.1',
    ' GET / HTTP/1.1',
    'GET / HTTP/1.1 ',
    'GET /a b HTTP/1.1',
    'GET /\x7f HTTP/1.1',
    'GET /\xe9 HTTP/1.1',
    'GET /\x00 HTTP/1.1',
    'G(T / HTTP/1.1',
    'GET  HTTP/1.1',
    'GET / http/1.1',
    'GET / HTTP/1.1.1',
    'GET / HTTP/11',
    'GET / HTTP/1.10',
    'GET /',
  ]) {
    const error = refused(`${line}\r\nHost: a\r\n\r\n`);
    assert.equal(error.status, 400, JSON.stringify(line));
    assert.equal(error.reason, 'malformed request line', JSON.stringify(line));
  }
});

test('a well-formed version other than HTTP/1.0 and HTTP/1.1 is 505', () => {
  for (const version of ['HTTP/1.2', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/3.1']) {
    assert.equal(refused(`GET / ${version}\r\nHost: a\r\n\r\n`).status, 505, version);
  }
});

test('field lines: obs-fold, whitespace before the colon, empty or non-token names, control bytes in values are 400', () => {
  const cases: [string, RegExp][] = [
    ['Host: a\r\n folded', /obs-fold/],
    ['Host: a\r\n\tfolded', /obs-fold/],
    ['Host : a', /whitespace before the colon/],
    ['Host\t: a', /whitespace before the colon/],
    [': a', /empty header name/],
    ['Host a', /without a colon/],
    ['Ho st: a', /invalid character in header name/],
    ['Ho\xe9st: a', /invalid character in header name/],
    ['X: a\x00b', /invalid character in header value/],
    ['X: a\x7fb', /invalid character in header value/],
    ['X: a\x0bb', /invalid character in header value/],
    ['X: \x01', /invalid character in header value/],
  ];
  for (const [line, reason] of cases) {
    const error = refused(`GET / HTTP/1.1\r\nHost: h\r\n${line}\r\n\r\n`);
    assert.equal(error.status, 400, JSON.stringify(line));
    assert.match(error.reason, reason, JSON.stringify(line));
  }
});

test('more than maxHeaderCount fields is 431; exactly the count is fine', () => {
  const head = `GET / HTTP/1.1\r\n${'X: y\r\n'.repeat(5)}\r\n`;
  assert.equal(request(head, 5).rawHeaders.length, 10);
  assert.equal(refused(head, 4).status, 431);
});

test('parse refuses bytes after the empty line (an end not from findHeadEnd)', () => {
  const buf = bytes('GET / HTTP/1.1\r\nHost: a\r\n\r\nX: y\r\n\r\n');
  assert.ok(parseRequestHead(buf, 0, buf.length, 100) instanceof HeadError);
});

test('response heads: status, reason (possibly empty), fields; any error is 502', () => {
  const ok = response('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nSet-Cookie: a=b\r\n\r\n') as ResponseHead;
  assert.deepEqual([ok.status, ok.reason, ok.versionMinor, ok.rawHeaders], [200, 'OK', 1, ['Content-Length', '0', 'Set-Cookie', 'a=b']]);
  assert.equal((response('HTTP/1.0 404 Not \tFound \xe9\r\n\r\n') as ResponseHead).reason, 'Not \tFound \xe9');
  assert.equal((response('HTTP/1.1 204 \r\n\r\n') as ResponseHead).reason, '');
  assert.equal((response('HTTP/1.1 204\r\n\r\n') as ResponseHead).status, 204);
  assert.equal((response('\r\nHTTP/1.1 100 Continue\r\n\r\n') as ResponseHead).status, 100);
  for (const s of [
    'HTTP/1.1 099 Low\r\n\r\n',
    'HTTP/1.1 600 High\r\n\r\n',
    'HTTP/1.1 20 Short\r\n\r\n',
    'HTTP/1.1 2000 Long\r\n\r\n',
    'HTTP/1.2 200 OK\r\n\r\n',
    'HTTP/2 200 OK\r\n\r\n',
    'http/1.1 200 OK\r\n\r\n',
    'HTTP/1.1  200 OK\r\n\r\n',
    'HTTP/1.1 200 O\x00K\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX : y\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n',
    'HTTP/1.1 200 OK\rX: y\r\n\r\n',
  ]) {
    const out = response(s);
    assert.ok(out instanceof HeadError, JSON.stringify(s));
    assert.equal(out.status, 502, JSON.stringify(s));
  }
});
