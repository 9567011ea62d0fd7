// Parses `toPorts[].rules`: `http`, `kafka` or `dns` (one type per rule), compiling matchers up front so
// a bad regex or name is reported at load time with its exact location.
import type { YamlNode } from '../config/yaml-source.js';
import type { RuleRef } from './types.js';
import type { DnsRule, L7Rules } from './model.js';
import type { HeaderMatchAction, HeaderRequirement, HttpRule, MismatchAction } from './http-rules.js';
import type { KafkaRule } from './kafka-rules.js';
import { KAFKA_ROLES, kafkaApiKeyByName } from './kafka-api-keys.js';
import { compileFullMatch } from './regex.js';
import type { StringMatcher } from './regex.js';
import { compileMatchName, compileMatchPattern, matchNameProblem, matchPatternProblem } from './names.js';
import { Problems, checkFields, listOf, stringOf, stringsOf } from './parse-fields.js';

export type RefAt = (node: YamlNode) => RuleRef;

const UNSUPPORTED_L7 = {
  l7proto: 'generic proxylib parsers need cilium-envoy; Cilium removed them in 1.20',
  l7: 'generic proxylib parsers need cilium-envoy; Cilium removed them in 1.20',
};

/** An optional regex field; '' means unset, as in Cilium (omitempty). */
function regexField(node: YamlNode, p: Problems): StringMatcher | undefined {
  const pattern = stringOf(node, p);
  if (pattern === undefined || pattern === '') return undefined;
  const m = compileFullMatch(pattern);
  if ('error' in m) {
    p.at(node, m.error);
    return undefined;
  }
  return m;
}

/** `headers` entries, with Cilium's quirks: split at the first space, trailing `:` trimmed, no space = presence. */
function headerRequirement(text: string): HeaderRequirement {
  const space = text.indexOf(' ');
  const name = (space < 0 ? text : text.slice(0, space)).replace(/:+$/, '').toLowerCase();
  return { name, value: space < 0 ? undefined : text.slice(space + 1) };
}

const MISMATCH: readonly MismatchAction[] = ['LOG', 'ADD', 'DELETE', 'REPLACE'];
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

function parseHeaderMatch(node: YamlNode, p: Problems): HeaderRequirement | HeaderMatchAction | undefined {
  const unsupported = { secret: 'Kubernetes secrets are not available; put the value in `value`' };
  if (!checkFields(node, ['name', 'value', 'mismatch'], p, unsupported) || node.has('secret')) return undefined;
  const name = stringOf(node.get('name'), p);
  const value = stringOf(node.get('value'), p) ?? '';
  const mismatch = stringOf(node.get('mismatch'), p);
  if (!name) {
    p.at(node.get('name'), 'Header name missing');
    return undefined;
  }
  // ADD and REPLACE write these bytes into the request sent upstream: a CR/LF would start a header of its own.
  if (!HEADER_NAME.test(name)) {
    p.at(node.get('name'), `not a valid header name: ${JSON.stringify(name)} (RFC 9110 token characters only)`);
    return undefined;
  }
  if (BAD_HEADER_VALUE.test(value)) {
    p.at(node.get('value'), 'header value with a control character or a character outside Latin-1 (HTAB, SP, visible characters and obs-text only)');
    return undefined;
  }
  if (mismatch === undefined || mismatch === '') return { name: name.toLowerCase(), value: value === '' ? undefined : value };
  if (!MISMATCH.includes(mismatch as MismatchAction)) {
    p.at(node.get('mismatch'), `Invalid header action: ${mismatch} (expected LOG, ADD, DELETE or REPLACE)`);
    return undefined;
  }
  return { name: name.toLowerCase(), value, mismatch: mismatch as MismatchAction };
}

function parseHttpRule(node: YamlNode, ref: RuleRef, p: Problems): HttpRule | undefined {
  const before = p.errors.length;
  if (!checkFields(node, ['method', 'path', 'host', 'headers', 'headerMatches'], p)) return undefined;
  const method = regexField(node.get('method'), p);
  const path = regexField(node.get('path'), p);
  const host = regexField(node.get('host'), p);
  const headers: HeaderRequirement[] = [];
  for (const { node: h, value } of stringsOf(node.get('headers'), p)) {
    if (value.trim() === '') p.at(h, 'empty header');
    else headers.push(headerRequirement(value));
  }
  const actions: HeaderMatchAction[] = [];
  for (const m of listOf(node.get('headerMatches'), p)) {
    const parsed = parseHeaderMatch(m, p);
    if (parsed && 'mismatch' in parsed) actions.push(parsed);
    else if (parsed) headers.push(parsed);
  }
  if (p.errors.length !== before) return undefined;
  const text = [
    `${method?.pattern ?? '*'} ${path?.pattern ?? '*'}`,
    host ? `host=${host.pattern}` : '',
    ...headers.map((h) => (h.value === undefined ? h.name : `${h.name}: ${h.value}`)),
    ...actions.map((a) => `${a.name}${a.value ? `: ${a.value}` : ''} [${a.mismatch}]`),
  ].filter(Boolean).join(' ');
  return { ref, method, path, host, headers, actions, text };
}

const GRPC_SERVICE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const GRPC_METHOD = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Portcullis's gRPC convenience form, `grpc: [{service: pkg.Service, method: Method}]`: exactly the http rule
 * Cilium users write for gRPC (`method: POST`, `path: /pkg.Service/Method`), so both forms merge and match alike.
 * Without `method`, every method of the service is allowed.
 */
function parseGrpcRule(node: YamlNode, ref: RuleRef, p: Problems): HttpRule | undefined {
  if (!checkFields(node, ['service', 'method'], p)) return undefined;
  const service = stringOf(node.get('service'), p);
  const method = stringOf(node.get('method'), p);
  if (service === undefined || !GRPC_SERVICE.test(service)) {
    p.at(node.get('service'), 'must be a fully qualified gRPC service name, e.g. cloudcity.DoorManager');
    return undefined;
  }
  if (method !== undefined && !GRPC_METHOD.test(method)) {
    p.at(node.get('method'), 'must be a gRPC method name, e.g. GetName');
    return undefined;
  }
  const escaped = service.replaceAll('.', '\\.');
  const post = compileFullMatch('POST') as StringMatcher;
  const path = compileFullMatch(`/${escaped}/${method ?? '[^/]+'}`) as StringMatcher;
  return { ref, method: post, path, host: undefined, headers: [], actions: [], text: `grpc ${service}/${method ?? '*'}` };
}

const KAFKA_CLIENT_ID = /^[a-zA-Z0-9._-]*$/;
const KAFKA_TOPIC = /^[a-zA-Z0-9._-]+$/;

function parseKafkaRule(node: YamlNode, ref: RuleRef, p: Problems): KafkaRule | undefined {
  const before = p.errors.length;
  if (!checkFields(node, ['role', 'apiKey', 'apiVersion', 'clientID', 'topic'], p)) return undefined;
  const role = stringOf(node.get('role'), p) ?? '';
  const apiKey = stringOf(node.get('apiKey'), p) ?? '';
  const versionNode = node.get('apiVersion');
  const version = typeof versionNode.value === 'number' ? String(versionNode.value) : (stringOf(versionNode, p) ?? '');
  const clientId = stringOf(node.get('clientID'), p) ?? '';
  const topic = stringOf(node.get('topic'), p) ?? '';
  let apiKeys: ReadonlySet<number> | null = null;
  if (role !== '' && apiKey !== '') p.at(node, `cannot set both Role "${role}" and APIKey "${apiKey}" together`);
  else if (role !== '') {
    const r = role.toLowerCase();
    const keys = r === 'produce' || r === 'consume' ? KAFKA_ROLES[r] : undefined;
    if (!keys) p.at(node.get('role'), `invalid Kafka Role "${role}" (expected produce or consume)`);
    apiKeys = keys ?? null;
  } else if (apiKey !== '') {
    const key = kafkaApiKeyByName(apiKey);
    if (key === undefined) p.at(node.get('apiKey'), `invalid Kafka APIKey "${apiKey}"`);
    else apiKeys = new Set([key]);
  }
  let apiVersion = -1;
  if (version !== '') {
    if (!/^[0-9]{1,5}$/.test(version) || Number(version) > 32767) p.at(versionNode, `invalid Kafka APIVersion "${version}"`);
    else apiVersion = Number(version);
  }
  if (!KAFKA_CLIENT_ID.test(clientId)) p.at(node.get('clientID'), `invalid Kafka clientID "${clientId}" (allowed characters: [a-zA-Z0-9._-])`);
  if (topic.length > 255) p.at(node.get('topic'), 'kafka topic exceeds maximum len of 255');
  else if (topic !== '' && !KAFKA_TOPIC.test(topic)) p.at(node.get('topic'), `invalid Kafka Topic name "${topic}"`);
  if (p.errors.length !== before) return undefined;
  const text = [
    role && `role=${role.toLowerCase()}`,
    apiKey && `apiKey=${apiKey.toLowerCase()}`,
    apiVersion >= 0 && `apiVersion=${apiVersion}`,
    clientId && `clientID=${clientId}`,
    topic && `topic=${topic}`,
  ].filter(Boolean).join(' ') || '{}';
  return { ref, apiKeys, apiVersion, clientId, topic, text };
}

function parseDnsRule(node: YamlNode, ref: RuleRef, p: Problems): DnsRule | undefined {
  if (!checkFields(node, ['matchName', 'matchPattern'], p)) return undefined;
  const name = stringOf(node.get('matchName'), p);
  const pattern = stringOf(node.get('matchPattern'), p);
  if ((name === undefined) === (pattern === undefined)) {
    p.at(node, 'exactly one of matchName or matchPattern is required');
    return undefined;
  }
  const problem = name !== undefined ? matchNameProblem(name) : matchPatternProblem(pattern!);
  if (problem) {
    p.at(node.get(name !== undefined ? 'matchName' : 'matchPattern'), problem);
    return undefined;
  }
  return { ref, name: name !== undefined ? compileMatchName(name) : compileMatchPattern(pattern!) };
}

/** `rules`; undefined when it holds no L7 rule (a plain L4 allow), after reporting any problem. */
export function parseL7Rules(node: YamlNode, refAt: RefAt, p: Problems): L7Rules | undefined {
  if (node.kind === 'missing' || node.kind === 'null') return undefined;
  if (!checkFields(node, ['http', 'grpc', 'kafka', 'dns'], p, UNSUPPORTED_L7)) return undefined;
  // `grpc` rules are http rules written another way, so the two may share a port rule.
  const grpc = listOf(node.get('grpc'), p);
  const lists = (['http', 'kafka', 'dns'] as const)
    .map((type) => ({ type, items: listOf(node.get(type), p) }))
    .filter((l) => l.items.length > 0 || (l.type === 'http' && grpc.length > 0));
  if (lists.length > 1) {
    p.at(node, 'multiple L7 protocol rule types specified in single rule');
    return undefined;
  }
  const only = lists[0];
  if (!only) return undefined;
  const parsed = (parse: (n: YamlNode, ref: RuleRef, p: Problems) => unknown) =>
    only.items.map((n) => parse(n, refAt(n), p)).filter((r) => r !== undefined);
  switch (only.type) {
    case 'http': {
      const http = parsed(parseHttpRule) as HttpRule[];
      const fromGrpc = grpc.map((n) => parseGrpcRule(n, refAt(n), p)).filter((r) => r !== undefined);
      return { type: 'http', rules: [...http, ...fromGrpc] };
    }
    case 'kafka':
      return { type: 'kafka', rules: parsed(parseKafkaRule) as KafkaRule[] };
    case 'dns':
      return { type: 'dns', rules: parsed(parseDnsRule) as DnsRule[] };
  }
}
