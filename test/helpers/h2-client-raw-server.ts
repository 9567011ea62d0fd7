// A hand-driven HTTP/2 server for the lean client's tests: it accepts one connection, sends the SETTINGS it is
// given, records every frame the client sends (after the preface) and writes exactly the frames a test asks
// for, including ones a real server never would.
import net from 'node:net';
import { FrameType, PREFACE, frame, settingsFrame } from '../../src/protocols/http/h2/wire/frames.js';
import { encodeHeaderBlock } from '../../src/protocols/http/h2/wire/hpack.js';

export interface RawFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

export class RawH2Server {
  readonly frames: RawFrame[] = [];
  socket: net.Socket | undefined;
  closed = false;
  private buffered = Buffer.alloc(0);
  private prefaceSeen = false;
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(settings: ReadonlyArray<readonly [number, number]> = []): Promise<RawH2Server> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const raw = new RawH2Server(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (socket) => {
      raw.socket = socket;
      socket.on('error', () => {});
      socket.on('data', (c: Buffer) => raw.onData(c));
      socket.on('close', () => {
        raw.closed = true;
        raw.wake();
      });
      socket.write(settingsFrame(settings));
    });
    return raw;
  }

  send(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): void {
    const f = frame(type, flags, streamId, payload.length);
    payload.copy(f, 9);
    this.socket?.write(f);
  }

  /** A HEADERS frame (END_HEADERS plus `flags`) with the fields encoded as literals. */
  headers(streamId: number, fields: Array<[string, string]>, flags = 0): void {
    this.send(FrameType.HEADERS, 0x4 | flags, streamId, encodeHeaderBlock(fields));
  }

  /** Bytes of DATA the client sent on a stream so far. */
  dataBytes(streamId: number): number {
    return this.frames.filter((f) => f.type === FrameType.DATA && f.streamId === streamId).reduce((n, f) => n + f.payload.length, 0);
  }

  /** Resolves once `check` holds, or rejects after `ms`. */
  async until(check: () => boolean, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('condition not met in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  waitFor(match: (f: RawFrame) => boolean, ms = 3000): Promise<RawFrame> {
    return this.until(() => this.frames.some(match), ms).then(() => this.frames.find(match)!);
  }

  close(): Promise<void> {
    this.socket?.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private onData(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    if (!this.prefaceSeen) {
      if (this.buffered.length < PREFACE.length) return;
      if (!this.buffered.subarray(0, PREFACE.length).equals(PREFACE)) throw new Error('bad client preface');
      this.prefaceSeen = true;
      this.buffered = this.buffered.subarray(PREFACE.length);
    }
    while (this.buffered.length >= 9) {
      const length = this.buffered.readUIntBE(0, 3);
      if (this.buffered.length < 9 + length) break;
      this.frames.push({
        type: this.buffered[3]!,
        flags: this.buffered[4]!,
        streamId: this.buffered.readUInt32BE(5) & 0x7fffffff,
        payload: this.buffered.subarray(9, 9 + length),
      });
      this.buffered = this.buffered.subarray(9 + length);
    }
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
