// llhttp, the parser behind node:http, run in-process through Node's internal binding (tests and benchmarks only:
// the proxy never touches Node internals). Initialised as node:http's server does with `insecureHTTPParser` off:
// strict, no lenient flags.

/** One request as llhttp read it. */
export interface LlhttpMessage {
  readonly method: string;
  readonly target: string;
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly rawHeaders: string[];
  body: string;
  trailers: string[];
  /** Offset just past the request's last byte (its body or trailer section). */
  end: number;
  readonly upgrade: boolean;
}

export interface LlhttpOutcome {
  readonly messages: LlhttpMessage[];
  /** llhttp's error code (HPE_...) when it refused the input, undefined when it waits for more bytes. */
  readonly error: string | undefined;
  /** True when llhttp stopped after an upgrade (or CONNECT) head: the rest is a tunnel it does not read. */
  readonly upgraded: boolean;
}

interface Parser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenientFlags: number): void;
  execute(buf: Buffer): number | (Error & { code: string });
  close(): void;
  [callback: number]: unknown;
}

interface ParserBinding {
  readonly methods: string[];
  readonly HTTPParser: {
    new (): Parser;
    readonly REQUEST: number;
    readonly kOnHeaders: number;
    readonly kOnHeadersComplete: number;
    readonly kOnBody: number;
    readonly kOnMessageComplete: number;
  };
}

const binding = (process as unknown as { binding(name: string): ParserBinding }).binding('http_parser');
const { HTTPParser, methods } = binding;

/** A strict llhttp request parser whose callbacks build LlhttpMessages; `offset` is kept by the caller. */
export function llhttpRequestParser(maxHeaderSize: number): { parser: Parser; messages: LlhttpMessage[]; at: { offset: number } } {
  const parser = new HTTPParser();
  const messages: LlhttpMessage[] = [];
  const at = { offset: 0 };
  // node:http's binding hands over headers in batches of 32 (kOnHeaders) and the rest with the last callback.
  let pending: string[] = [];
  let pendingUrl = '';
  let current: LlhttpMessage | undefined;
  parser[HTTPParser.kOnHeaders] = (headers: string[], url: string) => {
    pending.push(...headers);
    pendingUrl += url;
  };
  parser[HTTPParser.kOnHeadersComplete] = (
    versionMajor: number,
    versionMinor: number,
    headers: string[] | undefined,
    method: number,
    url: string | undefined,
    _status: number,
    _message: string,
    upgrade: boolean,
  ) => {
    current = {
      method: methods[method]!,
      target: url ?? pendingUrl,
      versionMajor,
      versionMinor,
      rawHeaders: headers ?? pending,
      body: '',
      trailers: [],
      end: -1,
      upgrade,
    };
    pending = [];
    pendingUrl = '';
    return 0;
  };
  parser[HTTPParser.kOnBody] = (chunk: Buffer) => {
    current!.body += chunk.toString('latin1');
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    current!.trailers = pending;
    current!.end = at.offset;
    messages.push(current!);
    // A flush of trailers repeats the request's URL: it is not the next request's.
    pending = [];
    pendingUrl = '';
    current = undefined;
  };
  parser.initialize(HTTPParser.REQUEST, {}, maxHeaderSize, 0);
  return { parser, messages, at };
}

/**
 * Parses `input` one byte at a time, so that the offset at which each request completes is exact (llhttp reports
 * completion through a callback, not an offset).
 */
export function llhttpParseRequests(input: Buffer, maxHeaderSize: number): LlhttpOutcome {
  const { parser, messages, at } = llhttpRequestParser(maxHeaderSize);
  try {
    for (let i = 0; i < input.length; i++) {
      at.offset = i + 1;
      const before = messages.length;
      const r = parser.execute(input.subarray(i, i + 1));
      if (typeof r !== 'number') return { messages, error: r.code, upgraded: false };
      // An upgrade stops llhttp right after the head (execute parses 0 bytes of what follows).
      const last = messages[messages.length - 1];
      if (messages.length > before && last!.upgrade) return { messages, error: undefined, upgraded: true };
      if (r === 0 && messages.length === before) return { messages, error: undefined, upgraded: true };
    }
    return { messages, error: undefined, upgraded: false };
  } finally {
    parser.close();
  }
}
