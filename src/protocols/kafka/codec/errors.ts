// Typed errors so the proxy can tell "this traffic is not valid Kafka" (close the connection, count a
// parse error) apart from its own bugs.
import { PortcullisError, type PortcullisErrorCode } from '../../../errors.js';

/** Bytes that are not a valid Kafka frame or message for the declared API and version. */
export class KafkaDecodeError extends PortcullisError {
  readonly code: PortcullisErrorCode = 'PCL_ERR_KAFKA_DECODE';
  /** Byte offset in the frame where decoding stopped, when known. */
  readonly offset: number | undefined;
  constructor(message: string, offset?: number, options?: ErrorOptions) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`, options);
    this.offset = offset;
  }
}

/** The byte stream cannot be split into frames (bad size prefix, TLS or HTTP on a plaintext Kafka port). */
export class KafkaFrameError extends KafkaDecodeError {
  override readonly code = 'PCL_ERR_KAFKA_FRAME';
}

/** A request asks for more work than the listener allows (topics or other entries per request): refused unread. */
export class KafkaLimitError extends KafkaDecodeError {
  override readonly code = 'PCL_ERR_KAFKA_LIMIT';
}

/** A value cannot be encoded for the requested API version (null in a non-nullable field, wrong type, ...). */
export class KafkaEncodeError extends PortcullisError {
  readonly code = 'PCL_ERR_KAFKA_ENCODE';
}
