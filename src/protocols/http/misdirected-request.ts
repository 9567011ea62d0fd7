// Requests on a terminated TLS connection must be for the name the connection was established (and decided) for:
// policy checked `serverNames` against the SNI and the certificate was chosen for it, so a Host or `:authority`
// naming another server (HTTP/2 connection coalescing, or a client fronting one name to reach another) is answered
// `421 Misdirected Request` (RFC 9110 §15.5.20, RFC 9113 §9.1.2) instead of being routed.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { refusedRequest, type LocalReply } from './local-reply.js';

export const MISDIRECTED_REPLY: LocalReply = refusedRequest(421, 'Misdirected Request');

/** Why `authority` cannot be served on `socket`, or undefined when it can (not TLS, no SNI, or the same name). */
export function misdirectedRequest(socket: Socket, authority: string): string | undefined {
  const sni = (socket as Partial<TLSSocket>).servername;
  if (typeof sni !== 'string' || sni === '') return undefined;
  const host = authorityHost(authority);
  const name = sni.toLowerCase();
  return host === name ? undefined : `host ${JSON.stringify(host)} does not match the TLS server name ${JSON.stringify(name)}`;
}

/** The host of a Host/`:authority` value: lower-case, without port, brackets or a trailing dot. */
export function authorityHost(authority: string): string {
  let host = authority.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    host = end === -1 ? host : host.slice(1, end);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon !== -1 && host.indexOf(':') === colon) host = host.slice(0, colon);
  }
  return host.endsWith('.') ? host.slice(0, -1) : host;
}
