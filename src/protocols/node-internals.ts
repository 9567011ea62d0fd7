// Every use of a private Node.js field, in one place. Each has a unit test (test/unit/node-internals.test.ts), so a
// Node upgrade that moves one breaks a test that names it rather than a proxy path.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** A plain socket's file descriptor (`_handle.fd`, a libuv stream's fd); undefined when it has none. */
export function socketDescriptor(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * The socket a server-side TLS socket wraps (`_parent`, since v0.11): a `tls.Server` fed a socket with
 * `emit('connection')` hands back a new TLSSocket, and this is how it is matched to the socket it was given.
 */
export function tlsSocketParent(tlsSocket: TLSSocket): Socket | undefined {
  return (tlsSocket as unknown as { _parent?: Socket })._parent;
}
