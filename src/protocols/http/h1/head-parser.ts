// Strict HTTP/1.1 head parsing (RFC 9112 §2-5): request and status lines and field lines, syntax only.
//
// Framing semantics (duplicate Host/Content-Length, CL+TE, codings) are framing.ts's job on the raw header list
// this returns, and target normalisation is path.ts's. The head is found with one native search for CRLFCRLF,
// decoded once as latin1 and validated with sticky regexes over that one string: no per-byte JS on the hot path.
// Anything a lenient parser might read differently is refused: bare CR or LF, obs-fold, whitespace before a
// colon, control characters, a version other than HTTP/1.0 or HTTP/1.1.
import { FIELD_VCHAR, TCHAR } from './tokens.js';

/** A head refused: status for the reply (400, 431, 505), reason for the log/flow. */
export class HeadError {
  constructor(
    readonly status: 400 | 431 | 505 | 502,
    readonly reason: string,
  ) {}
}

export interface RequestHead {
  readonly method: string;
  readonly target: string;
  readonly versionMinor: 0 | 1;
  readonly rawHeaders: string[];
}

export interface ResponseHead {
  readonly status: number;
  readonly reason: string;
  readonly versionMinor: 0 | 1;
  readonly rawHeaders: string[];
}

/** How field-line failures are reported: a request head, a response head or a trailer section. */
export interface FieldErrors {
  readonly status: 400 | 502;
  readonly tooMany: HeadError;
  readonly noun: 'header' | 'trailer';
}

const CR = 13;
const LF = 10;
const CRLFCRLF = Buffer.from('\r\n\r\n');

const HEAD_TOO_LARGE = new HeadError(431, 'head too large');
const BARE_LINE_BREAK = new HeadError(400, 'bare CR or LF in head');
const UPSTREAM_BARE_LINE_BREAK = new HeadError(502, 'bare CR or LF in upstream head');
const BAD_REQUEST_LINE = new HeadError(400, 'malformed request line');
const VERSION_NOT_SUPPORTED = new HeadError(505, 'HTTP version not supported');
const BAD_STATUS_LINE = new HeadError(502, 'malformed upstream status line');
const BAD_STATUS_CODE = new HeadError(502, 'upstream status code outside 100-599');
const REQUEST_FIELD_ERRORS: FieldErrors = { status: 400, tooMany: new HeadError(431, 'too many request headers'), noun: 'header' };
const RESPONSE_FIELD_ERRORS: FieldErrors = { status: 502, tooMany: new HeadError(502, 'too many upstream response headers'), noun: 'header' };

// Exactly one SP between the parts; the version is captured loosely so that a well-formed other version is 505.
const REQUEST_LINE = new RegExp(`(${TCHAR}+) ([\\x21-\\x7e]+) HTTP/(\\d)\\.(\\d)\\r\\n`, 'y');
// The SP before an empty reason-phrase is optional: RFC 9112 §4 requires it, but servers omit it and no framing
// depends on it (llhttp, haproxy and nginx accept it too).
const STATUS_LINE = /HTTP\/1\.([01]) (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?\r\n/y;
// OWS around the value is matched outside the capture, so the value comes out trimmed of SP/HTAB only
// (String.prototype.trim would also eat \xa0, which is obs-text here).
const FIELD_LINE = new RegExp(`(${TCHAR}+):[ \\t]*(${FIELD_VCHAR}+(?:[ \\t]+${FIELD_VCHAR}+)*|)[ \\t]*\\r\\n`, 'y');
const TOKEN = new RegExp(`^${TCHAR}+$`);

/**
 * Finds the end of a head in `buf` starting at `start` (the head may not be complete yet). Returns the offset just
 * past the empty line ending the head, -1 when more bytes are needed, or a HeadError (431 when no end is found
 * within `maxBytes` bytes of `start`; 400 for a bare LF or CR where a CRLF must be).
 * `scanFrom` (>= start) lets a caller resume the search after a partial head without rescanning.
 * Empty lines (CRLF) before the start line are skipped, as llhttp does; they count towards `maxBytes`.
 */
export function findHeadEnd(buf: Buffer, start: number, maxBytes: number, scanFrom = start): number | HeadError {
  const first = skipEmptyLines(buf, start);
  const limit = start + maxBytes;
  const found = buf.indexOf(CRLFCRLF, Math.max(first, scanFrom - 3));
  if (found !== -1) return found + 4 <= limit ? found + 4 : HEAD_TOO_LARGE;
  // An incomplete head: refuse a bare line break now rather than wait for the size limit or the deadline. A
  // complete head with one is refused by the parse, whose regexes take no CR or LF inside a line.
  if (hasBareLineBreak(buf, first, Math.max(first, scanFrom - 1))) return BARE_LINE_BREAK;
  return buf.length >= limit ? HEAD_TOO_LARGE : -1;
}

/** Parses a complete request head buf[start, end) (end from findHeadEnd). maxHeaderCount: 431 above it. */
export function parseRequestHead(buf: Buffer, start: number, end: number, maxHeaderCount: number): RequestHead | HeadError {
  const s = buf.toString('latin1', start, end);
  const lineStart = skipEmptyLinesIn(s);
  REQUEST_LINE.lastIndex = lineStart;
  const line = REQUEST_LINE.exec(s);
  if (line === null) return startLineFault(s, lineStart, BARE_LINE_BREAK, BAD_REQUEST_LINE);
  if (line[3] !== '1' || (line[4] !== '1' && line[4] !== '0')) return VERSION_NOT_SUPPORTED;
  const rawHeaders: string[] = [];
  const fault = parseFieldLines(s, REQUEST_LINE.lastIndex, maxHeaderCount, rawHeaders, REQUEST_FIELD_ERRORS);
  if (fault !== undefined) return fault;
  return { method: line[1]!, target: line[2]!, versionMinor: line[4] === '1' ? 1 : 0, rawHeaders };
}

/** Same for an upstream response head (status-line `HTTP/1.x NNN reason`); errors use status 502. */
export function parseResponseHead(buf: Buffer, start: number, end: number, maxHeaderCount: number): ResponseHead | HeadError {
  const s = buf.toString('latin1', start, end);
  const lineStart = skipEmptyLinesIn(s);
  STATUS_LINE.lastIndex = lineStart;
  const line = STATUS_LINE.exec(s);
  if (line === null) return startLineFault(s, lineStart, UPSTREAM_BARE_LINE_BREAK, BAD_STATUS_LINE);
  const status = Number(line[2]);
  if (status < 100 || status > 599) return BAD_STATUS_CODE;
  const rawHeaders: string[] = [];
  const fault = parseFieldLines(s, STATUS_LINE.lastIndex, maxHeaderCount, rawHeaders, RESPONSE_FIELD_ERRORS);
  if (fault !== undefined) return fault;
  return { status, reason: line[3] ?? '', versionMinor: line[1] === '1' ? 1 : 0, rawHeaders };
}

/**
 * Parses the field lines of `s` from `pos` up to and including the empty line that must end `s`, appending
 * [name, value...] to `out`. Returns undefined when all is well; more than `maxCount` fields is `errors.tooMany`.
 */
export function parseFieldLines(s: string, pos: number, maxCount: number, out: string[], errors: FieldErrors): HeadError | undefined {
  let count = 0;
  while (!(s.charCodeAt(pos) === CR && s.charCodeAt(pos + 1) === LF)) {
    FIELD_LINE.lastIndex = pos;
    const field = FIELD_LINE.exec(s);
    if (field === null) return new HeadError(errors.status, fieldLineFault(s, pos, errors.noun));
    if (++count > maxCount) return errors.tooMany;
    out.push(field[1]!, field[2]!);
    pos = FIELD_LINE.lastIndex;
  }
  return pos + 2 === s.length ? undefined : new HeadError(errors.status, `bytes after the end of the ${errors.noun}s`);
}

/** Why a start line did not match: a bare line break in it, or anything else. */
function startLineFault(s: string, pos: number, bare: HeadError, malformed: HeadError): HeadError {
  const lineEnd = s.indexOf('\r\n', pos);
  return lineEnd === -1 || /[\r\n]/.test(s.slice(pos, lineEnd)) ? bare : malformed;
}

/** Why a field line did not match (only on the error path, for the log). */
function fieldLineFault(s: string, pos: number, noun: string): string {
  const lineEnd = s.indexOf('\r\n', pos);
  const line = s.slice(pos, lineEnd === -1 ? s.length : lineEnd);
  if (/[\r\n]/.test(line) || lineEnd === -1) return `bare CR or LF in ${noun}s`;
  if (/^[ \t]/.test(line)) return `obs-fold (${noun} line starting with whitespace)`;
  const colon = line.indexOf(':');
  if (colon === -1) return `${noun} line without a colon`;
  if (colon === 0) return `empty ${noun} name`;
  const name = line.slice(0, colon);
  if (/[ \t]$/.test(name)) return `whitespace before the colon of a ${noun} field`;
  if (!TOKEN.test(name)) return `invalid character in ${noun} name`;
  return `invalid character in ${noun} value`;
}

function skipEmptyLines(buf: Buffer, i: number): number {
  while (buf[i] === CR && buf[i + 1] === LF) i += 2;
  return i;
}

function skipEmptyLinesIn(s: string): number {
  let i = 0;
  while (s.charCodeAt(i) === CR && s.charCodeAt(i + 1) === LF) i += 2;
  return i;
}

/** A LF not preceded by CR, or a CR followed by something other than LF, in buf[from...) (the head starts at `first`). */
function hasBareLineBreak(buf: Buffer, first: number, from: number): boolean {
  for (let p = buf.indexOf(LF, from); p !== -1; p = buf.indexOf(LF, p + 1)) {
    if (p === first || buf[p - 1] !== CR) return true;
  }
  for (let p = buf.indexOf(CR, from); p !== -1 && p + 1 < buf.length; p = buf.indexOf(CR, p + 1)) {
    if (buf[p + 1] !== LF) return true;
  }
  return false;
}
