// The committed generated schema must be exactly what the generator makes from Apache Kafka's message
// definitions: re-generate into a temp dir and compare. The definitions live outside the repo
// (../shared/kafka-protocol/messages, or $KAFKA_MESSAGES_DIR); without them the comparison is skipped.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const generator = join(repo, 'scripts', 'gen-kafka-codec.mjs');
const committed = join(repo, 'src', 'protocols', 'kafka', 'codec', 'generated', 'messages.ts');
const definitions = process.env.KAFKA_MESSAGES_DIR ?? join(repo, '..', 'shared', 'kafka-protocol', 'messages');

test('src/protocols/kafka/codec/generated/messages.ts is current', { skip: existsSync(definitions) ? false : `no definitions at ${definitions}` }, () => {
  const out = mkdtempSync(join(tmpdir(), 'kafka-gen-'));
  try {
    execFileSync(process.execPath, [generator, definitions, out], { stdio: 'pipe' });
    const fresh = readFileSync(join(out, 'messages.ts'), 'utf8');
    assert.ok(fresh === readFileSync(committed, 'utf8'), 'generated schema is stale: run `node scripts/gen-kafka-codec.mjs` and commit the result');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the generator refuses definitions it cannot represent, naming file and field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kafka-defs-'));
  try {
    const header = (name: string, fields: string) => `{ "type": "header", "name": "${name}", ${fields} }`;
    writeFileSync(join(dir, 'RequestHeader.json'), header('RequestHeader', `"validVersions": "0-2", "flexibleVersions": "2+", "fields": [
      { "name": "RequestApiKey", "type": "int16", "versions": "0+" }, { "name": "RequestApiVersion", "type": "int16", "versions": "0+" },
      { "name": "CorrelationId", "type": "int32", "versions": "0+" },
      { "name": "ClientId", "type": "string", "versions": "1+", "nullableVersions": "1+", "flexibleVersions": "none" } ]`));
    writeFileSync(join(dir, 'ResponseHeader.json'), header('ResponseHeader', `"validVersions": "0-1", "flexibleVersions": "1+", "fields": [{ "name": "CorrelationId", "type": "int32", "versions": "0+" }]`));
    // A comment with a URL inside a string must survive comment stripping; the bad type must not.
    writeFileSync(join(dir, 'FooRequest.json'), `// comment\n{ "apiKey": 500, "type": "request", "name": "FooRequest", "validVersions": "0", "flexibleVersions": "none",
      "fields": [{ "name": "Bar", "type": "int24", "versions": "0+", "about": "see http://example.com" }] }`);
    const out = join(dir, 'out');
    mkdirSync(out);
    const run = spawnSync(process.execPath, [generator, dir, out], { encoding: 'utf8' });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /FooRequest\.Bar: unknown type "int24"/);
    assert.equal(existsSync(join(out, 'messages.ts')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
