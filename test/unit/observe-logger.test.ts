// The operational logger: JSON lines with a readable level, secrets redacted, bad levels refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/observe/logger.js';
import { captureLog } from '../helpers/observe-log-capture.js';

test('writes JSON with name, ISO time and level label; honours the level', () => {
  const out = captureLog();
  const log = createLogger({ level: 'warn', destination: out.stream });
  log.info('hidden');
  log.warn({ listener: 'deathstar-http' }, 'upstream refused');
  const lines = out.lines();
  assert.equal(lines.length, 1);
  const [line] = lines;
  assert.equal(line?.level, 'warn');
  assert.equal(line?.name, 'portcullis');
  assert.equal(line?.msg, 'upstream refused');
  assert.equal(line?.listener, 'deathstar-http');
  assert.match(String(line?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('redacts credentials in logged headers and private keys', () => {
  const out = captureLog();
  const log = createLogger({ destination: out.stream });
  log.info({ headers: { authorization: 'Bearer x', accept: '*/*' }, req: { headers: { cookie: 'c=1' } }, privateKey: 'PEM' }, 'm');
  const [line] = out.lines() as [{ headers: Record<string, string>; req: { headers: Record<string, string> }; privateKey: string }];
  assert.equal(line.headers.authorization, '[REDACTED]');
  assert.equal(line.headers.accept, '*/*');
  assert.equal(line.req.headers.cookie, '[REDACTED]');
  assert.equal(line.privateKey, '[REDACTED]');
});

test('an unknown level is a clear error', () => {
  assert.throws(() => createLogger({ level: 'verbose' }), /unknown log level "verbose"/);
  assert.doesNotThrow(() => createLogger({ level: 'silent', destination: captureLog().stream }));
});

test('pretty: one line per event with time, level, message and key=value, quoting only where needed', () => {
  const out = captureLog();
  const log = createLogger({ format: 'pretty', destination: out.stream }).child({ listener: 'deathstar-http' });
  log.warn({ address: '127.0.0.1:8080', reason: 'upstream refused', changes: { added: ['default/a'] }, headers: { authorization: 'x' } }, 'two words');
  log.error({ err: new TypeError('bad\nthing') }, 'failed');
  const lines = out.text().split('\n');
  assert.equal(lines.length, 3); // two lines and the last newline
  assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN {2}two words listener=deathstar-http address=127\.0\.0\.1:8080 reason="upstream refused" changes=\{"added":\["default\/a"\]\} headers=\{"authorization":"\[REDACTED\]"\}$/);
  assert.match(lines[1]!, /^\S+ ERROR failed listener=deathstar-http err="TypeError: bad\\nthing\\n {4}at /);
  assert.doesNotMatch(out.text(), /pid=|hostname=|name=portcullis/);
});
