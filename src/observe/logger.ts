// Operational logs (startup, reloads, upstream failures) as pino JSON on stderr, kept apart from the flow
// records on stdout so `portcullis run | jq` sees only flows. Writes are asynchronous; pino flushes them on exit.
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';

export interface LoggerOptions {
  /** pino level: fatal, error, warn, info (default), debug, trace, silent. */
  readonly level?: string;
  /** File descriptor, file path, or stream; default stderr. */
  readonly destination?: number | string | DestinationStream;
}

/** Secrets that must never reach a log line, wherever a caller nests a headers object. */
const REDACT_PATHS = [
  'headers.authorization', 'headers.cookie', 'headers["set-cookie"]', 'headers["proxy-authorization"]',
  'headers["x-api-key"]', '*.headers.authorization', '*.headers.cookie', '*.headers["set-cookie"]',
  '*.headers["proxy-authorization"]', '*.headers["x-api-key"]', 'privateKey', '*.privateKey',
];

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  if (!(level in pino.levels.values) && level !== 'silent') {
    throw new Error(`unknown log level "${level}" (expected one of ${Object.keys(pino.levels.values).join(', ')}, silent)`);
  }
  const target = opts.destination ?? 2;
  const stream = typeof target === 'object' ? target : pino.destination({ dest: target, sync: false, mkdir: typeof target === 'string' });
  return pino(
    {
      name: 'portcullis',
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}
