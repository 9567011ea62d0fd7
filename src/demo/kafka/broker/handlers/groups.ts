// The classic group membership APIs: JoinGroup (11), SyncGroup (14), Heartbeat (12), LeaveGroup (13).
import { ErrorCode, type KafkaStruct } from '../../../../protocols/kafka/codec/index.js';
import type { RequestContext } from '../context.js';
import type { HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest } from '../requests.js';

/** JoinGroup v7 made the protocol name nullable; before that "no protocol" is the empty string. */
const NULLABLE_PROTOCOL_NAME = 7;

export async function handleJoinGroup({ body, header, broker }: RequestContext): Promise<KafkaStruct> {
  const req = body as unknown as JoinGroupRequest;
  const result = await broker.groups.join(req.groupId, {
    memberId: req.memberId,
    groupInstanceId: req.groupInstanceId ?? null,
    clientId: header.clientId ?? '',
    sessionTimeoutMs: req.sessionTimeoutMs,
    // v0 has no rebalance timeout: Kafka uses the session timeout.
    rebalanceTimeoutMs: req.rebalanceTimeoutMs !== undefined && req.rebalanceTimeoutMs > 0 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
    protocolType: req.protocolType,
    // Copies: the metadata outlives this request frame.
    protocols: req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
  });
  return {
    throttleTimeMs: 0,
    errorCode: result.errorCode,
    generationId: result.generationId,
    protocolType: result.protocolType,
    protocolName: result.protocolName ?? (header.apiVersion >= NULLABLE_PROTOCOL_NAME ? null : ''),
    leader: result.leader,
    skipAssignment: false,
    memberId: result.memberId,
    members: result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
  };
}

export async function handleSyncGroup({ body, broker }: RequestContext): Promise<KafkaStruct> {
  const req = body as unknown as SyncGroupRequest;
  const assignments = new Map(req.assignments.map((a) => [a.memberId, Buffer.from(a.assignment)]));
  const result = await broker.groups.sync(req.groupId, req.memberId, req.generationId, req.protocolType ?? null, req.protocolName ?? null, assignments);
  return { throttleTimeMs: 0, ...result };
}

export function handleHeartbeat({ body, broker }: RequestContext): KafkaStruct {
  const req = body as unknown as HeartbeatRequest;
  return { throttleTimeMs: 0, errorCode: broker.groups.heartbeat(req.groupId, req.memberId, req.generationId) };
}

/** LeaveGroup: v0-2 name one member; v3+ a batch, answered per member. */
export function handleLeaveGroup({ body, broker }: RequestContext): KafkaStruct {
  const req = body as unknown as LeaveGroupRequest;
  if (req.members === undefined) return { throttleTimeMs: 0, errorCode: broker.groups.leave(req.groupId, req.memberId ?? '') };
  const members = req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: broker.groups.leave(req.groupId, m.memberId) }));
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, members };
}
