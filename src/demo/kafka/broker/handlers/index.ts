// Which handler serves each API key; the versions each serves are in supported-versions.ts.
import type { RequestHandler } from '../context.js';
import * as api from '../supported-versions.js';
import { handleApiVersions } from './api-versions.js';
import { handleFetch } from './fetch.js';
import { handleFindCoordinator } from './find-coordinator.js';
import { handleHeartbeat, handleJoinGroup, handleLeaveGroup, handleSyncGroup } from './groups.js';
import { handleInitProducerId } from './init-producer-id.js';
import { handleListOffsets } from './list-offsets.js';
import { handleMetadata } from './metadata.js';
import { handleOffsetCommit, handleOffsetFetch } from './offsets.js';
import { handleProduce } from './produce.js';

export const HANDLERS: ReadonlyMap<number, RequestHandler> = new Map<number, RequestHandler>([
  [api.PRODUCE, handleProduce],
  [api.FETCH, handleFetch],
  [api.LIST_OFFSETS, handleListOffsets],
  [api.METADATA, handleMetadata],
  [api.OFFSET_COMMIT, handleOffsetCommit],
  [api.OFFSET_FETCH, handleOffsetFetch],
  [api.FIND_COORDINATOR, handleFindCoordinator],
  [api.JOIN_GROUP, handleJoinGroup],
  [api.HEARTBEAT, handleHeartbeat],
  [api.LEAVE_GROUP, handleLeaveGroup],
  [api.SYNC_GROUP, handleSyncGroup],
  [api.API_VERSIONS, handleApiVersions],
  [api.INIT_PRODUCER_ID, handleInitProducerId],
]);
