// Request framing checks on the raw header list, before policy and before anything is forwarded.
//
// llhttp (strict, `insecureHTTPParser` off) already refuses CL+TE, duplicate Content-Length and obs-fold,
// but it hands a request with `Transfer-Encoding: gzip` or a duplicate Host to the application before
// failing on the body, and it accepts chunked bodies on HTTP/1.0. Anything a downstream or upstream parser
// could read differently (request smuggling) is refused here with 400; too many headers with 431.

export class FramingError {
  constructor(
    readonly status: 400 | 431,
    readonly reason: string,
  ) {}
}

const DUPLICATE_HOST = new FramingError(400, 'duplicate Host header');
const MISSING_HOST = new FramingError(400, 'missing Host header');
const DUPLICATE_CONTENT_LENGTH = new FramingError(400, 'duplicate Content-Length header');
const BAD_CONTENT_LENGTH = new FramingError(400, 'invalid Content-Length header');
const LENGTH_AND_CHUNKED = new FramingError(400, 'both Content-Length and Transfer-Encoding');
const BAD_TRANSFER_ENCODING = new FramingError(400, 'Transfer-Encoding other than a single "chunked"');
const HTTP10_TRANSFER_ENCODING = new FramingError(400, 'Transfer-Encoding in an HTTP/1.0 request');
const TOO_MANY_HEADERS = new FramingError(431, 'too many request headers');

/** What the rest of the proxy needs to know about a request's header section. */
export interface RequestHead {
  /** Host header value; undefined when absent (HTTP/1.0). */
  readonly host: string | undefined;
  /** True when a body follows (Content-Length > 0 or chunked). */
  readonly hasBody: boolean;
  /** Header names the Connection header nominates as hop-by-hop (lower-case), beyond the standard ones. */
  readonly connectionOptions: readonly string[] | undefined;
  /** `Expect: 100-continue`: the proxy sends the 100 itself once policy allowed the request. */
  readonly expectContinue: boolean;
  /** The Upgrade header value, if any. */
  readonly upgrade: string | undefined;
  /** The body's length, or `chunked` (0: no body). */
  readonly bodyLength: number | 'chunked';
  /** Connection carries `close` / `keep-alive` / `upgrade`. */
  readonly connectionClose: boolean;
  readonly connectionKeepAlive: boolean;
  readonly connectionUpgrade: boolean;
  /** A TE field lists `chunked` (an HTTP/1.0 client that takes chunked responses). */
  readonly teChunked: boolean;
}

/** Connection tokens that never name a header to strip (or name one that is always stripped anyway). */
const STANDARD_CONNECTION_TOKENS = new Set(['keep-alive', 'close', 'upgrade']);
/** Headers a client may not make disappear by listing them in Connection: they carry framing and routing. */
const PROTECTED_HEADERS = new Set(['host', 'content-length']);

/**
 * Validates the framing of one HTTP/1.x request from `req.rawHeaders` (names as sent, duplicates kept).
 * `maxHeaderCount` is enforced here because Node's `maxHeadersCount` silently drops the excess instead.
 */
export function inspectRequestHead(
  rawHeaders: readonly string[],
  httpVersionMinor: number,
  maxHeaderCount: number,
): RequestHead | FramingError {
  if (rawHeaders.length > maxHeaderCount * 2) return TOO_MANY_HEADERS;
  let host: string | undefined;
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  let connectionOptions: string[] | undefined;
  let expectContinue = false;
  let upgrade: string | undefined;
  const connection = { close: false, keepAlive: false, upgrade: false };
  let teChunked = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    // Dispatch on length first so most headers are never lower-cased.
    switch (name.length) {
      case 2:
        if (name.toLowerCase() === 'te' && /(?:^|,)\s*chunked\s*(?:[,;]|$)/i.test(rawHeaders[i + 1]!)) teChunked = true;
        break;
      case 4:
        if (name.toLowerCase() === 'host') {
          if (host !== undefined) return DUPLICATE_HOST;
          host = rawHeaders[i + 1]!;
        }
        break;
      case 6:
        if (name.toLowerCase() === 'expect') expectContinue = rawHeaders[i + 1]!.trim().toLowerCase() === '100-continue';
        break;
      case 7:
        if (name.toLowerCase() === 'upgrade') upgrade = rawHeaders[i + 1]!;
        break;
      case 10:
        if (name.toLowerCase() === 'connection') {
          connectionOptions = collectConnectionOptions(rawHeaders[i + 1]!, connectionOptions, connection);
        }
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          if (contentLength !== undefined) return DUPLICATE_CONTENT_LENGTH;
          contentLength = rawHeaders[i + 1]!;
          if (!/^\d+$/.test(contentLength)) return BAD_CONTENT_LENGTH;
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          if (transferEncoding !== undefined) return BAD_TRANSFER_ENCODING;
          transferEncoding = rawHeaders[i + 1]!;
        }
        break;
    }
  }
  if (transferEncoding !== undefined) {
    if (httpVersionMinor === 0) return HTTP10_TRANSFER_ENCODING;
    if (contentLength !== undefined) return LENGTH_AND_CHUNKED;
    // Only `chunked` is implemented end to end; other codings would be forwarded without their meaning.
    if (transferEncoding.trim().toLowerCase() !== 'chunked') return BAD_TRANSFER_ENCODING;
  }
  if (host === undefined && httpVersionMinor >= 1) return MISSING_HOST;
  const bodyLength = transferEncoding !== undefined ? 'chunked' : contentLength === undefined ? 0 : Number(contentLength);
  if (bodyLength !== 'chunked' && !Number.isSafeInteger(bodyLength)) return BAD_CONTENT_LENGTH;
  const hasBody = bodyLength !== 0;
  return { host, hasBody, connectionOptions, expectContinue, upgrade, bodyLength, connectionClose: connection.close, connectionKeepAlive: connection.keepAlive, connectionUpgrade: connection.upgrade, teChunked };
}

function collectConnectionOptions(value: string, into: string[] | undefined, seen: { close: boolean; keepAlive: boolean; upgrade: boolean }): string[] | undefined {
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === 'close') seen.close = true;
    else if (name === 'keep-alive') seen.keepAlive = true;
    else if (name === 'upgrade') seen.upgrade = true;
    if (name === '' || STANDARD_CONNECTION_TOKENS.has(name) || PROTECTED_HEADERS.has(name)) continue;
    (into ??= []).push(name);
  }
  return into;
}
