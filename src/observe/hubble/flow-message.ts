// A flow as the Hubble API's GetFlowsResponse. Built from the `hubble observe -o json` line hubble-flow.ts rendered
// for the flow records (the very bytes, kept in the ring), so the gRPC flows and the JSON records cannot drift apart:
// the line is parsed (the filters read that object) and written to wire bytes by proto-writer.ts, which takes
// protojson's forms as they are. Portcullis' own `portcullis` object (no flow.proto field) travels in
// `Flow.extensions` as a google.protobuf.Struct.
import protobuf from 'protobufjs';
import { types } from './protos.js';
import { writeMessage, writeStruct, type ExtraField } from './proto-writer.js';

/** The protojson object of one record: `{flow: {...}, node_name, time}`, as `hubble observe -o json` prints it. */
export type FlowJson = { readonly flow: Record<string, unknown> } & Record<string, unknown>;

export interface FlowMessage {
  /** What the filters read. */
  readonly json: FlowJson;
  /** The encoded GetFlowsResponse. */
  readonly bytes: Buffer;
}

export const STRUCT_TYPE_URL = 'type.googleapis.com/google.protobuf.Struct';

const FLOW = types.GetFlowsResponse.fields.flow!;
const FLOW_TYPE = FLOW.resolvedType as protobuf.Type;
const EXTENSIONS = FLOW_TYPE.fields.extensions!.id;

/** The gRPC form of one JSON record line. */
export function flowMessage(line: Buffer): FlowMessage {
  const json = JSON.parse(line.toString()) as FlowJson;
  const writer = protobuf.Writer.create();
  const { flow, ...envelope } = json;
  writer.uint32((FLOW.id << 3) | 2).fork();
  writeMessage(writer, FLOW_TYPE, flow, portcullisExtension);
  writer.ldelim();
  writeMessage(writer, types.GetFlowsResponse, envelope);
  const bytes = writer.finish(); // a Buffer under Node: viewed, not copied
  return { json, bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length) };
}

/** `portcullis` as Flow.extensions: a google.protobuf.Any (type_url 1, value 2) holding a Struct. */
const portcullisExtension: ExtraField = (writer, key, value) => {
  if (key !== 'portcullis' || typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  writer.uint32((EXTENSIONS << 3) | 2).fork();
  writer.uint32((1 << 3) | 2).string(STRUCT_TYPE_URL);
  writer.uint32((2 << 3) | 2).fork();
  writeStruct(writer, value as Record<string, unknown>);
  writer.ldelim().ldelim();
  return true;
};
