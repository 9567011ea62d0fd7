// One HTTP/1.x request read by the server connection: its head as parsed, the framing checks' verdict on it, and
// its body as a BodySource the connection feeds.
import type { Socket } from 'node:net';
import { FramingError, type RequestHead as FramingHead } from './framing.js';
import type { BodySink, BodySource } from './body.js';
import type { RequestHead } from './head-parser.js';
import type { ResponseRequest } from './response.js';

/** What the connection does for its current request's body. */
export interface RequestBodyReader {
  /** Starts (or resumes) feeding the body to the request's sink. */
  flow(): void;
  /** The body is no longer wanted: read and drop the rest, or close. */
  discard(): void;
}

export class H1Request implements BodySource, ResponseRequest {
  readonly method: string;
  /** The request-target as sent. */
  readonly url: string;
  readonly versionMinor: 0 | 1;
  /** Flat `[name, value, ...]`, names as sent. */
  readonly rawHeaders: string[];
  readonly keepAlive: boolean;
  readonly acceptsChunked: boolean;
  /** The framing checks' result: what the head says about Host, body, Expect, Upgrade; or why it is refused. */
  readonly framing: FramingHead | FramingError;
  /** The whole body has been received (true at once for a request without one). */
  complete: boolean;
  /** Trailer fields of a chunked body (flat, names as sent), once complete. */
  trailers: string[] = [];
  sink: BodySink | undefined;
  /**
   * Set by the request's consumer: the body cannot be completed (malformed chunk, stalled, too slow). It answers
   * `status` (or cuts the response short) and ends its exchange; the connection closes after.
   */
  onbodyerror: ((status: number, reason: string, detail: string) => void) | undefined;

  constructor(
    head: RequestHead,
    framing: FramingHead | FramingError,
    readonly socket: Socket,
    private readonly reader: RequestBodyReader,
  ) {
    this.method = head.method;
    this.url = head.target;
    this.versionMinor = head.versionMinor;
    this.rawHeaders = head.rawHeaders;
    this.framing = framing;
    this.complete = framing instanceof FramingError || !framing.hasBody;
    // A refused head closes the connection anyway.
    const ok = !(framing instanceof FramingError);
    this.keepAlive = ok && (head.versionMinor === 1 ? !framing.connectionClose : framing.connectionKeepAlive);
    this.acceptsChunked = head.versionMinor === 1 || (ok && framing.teChunked);
  }

  start(sink: BodySink): void {
    this.sink = sink;
    this.reader.flow();
  }

  resume(): void {
    if (!this.complete) this.reader.flow();
  }

  abandon(): void {
    this.sink = undefined;
    if (!this.complete) this.reader.discard();
  }
}
