// `log: {format: pretty}`: pino's JSON line rewritten as one line a person reads in a terminal or journal:
// time, level, message, then key=value for every other field. Logs are not a hot path, so parsing the line pino
// built is cheaper to keep than a second serialiser.
import type { DestinationStream } from 'pino';

/** Fields every line carries that say nothing about the event. */
const OMITTED = new Set(['time', 'level', 'msg', 'name', 'pid', 'hostname']);
/** A value printed without quotes: no space, quote, `=` or control character. */
const BARE = /^[^\s"=\\\x00-\x1f]+$/;

export function prettyLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json; // not pino's (cannot happen); passed on rather than lost
  }
  const fields = Object.entries(record)
    .filter(([key]) => !OMITTED.has(key))
    .map(([key, value]) => `${key}=${prettyValue(value)}`);
  const head = `${String(record.time)} ${String(record.level).toUpperCase().padEnd(5)} ${String(record.msg ?? '')}`;
  return `${[head, ...fields].join(' ')}\n`;
}

function prettyValue(value: unknown): string {
  if (typeof value === 'string') return BARE.test(value) ? value : JSON.stringify(value);
  // A serialised error: its stack starts with type and message, and keeps the line whole.
  if (isSerialisedError(value)) return JSON.stringify(value.stack ?? `${value.type}: ${value.message}`);
  return JSON.stringify(value);
}

function isSerialisedError(value: unknown): value is { type: string; message: string; stack?: string } {
  return typeof value === 'object' && value !== null && 'message' in value && 'type' in value;
}

/** Writes each of pino's lines to `target` as a pretty line. */
export function prettyStream(target: DestinationStream): DestinationStream {
  return { write: (line: string) => target.write(prettyLine(line)) };
}
