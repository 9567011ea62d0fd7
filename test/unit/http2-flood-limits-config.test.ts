// The HTTP/2 flood limits in portcullis.yaml (`http:`): defaults, overrides, range errors, and what the downstream
// HTTP/2 server is given.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { formatSourceError } from '../../src/policy/types.js';
import { h2ServerOptions } from '../../src/protocols/http/h2/settings.js';

function parse(http: string) {
  const text = `endpoints:
  - {name: api, labels: {app: api}, addresses: [127.0.0.60]}
listeners:
  - {name: h, listen: "127.0.0.1:0", protocol: http, to: api, upstream: "127.0.0.1:80", http: {${http}}}
`;
  const { config, errors } = parseConfigText(text, '/etc/portcullis/portcullis.yaml');
  return { limits: config?.listeners[0]?.http, errors: errors.map(formatSourceError) };
}

describe('HTTP/2 flood limits', () => {
  it('default to nghttp2 and Envoy values', () => {
    const { limits, errors } = parse('');
    assert.deepEqual(errors, []);
    assert.deepEqual(h2ServerOptions(limits!).floodLimits, {
      maxContinuationFrames: 8,
      maxConsecutiveEmptyFrames: 1,
      maxPriorityFramesPerStream: 100,
      maxWindowUpdatesPerDataFrame: 10,
      maxOutboundControlFrames: 1000,
    });
    assert.equal(h2ServerOptions(limits!).headersTimeoutMs, 60_000);
  });

  it('are set per listener', () => {
    const { limits, errors } = parse('maxContinuationFrames: 3, maxConsecutiveEmptyFrames: 4, maxPriorityFramesPerStream: 5, maxWindowUpdatesPerDataFrame: 6, maxOutboundControlFrames: 70');
    assert.deepEqual(errors, []);
    assert.deepEqual(h2ServerOptions(limits!).floodLimits, {
      maxContinuationFrames: 3,
      maxConsecutiveEmptyFrames: 4,
      maxPriorityFramesPerStream: 5,
      maxWindowUpdatesPerDataFrame: 6,
      maxOutboundControlFrames: 70,
    });
  });

  it('CONTINUATION frames: never fewer than a header list of maxHeaderBytes needs in 16 KiB frames', () => {
    const { limits } = parse('maxHeaderBytes: 1048576, maxContinuationFrames: 2');
    assert.equal(h2ServerOptions(limits!).floodLimits.maxContinuationFrames, 64);
  });

  it('out of range is an error naming the field', () => {
    const { errors } = parse('maxConsecutiveEmptyFrames: 0, maxOutboundControlFrames: 5');
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.match(errors[0]!, /maxConsecutiveEmptyFrames/);
    assert.match(errors[1]!, /maxOutboundControlFrames/);
  });
});
