// Schema-driven decoding and encoding of whole Kafka messages, for every API and version in the
// generated definitions. Decoded messages are plain objects keyed by lower-camel field names;
// int64 → bigint, uuid → Kafka's 22-char text, bytes/records → Buffer views into the frame (no copy).
// Tagged fields that were absent stay undefined; unknown tags are kept so re-encoding is byte-exact.
import { KafkaDecodeError, KafkaEncodeError } from './errors.js';
import {
  checkFrame,
  readRequestHeader,
  readResponseHeader,
  writeRequestHeader,
  writeResponseHeader,
  type KafkaRequestHeader,
} from './header.js';
import { KafkaReader } from './reader.js';
import { KAFKA_APIS, messagePlan, type FieldPlan, type MessagePlan, type StructPlan } from './schema.js';
import { KafkaWriter } from './writer.js';

export type KafkaValue = null | boolean | number | bigint | string | Buffer | KafkaStruct | readonly KafkaValue[];
export interface KafkaStruct {
  [field: string]: KafkaValue | undefined;
}
/** A tagged field this codec's definitions do not know, kept as raw bytes. */
export type UnknownTaggedField = { readonly tag: number; readonly data: Buffer };
/** Property under which a struct keeps its unknown tagged fields (no Kafka field name starts with `_`). */
export const UNKNOWN_TAGGED_FIELDS = '_unknownTaggedFields';

export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';
const EMPTY = Buffer.alloc(0);

export function requirePlan(apiKey: number, version: number, type: 'request' | 'response'): MessagePlan {
  const plan = messagePlan(apiKey, version, type);
  if (plan) return plan;
  const api = KAFKA_APIS.get(apiKey);
  throw new KafkaDecodeError(
    api
      ? `unsupported ${api.name} ${type} version ${version} (this codec speaks ${api.minVersion}-${api.maxVersion})`
      : `unknown Kafka API key ${apiKey}`,
  );
}

// ---------------------------------------------------------------------------------------------- decode

function nullValue(f: FieldPlan, nullable: boolean, r: KafkaReader): null {
  if (!nullable) throw new KafkaDecodeError(`${f.name}: null in a non-nullable field`, r.offset);
  return null;
}

function readSingle(r: KafkaReader, f: FieldPlan, nullable: boolean): KafkaValue {
  switch (f.type) {
    case 'bool':
      return r.bool();
    case 'int8':
      return r.int8();
    case 'int16':
      return r.int16();
    case 'uint16':
      return r.uint16();
    case 'int32':
      return r.int32();
    case 'uint32':
      return r.uint32();
    case 'int64':
      return r.int64();
    case 'float64':
      return r.float64();
    case 'uuid':
      return r.uuid();
    case 'string': {
      const n = r.stringLength(f.compact);
      return n < 0 ? nullValue(f, nullable, r) : r.utf8(n);
    }
    case 'bytes':
    case 'records': {
      const n = r.length(f.compact);
      return n < 0 ? nullValue(f, nullable, r) : r.view(n);
    }
    case 'struct':
      // A nullable (non-array) struct is preceded by a presence byte: -1 null, 1 present.
      if (nullable && r.int8() < 0) return null;
      return readStruct(r, f.struct!);
  }
}

function readField(r: KafkaReader, f: FieldPlan): KafkaValue {
  if (!f.array) return readSingle(r, f, f.nullable);
  const n = r.length(f.compact);
  if (n < 0) return nullValue(f, f.nullable, r);
  // Same guard as Kafka's own readers: no element takes less than a byte, so a bigger count is a lie
  // (and would otherwise let 4 bytes of input allocate a 2^31-slot array).
  if (n > r.remaining) throw new KafkaDecodeError(`${f.name}: ${n} elements declared, ${r.remaining} bytes left`, r.offset);
  const out = new Array<KafkaValue>(n);
  for (let i = 0; i < n; i++) out[i] = readSingle(r, f, false);
  return out;
}

/**
 * Walk a tagged-field section: known tags are handed to `known` with a reader bounded to the declared
 * size, which must be consumed exactly (a mismatch would make us and the broker disagree on the rest
 * of the frame); unknown tags to `unknown`. `count` sees how many fields the section declares, before any.
 */
export function readTaggedSection(
  r: KafkaReader,
  plan: StructPlan,
  known: (sub: KafkaReader, f: FieldPlan) => void,
  unknown: (tag: number, data: Buffer) => void,
  count?: (n: number) => void,
): void {
  let n = r.uvarint();
  count?.(n);
  for (; n > 0; n--) {
    const tag = r.uvarint();
    const size = r.uvarint();
    r.need(size);
    const f = plan.byTag.get(tag);
    if (!f) {
      unknown(tag, r.view(size));
      continue;
    }
    const end = r.offset + size;
    const sub = new KafkaReader(r.buf, r.offset, end);
    known(sub, f);
    if (sub.offset !== end) {
      throw new KafkaDecodeError(`tagged field ${f.name} declares ${size} bytes but its value takes ${sub.offset - r.offset}`, r.offset);
    }
    r.offset = end;
  }
}

function readStruct(r: KafkaReader, plan: StructPlan): KafkaStruct {
  const out: KafkaStruct = {};
  for (const f of plan.fields) out[f.key] = readField(r, f);
  if (plan.flexible) {
    let unknown: UnknownTaggedField[] | undefined;
    readTaggedSection(
      r,
      plan,
      (sub, f) => (out[f.key] = readField(sub, f)),
      (tag, data) => (unknown ??= []).push({ tag, data }),
    );
    if (unknown) out[UNKNOWN_TAGGED_FIELDS] = unknown;
  }
  return out;
}

/** Throws unless the message used the reader's bytes exactly: trailing bytes are a smuggling vector. */
export function expectEnd(r: KafkaReader, plan: MessagePlan): void {
  if (r.offset !== r.end) {
    throw new KafkaDecodeError(`${plan.definition.name} v${plan.version}: ${r.end - r.offset} unexpected trailing bytes`, r.offset);
  }
}

/** Decode one message body occupying buf[start, end) exactly. */
export function decodeBody(plan: MessagePlan, buf: Buffer, start = 0, end = buf.length): KafkaStruct {
  const r = new KafkaReader(buf, start, end);
  const body = readStruct(r, plan);
  expectEnd(r, plan);
  return body;
}

// ---------------------------------------------------------------------------------------------- encode

function typeError(f: FieldPlan, want: string, v: unknown): KafkaEncodeError {
  const got = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  return new KafkaEncodeError(`${f.name}: expected ${want}, got ${got}`);
}

function num(f: FieldPlan, v: KafkaValue): number {
  if (typeof v !== 'number') throw typeError(f, 'a number', v);
  return v;
}

function writeSingle(w: KafkaWriter, f: FieldPlan, v: KafkaValue, nullable: boolean): void {
  if (v === null && f.type !== 'bool') {
    if (!nullable) throw new KafkaEncodeError(`${f.name}: null in a non-nullable field`);
    if (f.type === 'struct') w.int8(-1);
    else if (f.type === 'string') w.string(null, f.compact);
    else if (f.type === 'bytes' || f.type === 'records') w.bytes(null, f.compact);
    else throw new KafkaEncodeError(`${f.name}: ${f.type} cannot be null`);
    return;
  }
  switch (f.type) {
    case 'bool':
      if (typeof v !== 'boolean') throw typeError(f, 'a boolean', v);
      return w.bool(v);
    case 'int8':
      return w.int8(num(f, v));
    case 'int16':
      return w.int16(num(f, v));
    case 'uint16':
      return w.uint16(num(f, v));
    case 'int32':
      return w.int32(num(f, v));
    case 'uint32':
      return w.uint32(num(f, v));
    case 'float64':
      return w.float64(num(f, v));
    case 'int64':
      if (typeof v !== 'bigint') throw typeError(f, 'a bigint', v);
      return w.int64(v);
    case 'uuid':
      if (typeof v !== 'string') throw typeError(f, 'a UUID string', v);
      return w.uuid(v);
    case 'string':
      if (typeof v !== 'string') throw typeError(f, 'a string', v);
      return w.string(v, f.compact);
    case 'bytes':
    case 'records':
      if (!(v instanceof Uint8Array)) throw typeError(f, 'a Buffer', v);
      return w.bytes(v, f.compact);
    case 'struct':
      if (typeof v !== 'object' || v instanceof Uint8Array || Array.isArray(v)) throw typeError(f, 'an object', v);
      if (nullable) w.int8(1);
      return writeStruct(w, f.struct!, v as KafkaStruct);
  }
}

function writeField(w: KafkaWriter, f: FieldPlan, value: KafkaValue | undefined): void {
  const v = value === undefined ? defaultValue(f) : value;
  if (!f.array) return writeSingle(w, f, v, f.nullable);
  if (v === null) {
    if (!f.nullable) throw new KafkaEncodeError(`${f.name}: null in a non-nullable array`);
    return w.length(-1, f.compact);
  }
  if (!Array.isArray(v)) throw typeError(f, 'an array', v);
  w.length(v.length, f.compact);
  for (const e of v as readonly KafkaValue[]) writeSingle(w, f, e, false);
}

function writeStruct(w: KafkaWriter, plan: StructPlan, value: KafkaStruct): void {
  for (const f of plan.fields) writeField(w, f, value[f.key]);
  if (!plan.flexible) return;
  const entries: UnknownTaggedField[] = [];
  for (const f of plan.tagged) {
    const v = value[f.key];
    if (v === undefined) continue;
    const sub = new KafkaWriter(64);
    writeField(sub, f, v);
    entries.push({ tag: f.tag!, data: sub.finish() });
  }
  const unknown = value[UNKNOWN_TAGGED_FIELDS] as readonly UnknownTaggedField[] | undefined;
  if (unknown) {
    entries.push(...unknown);
    entries.sort((a, b) => a.tag - b.tag); // Kafka writes tags in ascending order
  }
  w.uvarint(entries.length);
  for (const e of entries) {
    w.uvarint(e.tag);
    w.uvarint(e.data.length);
    w.raw(e.data);
  }
}

export function encodeBody(plan: MessagePlan, body: KafkaStruct): Buffer {
  const w = new KafkaWriter();
  writeStruct(w, plan, body);
  return w.finish();
}

// --------------------------------------------------------------------------------------------- defaults

/** A field's default as Kafka defines it: the definition's `default`, else 0/false/""/empty/zero UUID. */
export function defaultValue(f: FieldPlan): KafkaValue {
  const d = f.definition.default;
  if (f.array) return d === null && f.nullable ? null : [];
  switch (f.type) {
    case 'bool':
      return d === true;
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'float64':
      return typeof d === 'number' ? d : 0;
    case 'int64':
      return BigInt(typeof d === 'number' ? d : 0);
    case 'string':
      return typeof d === 'string' ? d : d === null && f.nullable ? null : '';
    case 'bytes':
      return EMPTY;
    case 'records':
      return f.nullable ? null : EMPTY;
    case 'uuid':
      return ZERO_UUID;
    case 'struct':
      return d === null && f.nullable ? null : defaultStruct(f.struct!);
  }
}

/** Every non-tagged field at its default (tagged fields are absent, as Kafka omits default tags). */
export function defaultStruct(plan: StructPlan): KafkaStruct {
  const out: KafkaStruct = {};
  for (const f of plan.fields) out[f.key] = defaultValue(f);
  return out;
}

// ----------------------------------------------------------------------------------------------- frames

export interface DecodedRequest {
  readonly header: KafkaRequestHeader;
  readonly body: KafkaStruct;
}

export interface DecodedResponse {
  readonly correlationId: number;
  readonly body: KafkaStruct;
}

/**
 * Only the header of a request frame: enough to log or answer a request whose API or version the codec
 * does not speak (unknown keys are read as header v1). Throws KafkaDecodeError when even that is short.
 */
export function decodeRequestHeader(frame: Buffer): KafkaRequestHeader {
  return readRequestHeader(new KafkaReader(frame, checkFrame(frame)));
}

/** Decode a whole request frame (4-byte size prefix included). */
export function decodeRequest(frame: Buffer): DecodedRequest {
  const r = new KafkaReader(frame, checkFrame(frame));
  const header = readRequestHeader(r);
  const plan = requirePlan(header.apiKey, header.apiVersion, 'request');
  const body = readStruct(r, plan);
  expectEnd(r, plan);
  return { header, body };
}

/** Decode a whole response frame; the API and version come from the request it answers. */
export function decodeResponse(frame: Buffer, apiKey: number, apiVersion: number): DecodedResponse {
  const plan = requirePlan(apiKey, apiVersion, 'response');
  const r = new KafkaReader(frame, checkFrame(frame));
  const correlationId = readResponseHeader(r, apiKey, apiVersion);
  const body = readStruct(r, plan);
  expectEnd(r, plan);
  return { correlationId, body };
}

function encodable(apiKey: number, version: number, type: 'request' | 'response'): MessagePlan {
  const plan = messagePlan(apiKey, version, type);
  if (!plan) throw new KafkaEncodeError(`cannot encode API ${apiKey} ${type} version ${version}: not in the definitions`);
  return plan;
}

/** Encode a request frame (size prefix included). */
export function encodeRequest(header: Omit<KafkaRequestHeader, 'headerVersion'>, body: KafkaStruct): Buffer {
  const plan = encodable(header.apiKey, header.apiVersion, 'request');
  const w = new KafkaWriter();
  const at = w.reserveInt32();
  writeRequestHeader(w, header);
  writeStruct(w, plan, body);
  w.patchInt32(at, w.offset - 4);
  return w.finish();
}

/** Encode a response frame (size prefix included). */
export function encodeResponse(apiKey: number, apiVersion: number, correlationId: number, body: KafkaStruct): Buffer {
  const plan = encodable(apiKey, apiVersion, 'response');
  const w = new KafkaWriter();
  const at = w.reserveInt32();
  writeResponseHeader(w, apiKey, apiVersion, correlationId);
  writeStruct(w, plan, body);
  w.patchInt32(at, w.offset - 4);
  return w.finish();
}
