// Just enough RFC 6455 for tests: the handshake key/accept pair and single-frame text messages
// (client frames masked, server frames not).
import { createHash, randomBytes } from 'node:crypto';

/** Empire ships may open the deathstar's WebSocket at GET /ws, and nothing else. */
export const WEBSOCKET_POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: websocket}
spec:
  endpointSelector: {matchLabels: {org: empire, class: deathstar}}
  ingress:
  - fromEndpoints: [{matchLabels: {org: empire}}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules:
        http: [{method: GET, path: /ws}]
`;

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function websocketKey(): string {
  return randomBytes(16).toString('base64');
}

export function websocketAccept(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** One FIN text frame; `mask` for client-to-server frames. Payloads up to 65535 bytes. */
export function textFrame(text: string, mask: boolean): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const length = payload.length < 126 ? Buffer.from([payload.length]) : Buffer.from([126, payload.length >> 8, payload.length & 0xff]);
  const header = Buffer.concat([Buffer.from([0x81]), length]);
  header[1]! |= mask ? 0x80 : 0;
  if (!mask) return Buffer.concat([header, payload]);
  const key = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([header, key, masked]);
}

/** Splits complete frames off `buffer`; returns their text payloads and the unconsumed rest. */
export function readTextFrames(buffer: Buffer): { texts: string[]; rest: Buffer } {
  const texts: string[] = [];
  let offset = 0;
  for (;;) {
    if (buffer.length - offset < 2) break;
    const masked = (buffer[offset + 1]! & 0x80) !== 0;
    let length = buffer[offset + 1]! & 0x7f;
    let cursor = offset + 2;
    if (length === 126) {
      if (buffer.length - cursor < 2) break;
      length = buffer.readUInt16BE(cursor);
      cursor += 2;
    }
    const key = masked ? buffer.subarray(cursor, cursor + 4) : undefined;
    if (masked) cursor += 4;
    if (buffer.length - cursor < length) break;
    const payload = Buffer.from(buffer.subarray(cursor, cursor + length));
    if (key) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i % 4]!;
    texts.push(payload.toString('utf8'));
    offset = cursor + length;
  }
  return { texts, rest: buffer.subarray(offset) };
}
