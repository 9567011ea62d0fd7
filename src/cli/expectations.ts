// Expectation files for `portcullis test` (`*.expect.yaml` beside the policies): what must happen to given
// requests, checked offline. Each YAML document is a group: defaults for its cases, and the cases.
//
//   policies: [sw_l3_l4_l7_policy.yaml]   # optional: these policy files (relative to this file), not the config's
//   from: tiefighter                      # endpoint name, label set, IP address, entity; `to` also a DNS name
//   to: deathstar
//   cases:
//     - {http: "POST /v1/request-landing", expect: allowed}
//     - {http: "PUT /v1/exhaust-port", expect: {denied: 403}}
//     - {from: xwing, http: "POST /v1/request-landing", expect: reset}
//
// Problems are located like policy errors (file:line:column: field: message); nothing runs when any is found.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseYamlSource, type YamlNode } from '../config/yaml-source.js';
import { formatSourceError, type HttpRequestFacts, type KafkaRequestFacts, type SourceError } from '../policy/types.js';
import { grpcFacts, httpFacts, kafkaFacts, UsageError } from './offline-decision.js';
import type { ListenerKind } from './proxy-answer.js';

export type Expected = { readonly kind: 'allowed' } | { readonly kind: 'reset' } | { readonly kind: 'denied'; readonly code?: number };

/** A field that can only be checked against the config (a peer, a listener), kept located for its error. */
export interface Located<T> {
  readonly value: T;
  readonly at: SourceError;
}

export interface ExpectationCase {
  /** The peers and the request as written, for reports. */
  readonly title: string;
  /** Where the case is. */
  readonly at: SourceError;
  readonly from: Located<string>;
  readonly to: Located<string>;
  readonly namespace: string;
  readonly port?: number;
  /** A listener name from the config, or a listener protocol. */
  readonly via?: Located<string>;
  readonly sni?: string;
  readonly request:
    | { readonly type: 'none' }
    | { readonly type: 'http' | 'grpc'; readonly facts: HttpRequestFacts }
    | { readonly type: 'kafka'; readonly facts: KafkaRequestFacts; readonly groupIds: readonly string[] };
  readonly expect: Expected;
}

export interface ExpectationGroup {
  readonly file: string;
  /** Absolute policy paths replacing the config's; undefined: the config's. */
  readonly policies?: readonly string[];
  readonly cases: readonly ExpectationCase[];
}

export const LISTENER_KINDS: readonly ListenerKind[] = ['http', 'kafka', 'tls', 'forward'];

const GROUP_FIELDS = ['policies', 'namespace', 'from', 'to', 'port', 'via', 'sni', 'host', 'headers', 'clientId', 'cases'];
const CASE_FIELDS = ['name', 'from', 'to', 'port', 'via', 'sni', 'host', 'headers', 'http', 'grpc', 'kafka', 'clientId', 'group', 'expect'];
const EXPECT_FORMS = 'allowed, denied, reset, or {denied: <code>} (an HTTP status, gRPC status or Kafka error code)';

class Problems {
  readonly errors: SourceError[] = [];

  /** The string at `node` (undefined when absent); an error when it is something else. */
  string(node: YamlNode): string | undefined {
    if (!node.present) return undefined;
    if (node.string === undefined || node.string === '') this.errors.push(node.error('must be a non-empty string'));
    return node.string || undefined;
  }

  port(node: YamlNode): number | undefined {
    if (!node.present) return undefined;
    const v = node.value;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
      this.errors.push(node.error('must be a port number (0-65535)'));
      return undefined;
    }
    return n;
  }

  known(node: YamlNode, fields: readonly string[]): void {
    for (const f of node.fields()) if (!fields.includes(f.name)) this.errors.push(f.key.error(`unknown field (expected one of: ${fields.join(', ')})`));
  }

  /** `headers: {Name: value}` -> `Name: value` lines, as trace's --header takes them. */
  headers(node: YamlNode): string[] | undefined {
    if (!node.present) return undefined;
    if (node.kind !== 'map') {
      this.errors.push(node.error('must be a map of header names to values'));
      return undefined;
    }
    return node.fields().map((f) => `${f.name}: ${this.string(f.value) ?? ''}`);
  }

  /** Runs a fact parser shared with `trace`, turning its usage errors into located ones. */
  facts<T>(node: YamlNode, parse: () => T): T | undefined {
    try {
      return parse();
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      this.errors.push(node.error(e.message));
      return undefined;
    }
  }
}

function parseExpect(node: YamlNode, p: Problems): Expected | undefined {
  if (!node.present) {
    p.errors.push(node.error(`required: ${EXPECT_FORMS}`));
    return undefined;
  }
  const word = node.string;
  if (word === 'allowed' || word === 'reset' || word === 'denied') return { kind: word };
  const code = node.get('denied');
  if (node.kind === 'map' && node.fields().length === 1 && code.present) {
    if (typeof code.value === 'number' && Number.isInteger(code.value) && code.value >= 0) return { kind: 'denied', code: code.value };
    p.errors.push(code.error('must be a non-negative integer: the HTTP status, gRPC status or Kafka error code of the denial'));
    return undefined;
  }
  p.errors.push(node.error(`expected ${EXPECT_FORMS}`));
  return undefined;
}

function parseCase(node: YamlNode, group: YamlNode, p: Problems): ExpectationCase | undefined {
  if (node.kind !== 'map') {
    p.errors.push(node.error('a case must be a map, e.g. {http: "GET /", expect: allowed}'));
    return undefined;
  }
  p.known(node, CASE_FIELDS);
  /** A case field, else the group's default. */
  const field = (name: string): YamlNode => (node.has(name) ? node.get(name) : group.get(name));
  const located = (name: string): Located<string> | undefined => {
    const n = field(name);
    const value = p.string(n);
    return value === undefined ? undefined : { value, at: n.error('') };
  };
  const from = located('from');
  const to = located('to');
  for (const [name, v] of [['from', from], ['to', to]] as const) if (!v && !field(name).present) p.errors.push(node.error(`${name} is required (in the case or the group)`));
  const via = located('via');
  const host = p.string(field('host'));
  const headers = p.headers(field('headers')) ?? [];
  const clientId = p.string(field('clientId'));
  const kinds = ['http', 'grpc', 'kafka'].filter((k) => node.has(k));
  if (kinds.length > 1) p.errors.push(node.error(`one request per case: ${kinds.join(' and ')} given`));
  let request: ExpectationCase['request'] | undefined = { type: 'none' };
  let title = 'connection';
  const http = p.string(node.get('http'));
  const grpc = p.string(node.get('grpc'));
  const kafka = p.string(node.get('kafka'));
  if (grpc !== undefined) {
    const facts = p.facts(node.get('grpc'), () => grpcFacts('grpc', grpc, host, headers));
    request = facts && { type: 'grpc', facts };
    title = `grpc ${grpc}`;
  } else if (http !== undefined) {
    const facts = p.facts(node.get('http'), () => httpFacts('http', http, host, headers));
    request = facts && { type: 'http', facts };
    title = http;
  } else if (kafka !== undefined) {
    const facts = p.facts(node.get('kafka'), () => kafkaFacts('kafka', kafka, clientId));
    const group = p.string(node.get('group'));
    request = facts && { type: 'kafka', facts, groupIds: group ? [group] : [] };
    title = `kafka ${kafka}`;
  }
  if (node.has('group') && kafka === undefined) p.errors.push(node.get('group').error('only for kafka cases'));
  const port = p.port(field('port'));
  const sni = p.string(field('sni'));
  const expect = parseExpect(node.get('expect'), p);
  const name = p.string(node.get('name'));
  if (!from || !to || !request || !expect) return undefined;
  const at = node.error('');
  return {
    title: name ?? `${from.value} -> ${to.value}${port !== undefined ? `:${port}` : ''}${sni ? ` (SNI ${sni})` : ''} ${title}`,
    at,
    from,
    to,
    namespace: p.string(group.get('namespace')) ?? 'default',
    ...(port !== undefined ? { port } : {}),
    ...(via ? { via } : {}),
    ...(sni ? { sni } : {}),
    request,
    expect,
  };
}

function parseGroup(root: YamlNode, file: string, p: Problems): ExpectationGroup | undefined {
  if (root.kind !== 'map') {
    p.errors.push(root.error('an expectation document must be a map with `cases`'));
    return undefined;
  }
  p.known(root, GROUP_FIELDS);
  const policiesNode = root.get('policies');
  let policies: string[] | undefined;
  if (policiesNode.present) {
    const items = policiesNode.kind === 'seq' ? policiesNode.items() : [policiesNode];
    policies = items.map((n) => p.string(n)).filter((s) => s !== undefined).map((s) => resolve(dirname(file), s));
    if (items.length === 0) p.errors.push(policiesNode.error('must name at least one policy file or folder'));
  }
  const casesNode = root.get('cases');
  if (casesNode.kind !== 'seq' || casesNode.items().length === 0) {
    p.errors.push(casesNode.error('required: a non-empty list of cases'));
    return undefined;
  }
  const cases = casesNode.items().map((c) => parseCase(c, root, p)).filter((c) => c !== undefined);
  return { file, ...(policies ? { policies } : {}), cases };
}

export function parseExpectationText(text: string, file: string): { groups: ExpectationGroup[]; errors: SourceError[] } {
  const { documents, errors } = parseYamlSource(text, file);
  const p = new Problems();
  const groups = documents.map((d) => parseGroup(d, file, p)).filter((g) => g !== undefined);
  if (documents.length === 0 && errors.length === 0) p.errors.push({ file, line: 1, column: 1, path: '', message: 'no expectations in this file' });
  // A bad group default is met once per case: report it once.
  const unique = new Map(p.errors.map((e) => [formatSourceError(e), e]));
  return { groups, errors: [...errors, ...unique.values()] };
}

export function readExpectationFile(file: string): { groups: ExpectationGroup[]; errors: SourceError[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { groups: [], errors: [{ file, line: 1, column: 1, path: '', message: `cannot read: ${(e as Error).message}` }] };
  }
  return parseExpectationText(text, file);
}
