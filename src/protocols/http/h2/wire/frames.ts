// HTTP/2 frame layout (RFC 9113 §4.1, §6): codes, flags, settings, and builders for the small control frames.

export const FrameType = {
  DATA: 0x0, HEADERS: 0x1, PRIORITY: 0x2, RST_STREAM: 0x3, SETTINGS: 0x4,
  PUSH_PROMISE: 0x5, PING: 0x6, GOAWAY: 0x7, WINDOW_UPDATE: 0x8, CONTINUATION: 0x9,
} as const;

export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

export const ErrorCode = {
  NO_ERROR: 0x0, PROTOCOL_ERROR: 0x1, INTERNAL_ERROR: 0x2, FLOW_CONTROL_ERROR: 0x3, SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5, FRAME_SIZE_ERROR: 0x6, REFUSED_STREAM: 0x7, CANCEL: 0x8, COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa, ENHANCE_YOUR_CALM: 0xb, INADEQUATE_SECURITY: 0xc, HTTP_1_1_REQUIRED: 0xd,
} as const;

export const Setting = {
  HEADER_TABLE_SIZE: 0x1, ENABLE_PUSH: 0x2, MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4, MAX_FRAME_SIZE: 0x5, MAX_HEADER_LIST_SIZE: 0x6,
} as const;

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME_HEADER_LENGTH = 9;
/** Initial SETTINGS_MAX_FRAME_SIZE, and the largest frame we accept (we never raise it). */
export const DEFAULT_MAX_FRAME_SIZE = 16384;
export const MAX_ALLOWED_FRAME_SIZE = 16777215;
/** Initial stream and connection flow-control windows. */
export const DEFAULT_WINDOW_SIZE = 65535;
export const MAX_WINDOW_SIZE = 2 ** 31 - 1;

export function writeFrameHeader(buf: Buffer, offset: number, length: number, type: number, flags: number, streamId: number): void {
  buf[offset] = length >>> 16;
  buf[offset + 1] = (length >>> 8) & 0xff;
  buf[offset + 2] = length & 0xff;
  buf[offset + 3] = type;
  buf[offset + 4] = flags;
  buf.writeUInt32BE(streamId, offset + 5);
}

/** A frame with its header written and payloadLength bytes left to fill. */
export function frame(type: number, flags: number, streamId: number, payloadLength: number): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + payloadLength);
  writeFrameHeader(buf, 0, payloadLength, type, flags, streamId);
  return buf;
}

export function settingsFrame(settings: ReadonlyArray<readonly [number, number]>): Buffer {
  const buf = frame(FrameType.SETTINGS, 0, 0, 6 * settings.length);
  settings.forEach(([id, value], i) => {
    buf.writeUInt16BE(id, 9 + 6 * i);
    buf.writeUInt32BE(value, 11 + 6 * i);
  });
  return buf;
}

export const SETTINGS_ACK = frame(FrameType.SETTINGS, Flag.ACK, 0, 0);

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const buf = frame(FrameType.WINDOW_UPDATE, 0, streamId, 4);
  buf.writeUInt32BE(increment, 9);
  return buf;
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const buf = frame(FrameType.RST_STREAM, 0, streamId, 4);
  buf.writeUInt32BE(code, 9);
  return buf;
}

export function pingAckFrame(payload: Buffer): Buffer {
  const buf = frame(FrameType.PING, Flag.ACK, 0, 8);
  payload.copy(buf, 9, 0, 8);
  return buf;
}

export function goawayFrame(lastStreamId: number, code: number): Buffer {
  const buf = frame(FrameType.GOAWAY, 0, 0, 8);
  buf.writeUInt32BE(lastStreamId, 9);
  buf.writeUInt32BE(code, 13);
  return buf;
}
