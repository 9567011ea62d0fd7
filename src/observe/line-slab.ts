// Writes flow lines straight into large reusable-until-full buffers ("slabs"), piece by piece, and hands out the
// complete lines appended since the last take as a view, for the writer to keep until it is written.
//
// Why pieces rather than `line += piece` then one encode: V8 keeps a concatenated string as a tree of its pieces,
// and encoding it first flattens that tree into a new string, which cost as much as building it. Here cached
// parts are copied as bytes and per-record text is encoded in place, once: no intermediate string is made.

/** Bytes per slab: one allocation serves several chunks. */
const SLAB_BYTES = 1024 * 1024;
/** Pieces up to this size are copied by a loop: below it, a call into C++ (set, write) costs more than the copy. */
const LOOP_BYTES = 8;
const NEWLINE = 0x0a;

/** Written-out slabs kept for reuse, at most. */
const SPARE_SLABS = 4;
/** Replaced slabs tracked for reuse, at most (64 MiB: the recorder's default write buffer bound). */
const RETIRED_SLABS = 64;

export class LineSlab {
  #slab: Buffer = Buffer.allocUnsafeSlow(SLAB_BYTES);
  /** Bytes taken, and bytes the caller said the writer is done with (written or dropped), since creation. */
  #taken = 0;
  #done = 0;
  /** Replaced slabs, in order, with the `#taken` count their last view ends at: reusable once `#done` reaches it. */
  #retired: Array<{ readonly slab: Buffer; readonly upTo: number }> = [];
  #spares: Buffer[] = [];
  /** Start of the bytes not taken yet. */
  #start = 0;
  /** End of the last complete line. */
  #end = 0;
  /** End of the line being written. */
  #pos = 0;
  /** Start of the last complete line. */
  #lastStart = 0;

  /** Bytes of complete lines not taken yet. */
  get pending(): number {
    return this.#end - this.#start;
  }

  /** Where the line being written is, for `repeat`. */
  get lineOffset(): number {
    return this.#pos - this.#end;
  }

  /** Already-encoded bytes (a cached part of a line). */
  bytes(bytes: Uint8Array): void {
    const n = bytes.length;
    if (this.#slab.length - this.#pos < n) this.#grow(n);
    const slab = this.#slab;
    if (n > LOOP_BYTES) {
      slab.set(bytes, this.#pos);
      this.#pos += n;
      return;
    }
    let p = this.#pos;
    for (let i = 0; i < n; i++) slab[p++] = bytes[i]!;
    this.#pos = p;
  }

  /** One byte (an ASCII character's code). */
  byte(byte: number): void {
    if (this.#slab.length === this.#pos) this.#grow(1);
    this.#slab[this.#pos++] = byte;
  }

  /** Text as is, UTF-8 encoded. */
  text(text: string): void {
    const room = text.length * 3; // UTF-8 bytes per UTF-16 unit, at most
    if (this.#slab.length - this.#pos < room) this.#grow(room);
    this.#pos += this.#slab.write(text, this.#pos);
  }

  /**
   * Text as the content of a JSON string (no quotes), escaped exactly as JSON.stringify escapes it. Printable
   * ASCII, which almost all of it is, is copied unit by unit; anything else takes JSON.stringify's path.
   */
  jsonText(text: string): void {
    const n = text.length;
    if (this.#slab.length - this.#pos < n) this.#grow(n);
    const slab = this.#slab;
    let p = this.#pos;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x80) {
        this.text(JSON.stringify(text).slice(1, -1));
        return;
      }
      slab[p++] = c;
    }
    this.#pos = p;
  }

  /** A number as String(n) prints it; a non-negative integer left-padded with zeros to `minDigits`. */
  number(n: number, minDigits = 1): void {
    if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER && n % 1 === 0)) {
      this.text(String(n));
      return;
    }
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    digits = Math.max(digits, minDigits);
    if (this.#slab.length - this.#pos < digits) this.#grow(digits);
    const slab = this.#slab;
    let x = n;
    for (let p = this.#pos + digits - 1; p >= this.#pos; p--) {
      const q = Math.floor(x / 10);
      slab[p] = 0x30 + x - q * 10;
      x = q;
    }
    this.#pos += digits;
  }

  /** Writes again the bytes of the line being written between two of its `lineOffset`s. */
  repeat(from: number, to: number): void {
    const n = to - from;
    if (this.#slab.length - this.#pos < n) this.#grow(n);
    this.#slab.copyWithin(this.#pos, this.#end + from, this.#end + to);
    this.#pos += n;
  }

  /** Ends the line being written with a newline: it is now part of what `take` returns. */
  endLine(): void {
    this.byte(NEWLINE);
    this.#lastStart = this.#end;
    this.#end = this.#pos;
  }

  /**
   * The line `endLine` completed last, without its newline, as a view: valid only until the next piece is written
   * (a piece may move it to a new slab), so a caller keeping it copies it.
   */
  lastLine(): Buffer {
    return this.#slab.subarray(this.#lastStart, this.#end - 1);
  }

  /** Forgets the line being written (it could not be completed). */
  abandonLine(): void {
    this.#pos = this.#end;
  }

  /** The complete lines appended since the last take. The slab never writes over them again. */
  take(): Buffer {
    const taken = this.#slab.subarray(this.#start, this.#end);
    this.#taken += taken.length;
    this.#start = this.#end;
    return taken;
  }

  /**
   * The writer is done with the next `bytes` bytes taken (views are written, or dropped, in the order taken). A
   * slab whose views are all done is reused rather than a new one allocated: fresh memory costs a page fault per
   * 4 KiB, more than writing the bytes into it. A caller that never calls this gets a new slab each time.
   */
  done(bytes: number): void {
    this.#done += bytes;
    while (this.#retired.length > 0 && this.#retired[0]!.upTo <= this.#done) {
      const { slab } = this.#retired.shift()!;
      if (this.#spares.length < SPARE_SLABS) this.#spares.push(slab);
    }
  }

  /**
   * A new slab, with the bytes not taken yet moved to its start; the old one lives on in views handed out. Twice
   * what is needed, so that a caller not taking for a while does not copy everything again for each piece.
   */
  #grow(room: number): void {
    const kept = this.#slab.subarray(this.#start, this.#pos);
    const needed = kept.length + room;
    if (this.#slab.length === SLAB_BYTES && this.#start > 0) {
      // Views of it may be unwritten; without a writer reporting, it is left to them and the collector.
      if (this.#retired.length < RETIRED_SLABS) this.#retired.push({ slab: this.#slab, upTo: this.#taken });
    }
    const spare = needed <= SLAB_BYTES ? this.#spares.pop() : undefined;
    const slab = spare ?? Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, 2 * needed));
    kept.copy(slab, 0);
    this.#slab = slab;
    this.#end -= this.#start;
    this.#pos = kept.length;
    this.#start = 0;
  }
}
