// Typed errors so the proxy can tell "this traffic is not valid Kafka" (close the connection, count a
// parse error) apart from its own bugs.

/** Bytes that are not a valid Kafka frame or message for the declared API and version. */
export class KafkaDecodeError extends Error {
  override readonly name: string = 'KafkaDecodeError';
  /** Byte offset in the frame where decoding stopped, when known. */
  readonly offset: number | undefined;
  constructor(message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.offset = offset;
  }
}

/** The byte stream cannot be split into frames (bad size prefix, TLS or HTTP on a plaintext Kafka port). */
export class KafkaFrameError extends KafkaDecodeError {
  override readonly name: string = 'KafkaFrameError';
}

/** A request asks for more work than the listener allows (topics or other entries per request): refused unread. */
export class KafkaLimitError extends KafkaDecodeError {
  override readonly name: string = 'KafkaLimitError';
}

/** A value cannot be encoded for the requested API version (null in a non-nullable field, wrong type, ...). */
export class KafkaEncodeError extends Error {
  override readonly name: string = 'KafkaEncodeError';
}
