// Splits a TCP byte stream into Kafka frames (int32 size + payload). Frames are returned whole, size
// prefix included, so an allowed request can be forwarded as the exact bytes that arrived. A frame
// that fits in one chunk is returned as a view of it; only frames spanning chunks are copied once.
import { KafkaFrameError } from './errors.js';

/** Kafka's own socket.request.max.bytes default is 100 MiB. */
export const DEFAULT_MAX_KAFKA_FRAME_SIZE = 100 * 1024 * 1024;

// What a stray client sends first when it meant another protocol; named so the log says what happened.
const HTTP_METHOD = /^(GET |HEAD|POST|PUT |DELE|OPTI|PATC|CONN|TRAC|PRI )$/;

export interface KafkaFrameReaderOptions {
  /** Largest payload accepted (excluding the 4-byte size). Default 100 MiB. */
  readonly maxFrameSize?: number;
}

export class KafkaFrameReader {
  readonly maxFrameSize: number;
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  /** Size (prefix included) of the frame being assembled, once its prefix has been read. */
  private pending = -1;
  private framesRead = 0;
  private failure: KafkaFrameError | undefined;

  constructor(options: KafkaFrameReaderOptions = {}) {
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_KAFKA_FRAME_SIZE;
  }

  /** Bytes held for an incomplete frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Declared size (the payload's, as checked against maxFrameSize) of the incomplete frame, once its size prefix has been read. */
  get incompleteFrameSize(): number | undefined {
    return this.pending < 0 ? undefined : this.pending - 4;
  }

  /** The first `n` bytes (size prefix included) of the incomplete frame, once its size is known and they have arrived. */
  incompletePrefix(n: number): Buffer | undefined {
    if (this.pending < 0 || this.buffered < n) return undefined;
    const first = this.chunks[0]!;
    return first.length >= n ? first.subarray(0, n) : this.copyOut(n, false);
  }

  /** Forgets the incomplete frame, whose bytes its reader (produce-scanner.ts) has taken over: the rest of it is not pushed here. */
  dropIncomplete(): void {
    this.chunks.length = 0;
    this.buffered = 0;
    this.pending = -1;
    this.framesRead++;
  }

  /**
   * Add bytes; returns every frame they complete. Throws KafkaFrameError (and keeps throwing it) when
   * the stream cannot be Kafka: the connection must then be closed.
   */
  push(chunk: Buffer): Buffer[] {
    if (this.failure) throw this.failure;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Buffer[] = [];
    for (;;) {
      if (this.pending < 0) {
        if (this.buffered < 4) break;
        this.pending = 4 + this.checkSize(this.peek4());
      }
      if (this.buffered < this.pending) break;
      frames.push(this.take(this.pending));
      this.pending = -1;
      this.framesRead++;
    }
    return frames;
  }

  private fail(reason: string): never {
    this.failure = new KafkaFrameError(reason);
    throw this.failure;
  }

  private checkSize(head: Buffer): number {
    if (this.framesRead === 0) {
      // A TLS record starts 0x16 (handshake) 0x03 (major version): as a size it reads as ~370 MB.
      if (head[0] === 0x16 && head[1] === 0x03) this.fail('TLS ClientHello received on a plaintext Kafka listener');
      if (HTTP_METHOD.test(head.toString('latin1', 0, 4))) this.fail('HTTP request received on a Kafka listener');
    }
    const size = head.readInt32BE(0);
    if (size < 0) this.fail(`negative Kafka frame size ${size}`);
    if (size > this.maxFrameSize) this.fail(`Kafka frame size ${size} exceeds the maximum of ${this.maxFrameSize} bytes`);
    return size;
  }

  private peek4(): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first;
    return this.copyOut(4, false);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return first.subarray(0, n);
    }
    return this.copyOut(n, true);
  }

  /** Copy the first n buffered bytes into one buffer, consuming them when `consume`. */
  private copyOut(n: number, consume: boolean): Buffer {
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    let used = 0; // chunks used up entirely
    while (copied < n) {
      const c = this.chunks[used]!;
      const len = Math.min(c.length, n - copied);
      c.copy(out, copied, 0, len);
      copied += len;
      if (len < c.length) {
        if (consume) this.chunks[used] = c.subarray(len);
        break;
      }
      used++;
    }
    if (consume) {
      // One splice, not a shift per chunk: a frame trickling in byte by byte must not cost O(n²).
      this.chunks.splice(0, used);
      this.buffered -= n;
    }
    return out;
  }
}
