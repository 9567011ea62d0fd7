// HTTP/2 session options from a listener's limits. Node's defaults are looser than an edge proxy's
// (no concurrent-stream limit, 128 header pairs, 10 MB session memory), so every bound is set explicitly.
import type { ServerOptions } from 'node:http2';
import type { HttpLimits } from '../../config/types.js';

export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000;
export const DEFAULT_INITIAL_WINDOW_SIZE = 1024 * 1024;
/** Pseudo-headers (`:method`, `:scheme`, `:authority`, `:path`) count towards Node's header-pair limit. */
const PSEUDO_HEADERS = 4;
/**
 * Outbound bytes nghttp2 may hold per session before refusing new streams. Bodies are piped with
 * backpressure, so this is only reached by a client that stops reading on many streams at once.
 */
const MAX_SESSION_MEMORY_MB = 32;

export function h2ServerOptions(limits: HttpLimits): ServerOptions {
  return {
    maxHeaderListPairs: limits.maxHeaderCount + PSEUDO_HEADERS,
    maxSessionMemory: MAX_SESSION_MEMORY_MB,
    settings: {
      maxConcurrentStreams: limits.maxConcurrentStreams,
      // Advertised and enforced by nghttp2: a larger header block resets the stream (ENHANCE_YOUR_CALM).
      maxHeaderListSize: limits.maxHeaderBytes,
      initialWindowSize: initialWindowSize(limits),
      enablePush: false,
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
