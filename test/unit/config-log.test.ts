// `log:` in portcullis.yaml: level and format, defaults, and errors located by line and column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.js';
import { formatSourceError } from '../../src/policy/types.js';

const parse = (text: string) => parseConfigText(text, 'portcullis.yaml');
const errors = (text: string) => parse(text).errors.map(formatSourceError).join('\n');

test('log defaults to info as JSON; level and format are taken as written', () => {
  assert.deepEqual(parse('audit: false\n').config!.log, { level: 'info', format: 'json' });
  assert.deepEqual(parse('log: {level: debug, format: pretty}\n').config!.log, { level: 'debug', format: 'pretty' });
  assert.deepEqual(parse('log:\n  level: silent\n').config!.log, { level: 'silent', format: 'json' });
});

test('a bad level, format or field is an error naming its line, column and field', () => {
  assert.match(errors('audit: false\nlog: {level: loud}\n'), /^portcullis\.yaml:2:14: log\.level: must be one of: trace, debug, info, warn, error, fatal, silent$/);
  assert.match(errors('log:\n  format: colour\n'), /^portcullis\.yaml:2:11: log\.format: must be one of: json, pretty$/);
  assert.match(errors('log: {levels: info}\n'), /^portcullis\.yaml:1:7: log\.levels: unknown field "levels" \(expected one of: level, format\)$/);
  assert.match(errors('log: debug\n'), /^portcullis\.yaml:1:6: log: must be a map with any of: level, format$/);
});
