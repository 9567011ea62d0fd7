// The error codes a broker put in a response, for flow records and counters. Kafka reports errors per
// topic or partition (Produce, Fetch, Metadata, ...) or once for the whole response (FindCoordinator,
// JoinGroup, a Fetch session error): every int16 field named *ErrorCode counts, and one found inside a
// struct that names a topic, at any depth, belongs to that topic, whichever order the fields come in.
// The proxy reads only the start of each response (responses stream through); a walk that runs out of
// bytes keeps what it found, so a large Fetch yields the codes before its first record batches. A scan also
// says how far its result holds, so the proxy can stop reading a response's start as soon as more of it cannot
// change the answer: a Fetch's head is settled once its first record batches begin.
import { KafkaDecodeError } from '../codec/errors.js';
import { responseHeaderVersion, skipTaggedFields } from '../codec/header.js';
import { KafkaReader } from '../codec/reader.js';
import { messagePlan, type FieldPlan } from '../codec/schema.js';
import { walkStruct, type SchemaVisitor } from '../codec/schema-walk.js';

export interface ResponseErrors {
  /** The first non-zero error code anywhere in what was read, 0 when none. */
  readonly first: number;
  /** The first non-zero code at the top level, outside any topic: it applies to every topic. */
  readonly top: number;
  /** The first non-zero code found within each topic's entry. */
  readonly byTopic: ReadonlyMap<string, number>;
}

export const NO_ERRORS: ResponseErrors = { first: 0, top: 0, byTopic: new Map() };

/** The code a response carries for one of its topics ('' for a response without topics). */
export function topicErrorCode(errors: ResponseErrors, topic: string): number {
  return errors.byTopic.get(topic) ?? errors.top;
}

type Role = 'error' | 'topic' | null;
const roles = new WeakMap<FieldPlan, Role>();

function roleOf(f: FieldPlan): Role {
  let role = roles.get(f);
  if (role === undefined) {
    role = f.type === 'int16' && f.name.endsWith('ErrorCode') ? 'error' : f.type === 'string' && f.definition.entityType === 'topicName' ? 'topic' : null;
    roles.set(f, role);
  }
  return role;
}

/** Thrown by a PrefixReader at the end of its bytes: a plain object, since an Error's stack costs more than the walk. */
const END_OF_PREFIX = { endOfPrefix: true };

/**
 * Reads the start of a response: running out of bytes is the expected way for a large one to end. A skip past
 * the end (a large Fetch's record batches) cuts the walk without throwing: unwinding optimised frames cost
 * several times more than the rest of the walk.
 */
class PrefixReader extends KafkaReader {
  override need(n: number): void {
    if (n > this.end - this.offset) throw END_OF_PREFIX;
  }

  /** Where a skip past the end wanted to go: no byte before it is read. */
  skippedTo = 0;

  override skip(n: number): void {
    if (n > this.end - this.offset) {
      this.skippedTo = this.offset + n;
      this.offset = this.end;
      this.cut = true;
    } else {
      this.offset += n;
    }
  }
}

class ErrorSink implements SchemaVisitor {
  first = 0;
  top = 0;
  readonly byTopic = new Map<string, number>();
  /** The struct being walked: the topic it names (if any yet) and the first error within it. */
  private topic: string | undefined;
  private error = 0;
  /** The same for every enclosing struct. */
  private readonly outer: Array<{ topic: string | undefined; error: number }> = [];

  wants(f: FieldPlan): boolean {
    return roleOf(f) !== null;
  }

  value(f: FieldPlan, v: number | string): void {
    if (typeof v === 'string') this.topic = v;
    else if (v !== 0) {
      if (this.first === 0) this.first = v;
      if (this.error === 0) this.error = v;
    }
  }

  enter(): void {
    this.outer.push({ topic: this.topic, error: this.error });
    this.topic = undefined;
    this.error = 0;
  }

  /** A struct that named a topic keeps its error for that topic; any other passes it to the enclosing one. */
  leave(): void {
    const inner = { topic: this.topic, error: this.error };
    const outer = this.outer.pop()!;
    this.topic = outer.topic;
    this.error = outer.error;
    if (inner.topic !== undefined) {
      if (inner.error !== 0 && !this.byTopic.has(inner.topic)) this.byTopic.set(inner.topic, inner.error);
    } else if (this.error === 0) {
      this.error = inner.error;
    }
    if (this.outer.length === 0) this.top = this.error;
  }

  /**
   * Closes the structs a truncated walk left open. An open entry that has not named its topic yet (and
   * sits in no entry that has) may belong to a topic not read: its code is dropped rather than spread to
   * every topic as a top-level one.
   */
  unwind(): void {
    while (this.outer.length > 0) {
      const root = this.outer.length === 1;
      if (!root && this.topic === undefined && this.outer[this.outer.length - 1]!.topic === undefined) this.error = 0;
      this.leave();
    }
  }
}

/** A scan of a response's first bytes. */
export interface ResponseScan {
  readonly errors: ResponseErrors;
  /**
   * Every longer prefix of the response shorter than this scans the same: Infinity when the walk read the whole
   * response; where a skip past the bytes wanted to go when it was cut there (the record batches of a Fetch: such
   * a prefix is cut at the same skip); else one more than the length scanned (more bytes may find more).
   */
  readonly settledBelow: number;
}

/**
 * Error codes in a response, from its bytes after the correlation id (possibly only the first ones).
 * Never throws: a response the proxy cannot read (an unknown version, malformed bytes) yields what was
 * found before the problem; the broker's bytes are passed on regardless.
 */
export function scanResponseStart(bytes: Buffer, apiKey: number, apiVersion: number): ResponseScan {
  const plan = messagePlan(apiKey, apiVersion, 'response');
  if (plan === undefined) return { errors: NO_ERRORS, settledBelow: Infinity };
  const r = new PrefixReader(bytes);
  const sink = new ErrorSink();
  let settledBelow = Infinity;
  try {
    if (responseHeaderVersion(apiKey, apiVersion) === 1) skipTaggedFields(r);
    walkStruct(r, plan, sink);
    if (r.cut) {
      sink.unwind();
      settledBelow = r.skippedTo;
    }
  } catch (err) {
    if (err !== END_OF_PREFIX && !(err instanceof KafkaDecodeError)) throw err;
    sink.unwind();
    // Malformed or cut short: which of the two, only more bytes can tell.
    settledBelow = bytes.length + 1;
  }
  return { errors: sink.first === 0 ? NO_ERRORS : { first: sink.first, top: sink.top, byTopic: sink.byTopic }, settledBelow };
}
