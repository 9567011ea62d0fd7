// The request-field rules both protocols share (request-fields.ts): the methods, authorities and header values
// Node's HTTP/1.1 parser lets through are exactly the ones the HTTP/2 side lets through.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fieldWithBadValue, isKnownMethod, isValidAuthority } from '../../src/protocols/http/request-fields.js';

test('methods: the ones llhttp knows, case-sensitive', () => {
  for (const m of ['GET', 'POST', 'PURGE', 'PROPFIND', 'QUERY', 'M-SEARCH']) assert.ok(isKnownMethod(m), m);
  for (const m of ['get', 'FOO', 'GE T', 'GE(T', '', 'GET\0']) assert.ok(!isKnownMethod(m), m);
});

test('authorities: host [":" port], no userinfo, no space, no control, valid percent-encoding', () => {
  for (const a of ['deathstar', 'deathstar:80', 'a.b-c_d~e', '127.0.0.1:8080', '[::1]', '[::1]:443', 'host:', 'caf%C3%A9']) {
    assert.ok(isValidAuthority(a), a);
  }
  for (const a of ['', 'user@host', 'user:pw@host', 'death star', 'host\x01', 'host/x', 'host?x', 'host#x', 'host:8o', 'host:80:80', '[::1', 'h%zz', 'café']) {
    assert.ok(!isValidAuthority(a), a);
  }
});

test('header values: controls other than HTAB and DEL are refused, obs-text is not', () => {
  assert.equal(fieldWithBadValue([['a', 'x\ty'], ['b', 'caf\xe9'], ['c', '"quoted"']]), undefined);
  assert.equal(fieldWithBadValue([['a', 'ok'], ['b', 'x\x01y']]), 'b');
  assert.equal(fieldWithBadValue([['a', 'x\x7f']]), 'a');
});
