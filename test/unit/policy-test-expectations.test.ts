// `portcullis test` expectation files: what a valid file becomes, and malformed ones reported like policies are,
// with file:line:column and the field, every problem at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExpectationText } from '../../src/cli/expectations.js';
import { formatSourceError } from '../../src/policy/types.js';

const FILE = '/policies/app.expect.yaml';

test('a valid file: group defaults, per-case overrides, and each protocol as the engine sees it', () => {
  const { groups, errors } = parseExpectationText(`policies: [a.yaml, ../shared]
from: tiefighter
to: deathstar
port: 80
cases:
  - {http: "POST /v1/request-landing", expect: allowed}
  - {from: xwing, http: "GET /a/../b?q=1", headers: {X-Force: light}, host: deathstar.local, expect: {denied: 403}}
  - {grpc: cloudcity.DoorManager/SetAccessCode, expect: {denied: 7}}
  - {kafka: "produce@9 deathstar-plans,empire-announce", clientId: outpost, expect: {denied: 29}}
  - {kafka: joingroup, group: outposts, expect: denied}
  - {to: httpbin.local, port: 443, sni: httpbin.local, via: forward, expect: reset}
`, FILE);
  assert.deepEqual(errors, []);
  const [g] = groups;
  assert.deepEqual(g!.policies, ['/policies/a.yaml', '/shared']);
  const [landing, get, grpc, produce, join, tls] = g!.cases;
  assert.deepEqual([landing!.at.file, landing!.at.line, landing!.at.path], [FILE, 6, 'cases[0]']);
  assert.equal(landing!.title, 'tiefighter -> deathstar:80 POST /v1/request-landing');
  assert.deepEqual(landing!.expect, { kind: 'allowed' });
  assert.equal(get!.from.value, 'xwing');
  assert.deepEqual(get!.request, {
    type: 'http',
    facts: { method: 'GET', path: '/b?q=1', host: 'deathstar.local', headers: [['host', 'deathstar.local'], ['x-force', 'light']] },
  });
  assert.deepEqual(get!.expect, { kind: 'denied', code: 403 });
  assert.equal(grpc!.request.type, 'grpc');
  assert.equal(grpc!.request.type === 'grpc' && grpc!.request.facts.path, '/cloudcity.DoorManager/SetAccessCode');
  assert.deepEqual(produce!.request, { type: 'kafka', facts: { apiKey: 0, apiVersion: 9, clientId: 'outpost', topics: ['deathstar-plans', 'empire-announce'] }, groupIds: [] });
  assert.deepEqual(join!.request.type === 'kafka' && join!.request.groupIds, ['outposts']);
  assert.deepEqual(join!.expect, { kind: 'denied' });
  assert.equal(tls!.title, 'tiefighter -> httpbin.local:443 (SNI httpbin.local) connection');
  assert.equal(tls!.via!.value, 'forward');
  assert.equal(tls!.sni, 'httpbin.local');
});

test('each YAML document is a group with its own defaults', () => {
  const { groups, errors } = parseExpectationText('from: a\nto: b\ncases: [{expect: allowed}]\n---\nfrom: c\nto: d\nport: 9092\ncases: [{expect: reset}]\n', FILE);
  assert.deepEqual(errors, []);
  assert.deepEqual(groups.map((g) => g.cases.map((c) => [c.from.value, c.to.value, c.port, c.expect.kind])), [[['a', 'b', undefined, 'allowed']], [['c', 'd', 9092, 'reset']]]);
});

test('malformed files: every problem, located with file:line:column and the field', () => {
  const { groups, errors } = parseExpectationText(`from: tiefighter
to: deathstar
colour: red
cases:
  - {http: "PUT", expect: allowed}
  - {grpc: "not a method", expect: {denied: 7}}
  - {http: "GET /", expect: maybe}
  - {http: "GET /", expect: {denied: "403"}}
  - {http: "GET /", kafka: "produce x", expect: allowed}
  - {http: "GET /", group: g, expect: allowed}
  - {http: "GET /", port: 70000, expect: allowed}
  - {http: "GET /", headers: [X-A], expect: allowed}
  - {http: "GET /", expct: allowed}
  - {http: "GET /%2Fetc", expect: allowed}
  - just a string
`, FILE);
  assert.equal(groups.length, 1);
  assert.deepEqual(errors.map(formatSourceError), [
    `${FILE}:3:1: colour: unknown field (expected one of: policies, namespace, from, to, port, via, sni, host, headers, clientId, cases)`,
    `${FILE}:5:12: cases[0].http: http "PUT": expected "METHOD /path"`,
    `${FILE}:6:12: cases[1].grpc: grpc "not a method": expected package.Service/Method`,
    `${FILE}:7:29: cases[2].expect: expected allowed, denied, reset, or {denied: <code>} (an HTTP status, gRPC status or Kafka error code)`,
    `${FILE}:8:38: cases[3].expect.denied: must be a non-negative integer: the HTTP status, gRPC status or Kafka error code of the denial`,
    `${FILE}:9:5: cases[4]: one request per case: http and kafka given`,
    `${FILE}:10:28: cases[5].group: only for kafka cases`,
    `${FILE}:11:27: cases[6].port: must be a port number (0-65535)`,
    `${FILE}:12:30: cases[7].headers: must be a map of header names to values`,
    `${FILE}:13:21: cases[8].expct: unknown field (expected one of: name, from, to, port, via, sni, host, headers, http, grpc, kafka, clientId, group, expect)`,
    `${FILE}:13:5: cases[8].expect: required: allowed, denied, reset, or {denied: <code>} (an HTTP status, gRPC status or Kafka error code)`,
    `${FILE}:14:12: cases[9].http: http "GET /%2Fetc": the proxy would answer 400: escaped slash (%2F or %5C) in path`,
    `${FILE}:15:5: cases[10]: a case must be a map, e.g. {http: "GET /", expect: allowed}`,
  ]);
});

test('a group without peers or cases, a bad group default (reported once), YAML errors and empty files', () => {
  assert.deepEqual(parseExpectationText('cases: [{http: "GET /", expect: allowed}]\n', FILE).errors.map(formatSourceError), [
    `${FILE}:1:9: cases[0]: from is required (in the case or the group)`,
    `${FILE}:1:9: cases[0]: to is required (in the case or the group)`,
  ]);
  assert.deepEqual(parseExpectationText('from: a\nto: b\ncases: []\n', FILE).errors.map(formatSourceError), [`${FILE}:3:8: cases: required: a non-empty list of cases`]);
  assert.deepEqual(parseExpectationText('from: a\nto: b\nport: http\ncases: [{expect: allowed}, {expect: reset}]\n', FILE).errors.map(formatSourceError), [
    `${FILE}:3:7: port: must be a port number (0-65535)`,
  ]);
  assert.match(parseExpectationText('from: a\ncases: [\n', FILE).errors.map(formatSourceError).join('\n'), /^\/policies\/app\.expect\.yaml:\d+:\d+: invalid YAML: /);
  assert.deepEqual(parseExpectationText('# nothing yet\n', FILE).errors.map(formatSourceError), [`${FILE}:1:1: no expectations in this file`]);
});
