// The Kafka wire codec's public surface: all the demo broker may use (test/unit/architecture.test.ts), and what
// tests and benches encode and decode with. The proxy beside it also reads schema plans and raw frames, so it
// imports the codec's modules directly.
export { KafkaDecodeError, KafkaEncodeError, KafkaFrameError } from './errors.js';
export { KafkaFrameReader, DEFAULT_MAX_KAFKA_FRAME_SIZE, type KafkaFrameReaderOptions } from './frame-reader.js';
export { requestHeaderVersion, responseHeaderVersion, type KafkaRequestHeader } from './header.js';
export {
  decodeRequest,
  decodeRequestHeader,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  UNKNOWN_TAGGED_FIELDS,
  ZERO_UUID,
  type DecodedRequest,
  type DecodedResponse,
  type KafkaStruct,
  type KafkaValue,
  type UnknownTaggedField,
} from './codec.js';
export { ApiKey } from './generated/api-keys.js';
export { ErrorCode } from './error-codes.js';
export { KAFKA_APIS, isSupportedVersion, isFlexibleVersion, type KafkaApiInfo } from './schema.js';
export {
  buildApiVersionsFallbackResponse,
  CODEC_API_VERSIONS,
  type KafkaVersionRange,
  type KafkaVersionTable,
} from './api-versions.js';
