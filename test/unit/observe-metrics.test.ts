// The Prometheus exposition after calls to each metrics hook: names, labels, values and bounded labels.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from '../../src/observe/metrics.js';

/** The value of one exact series line, or undefined when the series is absent. */
function series(text: string, line: string): number | undefined {
  for (const l of text.split('\n')) {
    if (l.startsWith(line + ' ')) return Number(l.slice(line.length + 1));
  }
  return undefined;
}

test('L7, HTTP, drop and Kafka counters', async () => {
  const m = createMetrics();
  m.policyL7('received', 'http');
  m.policyL7('received', 'http');
  m.policyL7('denied', 'kafka');
  m.httpRequest('GET', 'HTTP/1.1', 200);
  m.httpRequest('GET', 'HTTP/1.1', 200);
  m.httpRequest('PUT', 'HTTP/2', 403);
  m.drop('POLICY_DENIED', 'TCP');
  m.kafkaRequest('produce', 29, 'DROPPED');
  const text = await m.registry.metrics();
  assert.equal(series(text, 'cilium_policy_l7_total{rule="received",proxy_type="http"}'), 2);
  assert.equal(series(text, 'cilium_policy_l7_total{rule="denied",proxy_type="kafka"}'), 1);
  assert.equal(series(text, 'hubble_http_requests_total{method="GET",protocol="HTTP/1.1",status="200"}'), 2);
  assert.equal(series(text, 'hubble_http_requests_total{method="PUT",protocol="HTTP/2",status="403"}'), 1);
  assert.equal(series(text, 'hubble_drop_total{reason="POLICY_DENIED",protocol="TCP"}'), 1);
  assert.equal(series(text, 'hubble_kafka_requests_total{api_key="produce",error_code="29",verdict="DROPPED"}'), 1);
  assert.match(text, /# TYPE cilium_policy_l7_total counter/);
});

test('traffic-derived label values fold into OTHER', async () => {
  const m = createMetrics();
  for (let i = 0; i < 50; i++) m.httpRequest(`X-METHOD-${i}`, `HTTP/9.${i}`, 1000 + i);
  m.httpRequest('get', 'HTTP/1.1', 200); // methods are case-sensitive
  m.kafkaRequest('Produce', 0, 'FORWARDED');
  m.kafkaRequest('3', 0, 'FORWARDED');
  m.kafkaRequest('ListOffsets', 0, 'FORWARDED');
  m.kafkaRequest('9999', 0, 'FORWARDED');
  m.kafkaRequest('10000', 0, 'FORWARDED');
  m.kafkaRequest('a'.repeat(500), 70000, 'FORWARDED');
  m.kafkaUnsupported(10000, 3);
  m.kafkaUnsupported(67, 2);
  const text = await m.registry.metrics();
  assert.equal(series(text, 'hubble_http_requests_total{method="OTHER",protocol="OTHER",status="OTHER"}'), 50);
  assert.equal(series(text, 'hubble_http_requests_total{method="OTHER",protocol="HTTP/1.1",status="200"}'), 1);
  assert.equal(text.split('\n').filter((l) => l.startsWith('hubble_http_requests_total{')).length, 2);
  assert.equal(series(text, 'hubble_kafka_requests_total{api_key="produce",error_code="0",verdict="FORWARDED"}'), 1);
  assert.equal(series(text, 'hubble_kafka_requests_total{api_key="metadata",error_code="0",verdict="FORWARDED"}'), 1);
  assert.equal(series(text, 'hubble_kafka_requests_total{api_key="offsets",error_code="0",verdict="FORWARDED"}'), 1);
  assert.equal(series(text, 'hubble_kafka_requests_total{api_key="OTHER",error_code="0",verdict="FORWARDED"}'), 2);
  assert.equal(series(text, 'hubble_kafka_requests_total{api_key="OTHER",error_code="OTHER",verdict="FORWARDED"}'), 1);
  assert.equal(series(text, 'portcullis_kafka_unsupported_requests_total{api_key="OTHER",api_version="3"}'), 1);
  assert.equal(series(text, 'portcullis_kafka_unsupported_requests_total{api_key="67",api_version="2"}'), 1);
});

test('connections gauge, reloads, snapshot info and lost flows', async () => {
  const m = createMetrics();
  m.connectionOpened('deathstar-http');
  m.connectionOpened('deathstar-http');
  m.connectionOpened('empire-kafka');
  m.connectionClosed('deathstar-http');
  m.reload('success');
  m.reload('failure');
  m.reload('failure');
  m.snapshotInfo(7, 3, 5);
  m.flowsLost(12);
  const text = await m.registry.metrics();
  assert.equal(series(text, 'portcullis_connections{listener="deathstar-http"}'), 1);
  assert.equal(series(text, 'portcullis_connections{listener="empire-kafka"}'), 1);
  assert.equal(series(text, 'portcullis_policy_reload_total{result="success"}'), 1);
  assert.equal(series(text, 'portcullis_policy_reload_total{result="failure"}'), 2);
  assert.equal(series(text, 'portcullis_policy_revision'), 7);
  assert.equal(series(text, 'cilium_policy'), 3);
  assert.equal(series(text, 'cilium_endpoint'), 5);
  assert.equal(series(text, 'hubble_lost_events_total{source="flow_recorder"}'), 12);
  assert.match(text, /# TYPE portcullis_connections gauge/);
});

test('certificate expiry is seconds remaining at scrape time, negative once expired', async () => {
  const m = createMetrics();
  m.certificateExpiry('default/mediabot-tls', new Date(Date.now() + 30 * 86400_000));
  m.certificateExpiry('default/old', new Date(Date.now() - 60_000));
  const text = await m.registry.metrics();
  const remaining = series(text, 'portcullis_certificate_expiry_seconds{secret="default/mediabot-tls"}');
  assert.ok(remaining !== undefined && Math.abs(remaining - 30 * 86400) <= 2, `remaining=${remaining}`);
  const expired = series(text, 'portcullis_certificate_expiry_seconds{secret="default/old"}');
  assert.ok(expired !== undefined && expired <= -59 && expired >= -62, `expired=${expired}`);
});

test('process default metrics, and registries are independent', async () => {
  const a = createMetrics();
  const b = createMetrics();
  a.drop('POLICY_DENIED', 'TCP');
  const textA = await a.registry.metrics();
  const textB = await b.registry.metrics();
  assert.match(textA, /^process_cpu_user_seconds_total \d/m);
  assert.match(textA, /^nodejs_heap_size_used_bytes \d/m);
  assert.equal(series(textB, 'hubble_drop_total{reason="POLICY_DENIED",protocol="TCP"}'), undefined);
  assert.match(a.registry.contentType, /^text\/plain; version=0\.0\.4/);
});
