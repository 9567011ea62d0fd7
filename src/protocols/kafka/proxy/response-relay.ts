// Broker → client bytes. Responses are streamed: the relay reads each frame's size and correlation id,
// shows the first bytes of every response to an inspector (for the error codes in flow records) until it
// has seen enough, and passes the bytes on as views of the chunks they arrived in (several small responses
// in one chunk leave in one write; a large Fetch response leaves chunk by chunk, never assembled). Only the responses the
// proxy must rewrite (ApiVersions, broker addresses) are collected whole, and a rewrite may take time
// (opening a listener for a newly seen broker): the relay then holds everything after that frame until
// it is done, so responses keep their order.
//
// The rest of a large streamed response may bypass push() altogether (the connection splices it from socket to
// socket, see zero-copy.ts) and is then accounted for with passed().
//
// A chunk's memory is only lent for the push() call (the connection reuses its read buffer): whatever
// the relay keeps longer — a frame being collected, bytes held behind a rewrite — it copies.
import { KafkaFrameError } from '../codec/errors.js';

/** Turns a whole response frame (size prefix included) into the frame the client gets. */
export type ResponseRewrite = (frame: Buffer) => Buffer | Promise<Buffer>;

export interface ResponseRelayHooks {
  /**
   * A response with this correlation id begins: returns its rewrite, if it has one. Throws
   * KafkaFrameError when no request is waiting for that correlation id.
   */
  begin(correlationId: number): ResponseRewrite | undefined;
  /**
   * The start of the response that began last, after its correlation id, as it arrives: the first `window`
   * bytes of it at most (INSPECT_BYTES, or all of it when shorter). Returns true once more bytes could not
   * change what it found; until then it is called again with more, the last time with all `window` bytes
   * (its answer then does not matter). Lent for the call; called before the response's end().
   */
  inspect(bytes: Buffer, window: number): boolean;
  /** Bytes for the client, in order; a view of the pushed chunk must be written (or copied) before returning. */
  emit(bytes: Buffer): void;
  /** The response that began last has been emitted whole; returns what the client gets right after it (the proxy's own answers). */
  end(): readonly Buffer[];
  /** A rewrite is in progress (true) or finished (false): the broker side should stop or resume reading. */
  hold(holding: boolean): void;
  /** A rewrite failed: the connection cannot continue. */
  fail(error: unknown): void;
}

/** Size prefix and correlation id: what the relay reads of every response. */
const HEAD = 8;
/**
 * How much of each response is inspected at most: all of any response but a large Fetch (whose codes before
 * its first record batches are seen). Copied only when a response's start spans reads and the inspector
 * wants more.
 */
export const INSPECT_BYTES = 16 * 1024;
const NOTHING = Buffer.alloc(0);

export class KafkaResponseRelay {
  private readonly head = Buffer.alloc(HEAD);
  private headLength = 0;
  /** Where the head being assembled started in the current chunk, or -1 when it started in an earlier one. */
  private headStart = -1;
  /** Bytes of the current frame's body still to come; -1 between frames. */
  private left = -1;
  /** Chunks of a frame being collected for a rewrite. */
  private collected: Buffer[] | undefined;
  private rewrite: ResponseRewrite | undefined;
  /** Bytes that arrived while a rewrite was pending. */
  private held: Buffer[] | undefined;
  /** Bytes of the current response that may still be inspected, out of `inspectWindow`, and a copy of those already seen when the inspector wanted more. */
  private inspectLeft = 0;
  private inspectWindow = 0;
  private inspecting: Buffer | undefined;

  constructor(
    private readonly maxFrameSize: number,
    private readonly hooks: ResponseRelayHooks,
  ) {}

  /** Feed bytes from the broker. Throws KafkaFrameError when they cannot be Kafka responses. */
  push(chunk: Buffer): void {
    if (this.held) {
      this.held.push(Buffer.from(chunk));
      return;
    }
    // A head still being assembled started in an earlier chunk.
    this.headStart = -1;
    let pos = 0;
    /** Start of the run of pass-through bytes in this chunk not yet emitted, or -1. */
    let passFrom = -1;
    const flush = (to: number) => {
      if (passFrom >= 0 && to > passFrom) this.hooks.emit(chunk.subarray(passFrom, to));
      passFrom = -1;
    };
    while (pos < chunk.length) {
      if (this.left < 0) {
        if (this.headLength === 0) this.headStart = pos;
        const n = Math.min(HEAD - this.headLength, chunk.length - pos);
        chunk.copy(this.head, this.headLength, pos, pos + n);
        this.headLength += n;
        pos += n;
        if (this.headLength < HEAD) {
          // The partial head is kept in this.head and leaves with its frame.
          flush(this.headStart >= 0 ? this.headStart : 0);
          return;
        }
        this.headLength = 0;
        this.rewrite = this.begin();
        if (this.rewrite) {
          flush(this.headStart >= 0 ? this.headStart : 0);
          this.collected = [Buffer.from(this.head)];
        } else {
          if (this.headStart >= 0) {
            if (passFrom < 0) passFrom = this.headStart;
          } else {
            this.hooks.emit(Buffer.from(this.head));
          }
          this.inspectWindow = this.inspectLeft = Math.min(this.left, INSPECT_BYTES);
          if (this.inspectLeft === 0) this.hooks.inspect(NOTHING, 0);
        }
      }
      const n = Math.min(this.left, chunk.length - pos);
      if (this.collected && n > 0) this.collected.push(Buffer.from(chunk.subarray(pos, pos + n)));
      else if (n > 0) {
        if (this.inspectLeft > 0) this.inspectPart(chunk.subarray(pos, pos + n));
        if (passFrom < 0) passFrom = pos;
      }
      pos += n;
      this.left -= n;
      if (this.left > 0) break;
      this.left = -1;
      if (this.collected) {
        const frame = Buffer.concat(this.collected);
        this.collected = undefined;
        const start = frame.subarray(HEAD, HEAD + INSPECT_BYTES);
        this.hooks.inspect(start, start.length);
        const rewritten = this.rewrite!(frame);
        if (rewritten instanceof Promise) {
          this.held = pos < chunk.length ? [Buffer.from(chunk.subarray(pos))] : [];
          this.hooks.hold(true);
          rewritten.then((out) => this.resume(out), (err: unknown) => this.hooks.fail(err));
          return;
        }
        this.finish(rewritten);
      } else {
        const after = this.hooks.end();
        if (after.length > 0) {
          flush(pos);
          for (const b of after) this.hooks.emit(b);
        }
      }
    }
    flush(chunk.length);
  }

  /**
   * Bytes of the current response still to come while it is being streamed (not collected for a rewrite, not
   * held, its start inspected), else 0. The caller may send those on itself and report them with passed().
   */
  streamingLeft(): number {
    return this.left > 0 && this.collected === undefined && this.held === undefined && this.inspectLeft === 0 ? this.left : 0;
  }

  /** `bytes` (at most streamingLeft()) of the current response reached the client without going through push(). */
  passed(bytes: number): void {
    if (bytes > this.streamingLeft()) throw new Error(`passed ${bytes} bytes, but only ${this.streamingLeft()} may bypass the relay`);
    this.left -= bytes;
    if (this.left > 0) return;
    this.left = -1;
    for (const b of this.hooks.end()) this.hooks.emit(b);
  }

  /** Shows the start of a streamed response, as far as it has arrived, to the inspector until it has seen enough. */
  private inspectPart(part: Buffer): void {
    const taken = part.subarray(0, this.inspectLeft);
    this.inspectLeft -= taken.length;
    const seen = this.inspecting === undefined ? taken : Buffer.concat([this.inspecting, taken]);
    if (this.hooks.inspect(seen, this.inspectWindow) || this.inspectLeft === 0) {
      this.inspectLeft = 0;
      this.inspecting = undefined;
    } else {
      // A view of the chunk is only lent: keep a copy for the next call.
      this.inspecting = seen === taken ? Buffer.from(taken) : seen;
    }
  }

  private begin(): ResponseRewrite | undefined {
    const size = this.head.readInt32BE(0);
    if (size < 4 || size > this.maxFrameSize) throw new KafkaFrameError(`broker sent a response frame of ${size} bytes (allowed 4 to ${this.maxFrameSize})`);
    this.left = size - 4;
    return this.hooks.begin(this.head.readInt32BE(4));
  }

  private finish(frame: Buffer): void {
    this.hooks.emit(frame);
    for (const b of this.hooks.end()) this.hooks.emit(b);
  }

  private resume(frame: Buffer): void {
    const rest = this.held ?? [];
    this.held = undefined;
    try {
      this.finish(frame);
      for (let i = 0; i < rest.length; i++) {
        this.push(rest[i]!);
        // push() may have met another rewrite: keep what is left behind it, in order.
        const heldAgain = this.held as Buffer[] | undefined;
        if (heldAgain) {
          heldAgain.push(...rest.slice(i + 1));
          return;
        }
      }
    } catch (err) {
      this.hooks.fail(err);
      return;
    }
    this.hooks.hold(false);
  }
}
