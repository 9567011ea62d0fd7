// The upstream connection and queue limits in portcullis.yaml: defaults, overrides, and out-of-range values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.js';
import { formatSourceError } from '../../src/policy/types.js';

const listener = (http: string) =>
  `listeners:\n  - {name: a, listen: "127.0.0.1:0", protocol: http, to: b, upstream: "127.0.0.1:1", http: {${http}}}\nendpoints:\n  - {name: b, addresses: [127.0.0.9]}\n`;

test('upstreamMaxConnections defaults to 256 and upstreamMaxPending to 1024; both can be set per listener', () => {
  const defaults = parseConfigText(listener(''), 'portcullis.yaml').config!.listeners[0]!.http;
  assert.deepEqual([defaults.upstreamMaxConnections, defaults.upstreamMaxPending], [256, 1024]);
  const set = parseConfigText(listener('upstreamMaxConnections: 8, upstreamMaxPending: 0'), 'portcullis.yaml').config!.listeners[0]!.http;
  assert.deepEqual([set.upstreamMaxConnections, set.upstreamMaxPending], [8, 0]);
});

test('a connection limit below 1 or a negative queue is an error naming the field', () => {
  const { config, errors } = parseConfigText(listener('upstreamMaxConnections: 0, upstreamMaxPending: -1'), 'portcullis.yaml');
  assert.equal(config, undefined);
  const text = errors.map(formatSourceError).join('\n');
  assert.match(text, /http\.upstreamMaxConnections: must be an integer from 1 to 100000/);
  assert.match(text, /http\.upstreamMaxPending: must be an integer from 0 to 1000000/);
});
