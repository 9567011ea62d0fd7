// bench/lib/wrk.ts reads req/s, p50/p99 (converted to ms from wrk's us/ms/s/m units) and errors from wrk's
// `--latency` output; a misread figure would silently skew every bench:http1 ratio.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWrk } from '../../bench/lib/wrk.js';

// Debian's wrk 4.1.0 against the deathstar, verbatim.
const CLEAN = `Running 1s test @ http://127.0.0.10:38123/v1/nothing
  1 threads and 5 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   612.53us    0.99ms  14.21ms   91.44%
    Req/Sec    13.39k     5.97k   18.41k    72.73%
  Latency Distribution
     50%  275.00us
     75%  418.00us
     90%    1.38ms
     99%    5.16ms
  14612 requests in 1.10s, 2.33MB read
  Non-2xx or 3xx responses: 14612
Requests/sec:  13282.43
Transfer/sec:      2.12MB
`;

describe('parseWrk', () => {
  it('reads req/s, p50 in µs and p99 in ms as milliseconds, and the non-2xx count', () => {
    const r = parseWrk(CLEAN);
    assert.equal(r.rps, 13282.43);
    assert.ok(Math.abs(r.p50 - 0.275) < 1e-9);
    assert.equal(r.p99, 5.16);
    assert.equal(r.non2xx, 14612);
    assert.equal(r.errors, 0);
  });

  it('converts seconds and minutes, and sums every kind of socket error', () => {
    const slow = CLEAN.replace('  Non-2xx or 3xx responses: 14612\n', '  Socket errors: connect 1, read 2, write 3, timeout 4\n')
      .replace('50%  275.00us', '50%    1.50s')
      .replace('99%    5.16ms', '99%    2.00m');
    const r = parseWrk(slow);
    assert.equal(r.p50, 1500);
    assert.equal(r.p99, 120_000);
    assert.equal(r.errors, 10);
    assert.equal(r.non2xx, 0);
  });

  it('reads a percentile wrk pads with a trailing space (its seconds are printed as "1.64s ")', () => {
    const r = parseWrk(CLEAN.replace('99%    5.16ms', '99%    1.64s '));
    assert.equal(r.p99, 1640);
  });

  it('refuses output without the latency distribution rather than reporting zeros', () => {
    assert.throws(() => parseWrk(CLEAN.replace(/ {2}Latency Distribution[\s\S]*?99%.*\n/, '')), /unexpected wrk output/);
  });
});
