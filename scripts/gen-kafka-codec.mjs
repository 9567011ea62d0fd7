#!/usr/bin/env node
// Generates src/protocols/kafka/codec/generated/messages.ts from Apache Kafka's message definitions
// (clients/src/main/resources/common/message/*.json, Apache-2.0). The JSON itself is never committed:
// the output is a plain data table (fields, versions, nullability, tags, defaults) that the runtime
// codec in src/protocols/kafka/codec interprets.
//
// Usage: node scripts/gen-kafka-codec.mjs [messagesDir] [outDir]
//   messagesDir defaults to ../shared/kafka-protocol/messages (relative to the repo root)
//   outDir      defaults to src/protocols/kafka/codec/generated
import { readFileSync, readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const messagesDir = resolve(process.argv[2] ?? join(repoRoot, '..', 'shared', 'kafka-protocol', 'messages'));
const outDir = resolve(process.argv[3] ?? join(repoRoot, 'src', 'protocols', 'kafka', 'codec', 'generated'));

const OPEN_END = 0x7fff;
const PRIMITIVES = new Set(['bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'uuid', 'bytes', 'records']);
const INTEGERS = new Set(['int8', 'int16', 'uint16', 'int32', 'uint32', 'int64']);

class DefinitionError extends Error {}

/** The definitions are JSON with `//` comments; strip them without touching `//` inside strings (URLs in "about"). */
function stripComments(text) {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out;
}

/** "none" → null, "3" → [3,3], "3+" → [3,OPEN_END], "0-7" → [0,7]. */
function parseVersions(spec, where) {
  if (spec === undefined) return undefined;
  const s = String(spec).trim();
  if (s === 'none') return null;
  let m;
  if ((m = /^(\d+)\+$/.exec(s))) return [Number(m[1]), OPEN_END];
  if ((m = /^(\d+)-(\d+)$/.exec(s))) return [Number(m[1]), Number(m[2])];
  if ((m = /^(\d+)$/.exec(s))) return [Number(m[1]), Number(m[1])];
  throw new DefinitionError(`${where}: cannot parse version range "${spec}"`);
}

function parseDefault(raw, type, where) {
  if (raw === undefined) return undefined;
  const s = String(raw);
  if (INTEGERS.has(type) || type === 'float64') {
    const n = /^-?0x[0-9a-f]+$/i.test(s) ? (s.startsWith('-') ? -parseInt(s.slice(1), 16) : parseInt(s, 16)) : Number(s);
    if (!Number.isFinite(n) || (INTEGERS.has(type) && !Number.isSafeInteger(n))) throw new DefinitionError(`${where}: bad default "${s}" for ${type}`);
    return n;
  }
  if (type === 'bool') {
    if (s !== 'true' && s !== 'false') throw new DefinitionError(`${where}: bad bool default "${s}"`);
    return s === 'true';
  }
  if (s === 'null') return null;
  if (type === 'string') return s;
  throw new DefinitionError(`${where}: a default is not allowed for type ${type}`);
}

function convertFields(fields, commonStructs, where) {
  return (fields ?? []).map((f) => convertField(f, commonStructs, `${where}.${f.name}`));
}

function convertField(f, commonStructs, where) {
  const array = f.type.startsWith('[]');
  const element = array ? f.type.slice(2) : f.type;
  const out = { name: f.name };
  if (PRIMITIVES.has(element)) {
    if (f.fields) throw new DefinitionError(`${where}: primitive ${element} with nested fields`);
    out.type = element;
  } else if (/^[A-Z]\w*$/.test(element)) {
    out.type = 'struct';
  } else {
    throw new DefinitionError(`${where}: unknown type "${f.type}"`);
  }
  if (array) out.array = true;
  out.versions = parseVersions(f.versions, where);
  if (!out.versions) throw new DefinitionError(`${where}: missing versions`);
  const nullable = parseVersions(f.nullableVersions, where);
  if (nullable) out.nullableVersions = nullable;
  if (f.tag !== undefined) {
    out.tag = Number(f.tag); // one definition spells it as a string ("0")
    if (!Number.isInteger(out.tag) || out.tag < 0) throw new DefinitionError(`${where}: bad tag "${f.tag}"`);
    out.taggedVersions = parseVersions(f.taggedVersions, where);
    if (!out.taggedVersions) throw new DefinitionError(`${where}: tag without taggedVersions`);
  }
  if (f.flexibleVersions !== undefined) out.flexibleVersions = parseVersions(f.flexibleVersions, where);
  const def = parseDefault(f.default, array ? 'array' : element, where);
  if (def !== undefined) out.default = def;
  if (f.entityType) out.entityType = f.entityType;
  if (out.type === 'struct') {
    let nested = f.fields;
    if (!nested) {
      const common = commonStructs.get(element);
      if (!common) throw new DefinitionError(`${where}: struct ${element} has no fields and no common struct`);
      nested = common.fields;
    }
    out.fields = convertFields(nested, commonStructs, where);
  }
  return out;
}

function checkTags(fields, where) {
  const seen = new Set();
  for (const f of fields) {
    if (f.tag !== undefined) {
      if (seen.has(f.tag)) throw new DefinitionError(`${where}: duplicate tag ${f.tag}`);
      seen.add(f.tag);
    }
    if (f.fields) checkTags(f.fields, `${where}.${f.name}`);
  }
}

/** The header codec is hand-written (two tiny, special-cased layouts); fail if the definitions moved under it. */
function checkHeaders(docs) {
  const req = docs.find((d) => d.name === 'RequestHeader');
  const res = docs.find((d) => d.name === 'ResponseHeader');
  const sig = (d) => JSON.stringify([d.validVersions, d.flexibleVersions, d.fields.map((f) => [f.name, f.type, f.versions, f.flexibleVersions ?? '', f.nullableVersions ?? ''])]);
  const expectReq = JSON.stringify(['0-2', '2+', [['RequestApiKey', 'int16', '0+', '', ''], ['RequestApiVersion', 'int16', '0+', '', ''], ['CorrelationId', 'int32', '0+', '', ''], ['ClientId', 'string', '1+', 'none', '1+']]]);
  const expectRes = JSON.stringify(['0-1', '1+', [['CorrelationId', 'int32', '0+', '', '']]]);
  if (!req || sig(req) !== expectReq) throw new DefinitionError('RequestHeader.json changed: update src/protocols/kafka/codec/header.ts and this check');
  if (!res || sig(res) !== expectRes) throw new DefinitionError('ResponseHeader.json changed: update src/protocols/kafka/codec/header.ts and this check');
}

function literal(v) {
  if (v === null) return 'null';
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return String(v);
}

function emitRange(r) {
  return r === null ? 'null' : `[${r[0]}, ${r[1]}]`;
}

const FIELD_KEYS = ['type', 'array', 'versions', 'nullableVersions', 'tag', 'taggedVersions', 'flexibleVersions', 'default', 'entityType'];

function emitFields(fields, indent) {
  const pad = ' '.repeat(indent);
  const lines = fields.map((f) => {
    const parts = [`name: ${literal(f.name)}`];
    for (const k of FIELD_KEYS) {
      if (f[k] === undefined) continue;
      parts.push(`${k}: ${Array.isArray(f[k]) || (k.endsWith('ersions') && f[k] === null) ? emitRange(f[k]) : literal(f[k])}`);
    }
    if (!f.fields) return `${pad}{ ${parts.join(', ')} },`;
    return `${pad}{ ${parts.join(', ')}, fields: [\n${emitFields(f.fields, indent + 2)}\n${pad}] },`;
  });
  return lines.join('\n');
}

function main() {
  const files = readdirSync(messagesDir).filter((n) => n.endsWith('.json')).sort();
  if (files.length === 0) throw new DefinitionError(`no *.json message definitions in ${messagesDir}`);
  const docs = files.map((n) => {
    try {
      return JSON.parse(stripComments(readFileSync(join(messagesDir, n), 'utf8')));
    } catch (e) {
      throw new DefinitionError(`${n}: ${e.message}`);
    }
  });
  checkHeaders(docs);

  const messages = [];
  for (const d of docs) {
    if (d.type !== 'request' && d.type !== 'response') continue; // headers are checked above; "data" types are not wire messages
    const commonStructs = new Map((d.commonStructs ?? []).map((c) => [c.name, c]));
    const m = {
      apiKey: d.apiKey,
      name: d.name,
      type: d.type,
      validVersions: parseVersions(d.validVersions, d.name),
      flexibleVersions: parseVersions(d.flexibleVersions, d.name),
      latestVersionUnstable: d.latestVersionUnstable === true,
      fields: convertFields(d.fields, commonStructs, d.name),
    };
    checkTags(m.fields, d.name);
    messages.push(m);
  }
  messages.sort((a, b) => a.apiKey - b.apiKey || (a.type < b.type ? -1 : 1));
  for (const m of messages) {
    const peer = messages.find((o) => o.apiKey === m.apiKey && o.type !== m.type);
    if (!peer) throw new DefinitionError(`${m.name}: no matching ${m.type === 'request' ? 'response' : 'request'}`);
    if (emitRange(peer.validVersions) !== emitRange(m.validVersions)) throw new DefinitionError(`${m.name}: request and response validVersions differ`);
  }

  const body = messages
    .map((m) =>
      [
        `  {`,
        `    apiKey: ${m.apiKey}, name: ${literal(m.name)}, type: ${literal(m.type)},`,
        `    validVersions: ${emitRange(m.validVersions)}, flexibleVersions: ${emitRange(m.flexibleVersions)}, latestVersionUnstable: ${m.latestVersionUnstable},`,
        `    fields: [`,
        emitFields(m.fields, 6),
        `    ],`,
        `  },`,
      ].join('\n'),
    )
    .join('\n');
  const out = [
    '// GENERATED by scripts/gen-kafka-codec.mjs from Apache Kafka\'s message definitions (Apache-2.0).',
    '// Do not edit: re-run `node scripts/gen-kafka-codec.mjs [messagesDir]`.',
    `// ${messages.length / 2} APIs; version ranges are inclusive, ${OPEN_END} means "and every later version".`,
    "import type { KafkaMessageDefinition } from '../message-definition.js';",
    '',
    'export const KAFKA_MESSAGE_DEFINITIONS: readonly KafkaMessageDefinition[] = [',
    body,
    '];',
    '',
  ].join('\n');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'messages.ts'), out);
  process.stdout.write(`wrote ${join(outDir, 'messages.ts')} (${messages.length} messages)\n`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`gen-kafka-codec: ${e instanceof DefinitionError ? e.message : e.stack}\n`);
  process.exit(1);
}
