// The `tls:` and `forward:` listener options in portcullis.yaml: defaults, and located errors for what cannot work.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { formatSourceError } from '../../src/policy/types.js';

const ENDPOINTS = `endpoints:
  - {name: api, labels: {app: api}, addresses: [127.0.0.60]}
listeners:
`;

function parse(listener: string) {
  const { config, errors } = parseConfigText(`${ENDPOINTS}${listener}`, '/etc/portcullis/portcullis.yaml');
  return { listener: config?.listeners[0], errors: errors.map(formatSourceError) };
}

describe('listener tls options', () => {
  it('a tls listener gets the defaults without a tls block', () => {
    const { listener, errors } = parse('  - {name: t, listen: "127.0.0.1:0", protocol: tls, to: api, upstream: "127.0.0.1:443"}');
    assert.deepEqual(errors, []);
    assert.deepEqual(listener?.tls, { clientCertificates: 'none', handshakeTimeoutMs: 10_000, maxClientHelloBytes: 16_384 });
  });

  it('clientCA defaults to request mode; secrets parse as ns/name or name in default', () => {
    const { listener, errors } = parse('  - {name: h, listen: "127.0.0.1:0", protocol: http, to: api, upstream: "127.0.0.1:80", tls: {secret: web, clientCA: kube-system/ca, handshakeTimeoutMs: 500}}');
    assert.deepEqual(errors, []);
    assert.deepEqual(listener?.tls, {
      secret: { namespace: 'default', name: 'web' },
      clientCA: { namespace: 'kube-system', name: 'ca' },
      clientCertificates: 'request',
      handshakeTimeoutMs: 500,
      maxClientHelloBytes: 16_384,
    });
  });

  it('kafka listeners take tls options (every client connection is TLS) and keep their kafka options', () => {
    const { listener, errors } = parse('  - {name: k, listen: "127.0.0.1:0", protocol: kafka, to: api, upstream: "127.0.0.1:9092", tls: {secret: kafka-tls, clientCA: clients-ca}}');
    assert.deepEqual(errors, []);
    assert.deepEqual(listener?.tls?.secret, { namespace: 'default', name: 'kafka-tls' });
    assert.equal(listener?.tls?.clientCertificates, 'request');
    assert.equal(listener?.kafka?.maxFrameSize, 100 * 1024 * 1024);
  });

  it('http listeners without tls stay cleartext (no tls options)', () => {
    const { listener } = parse('  - {name: h, listen: "127.0.0.1:0", protocol: http, to: api, upstream: "127.0.0.1:80"}');
    assert.equal(listener?.tls, undefined);
  });

  const refused: Array<[string, string, RegExp]> = [
    ['an http listener with tls but no secret', 'protocol: http, to: api, upstream: "127.0.0.1:80", tls: {handshakeTimeoutMs: 1000}', /:4:\d+: .*needs "secret"/],
    ['client certificates without a clientCA', 'protocol: tls, to: api, upstream: "127.0.0.1:443", tls: {clientCertificates: require}', /client certificates need "clientCA"/],
    ['a tls listener verifying clients without its own certificate', 'protocol: tls, to: api, upstream: "127.0.0.1:443", tls: {clientCA: ca}', /needs "secret"/],
    ['a secret name that is not a Kubernetes name', 'protocol: http, to: api, upstream: "127.0.0.1:80", tls: {secret: "../etc"}', /not a valid Kubernetes/],
    ['an unknown tls field', 'protocol: tls, to: api, upstream: "127.0.0.1:443", tls: {ciphers: all}', /unknown field "ciphers"/],
    ['a kafka listener with tls but no secret', 'protocol: kafka, to: api, upstream: "127.0.0.1:9092", tls: {}', /a kafka listener that terminates TLS needs "secret"/],
    ['a certificate on a forward listener', 'protocol: forward, tls: {secret: web}', /forward listener presents the certificate of the terminatingTLS/],
    ['upstreamProtocol h2 on a tls listener', 'protocol: tls, to: api, upstream: "127.0.0.1:443", upstreamProtocol: h2', /comes from the policy's originatingTLS/],
    ['upstreamProtocol on a forward listener', 'protocol: forward, upstreamProtocol: h2c', /protocol the client negotiated/],
    ['forward options on a tls listener', 'protocol: tls, to: api, upstream: "127.0.0.1:443", forward: {}', /only apply to forward listeners/],
    ['a handshake timeout out of range', 'protocol: tls, to: api, upstream: "127.0.0.1:443", tls: {handshakeTimeoutMs: 5}', /integer from 100/],
  ];
  for (const [what, fields, message] of refused) {
    it(`refuses ${what}, with file and line`, () => {
      const { listener, errors } = parse(`  - {name: x, listen: "127.0.0.1:0", ${fields}}`);
      assert.equal(listener, undefined);
      assert.ok(errors.some((e) => message.test(e) && e.startsWith('/etc/portcullis/portcullis.yaml:4:')), errors.join('\n'));
    });
  }
});

describe('forward listener options', () => {
  it('hosts: names lower-cased without the trailing dot, one address or a list; resolver options', () => {
    const { listener, errors } = parse(`  - name: egress
    listen: "127.0.0.1:3128"
    protocol: forward
    forward:
      systemResolver: false
      resolveTimeoutMs: 250
      hosts: {API.Example.com.: 192.0.2.1, cdn.example.com: [192.0.2.2, "2001:db8::1"]}`);
    assert.deepEqual(errors, []);
    assert.deepEqual([...listener!.forward!.hosts], [
      ['api.example.com', ['192.0.2.1']],
      ['cdn.example.com', ['192.0.2.2', '2001:db8::1']],
    ]);
    assert.equal(listener?.forward?.systemResolver, false);
    assert.equal(listener?.forward?.resolveTimeoutMs, 250);
    assert.equal(listener?.tls?.handshakeTimeoutMs, 10_000, 'tunnels get the TLS defaults');
  });

  it('defaults: system resolver on, no static hosts', () => {
    const { listener } = parse('  - {name: egress, listen: "127.0.0.1:3128", protocol: forward}');
    assert.equal(listener?.forward?.systemResolver, true);
    assert.equal(listener?.forward?.hosts.size, 0);
  });

  it('allowUnselectedClients: false unless set to true; anything but a boolean is an error at its line', () => {
    assert.equal(parse('  - {name: egress, listen: "127.0.0.1:3128", protocol: forward}').listener?.forward?.allowUnselectedClients, false);
    const open = parse('  - {name: egress, listen: "127.0.0.1:3128", protocol: forward, forward: {allowUnselectedClients: true}}');
    assert.deepEqual(open.errors, []);
    assert.equal(open.listener?.forward?.allowUnselectedClients, true);
    const bad = parse('  - {name: egress, listen: "127.0.0.1:3128", protocol: forward, forward: {allowUnselectedClients: "yes"}}');
    assert.ok(bad.errors.some((e) => e.startsWith('/etc/portcullis/portcullis.yaml:4:') && /allowUnselectedClients/.test(e)), bad.errors.join('\n'));
  });

  it('refuses host entries that are not names or addresses, with their location', () => {
    const { errors } = parse(`  - name: egress
    listen: "127.0.0.1:3128"
    protocol: forward
    forward:
      hosts:
        "bad name": [192.0.2.1]
        ok.example.com: [not-an-ip]
        empty.example.com: []`);
    assert.ok(errors.some((e) => /:9:\d+: .*"bad name" is not a DNS name/.test(e)), errors.join('\n'));
    assert.ok(errors.some((e) => /:10:\d+: .*"not-an-ip" is not an IP address/.test(e)), errors.join('\n'));
    assert.ok(errors.some((e) => /:11:\d+: .*at least one address/.test(e)), errors.join('\n'));
  });
});
