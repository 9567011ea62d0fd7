// A FlowEvent as the Hubble API's GetFlowsResponse. Built from the `hubble observe -o json` line hubble-flow.ts
// renders, so the gRPC flows and the JSON records cannot drift apart: the line is parsed and handed to protobufjs'
// fromObject after the few conversions protojson makes and fromObject does not (Timestamps from RFC 3339 text, the
// BoolValue wrapper of `is_reply`). Enums by name and uint64 as decimal strings are fromObject's own input forms.
// Portcullis' own `portcullis` object (no flow.proto field) travels in `Flow.extensions` as a google.protobuf.Struct.
import { renderFlow, type RenderOptions } from '../hubble-flow.js';
import type { FlowEvent } from '../types.js';
import { encode, types } from './protos.js';

/** The protojson object of one record: `{flow: {...}, node_name, time}`, as `hubble observe -o json` prints it. */
export type FlowJson = { readonly flow: Record<string, unknown> } & Record<string, unknown>;

export interface FlowMessage {
  /** What the filters read. */
  readonly json: FlowJson;
  /** The encoded GetFlowsResponse. */
  readonly bytes: Buffer;
}

export const STRUCT_TYPE_URL = 'type.googleapis.com/google.protobuf.Struct';

export function flowMessage(event: FlowEvent, render: RenderOptions): FlowMessage {
  const json = JSON.parse(renderFlow(event, render)) as FlowJson;
  return { json, bytes: encode(types.GetFlowsResponse, toProtoObject(json)) };
}

function toProtoObject(json: FlowJson): Record<string, unknown> {
  const { portcullis, time, is_reply: isReply, ...flow } = json.flow;
  const out: Record<string, unknown> = { ...flow, time: timestamp(time) };
  if (typeof isReply === 'boolean') out.is_reply = { value: isReply };
  if (isRecord(portcullis)) {
    out.extensions = { type_url: STRUCT_TYPE_URL, value: types.Struct.encode(types.Struct.fromObject(struct(portcullis))).finish() };
  }
  return { ...json, flow: out, time: timestamp(json.time) };
}

/** protojson's Timestamp text (`2026-12-07T23:46:56.123000000Z`) as {seconds, nanos}. */
export function timestamp(text: unknown): { seconds: number; nanos: number } | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(text);
  const ms = m ? Date.parse(`${m[1]}Z`) : NaN;
  if (Number.isNaN(ms)) throw new Error(`not an RFC 3339 UTC time: ${text}`);
  return { seconds: ms / 1000, nanos: Number((m![2] ?? '').padEnd(9, '0')) };
}

/** A JSON object as google.protobuf.Struct's fields (fromObject form). */
function struct(object: Record<string, unknown>): { fields: Record<string, unknown> } {
  return { fields: Object.fromEntries(Object.entries(object).map(([k, v]) => [k, value(v)])) };
}

function value(v: unknown): Record<string, unknown> {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(value) } };
  if (isRecord(v)) return { structValue: struct(v) };
  return { nullValue: 'NULL_VALUE' };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
