// The GetFlowsResponse bytes proto-writer.ts writes for every corpus event (all record kinds, optional fields,
// escaping cases; each with every render option set): decoded, they are what protobufjs' own fromObject makes of
// the JSON record (the reference conversion the writer replaced), and the `portcullis` extension decodes to the
// record's object.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import { flowMessage, STRUCT_TYPE_URL } from '../../src/observe/hubble/flow-message.js';
import { timestamp, writeMessage } from '../../src/observe/hubble/proto-writer.js';
import { types } from '../../src/observe/hubble/protos.js';
import { renderFlow } from '../../src/observe/hubble-flow.js';
import { flowLine } from '../helpers/hubble-ring-feed.js';
import { CORPUS, CORPUS_OPTIONS } from '../helpers/observe-flow-corpus.js';

const decoded = (bytes: Uint8Array): any =>
  types.GetFlowsResponse.toObject(types.GetFlowsResponse.decode(bytes), { enums: String, longs: String, bytes: String, defaults: true });

/** The record as protobufjs' fromObject input: protojson's Timestamps and BoolValue in fromObject's forms. */
function reference(json: Record<string, any>): Uint8Array {
  const { portcullis, time, is_reply: isReply, ...flow } = json.flow;
  const out: Record<string, unknown> = { ...flow, time: timestamp(time), is_reply: { value: isReply } };
  if (portcullis !== undefined) {
    out.extensions = { type_url: STRUCT_TYPE_URL, value: types.Struct.encode(types.Struct.fromObject(struct(portcullis))).finish() };
  }
  return types.GetFlowsResponse.encode(types.GetFlowsResponse.fromObject({ ...json, flow: out, time: timestamp(json.time) })).finish();
}

function struct(object: Record<string, unknown>): { fields: Record<string, unknown> } {
  return { fields: Object.fromEntries(Object.entries(object).map(([k, v]) => [k, value(v)])) };
}

function value(v: unknown): Record<string, unknown> {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(value) } };
  if (typeof v === 'object' && v !== null) return { structValue: struct(v as Record<string, unknown>) };
  return { nullValue: 'NULL_VALUE' };
}

/** A decoded Struct back as plain JSON. */
function plain(s: { fields?: Record<string, any> }): Record<string, unknown> {
  return Object.fromEntries(Object.entries(s.fields ?? {}).map(([k, v]) => [k, plainValue(v)]));
}

function plainValue(v: any): unknown {
  if ('stringValue' in v) return v.stringValue;
  if ('numberValue' in v) return v.numberValue;
  if ('boolValue' in v) return v.boolValue;
  if ('listValue' in v) return (v.listValue.values ?? []).map(plainValue);
  if ('structValue' in v) return plain(v.structValue);
  return null;
}

test('every corpus flow\'s bytes decode to what fromObject makes of its JSON record, extension included', () => {
  let compared = 0;
  let withExtension = 0;
  for (const render of CORPUS_OPTIONS) {
    for (const [name, event] of CORPUS) {
      const message = flowMessage(flowLine(event, render));
      assert.deepEqual(message.json, JSON.parse(renderFlow(event, render)), name);
      const mine = decoded(message.bytes);
      assert.deepEqual(mine, decoded(reference(message.json)), name);
      const portcullis = message.json.flow.portcullis;
      if (portcullis !== undefined) {
        assert.equal(mine.flow.extensions.type_url, STRUCT_TYPE_URL, name);
        const struct = types.Struct.toObject(types.Struct.decode(extensionValue(message.bytes))) as { fields?: Record<string, unknown> };
        assert.deepEqual(plain(struct), viaUtf8(portcullis), name);
        withExtension++;
      }
      compared++;
    }
  }
  assert.equal(compared, CORPUS.length * CORPUS_OPTIONS.length);
  assert.ok(withExtension > CORPUS.length, 'the extension is compared for most records');
});

/** Protobuf strings are UTF-8: a lone surrogate arrives as U+FFFD, as in the reference encoding. */
function viaUtf8(v: unknown): unknown {
  if (typeof v === 'string') return Buffer.from(v).toString();
  if (Array.isArray(v)) return v.map(viaUtf8);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, viaUtf8(x)]));
  return v;
}

function extensionValue(bytes: Buffer): Uint8Array {
  const message = types.GetFlowsResponse.decode(bytes) as any;
  return message.flow.extensions.value;
}

test('a key that names no field, a mistyped value or an unknown enum name is an error, not a wrong message', () => {
  const flowType = types.GetFlowsResponse.fields.flow!.resolvedType as protobuf.Type;
  const write = (object: Record<string, unknown>) => () => writeMessage(protobuf.Writer.create(), flowType, object);
  assert.throws(write({ no_such_field: 1 }), /no field no_such_field/);
  assert.throws(write({ verdict: 'MAYBE' }), /no value "MAYBE"/);
  assert.throws(write({ drop_reason: 'x' }), /is not a uint32/);
  assert.throws(write({ time: 'yesterday' }), /not an RFC 3339 UTC time/);
  assert.throws(write({ source_names: 'one' }), /expected an array/);
});
