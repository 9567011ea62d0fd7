// The renderer's per-connection text (addresses, ports, endpoints) is cached per source peer, and the cache is
// bounded: 10,000 open connections must not each keep their rendered text, and a connection whose entry was
// dropped renders exactly what it rendered before.
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'node:test';
import { renderFlow } from '../../src/observe/flows.js';
import type { Peer } from '../../src/policy/types.js';
import { httpRequestEvent, tiefighter } from '../helpers/observe-flow-fixtures.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const opts = { redactHeaders: new Set<string>(), nodeName: 'portcullis-1' };
const CONNECTIONS = 10_000;

function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

/** A client connection's peer, as each admitted connection has its own (alive as long as the connection). */
const clientPeer = (i: number): Peer => ({ identity: tiefighter.identity, address: `10.0.${i >> 8}.${i & 255}` });

test(`the parties text of ${CONNECTIONS} open connections is not all kept`, () => {
  const peers = Array.from({ length: CONNECTIONS }, (_, i) => clientPeer(i));
  const baseline = heapUsed();
  const rendered = peers.map((source, i) => renderFlow(httpRequestEvent({ source, sourcePort: 10_000 + i }), opts).length);
  const perConnection = (heapUsed() - baseline) / CONNECTIONS;
  // Each connection's text is ~600 bytes; kept for all of them it would be more than that per connection.
  assert.ok(perConnection < 250, `${perConnection.toFixed(0)} bytes of heap kept per connection`);
  assert.equal(rendered.length, CONNECTIONS);
});

test('a connection renders the same record after its cache entry was dropped', () => {
  const first = clientPeer(1);
  const event = httpRequestEvent({ source: first, sourcePort: 40_001 });
  const before = renderFlow(event, opts);
  for (let i = 2; i < CONNECTIONS; i++) renderFlow(httpRequestEvent({ source: clientPeer(i), sourcePort: 40_000 + i }), opts);
  assert.equal(renderFlow(event, opts), before);
  assert.ok(before.includes('"source":"10.0.0.1"') && before.includes('"source_port":40001'), before);
});
