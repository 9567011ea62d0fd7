// A walk over one message's bytes along its schema that materialises only the values a visitor asks
// for: everything else (record batches included) is skipped, not copied. Request facts and response
// error codes are both read this way. Bounds are checked by KafkaReader, so a walk throws
// KafkaDecodeError rather than read past its bytes; a reader of a message's first bytes only may instead
// mark itself cut, and the walk then stops where it is.
import { readTaggedSection, ZERO_UUID } from './codec.js';
import { KafkaDecodeError } from './errors.js';
import type { KafkaReader } from './reader.js';
import type { FieldPlan, StructPlan } from './schema.js';

export interface SchemaVisitor {
  /** True when the value of `f` (an int8, int16, int32, string or uuid field) is wanted. */
  wants(f: FieldPlan): boolean;
  /** A wanted value; a zero uuid is not passed on. */
  value(f: FieldPlan, v: number | string): void;
  /** A struct (or the message itself) begins and ends: for visitors that keep context per struct. */
  enter(): void;
  leave(): void;
  /**
   * How many entries follow, read before any of them is: the elements of array `f`, or the fields of a
   * tagged-field section (`f` undefined). A visitor that bounds a request's work throws here.
   */
  entries?(f: FieldPlan | undefined, n: number): void;
}

function nullCheck(f: FieldPlan, nullable: boolean, r: KafkaReader): void {
  if (!nullable) throw new KafkaDecodeError(`${f.name}: null in a non-nullable field`, r.offset);
}

function walkSingle(r: KafkaReader, f: FieldPlan, nullable: boolean, v: SchemaVisitor): void {
  switch (f.type) {
    case 'bool':
      return r.skip(1);
    case 'int8':
      if (v.wants(f)) v.value(f, r.int8());
      else r.skip(1);
      return;
    case 'int16':
      if (v.wants(f)) v.value(f, r.int16());
      else r.skip(2);
      return;
    case 'uint16':
      return r.skip(2);
    case 'int32':
      if (v.wants(f)) v.value(f, r.int32());
      else r.skip(4);
      return;
    case 'uint32':
      return r.skip(4);
    case 'int64':
    case 'float64':
      return r.skip(8);
    case 'uuid': {
      if (!v.wants(f)) return r.skip(16);
      const id = r.uuid();
      if (id !== ZERO_UUID) v.value(f, id);
      return;
    }
    case 'string': {
      const n = r.stringLength(f.compact);
      if (n < 0) return nullCheck(f, nullable, r);
      if (v.wants(f)) v.value(f, r.utf8(n));
      else r.skip(n);
      return;
    }
    case 'bytes':
    case 'records': {
      const n = r.length(f.compact);
      if (n < 0) return nullCheck(f, nullable, r);
      return r.skip(n);
    }
    case 'struct':
      if (nullable && r.int8() < 0) return;
      return walkStruct(r, f.struct!, v);
  }
}

function walkField(r: KafkaReader, f: FieldPlan, v: SchemaVisitor): void {
  if (!f.array) return walkSingle(r, f, f.nullable, v);
  const n = r.length(f.compact);
  if (n < 0) return nullCheck(f, f.nullable, r);
  v.entries?.(f, n); // first: on the first bytes of a frame still arriving, the bytes left say nothing yet
  if (n > r.remaining) throw new KafkaDecodeError(`${f.name}: ${n} elements declared, ${r.remaining} bytes left`, r.offset);
  for (let i = 0; i < n && !r.cut; i++) walkSingle(r, f, false, v);
}

/** Walks one struct (or a whole message body) from the reader's position; a cut reader leaves it open. */
export function walkStruct(r: KafkaReader, plan: StructPlan, v: SchemaVisitor): void {
  v.enter();
  for (const f of plan.fields) {
    walkField(r, f, v);
    if (r.cut) return;
  }
  if (plan.flexible) readTaggedSection(r, plan, (sub, f) => walkField(sub, f, v), () => undefined, (n) => v.entries?.(undefined, n));
  v.leave();
}
