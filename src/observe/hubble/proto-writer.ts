// A protojson object (as `hubble observe -o json` prints it) written straight to protobuf wire bytes, guided by the
// descriptor: what protobufjs' fromObject + encode did, without building a message object per level first (a
// follower converts every flow: fromObject's intermediate objects were most of a flow's conversion cost).
// Accepts protojson's forms: enums by name, 64-bit integers as decimal strings, Timestamps as RFC 3339 text,
// wrapper types (BoolValue, ...) as their bare value. Keys that name no field are an error, unless the caller
// handles them (`extra`), as flow-message.ts does for Portcullis' own `portcullis` object.
import protobuf from 'protobufjs';

/** Writes a key of `object` that is not a field of its type; returns false when it does not know the key either. */
export type ExtraField = (writer: protobuf.Writer, key: string, value: unknown) => boolean;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

/** Writes `object`'s fields (not its length: the caller frames nested messages). */
export function writeMessage(writer: protobuf.Writer, type: protobuf.Type, object: Record<string, unknown>, extra?: ExtraField): void {
  const fields = type.fields;
  for (const key in object) {
    const value = object[key];
    if (value === undefined || value === null) continue;
    const field = fields[key];
    if (field === undefined) {
      if (extra?.(writer, key, value)) continue;
      throw new Error(`${type.name} has no field ${key}`);
    }
    if (field.map) throw new Error(`${field.name}: map fields are not written`); // none in what flows carry
    if (field.repeated) {
      if (!Array.isArray(value)) throw new Error(`${field.name}: expected an array`);
      for (const item of value) writeField(writer, field, item);
    } else {
      writeField(writer, field, value);
    }
  }
}

/** One value of `field`, with its tag (repeated scalars unpacked: every decoder accepts both forms). */
function writeField(writer: protobuf.Writer, field: protobuf.Field, value: unknown): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    writer.uint32((field.id << 3) | WIRE_LENGTH).fork();
    writeNested(writer, resolved, value);
    writer.ldelim();
    return;
  }
  if (resolved instanceof protobuf.Enum) {
    writer.uint32((field.id << 3) | WIRE_VARINT).int32(enumNumber(resolved, value));
    return;
  }
  writeScalar(writer, field.id, field.type, value, field.name);
}

/** A nested message's fields, from its protojson form (special for the well-known types protojson writes as scalars). */
function writeNested(writer: protobuf.Writer, type: protobuf.Type, value: unknown): void {
  const kind = kindOf(type);
  if (kind === TIMESTAMP) {
    const { seconds, nanos } = timestamp(value);
    if (seconds !== 0) writer.uint32((1 << 3) | WIRE_VARINT).int64(seconds);
    if (nanos !== 0) writer.uint32((2 << 3) | WIRE_VARINT).int32(nanos);
    return;
  }
  if (kind === WRAPPER) {
    if (!isZero(value)) writeScalar(writer, 1, type.fields.value!.type, value, type.name);
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${type.name}: expected an object`);
  writeMessage(writer, type, value as Record<string, unknown>);
}

const MESSAGE = 0;
const TIMESTAMP = 1;
const WRAPPER = 2;
const WRAPPERS = ['Bool', 'UInt32', 'Int32', 'UInt64', 'Int64', 'String', 'Double'].map((t) => `.google.protobuf.${t}Value`);
/** By type: its fullName is rebuilt from its parents on every read, too slow to switch on per message. */
const kinds = new WeakMap<protobuf.Type, number>();

function kindOf(type: protobuf.Type): number {
  let kind = kinds.get(type);
  if (kind === undefined) {
    const name = type.fullName;
    kind = name === '.google.protobuf.Timestamp' ? TIMESTAMP : WRAPPERS.includes(name) ? WRAPPER : MESSAGE;
    kinds.set(type, kind);
  }
  return kind;
}

function writeScalar(writer: protobuf.Writer, id: number, type: string, value: unknown, name: string): void {
  switch (type) {
    case 'string':
      if (typeof value !== 'string') break;
      writer.uint32((id << 3) | WIRE_LENGTH).string(value);
      return;
    case 'bool':
      if (typeof value !== 'boolean') break;
      writer.uint32((id << 3) | WIRE_VARINT).bool(value);
      return;
    case 'uint32':
    case 'int32':
      if (typeof value !== 'number' || !Number.isInteger(value)) break;
      writer.uint32((id << 3) | WIRE_VARINT)[type](value);
      return;
    case 'uint64':
    case 'int64':
      if (typeof value !== 'number' && !(typeof value === 'string' && /^-?\d+$/.test(value))) break;
      // protobufjs takes the decimal text as it is (through Long when larger than a double holds).
      writer.uint32((id << 3) | WIRE_VARINT)[type](value as number);
      return;
    case 'double':
      if (typeof value !== 'number') break;
      writer.uint32((id << 3) | WIRE_FIXED64).double(value);
      return;
    case 'float':
      if (typeof value !== 'number') break;
      writer.uint32((id << 3) | WIRE_FIXED32).float(value);
      return;
  }
  throw new Error(`${name}: ${JSON.stringify(value)} is not a ${type}`);
}

function enumNumber(type: protobuf.Enum, value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  const n = typeof value === 'string' ? type.values[value] : undefined;
  if (n === undefined) throw new Error(`${type.name}: no value ${JSON.stringify(value)}`);
  return n;
}

function isZero(value: unknown): boolean {
  return value === false || value === 0 || value === '' || value === '0';
}

/** protojson's Timestamp text (`2026-12-07T23:46:56.123000000Z`) as {seconds, nanos}. */
export function timestamp(text: unknown): { seconds: number; nanos: number } {
  const m = typeof text === 'string' ? /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(text) : null;
  const ms = m ? Date.parse(`${m[1]}Z`) : NaN;
  if (Number.isNaN(ms)) throw new Error(`not an RFC 3339 UTC time: ${String(text)}`);
  return { seconds: ms / 1000, nanos: Number((m![2] ?? '').padEnd(9, '0')) };
}

/** A JSON object as a google.protobuf.Struct's fields: map<string, Value> entries. */
export function writeStruct(writer: protobuf.Writer, object: Record<string, unknown>): void {
  for (const key in object) {
    writer.uint32((1 << 3) | WIRE_LENGTH).fork();
    writer.uint32((1 << 3) | WIRE_LENGTH).string(key);
    writer.uint32((2 << 3) | WIRE_LENGTH).fork();
    writeValue(writer, object[key]);
    writer.ldelim().ldelim();
  }
}

/** google.protobuf.Value: null_value 1, number_value 2, string_value 3, bool_value 4, struct_value 5, list_value 6. */
function writeValue(writer: protobuf.Writer, v: unknown): void {
  if (typeof v === 'string') writer.uint32((3 << 3) | WIRE_LENGTH).string(v);
  else if (typeof v === 'number') writer.uint32((2 << 3) | WIRE_FIXED64).double(v);
  else if (typeof v === 'boolean') writer.uint32((4 << 3) | WIRE_VARINT).bool(v);
  else if (Array.isArray(v)) {
    writer.uint32((6 << 3) | WIRE_LENGTH).fork();
    for (const item of v) {
      writer.uint32((1 << 3) | WIRE_LENGTH).fork();
      writeValue(writer, item);
      writer.ldelim();
    }
    writer.ldelim();
  } else if (typeof v === 'object' && v !== null) {
    writer.uint32((5 << 3) | WIRE_LENGTH).fork();
    writeStruct(writer, v as Record<string, unknown>);
    writer.ldelim();
  } else writer.uint32((1 << 3) | WIRE_VARINT).int32(0);
}
