// gRPC answers the proxy writes itself: content-type detection, status mapping and message encoding.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GrpcStatus, grpcStatusForHttp, grpcTrailersOnly, isGrpcContentType, percentEncodeGrpcMessage } from '../../src/protocols/http/h2/grpc.js';

test('gRPC content types are recognised, lookalikes are not', () => {
  for (const t of ['application/grpc', 'application/grpc+proto', 'application/grpc+json', 'application/grpc;charset=utf-8', 'Application/GRPC']) {
    assert.equal(isGrpcContentType(t), true, t);
  }
  for (const t of [undefined, '', 'application/grpc-web', 'application/grpc-web+proto', 'application/json', 'text/grpc']) {
    assert.equal(isGrpcContentType(t), false, String(t));
  }
});

test('status messages are percent-encoded as the gRPC spec says (bytes outside 0x20..0x7E, and %)', () => {
  assert.equal(percentEncodeGrpcMessage('Access denied'), 'Access denied');
  assert.equal(percentEncodeGrpcMessage('Access denied\r\n'), 'Access denied%0D%0A');
  assert.equal(percentEncodeGrpcMessage('100% sure'), '100%25 sure');
  assert.equal(percentEncodeGrpcMessage('tilde ~ stays'), 'tilde ~ stays');
  assert.equal(percentEncodeGrpcMessage('caf\u00e9 \u{1F6AA}'), 'caf%C3%A9 %F0%9F%9A%AA');
  assert.equal(percentEncodeGrpcMessage('\x7f'), '%7F');
});

test('a denial is a trailers-only response: application/grpc, grpc-status 7, "Access denied"', () => {
  assert.deepEqual(grpcTrailersOnly(GrpcStatus.PERMISSION_DENIED, 'Access denied'), [
    ['content-type', 'application/grpc'],
    ['grpc-status', '7'],
    ['grpc-message', 'Access denied'],
  ]);
});

test('local HTTP replies map to gRPC codes as Envoy maps them', () => {
  assert.equal(grpcStatusForHttp(403), GrpcStatus.PERMISSION_DENIED);
  assert.equal(grpcStatusForHttp(503), GrpcStatus.UNAVAILABLE);
  assert.equal(grpcStatusForHttp(504), GrpcStatus.UNAVAILABLE);
  assert.equal(grpcStatusForHttp(400), GrpcStatus.INTERNAL);
  assert.equal(grpcStatusForHttp(431), GrpcStatus.UNKNOWN);
});
