// What `log:` in portcullis.yaml and `run --log-level` accept: pino's levels, and the two line formats of
// src/observe/logger.ts. Kept here so reading a config does not load the logger.
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogOptions {
  readonly level: string;
  readonly format: LogFormat;
}
