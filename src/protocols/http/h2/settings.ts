// HTTP/2 session settings from a listener's limits: every bound the downstream server enforces, and the
// windows both hops advertise.
import type { HttpLimits } from '../../../config/types.js';
import { DEFAULT_MAX_FRAME_SIZE } from './wire/frames.js';
import type { H2ServerOptions } from './wire/server.js';

export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000;
export const DEFAULT_INITIAL_WINDOW_SIZE = 1024 * 1024;

export function h2ServerOptions(limits: HttpLimits): H2ServerOptions {
  return {
    maxConcurrentStreams: limits.maxConcurrentStreams,
    maxHeaderListSize: limits.maxHeaderBytes,
    maxHeaderCount: limits.maxHeaderCount,
    maxResetsPerSecond: limits.maxResetsPerSecond,
    idleTimeoutMs: limits.idleTimeoutMs,
    headersTimeoutMs: limits.headersTimeoutMs,
    streamIdleTimeoutMs: streamIdleTimeoutMs(limits),
    initialWindowSize: initialWindowSize(limits),
    connectionWindowSize: connectionWindowSize(limits),
    floodLimits: {
      // A client may fill its whole header list in full-size frames, whatever the configured count.
      maxContinuationFrames: Math.max(limits.maxContinuationFrames, Math.ceil(limits.maxHeaderBytes / DEFAULT_MAX_FRAME_SIZE)),
      maxConsecutiveEmptyFrames: limits.maxConsecutiveEmptyFrames,
      maxPriorityFramesPerStream: limits.maxPriorityFramesPerStream,
      maxWindowUpdatesPerDataFrame: limits.maxWindowUpdatesPerDataFrame,
      maxOutboundControlFrames: limits.maxOutboundControlFrames,
    },
  };
}

export function initialWindowSize(limits: HttpLimits): number {
  return limits.initialWindowSize ?? DEFAULT_INITIAL_WINDOW_SIZE;
}

/** Connection-level window: room for a few streams at full speed before one large body starves the others. */
export function connectionWindowSize(limits: HttpLimits): number {
  return Math.min(initialWindowSize(limits) * 4, 2 ** 31 - 1);
}

export function streamIdleTimeoutMs(limits: HttpLimits): number {
  return limits.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS;
}
