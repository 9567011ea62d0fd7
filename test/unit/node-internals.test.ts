// One test per private Node.js field Portcullis reads (src/protocols/node-internals.ts): when a Node upgrade moves
// one, the test named after it fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net, { type AddressInfo, type Socket } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { socketDescriptor, tlsSocketParent } from '../../src/protocols/node-internals.js';
import { tempStoreWithCa } from '../helpers/tls-temp-store.js';

/** A connected pair of TCP sockets on loopback: [client, server side]. */
async function socketPair(): Promise<{ client: Socket; accepted: Socket; close(): void }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  const [accepted] = (await once(server, 'connection')) as [Socket];
  return {
    client,
    accepted,
    close: () => {
      client.destroy();
      accepted.destroy();
      server.close();
    },
  };
}

test('_handle.fd: a connected TCP socket has a descriptor (kafka zero-copy splices between two)', async () => {
  const pair = await socketPair();
  try {
    const fd = socketDescriptor(pair.accepted);
    assert.equal(typeof fd, 'number');
    assert.ok(fd! > 2);
    assert.notEqual(socketDescriptor(pair.client), fd);
    pair.client.destroy();
    pair.accepted.destroy();
    assert.equal(socketDescriptor(pair.accepted), undefined, 'a destroyed socket has none');
  } finally {
    pair.close();
  }
});

test('_parent: the TLS socket a tls.Server makes of an emitted connection wraps that very socket', async () => {
  const store = await tempStoreWithCa();
  const pair = await socketPair();
  try {
    const dir = path.join(store.root, store.ca.namespace, store.ca.name);
    const server = tls.createServer({ cert: readFileSync(path.join(dir, 'tls.crt')), key: readFileSync(path.join(dir, 'tls.key')) });
    const secured = once(server, 'secureConnection') as Promise<[tls.TLSSocket]>;
    server.emit('connection', pair.accepted);
    const client = tls.connect({ socket: pair.client, rejectUnauthorized: false });
    const [tlsSocket] = await secured;
    assert.equal(tlsSocketParent(tlsSocket), pair.accepted);
    client.destroy();
  } finally {
    pair.close();
    store.cleanup();
  }
});
