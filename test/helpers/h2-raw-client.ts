// A hand-rolled HTTP/2 client over `net` for tests that must misbehave in ways a real client refuses to:
// too many streams, rapid resets, endless CONTINUATION frames. It writes frames exactly as asked and
// records every frame the peer sends. HPACK: literal fields without indexing and without Huffman coding,
// which every decoder must accept (RFC 7541 §6.2.2).
import net from 'node:net';
import { waitUntil } from './wait.js';

export const FrameType = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8 } as const;
export const ErrorCode = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, REFUSED_STREAM: 7, CANCEL: 8, COMPRESSION_ERROR: 9, ENHANCE_YOUR_CALM: 11 } as const;

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, prefixBits: number, firstByte: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const out = [firstByte | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  return Buffer.concat([Buffer.from(hpackInt(bytes.length, 7, 0)), bytes]);
}

/** A header block of literal-without-indexing fields. */
export function headerBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  return Buffer.concat(fields.flatMap(([n, v]) => [Buffer.from([0x00]), hpackString(n), hpackString(v)]));
}

export function requestFields(authority: string, path: string, method = 'GET', extra: ReadonlyArray<readonly [string, string]> = []): Array<readonly [string, string]> {
  return [[':method', method], [':scheme', 'http'], [':authority', authority], [':path', path], ...extra];
}

export class RawH2Client {
  readonly frames: Frame[] = [];
  private buffered = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  private nextStream = 1;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /** Connects from `localAddress`, sends the preface and empty SETTINGS, and ACKs the server's SETTINGS. */
  static async connect(host: string, port: number, localAddress: string): Promise<RawH2Client> {
    const socket = net.connect({ host, port, localAddress });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawH2Client(socket);
    socket.write(Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(0))]));
    await client.waitFor((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0);
    return client;
  }

  /** The last stream id newStreamId gave (0 before the first). */
  get lastStreamId(): number {
    return Math.max(0, this.nextStream - 2);
  }

  /** A new client stream id (odd, increasing). */
  newStreamId(): number {
    const id = this.nextStream;
    this.nextStream += 2;
    return id;
  }

  write(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): void {
    if (!this.socket.destroyed) this.socket.write(frame(type, flags, streamId, payload));
  }

  /** `count` copies of one frame in a single write, as a flooding client sends them. */
  writeRepeated(count: number, type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): void {
    const one = frame(type, flags, streamId, payload);
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(Array.from({ length: count }, () => one)));
  }

  headers(streamId: number, fields: ReadonlyArray<readonly [string, string]>, endStream = true): void {
    this.write(FrameType.HEADERS, Flag.END_HEADERS | (endStream ? Flag.END_STREAM : 0), streamId, headerBlock(fields));
  }

  rst(streamId: number, code: number = ErrorCode.CANCEL): void {
    const p = Buffer.alloc(4);
    p.writeUInt32BE(code, 0);
    this.write(FrameType.RST_STREAM, 0, streamId, p);
  }

  /** Resolves with the first frame (already received or arriving) that matches, or rejects after `ms`. */
  async waitFor(match: (f: Frame) => boolean, ms = 5000): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      if (this.closed) throw new Error('connection closed before the expected frame');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('expected frame did not arrive in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Resolves when the server has closed the connection (or rejects after `ms`). */
  async waitClosed(ms = 5000): Promise<void> {
    await waitUntil('the server to close the connection', () => this.closed, ms, 10);
  }

  goaway(): Frame | undefined {
    return this.frames.find((f) => f.type === FrameType.GOAWAY);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 9) {
      const length = this.buffered.readUIntBE(0, 3);
      if (this.buffered.length < 9 + length) break;
      const f: Frame = {
        type: this.buffered[3]!,
        flags: this.buffered[4]!,
        streamId: this.buffered.readUInt32BE(5) & 0x7fffffff,
        payload: this.buffered.subarray(9, 9 + length),
      };
      this.buffered = this.buffered.subarray(9 + length);
      this.frames.push(f);
      if (f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0) this.write(FrameType.SETTINGS, Flag.ACK, 0);
      if (f.type === FrameType.PING && (f.flags & Flag.ACK) === 0) this.write(FrameType.PING, Flag.ACK, 0, f.payload);
    }
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** The error code of a RST_STREAM or GOAWAY frame. */
export function errorCodeOf(f: Frame): number {
  return f.type === FrameType.GOAWAY ? f.payload.readUInt32BE(4) : f.payload.readUInt32BE(0);
}
