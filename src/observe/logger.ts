// Operational logs (startup, reloads, upstream failures) as pino JSON on stderr, kept apart from the flow
// records on stdout so `portcullis run | jq` sees only flows. Writes are asynchronous; pino flushes them on exit.
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { LOG_LEVELS, type LogFormat } from '../config/log-options.js';
import { prettyStream } from './log-pretty.js';

export interface LoggerOptions {
  /** pino level: fatal, error, warn, info (default), debug, trace, silent. */
  readonly level?: string;
  /** `json` (default): one JSON object a line; `pretty`: time, level, message, key=value (log-pretty.ts). */
  readonly format?: LogFormat;
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
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new Error(`unknown log level "${level}" (expected one of ${LOG_LEVELS.join(', ')})`);
  const target = opts.destination ?? 2;
  // A destination pino makes itself is flushed by pino on exit, whichever stream writes to it.
  const dest = typeof target === 'object' ? target : pino.destination({ dest: target, sync: false, mkdir: typeof target === 'string' });
  const stream = opts.format === 'pretty' ? prettyStream(dest) : dest;
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
