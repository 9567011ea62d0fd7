// Incremental, strict decoding of a chunked body (RFC 9112 §7.1), request or response.
//
// The size line is read byte by byte (a few bytes per chunk); chunk data is handed on as subarrays of the input,
// never copied. Everything a lenient decoder might read differently ends the body with a 400: a bare CR or LF,
// whitespace without an extension, a size of more than 16 hex digits or above 2^53-1, data not followed by
// exactly CRLF, a malformed extension or trailer field. Chunk extensions are validated and dropped.
import { type FieldErrors, HeadError, parseFieldLines } from './head-parser.js';
import { QUOTED_STRING, TCHAR } from './tokens.js';

const CR = 13;
const LF = 10;
/** Bytes of chunk extensions one size line may carry (llhttp allows 16 KiB; nobody needs more than a few). */
const MAX_EXTENSION_BYTES = 4096;
const MAX_SIZE_DIGITS = 16;

const enum State { Size, Extension, SizeLf, Data, DataCr, DataLf, Trailers, Done }

const BAD_SIZE = new HeadError(400, 'invalid chunk size');
const SIZE_TOO_LARGE = new HeadError(400, 'chunk size too large');
const BAD_EXTENSION = new HeadError(400, 'invalid chunk extension');
const EXTENSION_TOO_LARGE = new HeadError(400, 'chunk extensions too large');
const BARE_LINE_BREAK = new HeadError(400, 'bare CR or LF in chunked body');
const MISSING_DATA_CRLF = new HeadError(400, 'chunk data not followed by CRLF');
const TRAILERS_TOO_LARGE = new HeadError(400, 'trailer section too large');
const TRAILER_ERRORS: FieldErrors = { status: 400, tooMany: new HeadError(400, 'too many trailer fields'), noun: 'trailer' };

// chunk-ext after the size: *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ), up to the CR.
const EXTENSIONS = new RegExp(`^(?:[ \\t]*;[ \\t]*${TCHAR}+(?:[ \\t]*=[ \\t]*(?:${TCHAR}+|${QUOTED_STRING}))?)+$`);

/** Incremental decoder of a chunked body (RFC 9112 §7.1), request or response. */
export class ChunkedDecoder {
  #state = State.Size;
  #digits = 0;
  /** Size while reading the size line, then bytes of data left in the chunk. */
  #size = 0;
  #extension = '';
  /** The trailer section so far (latin1), only once the last chunk is read. */
  #trailerText = '';
  #failure: HeadError | undefined;
  #trailers: string[] = [];

  constructor(
    private readonly maxTrailerBytes: number,
    private readonly maxTrailerCount: number,
  ) {}

  get done(): boolean {
    return this.#state === State.Done;
  }

  get trailers(): string[] {
    return this.#trailers;
  }

  /**
   * Consumes bytes from buf[start, end). Calls onData(chunk) for each piece of chunk data (subarrays of buf, no
   * copy). Returns the offset where it stopped: == end when it needs more input; < end when the body ended there
   * (then `done` is true and `trailers` holds the trailer fields, flat [name, value...] like rawHeaders, [] if none).
   * Throws nothing: on malformed input returns a HeadError (status 400; the caller maps it) and stays failed.
   */
  push(buf: Buffer, start: number, end: number, onData: (chunk: Buffer) => void): number | HeadError {
    if (this.#failure !== undefined) return this.#failure;
    let pos = start;
    while (pos < end) {
      switch (this.#state) {
        case State.Size: {
          const byte = buf[pos++]!;
          const digit = hexValue(byte);
          if (digit >= 0) {
            if (++this.#digits > MAX_SIZE_DIGITS || this.#size > (Number.MAX_SAFE_INTEGER - digit) / 16) return this.#fail(SIZE_TOO_LARGE);
            this.#size = this.#size * 16 + digit;
          } else if (this.#digits === 0) {
            return this.#fail(BAD_SIZE);
          } else if (byte === CR) {
            this.#state = State.SizeLf;
          } else if (byte === 0x3b || byte === 0x20 || byte === 0x09) {
            this.#extension = String.fromCharCode(byte);
            this.#state = State.Extension;
          } else {
            return this.#fail(byte === LF ? BARE_LINE_BREAK : BAD_SIZE);
          }
          break;
        }
        case State.Extension: {
          const cr = buf.indexOf(CR, pos);
          const stop = cr === -1 || cr >= end ? end : cr;
          const piece = buf.toString('latin1', pos, stop);
          if (piece.includes('\n')) return this.#fail(BARE_LINE_BREAK);
          this.#extension += piece;
          if (this.#extension.length > MAX_EXTENSION_BYTES) return this.#fail(EXTENSION_TOO_LARGE);
          pos = stop;
          if (stop === end) break;
          if (!EXTENSIONS.test(this.#extension)) return this.#fail(BAD_EXTENSION);
          this.#extension = '';
          pos++;
          this.#state = State.SizeLf;
          break;
        }
        case State.SizeLf:
          if (buf[pos++] !== LF) return this.#fail(BARE_LINE_BREAK);
          this.#state = this.#size === 0 ? State.Trailers : State.Data;
          break;
        case State.Data: {
          const n = Math.min(this.#size, end - pos);
          onData(buf.subarray(pos, pos + n));
          pos += n;
          this.#size -= n;
          if (this.#size === 0) this.#state = State.DataCr;
          break;
        }
        case State.DataCr:
          if (buf[pos++] !== CR) return this.#fail(MISSING_DATA_CRLF);
          this.#state = State.DataLf;
          break;
        case State.DataLf:
          if (buf[pos++] !== LF) return this.#fail(MISSING_DATA_CRLF);
          this.#state = State.Size;
          this.#digits = 0;
          break;
        case State.Trailers:
          return this.#readTrailers(buf, pos, end);
        case State.Done:
          return pos;
      }
    }
    return pos;
  }

  /** Reads the trailer section line by line up to its empty line; trailers are rare, so this path is simple. */
  #readTrailers(buf: Buffer, pos: number, end: number): number | HeadError {
    while (pos < end) {
      const lf = buf.indexOf(LF, pos);
      const stop = lf === -1 || lf >= end ? end : lf + 1;
      // + 2: the empty line ending the section does not count.
      if (this.#trailerText.length + (stop - pos) > this.maxTrailerBytes + 2) return this.#fail(TRAILERS_TOO_LARGE);
      const lineStart = this.#trailerText.lastIndexOf('\n') + 1;
      this.#trailerText += buf.toString('latin1', pos, stop);
      pos = stop;
      if (stop === end && lf !== stop - 1) return end;
      const text = this.#trailerText;
      if (text.charCodeAt(text.length - 2) !== CR) return this.#fail(BARE_LINE_BREAK);
      if (text.length - lineStart === 2) {
        // The empty line: the body ends here.
        const fault = parseFieldLines(text, 0, this.maxTrailerCount, this.#trailers, TRAILER_ERRORS);
        if (fault !== undefined) return this.#fail(fault);
        this.#trailerText = '';
        this.#state = State.Done;
        return pos;
      }
    }
    return end;
  }

  #fail(error: HeadError): HeadError {
    this.#failure = error;
    return error;
  }
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}
