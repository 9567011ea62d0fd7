// Builds ClientHello bytes field by field, so tests can produce exactly the malformed variants they need, and
// re-frames a handshake message into any number of TLS records.

export type Extension = readonly [type: number, data: Buffer];

export interface HelloFields {
  readonly legacyVersion?: number;
  readonly sessionId?: Buffer;
  readonly cipherSuites?: Buffer;
  readonly compression?: Buffer;
  /** undefined: no extensions block at all (pre-TLS 1.2 style). */
  readonly extensions?: readonly Extension[];
}

const u8 = (n: number): Buffer => Buffer.from([n]);
const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const u24 = (n: number): Buffer => Buffer.from([n >> 16, (n >> 8) & 0xff, n & 0xff]);
/** `data` behind a 1- or 2-byte length prefix. */
export const vec8 = (data: Buffer): Buffer => Buffer.concat([u8(data.length), data]);
export const vec16 = (data: Buffer): Buffer => Buffer.concat([u16(data.length), data]);

/** The ClientHello body (what follows the 4-byte handshake header). */
export function clientHelloBody(fields: HelloFields = {}): Buffer {
  const parts = [
    u16(fields.legacyVersion ?? 0x0303),
    Buffer.alloc(32, 7),
    vec8(fields.sessionId ?? Buffer.alloc(32, 1)),
    vec16(fields.cipherSuites ?? Buffer.from([0x13, 0x01, 0xc0, 0x2f])),
    vec8(fields.compression ?? Buffer.from([0])),
  ];
  if (fields.extensions) parts.push(vec16(Buffer.concat(fields.extensions.map(([type, data]) => Buffer.concat([u16(type), vec16(data)])))));
  return Buffer.concat(parts);
}

/** A handshake message: type, 24-bit length, body. */
export function handshake(body: Buffer, type = 1): Buffer {
  return Buffer.concat([u8(type), u24(body.length), body]);
}

/** Frame `payload` into TLS records of content type `type`, cutting it at the given offsets. */
export function records(payload: Buffer, cuts: readonly number[] = [], type = 22): Buffer {
  const bounds = [0, ...cuts, payload.length];
  const out: Buffer[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const fragment = payload.subarray(bounds[i], bounds[i + 1]);
    out.push(Buffer.concat([u8(type), u16(0x0301), u16(fragment.length), fragment]));
  }
  return Buffer.concat(out);
}

/** The handshake message carried by captured records (their fragments concatenated). */
export function unframe(recordBytes: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at + 5 <= recordBytes.length; ) {
    const length = recordBytes.readUInt16BE(at + 3);
    out.push(recordBytes.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return Buffer.concat(out);
}

export const ext = {
  /** server_name with raw (type, name) entries. */
  serverNames(entries: ReadonlyArray<readonly [number, string]>): Extension {
    return [0, vec16(Buffer.concat(entries.map(([type, name]) => Buffer.concat([u8(type), vec16(Buffer.from(name, 'latin1'))]))))];
  },
  sni(name: string): Extension {
    return ext.serverNames([[0, name]]);
  },
  alpn(protocols: readonly string[]): Extension {
    return [16, vec16(Buffer.concat(protocols.map((p) => vec8(Buffer.from(p, 'latin1')))))];
  },
  supportedVersions(versions: readonly number[]): Extension {
    return [43, vec8(Buffer.concat(versions.map(u16)))];
  },
};
