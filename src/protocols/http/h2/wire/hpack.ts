// HPACK (RFC 7541) for both ends of the proxy. The decoder is complete (the peer may use its dynamic table
// and Huffman coding as it likes); the encoder only emits literals without indexing, so it keeps no state
// and its output is legal whatever table size the peer allows.
import { HpackError, huffmanDecode } from './huffman.js';

export { HpackError };

/** Appendix A. */
const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];
const STATIC_COUNT = STATIC_TABLE.length;
/** First static index of each name, for literal fields with an indexed name. */
const STATIC_NAMES = new Map<string, number>();
for (let i = STATIC_COUNT - 1; i >= 0; i--) STATIC_NAMES.set(STATIC_TABLE[i]![0], i + 1);
/** §4.1: an entry's size is its name and value octets plus 32. */
const ENTRY_OVERHEAD = 32;
const EMPTY: Buffer = Buffer.alloc(0);

export class HpackDecoder {
  /** Dynamic table as name, value, name, value, ..., oldest first. */
  private readonly table: string[] = [];
  private size = 0;
  private maxSize: number;
  private block = EMPTY;
  private pos = 0;
  private name = '';
  private value = '';

  /** settingsTableSize: our SETTINGS_HEADER_TABLE_SIZE, the ceiling for the peer's table size updates. */
  constructor(
    private readonly settingsTableSize = 4096,
    private readonly maxHeaderListSize = 64 * 1024,
  ) {
    this.maxSize = settingsTableSize;
  }

  /**
   * Decodes a complete header block into [name, value, ...]. Returns null when the header list is larger than
   * maxHeaderListSize; the dynamic table is updated all the same, so later blocks still decode.
   */
  decode(block: Buffer): string[] | null {
    this.block = block;
    this.pos = 0;
    const out: string[] = [];
    let listSize = 0;
    while (this.pos < block.length) {
      const b = block[this.pos]!;
      if (b & 0x80) {
        this.lookup(this.integer(7));
      } else if (b & 0x40) {
        this.literal(6);
        this.insert(this.name, this.value);
      } else if (b & 0x20) {
        // §4.2: size updates come first in a block.
        if (out.length > 0 || listSize > 0) throw new HpackError('dynamic table size update after a header field');
        const size = this.integer(5);
        if (size > this.settingsTableSize) throw new HpackError(`dynamic table size ${size} above ${this.settingsTableSize}`);
        this.maxSize = size;
        this.evict(size);
        continue;
      } else {
        this.literal(4); // without indexing (0000) or never indexed (0001)
      }
      listSize += this.name.length + this.value.length + ENTRY_OVERHEAD;
      if (listSize <= this.maxHeaderListSize) out.push(this.name, this.value);
    }
    this.block = EMPTY;
    return listSize > this.maxHeaderListSize ? null : out;
  }

  /** Current dynamic table size in octets (for tests). */
  get tableSize(): number {
    return this.size;
  }

  /** Dynamic table entries, newest first (for tests). */
  entries(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (let i = this.table.length - 2; i >= 0; i -= 2) out.push([this.table[i]!, this.table[i + 1]!]);
    return out;
  }

  private literal(prefixBits: number): void {
    const index = this.integer(prefixBits);
    if (index === 0) {
      this.name = this.string();
    } else {
      this.lookup(index);
    }
    this.value = this.string();
  }

  private lookup(index: number): void {
    if (index === 0) throw new HpackError('header field index 0');
    if (index <= STATIC_COUNT) {
      const entry = STATIC_TABLE[index - 1]!;
      this.name = entry[0];
      this.value = entry[1];
      return;
    }
    const at = this.table.length - 2 * (index - STATIC_COUNT);
    if (at < 0) throw new HpackError(`header field index ${index} beyond the dynamic table`);
    this.name = this.table[at]!;
    this.value = this.table[at + 1]!;
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    // §4.4: an entry larger than the table empties it and is not added.
    this.evict(this.maxSize - size);
    if (size > this.maxSize) return;
    this.table.push(name, value);
    this.size += size;
  }

  /** Evicts the oldest entries until the table fits in `target` octets. */
  private evict(target: number): void {
    let drop = 0;
    while (this.size > target && drop < this.table.length) {
      this.size -= this.table[drop]!.length + this.table[drop + 1]!.length + ENTRY_OVERHEAD;
      drop += 2;
    }
    if (drop > 0) this.table.splice(0, drop);
  }

  /** §5.1, bounded to 4 continuation bytes (values below 2^28). */
  private integer(prefixBits: number): number {
    const max = (1 << prefixBits) - 1;
    const value = this.block[this.pos++]! & max;
    if (value < max) return value;
    let extra = 0;
    for (let shift = 0; shift <= 21; shift += 7) {
      if (this.pos >= this.block.length) throw new HpackError('truncated integer');
      const b = this.block[this.pos++]!;
      extra += (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return value + extra;
    }
    throw new HpackError('integer too large');
  }

  /** §5.2 string literal, Huffman-coded or raw octets (read as latin1). */
  private string(): string {
    if (this.pos >= this.block.length) throw new HpackError('truncated header block');
    const huffman = (this.block[this.pos]! & 0x80) !== 0;
    const length = this.integer(7);
    const start = this.pos;
    const end = start + length;
    if (end > this.block.length) throw new HpackError(`string of ${length} octets runs past the header block`);
    this.pos = end;
    return huffman ? huffmanDecode(this.block, start, end) : this.block.toString('latin1', start, end);
  }
}

type Fields = ReadonlyArray<readonly [string, string]>;

/** Octets writeHeaderBlock writes for these fields. */
export function headerBlockLength(fields: Fields, tableSizeUpdate = false): number {
  let n = tableSizeUpdate ? 1 : 0;
  for (const [name, value] of fields) {
    const index = STATIC_NAMES.get(name);
    n += index === undefined ? 1 + integerLength(name.length, 7) + name.length : integerLength(index, 4);
    n += integerLength(value.length, 7) + value.length;
  }
  return n;
}

/**
 * Writes the fields as literals without indexing (the name indexed when the static table has it, raw
 * strings) at buf[offset]; returns the end offset. tableSizeUpdate first sets the dynamic table size to 0,
 * which the peer may require after changing SETTINGS_HEADER_TABLE_SIZE (§4.2).
 */
export function writeHeaderBlock(fields: Fields, buf: Buffer, offset: number, tableSizeUpdate = false): number {
  let pos = offset;
  if (tableSizeUpdate) buf[pos++] = 0x20;
  for (const [name, value] of fields) {
    const index = STATIC_NAMES.get(name);
    if (index === undefined) {
      buf[pos++] = 0;
      pos = writeInteger(buf, pos, name.length, 7);
      pos += buf.write(name, pos, 'latin1');
    } else {
      pos = writeInteger(buf, pos, index, 4);
    }
    pos = writeInteger(buf, pos, value.length, 7);
    pos += buf.write(value, pos, 'latin1');
  }
  return pos;
}

export function encodeHeaderBlock(fields: Fields, tableSizeUpdate = false): Buffer {
  const buf = Buffer.allocUnsafe(headerBlockLength(fields, tableSizeUpdate));
  writeHeaderBlock(fields, buf, 0, tableSizeUpdate);
  return buf;
}

function integerLength(value: number, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) return 1;
  let n = 2;
  for (value -= max; value >= 128; value >>>= 7) n++;
  return n;
}

function writeInteger(buf: Buffer, pos: number, value: number, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    buf[pos++] = value;
    return pos;
  }
  buf[pos++] = max;
  for (value -= max; value >= 128; value >>>= 7) buf[pos++] = (value & 0x7f) | 0x80;
  buf[pos++] = value;
  return pos;
}
