// Which edits of portcullis.yaml wait for a restart: named by listener and field, and none for what a reload applies
// (audit, enforcement, endpoints, comments and lines that moved).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.js';
import { restartOnlyChanges } from '../../src/config/restart-settings.js';
import type { PortcullisConfig } from '../../src/config/types.js';
import { formatSourceError } from '../../src/policy/types.js';

const BASE = `policies: []
audit: false
admin: 127.0.0.1:9901
endpoints:
  - {name: deathstar, labels: {class: deathstar}, addresses: [127.0.0.10]}
listeners:
  - name: web
    listen: 127.0.0.1:8080
    protocol: http
    to: deathstar
    upstream: 127.0.0.10:8000
  - name: events
    listen: 127.0.0.1:9092
    protocol: kafka
    to: deathstar
    upstream: 127.0.0.10:9093
    kafka: {brokerPorts: {1: 19092}}
`;

function parse(text: string): PortcullisConfig {
  const { config, errors } = parseConfigText(text, 'portcullis.yaml');
  assert.ok(config, errors.map(formatSourceError).join('\n'));
  return config;
}

const changesFrom = (edit: (text: string) => string) => restartOnlyChanges(parse(BASE), parse(edit(BASE)));

test('audit, enforcement, endpoints, policies, comments and moved lines need no restart', () => {
  assert.deepEqual(changesFrom((t) => t.replace('audit: false', '# audit for a week\naudit: true\nenforcement: always')), []);
  assert.deepEqual(changesFrom((t) => t.replace('policies: []', 'policies: [./p.yaml]').replace('addresses: [127.0.0.10]', 'addresses: [127.0.0.11]')), []);
  assert.deepEqual(changesFrom((t) => `# portcullis\n\n${t}`), []);
});

test('a listener edit is named by listener and field', () => {
  assert.deepEqual(changesFrom((t) => t.replace('listen: 127.0.0.1:8080', 'listen: 127.0.0.1:8081')), ['listener "web": listen.port']);
  assert.deepEqual(changesFrom((t) => t.replace('    protocol: http\n', '    protocol: http\n    http: {idleTimeoutMs: 1000}\n')), ['listener "web": http.idleTimeoutMs']);
  // A Map inside a listener's options is compared by its entries.
  assert.deepEqual(changesFrom((t) => t.replace('{1: 19092}', '{1: 19093}')), ['listener "events": kafka.brokerPorts']);
});

test('top-level http defaults reach every listener; listeners added and removed are named', () => {
  assert.deepEqual(changesFrom((t) => `http: {upstreamTimeoutMs: 5000}\n${t}`), ['listener "web": http.upstreamTimeoutMs', 'listener "events": http.upstreamTimeoutMs']);
  assert.deepEqual(changesFrom((t) => t.replace('name: events', 'name: kafka')), ['listener "kafka" added', 'listener "events" removed']);
});

test('settings set up at start are named', () => {
  assert.deepEqual(changesFrom((t) => t.replace('admin: 127.0.0.1:9901', 'admin: 127.0.0.1:9902\nflows: off\nlog: {format: pretty}')), ['admin.port', 'flows', 'log.format']);
  assert.deepEqual(changesFrom((t) => t.replace('admin: 127.0.0.1:9901', 'admin: 127.0.0.1:9901\nworkers: 1\nhubble: {listen: 127.0.0.1:4245}')), ['hubble', 'workers']);
});

test('hubble: a moved block is no change, a TLS edit is named', () => {
  const withHubble = (tls: string) => BASE.replace('admin: 127.0.0.1:9901', `admin: 127.0.0.1:9901\nworkers: 1\nhubble:\n  listen: 127.0.0.1:4245\n  tls: {${tls}}`);
  const running = parse(withHubble('secret: hubble-server'));
  assert.deepEqual(restartOnlyChanges(running, parse(`# moved\n\n${withHubble('secret: hubble-server')}`)), []);
  assert.deepEqual(restartOnlyChanges(running, parse(withHubble('secret: hubble-server, clientCA: hubble-ca'))), ['hubble.tls.clientCA']);
});
