// `hubble:` in portcullis.yaml: off unless given, its defaults, the single-process requirement, TLS and mTLS
// (`tls: {secret, clientCA, clusterName}`), and errors located by line and column.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { formatSourceError } from '../../src/policy/types.js';

const parse = (text: string) => parseConfigText(text, 'portcullis.yaml');
const errors = (text: string) => parse(text).errors.map(formatSourceError).join('\n');

test('hubble is off by default; listen is required, bufferSize defaults to Hubble\'s 4095', () => {
  assert.equal(parse('audit: false\n').config!.hubble, undefined);
  assert.deepEqual(parse('workers: 1\nhubble: {listen: 127.0.0.1:4245}\n').config!.hubble, { listen: { host: '127.0.0.1', port: 4245 }, bufferSize: 4095, peers: [] });
  assert.deepEqual(parse('workers: 1\nhubble:\n  listen: "[::1]:0"\n  bufferSize: 63\n').config!.hubble, { listen: { host: '::1', port: 0 }, bufferSize: 63, peers: [] });
});

test('peers (other Hubble servers announced to Relay) and nodeName', () => {
  const config = parse('workers: 1\nnodeName: node-a\nhubble:\n  listen: 127.0.0.1:4245\n  peers:\n    - {name: node-b, address: 127.0.0.5:4245}\n').config!;
  assert.equal(config.nodeName, 'node-a');
  assert.deepEqual(config.hubble!.peers, [{ name: 'node-b', address: { host: '127.0.0.5', port: 4245 } }]);
  assert.equal(parse('audit: false\n').config!.nodeName, undefined, 'the host name, chosen at start');
  assert.match(errors('workers: 1\nhubble:\n  listen: 127.0.0.1:4245\n  peers:\n    - {name: b, address: 127.0.0.5:4245}\n    - {name: b, address: 127.0.0.6:4245}\n'), /^portcullis\.yaml:6:14: hubble\.peers\[1\]\.name: duplicate peer name "b"$/);
  assert.match(errors('workers: 1\nhubble:\n  listen: 127.0.0.1:4245\n  peers:\n    - {name: b}\n'), /^portcullis\.yaml:5:7: hubble\.peers\[0\]: needs "address" \(host:port of its Hubble server\)$/);
  assert.match(errors('workers: 1\nhubble:\n  listen: 127.0.0.1:4245\n  peers: 127.0.0.5:4245\n'), /hubble\.peers: must be a list of \{name, address\}/);
  assert.match(errors('nodeName: ""\n'), /^portcullis\.yaml:1:11: nodeName: must be a non-empty string$/);
});

test('the Hubble server needs workers: 1 (auto and several are refused at the hubble field)', () => {
  const message = /^portcullis\.yaml:1:9: hubble: the Hubble server runs in a single process: set "workers: 1"/;
  assert.match(errors('hubble: {listen: 127.0.0.1:4245}\n'), message);
  assert.match(errors('hubble: {listen: 127.0.0.1:4245}\nworkers: 4\n'), message);
  assert.match(errors('hubble: {listen: 127.0.0.1:4245}\nworkers: auto\n'), message);
});

test('bad hubble settings are errors naming line, column and field', () => {
  assert.match(errors('workers: 1\nhubble: {bufferSize: 10}\n'), /^portcullis\.yaml:2:9: hubble: needs "listen" \(e\.g\. 127\.0\.0\.1:4245\)$/);
  assert.match(errors('workers: 1\nhubble: {listen: 127.0.0.1}\n'), /^portcullis\.yaml:2:18: hubble\.listen: "127\.0\.0\.1" has no port/);
  assert.match(errors('workers: 1\nhubble: {listen: 127.0.0.1:4245, bufferSize: 0}\n'), /^portcullis\.yaml:2:46: hubble\.bufferSize: must be an integer from 1 to 1048575$/);
  assert.match(errors('workers: 1\nhubble: {listen: 127.0.0.1:4245, buffer: 10}\n'), /^portcullis\.yaml:2:34: hubble\.buffer: unknown field "buffer" \(expected one of: listen, bufferSize, peers, tls\)$/);
  assert.match(errors('workers: 1\nhubble: on\n'), /^portcullis\.yaml:2:9: hubble: must be a map with: listen, bufferSize, peers, tls$/);
});

test('tls: a server certificate, and with clientCA mandatory client certificates; clusterName defaults to Cilium\'s "default"', () => {
  const tls = (text: string) => parse(`workers: 1\nhubble:\n  listen: 127.0.0.1:4245\n  tls: ${text}\n`).config!.hubble!.tls;
  // file:line locate tls: for start-up errors (a secret missing from the store).
  const location = { file: 'portcullis.yaml', line: 4 };
  assert.deepEqual(tls('{secret: kube-system/hubble-server-certs}'), { secret: { namespace: 'kube-system', name: 'hubble-server-certs' }, clusterName: 'default', ...location });
  assert.deepEqual(tls('{secret: hubble-server, clientCA: kube-system/hubble-ca, clusterName: tatooine}'), {
    secret: { namespace: 'default', name: 'hubble-server' }, clientCA: { namespace: 'kube-system', name: 'hubble-ca' }, clusterName: 'tatooine', ...location,
  });
});

test('bad hubble tls settings are errors naming line, column and field', () => {
  const at = (tls: string) => errors(`workers: 1\nhubble:\n  listen: 127.0.0.1:4245\n  tls: ${tls}\n`);
  assert.match(at('{clientCA: kube-system/hubble-ca}'), /^portcullis\.yaml:4:8: hubble\.tls: needs "secret" \(the Hubble server's certificate: <namespace>\/<name> in the secret store\) \(clientCA verifies clients; the server still needs its own certificate\)$/);
  assert.match(at('{}'), /^portcullis\.yaml:4:8: hubble\.tls: needs "secret"/);
  assert.match(at('on'), /^portcullis\.yaml:4:8: hubble\.tls: must be a map with: secret, clientCA, clusterName$/);
  assert.match(at('{secret: a/b/c}'), /^portcullis\.yaml:4:17: hubble\.tls\.secret: secret "a\/b\/c" must be <namespace>\/<name> or <name>$/);
  assert.match(at('{secret: s, clientCA: "Bad/Name"}'), /^portcullis\.yaml:4:30: hubble\.tls\.clientCA: namespace "Bad" is not a valid Kubernetes namespace name$/);
  assert.match(at('{secret: s, clusterName: my.cluster}'), /^portcullis\.yaml:4:33: hubble\.tls\.clusterName: must be a DNS label/);
  assert.match(at('{secret: s, clientCertificates: request}'), /^portcullis\.yaml:4:20: hubble\.tls\.clientCertificates: unknown field "clientCertificates" \(expected one of: secret, clientCA, clusterName\)$/);
  // Listeners' TLS fields written directly under hubble: (clientCA without tls) say where they go.
  assert.match(errors('workers: 1\nhubble:\n  listen: 127.0.0.1:4245\n  clientCA: kube-system/hubble-ca\n'), /^portcullis\.yaml:4:13: hubble\.clientCA: "clientCA" goes under "tls:" \(tls: \{secret: <namespace>\/<name>, clientCA: <namespace>\/<name>\}\)$/);
  assert.equal(parse('workers: 1\nhubble:\n  listen: 127.0.0.1:4245\n  secret: s\n').errors.length, 1, 'one error, not also "unknown field"');
});
