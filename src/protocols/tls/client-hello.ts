// Incremental TLS ClientHello reader for connections that are not (yet) terminated: SNI policy, passthrough
// splicing and certificate choice all need the hello before any byte goes upstream. Input is attacker-controlled,
// so every length is checked before it is used, nothing is read out of bounds, memory is capped by `maxBytes`,
// and the only failure mode is a typed ClientHelloError (returned, never thrown).
import type { Socket } from 'node:net';
import { PortcullisError } from '../../errors.js';

export interface ClientHello {
  /** `legacy_version` of the ClientHello (0x0303 for TLS 1.2 and 1.3). */
  readonly legacyVersion: number;
  /** server_name host_name, lower-cased; absent when the client sent no SNI. */
  readonly sni?: string;
  /** ALPN protocol names in client preference order; empty when the extension is absent. */
  readonly alpn: readonly string[];
  /** supported_versions (TLS 1.3 clients), in client order; absent when the extension is absent. */
  readonly tlsVersions?: readonly number[];
}

export type ClientHelloFailure =
  | 'not-tls' // first bytes are not a TLS handshake record (plain HTTP, SSLv2 hello, garbage)
  | 'not-client-hello' // a TLS handshake, but its first message is not a ClientHello
  | 'malformed' // a length or field that does not fit the TLS grammar
  | 'invalid-sni' // server_name present but not exactly one valid host_name
  | 'too-large' // the records carrying the hello exceed maxBytes
  | 'truncated' // the stream ended (or failed) before the hello was complete
  | 'timeout'; // peekClientHello only: the hello did not arrive in time

export class ClientHelloError extends PortcullisError {
  readonly code = 'PCL_ERR_CLIENT_HELLO';
  /** Every byte read from the socket before the failure (peekClientHello only), e.g. to fall back to plaintext. */
  buffered?: Buffer;
  constructor(
    readonly reason: ClientHelloFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export type ClientHelloResult =
  | { readonly state: 'incomplete' }
  | { readonly state: 'complete'; readonly hello: ClientHello }
  | { readonly state: 'error'; readonly error: ClientHelloError };

/** Default cap on the bytes (record headers included) a ClientHello may occupy. */
export const DEFAULT_MAX_CLIENT_HELLO_BYTES = 16 * 1024;

const RECORD_HEADER = 5;
const HANDSHAKE_HEADER = 4;
const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
// RFC 8446 §5.1: a plaintext record fragment is at most 2^14 bytes.
const MAX_RECORD_FRAGMENT = 1 << 14;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SUPPORTED_VERSIONS = 43;
const INCOMPLETE: ClientHelloResult = { state: 'incomplete' };

/**
 * Feed chunks with `push` as they arrive. Records may be split over any number of chunks and one hello may span
 * several records. Once a result other than `incomplete` is returned, the reader is finished and returns it again.
 * Work is O(total bytes): each byte is examined once and copied at most once.
 */
export class ClientHelloReader {
  private readonly maxBytes: number;
  private consumed = 0;
  private records = 0;
  private readonly recordHeader = Buffer.alloc(RECORD_HEADER);
  private recordHeaderFill = 0;
  private fragmentLeft = 0;
  private readonly handshakeHeader = Buffer.alloc(HANDSHAKE_HEADER);
  private handshakeHeaderFill = 0;
  private body: Buffer | undefined;
  private bodyFill = 0;
  private result: ClientHelloResult = INCOMPLETE;

  constructor(options: { maxBytes?: number } = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_CLIENT_HELLO_BYTES;
  }

  push(chunk: Uint8Array): ClientHelloResult {
    let at = 0;
    while (this.result.state === 'incomplete' && at < chunk.length) {
      if (this.fragmentLeft === 0) {
        const take = Math.min(RECORD_HEADER - this.recordHeaderFill, chunk.length - at);
        this.recordHeader.set(chunk.subarray(at, at + take), this.recordHeaderFill);
        this.recordHeaderFill += take;
        this.consumed += take;
        at += take;
        this.checkRecordHeader();
        continue;
      }
      const take = Math.min(this.fragmentLeft, chunk.length - at);
      this.fragmentLeft -= take;
      this.consumeHandshake(chunk.subarray(at, at + take));
      at += take;
    }
    return this.result;
  }

  /** The stream ended: whatever is missing makes the hello truncated. */
  end(): ClientHelloResult {
    if (this.result.state === 'incomplete') this.fail('truncated', `stream ended after ${this.consumed} bytes, before the ClientHello was complete`);
    return this.result;
  }

  private checkRecordHeader(): void {
    const h = this.recordHeader;
    const first = this.records === 0;
    // Decide "not TLS" from the very first byte so plaintext protocols are recognised without waiting for more.
    if (this.recordHeaderFill >= 1 && h[0] !== CONTENT_HANDSHAKE) {
      if (first) return this.fail('not-tls', `first byte 0x${hex2(h[0]!)} is not a TLS handshake record (0x16)`);
      return this.fail('malformed', `record type ${h[0]} interleaved with the ClientHello`);
    }
    if (this.recordHeaderFill >= 2 && h[1] !== 3) {
      if (first) return this.fail('not-tls', `record version major ${h[1]} is not TLS (3)`);
      return this.fail('malformed', `record version major ${h[1]} inside the ClientHello`);
    }
    if (this.recordHeaderFill < RECORD_HEADER) return;
    const length = h.readUInt16BE(3);
    if (length === 0) return this.fail('malformed', 'empty handshake record');
    if (length > MAX_RECORD_FRAGMENT) return this.fail('malformed', `record length ${length} exceeds 2^14`);
    if (this.consumed + length > this.maxBytes) return this.tooLarge(this.consumed + length);
    this.records++;
    this.recordHeaderFill = 0;
    this.fragmentLeft = length;
  }

  private consumeHandshake(bytes: Uint8Array): void {
    const consumedBefore = this.consumed;
    this.consumed += bytes.length;
    let at = 0;
    if (this.body === undefined) {
      at = Math.min(HANDSHAKE_HEADER - this.handshakeHeaderFill, bytes.length);
      this.handshakeHeader.set(bytes.subarray(0, at), this.handshakeHeaderFill);
      this.handshakeHeaderFill += at;
      if (this.handshakeHeaderFill < HANDSHAKE_HEADER) return;
      const type = this.handshakeHeader[0]!;
      if (type !== HANDSHAKE_CLIENT_HELLO) return this.fail('not-client-hello', `handshake message type ${type} is not a ClientHello (1)`);
      const length = this.handshakeHeader.readUIntBE(1, 3);
      // Refuse as soon as the announced length cannot fit, before allocating or waiting for it.
      const needed = consumedBefore + at + length;
      if (needed > this.maxBytes) return this.tooLarge(needed);
      this.body = Buffer.allocUnsafe(length);
    }
    // Bytes after the hello in its last record (nothing legitimate follows a ClientHello) are left to the server.
    const take = Math.min(this.body.length - this.bodyFill, bytes.length - at);
    this.body.set(bytes.subarray(at, at + take), this.bodyFill);
    this.bodyFill += take;
    if (this.bodyFill === this.body.length) this.result = parseClientHelloBody(this.body);
  }

  private tooLarge(bytes: number): void {
    this.fail('too-large', `ClientHello needs at least ${bytes} bytes, over the ${this.maxBytes}-byte limit`);
  }

  private fail(reason: ClientHelloFailure, message: string): void {
    this.result = { state: 'error', error: new ClientHelloError(reason, message) };
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** A bounds-checked cursor: every read either succeeds inside `end` or marks the cursor as overrun. */
class Cursor {
  overrun = false;
  constructor(
    private readonly buf: Buffer,
    public at: number,
    public readonly end: number,
  ) {}
  get left(): number {
    return this.end - this.at;
  }
  u8(): number {
    if (this.left < 1) return this.overrunZero();
    return this.buf[this.at++]!;
  }
  u16(): number {
    if (this.left < 2) return this.overrunZero();
    const v = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }
  /** A sub-cursor over the next `length` bytes, which this cursor skips. */
  take(length: number): Cursor {
    if (length > this.left) {
      this.overrun = true;
      this.at = this.end;
      return new Cursor(this.buf, this.end, this.end);
    }
    const sub = new Cursor(this.buf, this.at, this.at + length);
    this.at += length;
    return sub;
  }
  bytes(length: number): Buffer {
    return this.buf.subarray(this.at, this.take(length).end);
  }
  private overrunZero(): number {
    this.overrun = true;
    this.at = this.end;
    return 0;
  }
}

function malformed(message: string): ClientHelloError {
  return new ClientHelloError('malformed', message);
}

function invalidSni(message: string): ClientHelloError {
  return new ClientHelloError('invalid-sni', message);
}

/** Parse a complete ClientHello body (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2). */
function parseClientHelloBody(body: Buffer): ClientHelloResult {
  const parsed = parseBody(body);
  return parsed instanceof ClientHelloError ? { state: 'error', error: parsed } : { state: 'complete', hello: parsed };
}

function parseBody(body: Buffer): ClientHello | ClientHelloError {
  const c = new Cursor(body, 0, body.length);
  const overrun = (): ClientHelloError => malformed('ClientHello fields run past the end of the message');
  const legacyVersion = c.u16();
  c.take(32); // random
  const sessionIdLength = c.u8();
  if (c.overrun) return overrun();
  if (sessionIdLength > 32) return malformed(`session id length ${sessionIdLength} exceeds 32`);
  c.take(sessionIdLength);
  const suitesLength = c.u16();
  if (c.overrun) return overrun();
  if (suitesLength < 2 || suitesLength % 2 !== 0) return malformed(`cipher suites length ${suitesLength} is not a positive even number`);
  c.take(suitesLength);
  const compressionLength = c.u8();
  if (c.overrun) return overrun();
  if (compressionLength < 1) return malformed('no compression methods');
  c.take(compressionLength);
  if (c.overrun) return overrun();

  let sni: string | undefined;
  let alpn: string[] = [];
  let tlsVersions: number[] | undefined;
  // Pre-TLS 1.2 clients may omit extensions entirely.
  if (c.left > 0) {
    const extensionsLength = c.u16();
    if (c.overrun || extensionsLength !== c.left) return malformed(`extensions length ${extensionsLength} does not match the ${c.left} bytes left in the ClientHello`);
    const seen = new Set<number>();
    while (c.left > 0) {
      const type = c.u16();
      const length = c.u16();
      const data = c.take(length);
      if (c.overrun) return malformed(`extension ${type} runs past the end of the extensions`);
      // A duplicate SNI could let the proxy and the server disagree on the name (RFC 8446 §4.2 forbids it).
      if (seen.has(type)) return malformed(`duplicate extension ${type}`);
      seen.add(type);
      if (type === EXT_SERVER_NAME) {
        const name = parseServerName(data);
        if (name instanceof ClientHelloError) return name;
        sni = name;
      } else if (type === EXT_ALPN) {
        const protocols = parseAlpn(data);
        if (protocols instanceof ClientHelloError) return protocols;
        alpn = protocols;
      } else if (type === EXT_SUPPORTED_VERSIONS) {
        const versions = parseSupportedVersions(data);
        if (versions instanceof ClientHelloError) return versions;
        tlsVersions = versions;
      }
    }
  }
  return { legacyVersion, alpn, ...(sni !== undefined && { sni }), ...(tlsVersions !== undefined && { tlsVersions }) };
}

// RFC 6066 §3: exactly one name of type host_name, ASCII, no trailing dot. Underscores are accepted because
// Cilium's serverNames patterns allow them.
const HOST_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

function parseServerName(ext: Cursor): string | ClientHelloError {
  const listLength = ext.u16();
  if (ext.overrun || listLength !== ext.left || listLength === 0) return malformed('server_name list length does not match the extension');
  let name: string | undefined;
  while (ext.left > 0) {
    const type = ext.u8();
    const length = ext.u16();
    const bytes = ext.bytes(length);
    if (ext.overrun) return malformed('server_name entry runs past the end of the extension');
    if (type !== 0) return invalidSni(`server_name type ${type} is not host_name (0)`);
    if (name !== undefined) return invalidSni('more than one host_name in server_name');
    if (length === 0 || length > 253) return invalidSni(`host_name length ${length} is outside 1..253`);
    name = bytes.toString('latin1').toLowerCase();
    if (!name.split('.').every((label) => HOST_LABEL.test(label))) {
      return invalidSni(`host_name ${JSON.stringify(name)} is not a valid DNS name`);
    }
  }
  return name ?? malformed('server_name list is empty');
}

function parseAlpn(ext: Cursor): string[] | ClientHelloError {
  const listLength = ext.u16();
  if (ext.overrun || listLength !== ext.left || listLength === 0) return malformed('ALPN list length does not match the extension');
  const protocols: string[] = [];
  while (ext.left > 0) {
    const length = ext.u8();
    const bytes = ext.bytes(length);
    if (ext.overrun || length === 0) return malformed('ALPN protocol name is empty or runs past the extension');
    protocols.push(bytes.toString('latin1'));
  }
  return protocols;
}

function parseSupportedVersions(ext: Cursor): number[] | ClientHelloError {
  const listLength = ext.u8();
  if (ext.overrun || listLength !== ext.left || listLength < 2 || listLength % 2 !== 0) {
    return malformed('supported_versions list length does not match the extension');
  }
  const versions: number[] = [];
  while (ext.left > 0) versions.push(ext.u16());
  return versions;
}

export interface PeekedClientHello {
  readonly hello: ClientHello;
  /** Every byte read from the socket, in order: write it to the upstream before splicing the rest. */
  readonly buffered: Buffer;
}

export interface PeekOptions {
  /** Give up when the hello is not complete after this long (slowloris). */
  readonly timeoutMs: number;
  readonly maxBytes?: number;
}

/**
 * Read from `socket` until a complete ClientHello has arrived and resolve with it and every byte read. The
 * socket is left paused with no listeners of ours: to splice, write `buffered` upstream and pipe the rest; to
 * terminate, `socket.unshift(buffered)` and wrap it in a `tls.TLSSocket` (Node feeds already-buffered bytes to
 * the TLS engine). Rejects with a ClientHelloError (whose `buffered` holds the bytes read), never anything else.
 * The caller owns the socket in both cases and must keep an 'error' listener on it.
 */
export function peekClientHello(socket: Socket, options: PeekOptions): Promise<PeekedClientHello> {
  return new Promise((resolve, reject) => {
    const reader = new ClientHelloReader(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes });
    const chunks: Buffer[] = [];
    let settled = false;

    const settle = (result: ClientHelloResult): void => {
      if (result.state === 'incomplete' || settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      socket.pause();
      const buffered = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      if (result.state === 'complete') return resolve({ hello: result.hello, buffered });
      result.error.buffered = buffered;
      reject(result.error);
    };
    const onData = (chunk: Buffer | string): void => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
      chunks.push(bytes);
      settle(reader.push(bytes));
    };
    const onEnd = (): void => settle(reader.end());
    const onError = (err: Error): void => {
      settle({ state: 'error', error: new ClientHelloError('truncated', `socket failed before the ClientHello was complete: ${err.message}`, { cause: err }) });
    };
    const timer = setTimeout(() => {
      settle({ state: 'error', error: new ClientHelloError('timeout', `no complete ClientHello within ${options.timeoutMs} ms`) });
    }, options.timeoutMs);

    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
    // A socket handed over by the HTTP server (CONNECT) is paused.
    socket.resume();
    if (socket.destroyed || socket.readableEnded) onEnd();
  });
}
