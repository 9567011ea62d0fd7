// The buffer a Kafka connection reads broker responses into (net.Socket `onread`). It is reused while the
// client keeps up, so a large Fetch response costs no garbage buffer per read; a fresh one is taken only
// while bytes emitted from the last one still wait in the client socket's queue. Its size follows the
// traffic: small while responses are small, large once a read fills it, small again after a run of small
// reads. An idle connection holds 16 KiB instead of 256 (16 MiB rather than 256 MiB for 1,000 connections).
export const SMALL_READ_BYTES = 16 * 1024;
export const LARGE_READ_BYTES = 256 * 1024;
/** Consecutive reads that would have fit the small buffer before the large one is given up. */
const SHRINK_AFTER = 16;

export class AdaptiveReadBuffer {
  private buffer: Buffer | undefined;
  /** `large`: the size it grows to (smaller where the rest of a large response is spliced rather than read). */
  constructor(private readonly large = LARGE_READ_BYTES) {}

  private lastRead = 0;
  private smallReads = 0;

  /** Call with the size of every read into the current buffer. */
  filled(bytes: number): void {
    this.lastRead = bytes;
  }

  /** The buffer for the next read. `inUse`: views of the current one are still queued for writing. */
  next(inUse: boolean): Buffer {
    const current = this.buffer;
    const size = this.sizeFor(current?.length ?? SMALL_READ_BYTES);
    if (current === undefined || inUse || size !== current.length) this.buffer = Buffer.allocUnsafe(size);
    return this.buffer!;
  }

  private sizeFor(current: number): number {
    if (this.lastRead === current && current === SMALL_READ_BYTES) return this.large;
    if (current === SMALL_READ_BYTES) return current;
    this.smallReads = this.lastRead > SMALL_READ_BYTES ? 0 : this.smallReads + 1;
    if (this.smallReads < SHRINK_AFTER) return current;
    this.smallReads = 0;
    return SMALL_READ_BYTES;
  }
}
