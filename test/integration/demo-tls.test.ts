// `portcullis demo tls` end to end: in-process (every step, the flow lines) and through the CLI (exit code).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    // The flow lines (portcullis observe's compact lines) show method and https URL of requests mediabot only ever
    // sent inside TLS.
    assert.match(text, /: default\/mediabot:\d+ \(ID:\d+\) -> httpbin\.local:\d+ \(world\) http-request FORWARDED \(HTTP\/1\.1 GET https:\/\/httpbin\.local:\d+\/anything\/empire\)/);
    assert.match(text, /: default\/mediabot:\d+ \(ID:\d+\) -> httpbin\.local:\d+ \(world\) http-request DROPPED \(HTTP\/1\.1 POST https:\/\/httpbin\.local:\d+\/anything\/plans\) rule: \S+l7-visibility-tls\.yaml:\d+ reason: L7: /);
  });

  it('portcullis demo tls exits 0 and prints the flow records with --flows stdout', async () => {
    const result = await cli(['demo', 'tls', '--flows', 'stdout']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /TLS visibility demo: all 10 steps behaved/);
    const records = result.stdout.split('\n').filter((l) => l.startsWith('{"flow"'));
    assert.ok(records.some((l) => /"method":"POST"/.test(l) && /"verdict":"DROPPED"/.test(l)), 'the POST denial is among the printed records');
  });

  it('portcullis demo kafka tls --flows <file>: the TLS demo reads past the Kafka demo\'s records in the shared file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-demo-flows-'));
    try {
      const file = join(dir, 'flows.jsonl');
      const result = await cli(['demo', 'kafka', 'tls', '--flows', file]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.doesNotMatch(result.stderr, /TypeError/);
      assert.match(result.stdout, /TLS visibility demo: all 10 steps behaved/);
      const text = readFileSync(file, 'utf8');
      assert.match(text, /"kafka":\{/, 'the Kafka demo wrote its records to the file first');
      assert.match(text, /"method":"CONNECT"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
