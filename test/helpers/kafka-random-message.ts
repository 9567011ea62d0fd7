// Seeded random Kafka messages built from the codec's own schema plans: every field gets a value that
// is valid for its type, with nulls where the version allows them, tagged fields present or absent,
// nested arrays, and unknown tagged fields — for round-trip tests and fuzzing.
import { UNKNOWN_TAGGED_FIELDS, type KafkaStruct, type KafkaValue, type UnknownTaggedField } from '../../src/protocols/kafka/codec/codec.js';
import type { FieldPlan, StructPlan } from '../../src/protocols/kafka/codec/schema.js';

/** mulberry32: tiny, fast, and deterministic for a given seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ['a', 'Z', '0', '.', '_', '-', ' ', 'é', '☃', '𝄞'];

export class RandomKafkaValues {
  constructor(private readonly random: () => number) {}

  int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }

  string(): string {
    let s = '';
    for (let n = this.int(0, 8); n > 0; n--) s += ALPHABET[this.int(0, ALPHABET.length - 1)];
    return s;
  }

  private single(f: FieldPlan, depth: number): KafkaValue {
    switch (f.type) {
      case 'bool':
        return this.chance(0.5);
      case 'int8':
        return this.int(-128, 127);
      case 'int16':
        return this.int(-32768, 32767);
      case 'uint16':
        return this.int(0, 65535);
      case 'int32':
        return this.int(-2147483648, 2147483647);
      case 'uint32':
        return this.int(0, 4294967295);
      case 'int64':
        return this.bytes(8).readBigInt64BE(0);
      case 'float64':
        return (this.random() - 0.5) * 1e6;
      case 'uuid':
        return this.bytes(16).toString('base64url');
      case 'string':
        return this.string();
      case 'bytes':
      case 'records':
        return this.bytes(this.int(0, 12));
      case 'struct':
        return this.struct(f.struct!, depth + 1);
    }
  }

  field(f: FieldPlan, depth: number): KafkaValue {
    if (f.nullable && this.chance(0.2)) return null;
    if (!f.array) return this.single(f, depth);
    const out: KafkaValue[] = [];
    for (let n = this.int(0, depth > 3 ? 1 : 3); n > 0; n--) out.push(this.single(f, depth));
    return out;
  }

  struct(plan: StructPlan, depth = 0): KafkaStruct {
    const out: KafkaStruct = {};
    for (const f of plan.fields) out[f.key] = this.field(f, depth);
    if (!plan.flexible) return out;
    for (const f of plan.tagged) if (this.chance(0.6)) out[f.key] = this.field(f, depth);
    if (this.chance(0.2)) {
      // Tags far above any the definitions use, ascending as the decoder will report them.
      const unknown: UnknownTaggedField[] = [];
      for (let tag = 10_000 + this.int(0, 5), n = this.int(1, 2); n > 0; n--, tag += this.int(1, 1000)) {
        unknown.push({ tag, data: this.bytes(this.int(0, 5)) });
      }
      out[UNKNOWN_TAGGED_FIELDS] = unknown;
    }
    return out;
  }
}
