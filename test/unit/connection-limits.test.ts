// Listener connection caps and the tunnel idle timeout in portcullis.yaml (defaults, overrides, range errors on
// every listener type), and the cap bookkeeping itself: exact counts, no entry left for a source with nothing open.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { formatSourceError } from '../../src/policy/types.js';
import { ConnectionCaps } from '../../src/protocols/connection-caps.js';

function parse(fields: string, http = '') {
  const text = `http: {${http}}
endpoints:
  - {name: api, labels: {app: api}, addresses: [127.0.0.60]}
listeners:
  - {name: h, listen: "127.0.0.1:0", protocol: http, to: api, upstream: "127.0.0.1:80"${fields}}
  - {name: k, listen: "127.0.0.1:0", protocol: kafka, to: api, upstream: "127.0.0.1:9092"${fields}}
  - {name: t, listen: "127.0.0.1:0", protocol: tls, to: api, upstream: "127.0.0.1:443"${fields}}
  - {name: f, listen: "127.0.0.1:0", protocol: forward${fields}}
`;
  const { config, errors } = parseConfigText(text, '/etc/portcullis/portcullis.yaml');
  return { listeners: config?.listeners ?? [], errors: errors.map(formatSourceError) };
}

describe('connection caps and tunnel idle timeout in the config', () => {
  it('default to 10000 per listener, 1000 per source, tunnels idle for 1 h', () => {
    const { listeners, errors } = parse('');
    assert.deepEqual(errors, []);
    assert.deepEqual(
      listeners.map((l) => [l.name, l.maxConnections, l.maxConnectionsPerSource, l.http.tunnelIdleTimeoutMs]),
      [['h', 10_000, 1_000, 3_600_000], ['k', 10_000, 1_000, 3_600_000], ['t', 10_000, 1_000, 3_600_000], ['f', 10_000, 1_000, 3_600_000]],
    );
  });

  it('are set per listener on every listener type; the tunnel timeout also at the top level', () => {
    const { listeners, errors } = parse(', maxConnections: 50, maxConnectionsPerSource: 5', 'tunnelIdleTimeoutMs: 60000');
    assert.deepEqual(errors, []);
    for (const l of listeners) assert.deepEqual([l.maxConnections, l.maxConnectionsPerSource, l.http.tunnelIdleTimeoutMs], [50, 5, 60_000], l.name);
  });

  it('out-of-range values are errors', () => {
    const { errors } = parse(', maxConnections: 0, maxConnectionsPerSource: -1', 'tunnelIdleTimeoutMs: 10');
    assert.equal(errors.length, 1 + 4 * 2);
    assert.match(errors[0]!, /http\.tunnelIdleTimeoutMs: must be an integer from 100 to 86400000/);
    assert.match(errors[1]!, /listeners\[0\]\.maxConnections: must be an integer from 1 to 1000000/);
    assert.match(errors[2]!, /listeners\[0\]\.maxConnectionsPerSource: must be an integer from 1 to 1000000/);
  });
});

describe('ConnectionCaps', () => {
  it('refuses past the per-source cap and past the total, and counts nothing it refused', () => {
    const caps = new ConnectionCaps(5, 3);
    assert.deepEqual([1, 2, 3, 4].map(() => caps.take('a')), [undefined, undefined, undefined, 'SOURCE_CONNECTION_LIMIT']);
    assert.deepEqual([1, 2, 3].map(() => caps.take('b')), [undefined, undefined, 'LISTENER_CONNECTION_LIMIT']);
    assert.deepEqual(caps.counts, { connections: 5, sources: 2 });
    caps.release('a');
    assert.equal(caps.take('b'), undefined);
  });

  it('keeps no entry for a source with nothing open, however many came and went', () => {
    const caps = new ConnectionCaps(100, 10);
    for (let round = 0; round < 3; round++) {
      const sources = Array.from({ length: 1000 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
      for (const s of sources) {
        if (caps.take(s) === undefined) caps.release(s);
      }
      for (let i = 0; i < 10; i++) assert.equal(caps.take('held'), undefined);
      assert.deepEqual(caps.counts, { connections: 10, sources: 1 });
      for (let i = 0; i < 10; i++) caps.release('held');
      assert.deepEqual(caps.counts, { connections: 0, sources: 0 });
    }
  });

  it('ignores a release for a source it holds nothing for', () => {
    const caps = new ConnectionCaps(1, 1);
    caps.release('never');
    assert.deepEqual(caps.counts, { connections: 0, sources: 0 });
    assert.equal(caps.take('x'), undefined);
    assert.equal(caps.take('y'), 'LISTENER_CONNECTION_LIMIT');
  });
});
