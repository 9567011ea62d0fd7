// `portcullis demo tls` end to end: in-process (every step, the flow lines) and through the CLI (exit code).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runTlsDemo } from '../../src/demo/tls/run.js';
import { cli } from '../helpers/runtime-fixture.js';

describe('demo tls', () => {
  it('runs the TLS-visibility story: allowed GETs answered by httpbin, POST 403 inside TLS, CONNECT refused, every request in the flows', async () => {
    const lines: string[] = [];
    const passed = await runTlsDemo({ log: (line) => lines.push(line) });
    const text = lines.join('\n');
    assert.equal(passed, true, text);
    assert.match(text, /all 10 steps behaved as the guide says/);
    assert.doesNotMatch(text, /UNEXPECTED/);
    // The flow lines show method and https URL of requests mediabot only ever sent inside TLS.
    assert.match(text, /FORWARDED EGRESS mediabot -> httpbin\.local {2}HTTP\/1\.1 GET https:\/\/httpbin\.local:\d+\/anything\/empire/);
    assert.match(text, /DROPPED {3}EGRESS mediabot -> httpbin\.local {2}HTTP\/1\.1 POST https:\/\/httpbin\.local:\d+\/anything\/plans/);
  });

  it('portcullis demo tls exits 0 and prints the flow records with --flows stdout', async () => {
    const result = await cli(['demo', 'tls', '--flows', 'stdout']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /TLS visibility demo: all 10 steps behaved/);
    const records = result.stdout.split('\n').filter((l) => l.startsWith('{"flow"'));
    assert.ok(records.some((l) => /"method":"POST"/.test(l) && /"verdict":"DROPPED"/.test(l)), 'the POST denial is among the printed records');
  });
});
