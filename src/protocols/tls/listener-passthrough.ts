// TLS that is not terminated: the peeked ClientHello and everything after it are relayed byte for byte to the
// upstream (the server completes the handshake with the client), both ways, until either side goes away or the
// tunnel goes idle.
import net, { type Socket } from 'node:net';
import { splice, type TunnelIdle } from '../splice.js';

export interface SpliceTarget {
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
}

/**
 * Connects to `target`, writes `buffered` (bytes already read from `client`) and joins the two sockets.
 * `onConnected` runs once the upstream accepted; `onFailed` when it could not be reached (the client is then reset).
 */
export function spliceToUpstream(
  client: Socket,
  buffered: Buffer,
  target: SpliceTarget,
  events: { onConnected(): void; onFailed(reason: string): void },
  idle: TunnelIdle,
): void {
  const upstream = net.connect({ host: target.host, port: target.port });
  let connected = false;
  const timer = setTimeout(() => upstream.destroy(Object.assign(new Error(`connect timeout after ${target.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' })), target.connectTimeoutMs);
  const giveUp = (err: Error) => {
    clearTimeout(timer);
    if (connected) return;
    const code = (err as { code?: unknown }).code;
    events.onFailed(`upstream ${target.host}:${target.port} ${typeof code === 'string' ? code + ': ' : ''}${err.message}`);
    if (!client.destroyed) client.resetAndDestroy();
  };
  upstream.once('error', giveUp);
  const clientGone = () => upstream.destroy();
  client.once('close', clientGone);
  upstream.once('connect', () => {
    clearTimeout(timer);
    connected = true;
    upstream.off('error', giveUp);
    client.off('close', clientGone);
    if (client.destroyed) return void upstream.destroy();
    events.onConnected();
    if (buffered.length > 0) upstream.write(buffered);
    splice(client, upstream, idle);
  });
}
