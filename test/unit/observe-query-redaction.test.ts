// `redactQuery` (issue #19): the query of flow records' URLs dropped as Hubble's --hubble-redact-http-urlquery
// does (filterURL: RawQuery and Fragment emptied), or the values of named parameters hidden, in l7.http.url and
// the Summary alike; config parsing and its errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { restartOnlyChanges } from '../../src/config/restart-settings.js';
import { redactQuery, renderFlow } from '../../src/observe/flows.js';
import { formatSourceError } from '../../src/policy/types.js';
import { httpRequestEvent } from '../helpers/observe-flow-fixtures.js';

const names = (...n: string[]) => new Set(n);

test('true drops the query and the fragment, as Hubble does', () => {
  for (const [url, expected] of [
    ['http://d/v1/x?token=1&a=2', 'http://d/v1/x'],
    ['http://d/v1/x?token=1#frag', 'http://d/v1/x'],
    ['http://d/v1/x#frag?not-a-query', 'http://d/v1/x'],
    ['http://d/v1/x', 'http://d/v1/x'],
    // Go's url.URL prints a `?` with an empty query (ForceQuery), also once the fragment is gone.
    ['http://d/v1/x?', 'http://d/v1/x?'],
    ['http://d/v1/x?#f', 'http://d/v1/x?'],
    ['/bad path?x=1', '/bad path'],
    ['', ''],
  ] as const) {
    assert.equal(redactQuery(url, true), expected, url);
  }
});

test('a list hides the values of those parameters only, keeping order, empty parameters and the fragment', () => {
  const secret = names('token', 'password', 'api key');
  for (const [url, expected] of [
    ['http://d/x?a=1&token=abc&b=2&password=p&token=again', 'http://d/x?a=1&token=HUBBLE_REDACTED&b=2&password=HUBBLE_REDACTED&token=HUBBLE_REDACTED'],
    ['http://d/x?&&token=abc&&', 'http://d/x?&&token=HUBBLE_REDACTED&&'],
    ['http://d/x?token=', 'http://d/x?token=HUBBLE_REDACTED'],
    ['http://d/x?token=a=b', 'http://d/x?token=HUBBLE_REDACTED'],
    // Names are compared decoded, as a form decoder reads them; the redacted text keeps the name as written.
    ['http://d/x?to%6Ben=abc&pass%77ord=p', 'http://d/x?to%6Ben=HUBBLE_REDACTED&pass%77ord=HUBBLE_REDACTED'],
    ['http://d/x?api+key=k&api%20key=k2', 'http://d/x?api+key=HUBBLE_REDACTED&api%20key=HUBBLE_REDACTED'],
    // A malformed escape is compared as written, never a throw.
    ['http://d/x?tok%zzen=1&%=2', 'http://d/x?tok%zzen=1&%=2'],
    // No value to hide; other names, case included, are not the listed ones.
    ['http://d/x?token&Token=1&tokens=2', 'http://d/x?token&Token=1&tokens=2'],
    ['http://d/x?token=abc#token=frag', 'http://d/x?token=HUBBLE_REDACTED#token=frag'],
    ['http://d/x#?token=abc', 'http://d/x#?token=abc'],
    ['http://d/x?', 'http://d/x?'],
    ['http://d/x', 'http://d/x'],
  ] as const) {
    assert.equal(redactQuery(url, secret), expected, url);
  }
});

test('one pass over the query: 200,000 parameters without a value, or all named, take no quadratic time', () => {
  const started = process.hrtime.bigint();
  const bare = `http://d/x?${'token&'.repeat(200_000)}`;
  assert.equal(redactQuery(bare, names('token')), bare);
  assert.equal(redactQuery(`http://d/x?${'token=1&'.repeat(200_000)}`, names('token')), `http://d/x?${'token=HUBBLE_REDACTED&'.repeat(200_000)}`);
  // Generous for a shared machine; a scan per parameter to the end of the query would take minutes.
  assert.ok(process.hrtime.bigint() - started < 5_000_000_000n);
});

test('the redacted URL is what l7.http.url and the Summary say, with a userinfo password redacted too', () => {
  const event = httpRequestEvent({
    l7: { type: 'REQUEST', http: { method: 'GET', url: 'http://u:pw@d/x?token=abc&q=1', protocol: 'HTTP/1.1', headers: [] } },
  });
  const base = { redactHeaders: new Set<string>(), nodeName: '' };
  const dropped = JSON.parse(renderFlow(event, { ...base, redactQuery: true })).flow;
  assert.equal(dropped.l7.http.url, 'http://u:HUBBLE_REDACTED@d/x');
  assert.equal(dropped.Summary, 'HTTP/1.1 GET http://u:HUBBLE_REDACTED@d/x');
  const listed = JSON.parse(renderFlow(event, { ...base, redactQuery: names('token') })).flow;
  assert.equal(listed.l7.http.url, 'http://u:HUBBLE_REDACTED@d/x?token=HUBBLE_REDACTED&q=1');
  assert.equal(listed.Summary, 'HTTP/1.1 GET http://u:HUBBLE_REDACTED@d/x?token=HUBBLE_REDACTED&q=1');
  assert.equal(JSON.parse(renderFlow(event, base)).flow.l7.http.url, 'http://u:HUBBLE_REDACTED@d/x?token=abc&q=1');
});

const parse = (text: string) => parseConfigText(text, 'portcullis.yaml');

test('portcullis.yaml: redactQuery is false by default, true, false or a list of names', () => {
  assert.equal(parse('audit: false\n').config!.redactQuery, false);
  assert.equal(parse('redactQuery: true\n').config!.redactQuery, true);
  assert.equal(parse('redactQuery: false\n').config!.redactQuery, false);
  assert.deepEqual(parse('redactQuery: [token, password]\n').config!.redactQuery, ['token', 'password']);
  assert.deepEqual(parse('redactQuery:\n  - Token\n').config!.redactQuery, ['Token']);
});

test('portcullis.yaml: a bad redactQuery is an error naming its line, column and field', () => {
  const errors = (text: string) => parse(text).errors.map(formatSourceError).join('\n');
  assert.match(errors('audit: false\nredactQuery: yes please\n'), /^portcullis\.yaml:2:14: redactQuery: must be true, false or a list of query parameter names$/);
  assert.match(errors('redactQuery: {token: 1}\n'), /^portcullis\.yaml:1:14: redactQuery: must be true, false or a list of query parameter names$/);
  assert.match(errors('redactQuery: [token, ""]\n'), /^portcullis\.yaml:1:22: redactQuery\[1\]: must be a non-empty string$/);
});

test('a changed redactQuery waits for a restart', () => {
  const config = (line: string) => parse(`policies: []\n${line}`).config!;
  assert.deepEqual(restartOnlyChanges(config(''), config('redactQuery: [token]\n')), ['redactQuery']);
  assert.deepEqual(restartOnlyChanges(config('redactQuery: true\n'), config('redactQuery: true\n')), []);
});
