// Path normalisation vectors, most from Envoy's test/common/http/path_utility_test.cc
// (NormalizeValidPaths, NormalizeCasePath, InvalidPaths, MergeSlashes), plus the escaped-slash,
// fragment and query rules Portcullis adds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeAbsoluteTarget, normalizePath, PathError } from '../../src/protocols/http/path.js';

function normalized(path: string, escapedSlashes: 'reject' | 'keep' = 'keep'): string {
  const out = normalizePath(path, escapedSlashes);
  assert.equal(typeof out, 'string', `${path} was refused: ${out instanceof PathError ? out.reason : ''}`);
  return out as string;
}

function refused(path: string, escapedSlashes: 'reject' | 'keep' = 'reject'): string {
  const out = normalizePath(path, escapedSlashes);
  assert.ok(out instanceof PathError, `${path} was accepted as ${String(out)}`);
  return out.reason;
}

test('already normal paths come back as the same string', () => {
  for (const path of ['/xyz', '/x/y/z', '/', '/v1/request-landing', '/a/b?x=1&y=/../z']) {
    assert.equal(normalizePath(path, 'reject'), path);
  }
});

test("Envoy NormalizeValidPaths: dot segments, backslashes, %2E", () => {
  const vectors: Array<[string, string]> = [
    ['/a/b/../c', '/a/c'],
    ['/a/b/./c', '/a/b/c'],
    ['a/b/../c', '/a/c'],
    ['/a/b/../../../../c', '/c'],
    ['/a/..\\c', '/c'],
    ['/%c0%af', '/%c0%af'],
    ['/%5c%25', '/%5c%25'],
    ['/a/b/%2E%2E/c', '/a/c'],
    ['/a/b/%2E./c', '/a/c'],
    ['/a/b/%2E/c', '/a/b/c'],
    ['..', '/'],
    ['/../a/b', '/a/b'],
    ['/./a/b', '/a/b'],
  ];
  for (const [input, output] of vectors) assert.equal(normalized(input), output, input);
});

test('Envoy NormalizeCasePath: case is kept, %2e in either case is a dot, %2F is left alone when kept', () => {
  assert.equal(normalized('/A/B/C'), '/A/B/C');
  assert.equal(normalized('/a/b/%2E%2E/c'), '/a/c');
  assert.equal(normalized('/a/b/%2e%2e/c'), '/a/c');
  assert.equal(normalized('/a/%2F%2f/c', 'keep'), '/a/%2F%2f/c');
});

test('Envoy InvalidPaths: NUL and broken percent-encoding are refused', () => {
  assert.match(refused('/xyz/.%00../abc'), /NUL/);
  assert.match(refused('/xyz/%00.%00./abc'), /NUL/);
  assert.match(refused('/xyz/AAAAA%%0000/abc'), /percent-encoding/);
  assert.match(refused('/a%2'), /percent-encoding/);
  assert.match(refused('/a%g1'), /percent-encoding/);
});

test('Envoy MergeSlashes: runs of slashes in the path collapse, the query is untouched', () => {
  const vectors: Array<[string, string]> = [
    ['/a//b/c/', '/a/b/c/'],
    ['/a', '/a'],
    ['//a/b/c', '/a/b/c'],
    ['/a//b/c', '/a/b/c'],
    ['/a/b/c//', '/a/b/c/'],
    ['/a///b/c', '/a/b/c'],
    ['/a////b/c', '/a/b/c'],
    ['/a//b?a=///c', '/a/b?a=///c'],
    ['/a//b?', '/a/b?'],
    ['//a/?b', '/a/?b'],
  ];
  for (const [input, output] of vectors) assert.equal(normalized(input), output, input);
});

test('escaped slashes (%2F, %5C) are refused by default and kept verbatim otherwise', () => {
  for (const path of ['/a%2Fb', '/a%2fb', '/a%5Cb', '/a%5cb', '/v1%2F..%2Fadmin']) {
    assert.match(refused(path, 'reject'), /escaped slash/);
  }
  assert.equal(normalized('/a%2Fb/../c', 'keep'), '/c');
  assert.equal(normalized('/a/%2Fb/../c', 'keep'), '/a/c');
});

test('percent-encoded unreserved characters are decoded so a path regex cannot be dodged', () => {
  assert.equal(normalized('/v1/%72equest-landing'), '/v1/request-landing');
  assert.equal(normalized('/%7Euser/%5F%2D'), '/~user/_-');
  // Reserved and non-ASCII escapes keep their meaning and their spelling.
  assert.equal(normalized('/a%3Fb/%e2%82%ac'), '/a%3Fb/%e2%82%ac');
});

test('the brief vector: /v1/../v1/request-landing becomes /v1/request-landing', () => {
  assert.equal(normalizePath('/v1/../v1/request-landing', 'reject'), '/v1/request-landing');
  assert.equal(normalizePath('/v1//./request-landing?x=1', 'reject'), '/v1/request-landing?x=1');
  assert.equal(normalizePath('/v1/%2e%2e/v1/request-landing', 'reject'), '/v1/request-landing');
});

test('the query is kept verbatim and is not normalised, whatever it contains', () => {
  assert.equal(normalizePath('/a/../b?x=%2F&y=../z&n=%00', 'reject'), '/b?x=%2F&y=../z&n=%00');
});

test('fragments, control characters and non-ASCII are refused', () => {
  assert.match(refused('/a#b'), /fragment/);
  assert.match(refused('/a?b#c'), /fragment/);
  assert.match(refused('/a b'), /invalid character/);
  assert.match(refused('/a\u0001'), /invalid character/);
  assert.match(refused('/caf\u00e9'), /invalid character/);
});

test('a trailing dot segment resolves to its directory', () => {
  assert.equal(normalized('/a/b/..'), '/a/');
  assert.equal(normalized('/a/b/.'), '/a/b/');
  assert.equal(normalized('/a/b/%2e'), '/a/b/');
});

test('absolute-form targets give the authority and the normalised path', () => {
  assert.deepEqual(normalizeAbsoluteTarget('http://deathstar.local:80/v1/../v1/x?q=1', 'reject'), {
    authority: 'deathstar.local:80',
    path: '/v1/x?q=1',
  });
  assert.deepEqual(normalizeAbsoluteTarget('HTTP://h', 'reject'), { authority: 'h', path: '/' });
  assert.deepEqual(normalizeAbsoluteTarget('http://h?x', 'reject'), { authority: 'h', path: '/?x' });
  for (const target of ['*', 'h:80', 'ftp://h/', 'http:///x', 'http://user@h/']) {
    assert.ok(normalizeAbsoluteTarget(target, 'reject') instanceof PathError, target);
  }
});

test('the query is held to the request-target grammar too: no controls, spaces, DEL or raw non-ASCII octets', () => {
  for (const path of ['/a?x=\x7f\xff', '/a?x=a b', '/a?x=\x01', '/a?x=\t', '/a?x=\xe9', '/a/../b?\x00']) {
    assert.equal(refused(path), 'invalid character in query', JSON.stringify(path));
  }
  // Printable ASCII stays verbatim, even what RFC 3986 would have escaped, as Node's HTTP/1.1 parser takes it.
  for (const path of ['/a?q="<>{}|^`\\', '/a?x=%7f%ff', '/a?']) assert.equal(normalized(path), path);
  assert.equal(normalized('/a/./b?x=%41'), '/a/b?x=%41');
});

test('absolute-form authority: userinfo, spaces, slashes and bad ports are refused', () => {
  for (const target of ['http://user@host/', 'http://ho st/', 'http://host:8o/', 'http://host%zz/', 'http:///a']) {
    assert.ok(normalizeAbsoluteTarget(target, 'reject') instanceof PathError, target);
  }
  assert.deepEqual(normalizeAbsoluteTarget('http://[::1]:80/a', 'reject'), { authority: '[::1]:80', path: '/a' });
});
