// The Hubble API's message types, from the generated descriptor of Cilium's protos (scripts/generate-hubble.mjs).
import protobuf from 'protobufjs';
import { HUBBLE_PROTOS } from './generated/hubble-protos.js';

// Cast: protobufjs' INamespace typing lacks fields its own toJSON writes (keyType, valuesOptions).
const root = protobuf.Root.fromJSON(HUBBLE_PROTOS as protobuf.INamespace);
root.resolveAll();

export const types = {
  GetFlowsRequest: root.lookupType('observer.GetFlowsRequest'),
  GetFlowsResponse: root.lookupType('observer.GetFlowsResponse'),
  ServerStatusRequest: root.lookupType('observer.ServerStatusRequest'),
  ServerStatusResponse: root.lookupType('observer.ServerStatusResponse'),
  GetNodesRequest: root.lookupType('observer.GetNodesRequest'),
  GetNodesResponse: root.lookupType('observer.GetNodesResponse'),
  GetNamespacesRequest: root.lookupType('observer.GetNamespacesRequest'),
  GetNamespacesResponse: root.lookupType('observer.GetNamespacesResponse'),
  NotifyRequest: root.lookupType('peer.NotifyRequest'),
  ChangeNotification: root.lookupType('peer.ChangeNotification'),
  Struct: root.lookupType('google.protobuf.Struct'),
};

/** Encodes a plain object (protobufjs' fromObject form: enums by name, 64-bit integers as numbers or strings). */
export function encode(type: protobuf.Type, object: Record<string, unknown>): Buffer {
  return Buffer.from(type.encode(type.fromObject(object)).finish());
}

/** Decodes a request into a plain object: enums by name, 64-bit integers as numbers, repeated fields as arrays. */
export function decode<T>(type: protobuf.Type, bytes: Buffer): T {
  return type.toObject(type.decode(bytes), { enums: String, longs: Number, arrays: true }) as T;
}
