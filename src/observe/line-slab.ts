// Encodes rendered flow lines straight into large reusable-until-full buffers ("slabs"), and hands out what was
// appended since the last take as a view, for the writer to keep until it is written.
//
// Why not `out += line` then Buffer.from(out): V8 then first flattens a rope of thousands of pieces into a new
// 64 KiB string, and Buffer.from measures and allocates per chunk; together that cost more than rendering the
// flows. Encoding each line as it is rendered flattens only that line, and the bytes land once, in place.

/** Bytes per slab: one allocation serves several chunks. */
const SLAB_BYTES = 1024 * 1024;
const NEWLINE = 0x0a;

export class LineSlab {
  #slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  /** Start of the bytes not taken yet. */
  #start = 0;
  #end = 0;

  /** Bytes appended and not taken yet. */
  get pending(): number {
    return this.#end - this.#start;
  }

  /** Appends `line` and a newline, UTF-8 encoded. */
  append(line: string): void {
    const room = line.length * 3 + 1; // UTF-8 bytes per UTF-16 unit, at most
    if (this.#slab.length - this.#end < room) this.#grow(room);
    const end = this.#end + this.#slab.write(line, this.#end);
    this.#slab[end] = NEWLINE;
    this.#end = end + 1;
  }

  /** The bytes appended since the last take. The slab never writes over them again. */
  take(): Buffer {
    const taken = this.#slab.subarray(this.#start, this.#end);
    this.#start = this.#end;
    return taken;
  }

  /** A new slab, with the bytes not taken yet moved to its start; the old one lives on in views handed out. */
  #grow(room: number): void {
    const kept = this.#slab.subarray(this.#start, this.#end);
    const slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, kept.length + room));
    kept.copy(slab, 0);
    this.#slab = slab;
    this.#start = 0;
    this.#end = kept.length;
  }
}
