// A Produce request frame read as it streams in, keeping everything but its record bytes. A Produce names its
// first topic before any record, so policy can decide it from its first bytes; a denied one still needs its
// topics and partitions (the deny answer lists every one), but never its records. The scanner follows the
// request's schema across reads: each `records` (and unknown tagged field) of length L drops the next L bytes as
// they arrive; everything else — header, acks, topic names, partition indexes — goes into a copy of the frame
// whose records are empty, which the usual facts reader and deny builder then read like any request.
// Memory: a value spanning reads (at most a 32 KiB string) plus that copy, O(topics + partitions).
import { KafkaDecodeError, KafkaLimitError } from '../codec/errors.js';
import { EntryCounter } from './facts.js';
import type { KafkaRequestLimits } from '../../../config/kafka-request-limits.js';
import { requestHeaderVersion, writeRequestHeader, type KafkaRequestHeader } from '../codec/header.js';
import { messagePlan, type FieldPlan, type StructPlan } from '../codec/schema.js';
import { KafkaWriter } from '../codec/writer.js';
import { ApiKey } from '../codec/generated/api-keys.js';

/** Kafka's own readers refuse longer strings (Short.MAX_VALUE), compact ones included. */
const MAX_STRING_BYTES = 0x7fff;
/** Tagged fields a request header may carry (as header.ts bounds them). */
const MAX_HEADER_TAGS = 64;
const FIXED_SIZE: Readonly<Partial<Record<FieldPlan['type'], number>>> = {
  bool: 1, int8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, float64: 8, uuid: 16,
};

/** Yields whenever it needs the next chunk. */
type Step<T = void> = Generator<void, T, void>;

export class ProduceScanner {
  /** The request header, once read. */
  header: KafkaRequestHeader | undefined;
  /** The first topic's name, once read. */
  firstTopic: string | undefined;
  /** The frame is not a Produce of a version the codec reads: nothing more is read. */
  notProduce = false;
  private readonly kept = new KafkaWriter();
  private readonly counter: EntryCounter;
  private maxEntries = Infinity;
  private readonly steps: Step;
  private chunk: Buffer = Buffer.alloc(0);
  private at = 0;
  /** Bytes of the frame not yet pushed. */
  private left: number;
  private readonly frameBytes: number;
  private finished = false;

  /** `frameSize`: the declared payload size (the 4-byte prefix not included); `maxKeptBytes` bounds the copy. */
  constructor(
    frameSize: number,
    limits: KafkaRequestLimits,
    private readonly maxKeptBytes: number,
  ) {
    this.frameBytes = 4 + frameSize;
    this.left = this.frameBytes;
    this.counter = new EntryCounter(ApiKey.Produce, limits);
    this.steps = this.frame();
    this.steps.next(); // runs to its first read
  }

  /**
   * From now on the request may have at most `max` entries (topics, partitions, tagged fields) in all, counted from
   * its start: a denied Produce is answered only up to that size. Throws KafkaLimitError when it already has more.
   */
  capEntries(max: number): void {
    this.maxEntries = max;
    this.entries(undefined, 0);
  }

  /** Bytes of the frame read so far, size prefix included. */
  get bytesRead(): number {
    return this.frameBytes - this.left;
  }

  /** The whole frame has been read. */
  get done(): boolean {
    return this.finished;
  }

  /**
   * Reads the frame's next bytes (the size prefix first); returns how many of `chunk` belong to the frame.
   * Throws KafkaDecodeError when they cannot be a Produce request, KafkaLimitError beyond the limits.
   */
  push(chunk: Buffer): number {
    const used = Math.min(chunk.length, this.left);
    if (used === 0 || this.finished || this.notProduce) return used;
    this.chunk = chunk.subarray(0, used);
    this.at = 0;
    this.left -= used;
    this.steps.next();
    return used;
  }

  /** The frame with its records (and unknown tagged fields) emptied, size prefix included: once done. */
  keptFrame(): Buffer {
    const frame = this.kept.finish();
    frame.writeInt32BE(frame.length - 4, 0);
    return frame;
  }

  private *frame(): Step {
    yield* this.drop(4); // the size, already checked by the frame reader
    this.kept.reserveInt32();
    const fixed = yield* this.take(8);
    const apiKey = fixed.readInt16BE(0);
    const apiVersion = fixed.readInt16BE(2);
    const plan = apiKey === ApiKey.Produce ? messagePlan(apiKey, apiVersion, 'request') : undefined;
    if (plan === undefined) {
      this.notProduce = true;
      return;
    }
    const correlationId = fixed.readInt32BE(4);
    const headerVersion = requestHeaderVersion(apiKey, apiVersion); // 1 or 2: every Produce header has a client id
    const idLength = (yield* this.take(2)).readInt16BE(0);
    const clientId = idLength < 0 ? null : (yield* this.take(idLength)).toString('utf8');
    if (headerVersion === 2) yield* this.dropTagged(MAX_HEADER_TAGS);
    this.header = { apiKey, apiVersion, correlationId, clientId, headerVersion };
    writeRequestHeader(this.kept, this.header);
    yield* this.struct(plan);
    if (this.at < this.chunk.length || this.left > 0) throw new KafkaDecodeError(`Produce v${apiVersion}: ${this.chunk.length - this.at + this.left} unexpected trailing bytes`);
    this.finished = true;
  }

  private *struct(plan: StructPlan): Step {
    for (const f of plan.fields) yield* this.field(f);
    // Produce requests define no tagged fields: any are dropped, as a broker ignores unknown ones.
    if (plan.flexible) {
      yield* this.dropTagged(Infinity);
      this.kept.uvarint(0);
    }
  }

  private *field(f: FieldPlan): Step {
    if (!f.array) return yield* this.single(f, f.nullable);
    const n = yield* this.length(f.compact);
    this.keep((w) => w.length(n, f.compact));
    if (n < 0) return; // nullability is checked when the kept frame is read
    this.entries(f, n);
    for (let i = 0; i < n; i++) yield* this.single(f, false);
  }

  private entries(f: FieldPlan | undefined, n: number): void {
    this.counter.count(f, n);
    if (this.counter.total > this.maxEntries) throw new KafkaLimitError(`denied request with more than ${this.maxEntries} entries is closed, not answered`);
  }

  private *single(f: FieldPlan, nullable: boolean): Step {
    const size = FIXED_SIZE[f.type];
    if (size !== undefined) {
      const bytes = yield* this.take(size);
      return this.keep((w) => w.raw(bytes));
    }
    if (f.type === 'string') {
      const n = f.compact ? (yield* this.uvarint()) - 1 : (yield* this.take(2)).readInt16BE(0);
      if (n > MAX_STRING_BYTES) throw new KafkaDecodeError(`${f.name}: string of ${n} bytes`);
      const bytes = n < 0 ? null : yield* this.take(n);
      if (bytes !== null && f.definition.entityType === 'topicName') this.firstTopic ??= bytes.toString('utf8');
      return this.keep((w) => {
        if (f.compact) w.uvarint(n + 1);
        else w.int16(n);
        if (bytes !== null) w.raw(bytes);
      });
    }
    if (f.type === 'struct') {
      if (nullable) {
        const present = (yield* this.take(1)).readInt8(0);
        this.keep((w) => w.int8(present));
        if (present < 0) return;
      }
      return yield* this.struct(f.struct!);
    }
    // bytes, records: dropped as they arrive, kept empty (null stays null)
    const n = yield* this.length(f.compact);
    if (n > 0) yield* this.drop(n);
    this.keep((w) => w.length(Math.min(n, 0), f.compact));
  }

  private *dropTagged(max: number): Step {
    const n = yield* this.uvarint();
    if (n > max) throw new KafkaDecodeError(`${n} tagged fields declared (at most ${max})`);
    this.entries(undefined, n);
    for (let i = 0; i < n; i++) {
      yield* this.uvarint();
      yield* this.drop(yield* this.uvarint());
    }
  }

  private keep(write: (w: KafkaWriter) => void): void {
    write(this.kept);
    if (this.kept.offset > this.maxKeptBytes) {
      throw new KafkaLimitError(`Produce request's topics and partitions take more than ${this.maxKeptBytes} bytes without their records`);
    }
  }

  /** Length of BYTES/ARRAY (int32) or their compact forms; negative means null. */
  private *length(compact: boolean): Step<number> {
    return compact ? (yield* this.uvarint()) - 1 : (yield* this.take(4)).readInt32BE(0);
  }

  private *uvarint(): Step<number> {
    let value = 0;
    for (let i = 0, scale = 1; i < 5; i++, scale *= 128) {
      const b = (yield* this.take(1))[0]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80 && value <= 0xffffffff) return value;
      if (b < 0x80) break;
    }
    throw new KafkaDecodeError('unsigned varint does not fit in 32 bits');
  }

  /** Waits for the next chunk; a frame with no bytes left cannot hold what the schema says comes next. */
  private *next(): Step {
    if (this.left === 0) throw new KafkaDecodeError('Produce request truncated: the schema reads past the frame');
    yield;
  }

  /** The next `n` bytes: a view when the current chunk holds them, else a copy. */
  private *take(n: number): Step<Buffer> {
    if (this.chunk.length - this.at >= n) {
      this.at += n;
      return this.chunk.subarray(this.at - n, this.at);
    }
    const out = Buffer.allocUnsafe(n);
    for (let got = 0; got < n; ) {
      if (this.at === this.chunk.length) yield* this.next();
      const len = Math.min(n - got, this.chunk.length - this.at);
      this.chunk.copy(out, got, this.at, this.at + len);
      got += len;
      this.at += len;
    }
    return out;
  }

  private *drop(n: number): Step {
    while (n > 0) {
      if (this.at === this.chunk.length) yield* this.next();
      const len = Math.min(n, this.chunk.length - this.at);
      this.at += len;
      n -= len;
    }
  }
}
